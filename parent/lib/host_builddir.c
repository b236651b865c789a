/* host_builddir.c - temporary build dirs and what a dead helper left in them. */
#include "host_builddir.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "errtext.h"
#include "error.h"
#include "rmtree.h"

int cps__build_dir_make_temp(char **out, struct cps_error *err)
{
    /* secure_getenv: a setuid worker must not be steered by its caller's TMPDIR. */
    const char *tmp = secure_getenv("TMPDIR");
    char templ[PATH_MAX];

    *out = NULL;
    if (!tmp || tmp[0] != '/')
        tmp = "/tmp";
    if (snprintf(templ, sizeof(templ), "%s/cachepot-build-XXXXXX", tmp) >= (int)sizeof(templ))
        return cps__error_set(err, CPS_STAGE_BUILDDIR, ENAMETOOLONG, "set TMPDIR to a shorter path",
                              "TMPDIR %s is too long", tmp);
    if (!mkdtemp(templ))
        return cps__error_set(err, CPS_STAGE_BUILDDIR, errno, "set TMPDIR to a writable directory",
                              "create a build dir under %s: %s", tmp, cps__errtext(errno));
    *out = realpath(templ, NULL);
    if (!*out) {
        int e = errno;
        rmdir(templ);
        return cps__error_set(err, CPS_STAGE_BUILDDIR, e, NULL, "realpath %s: %s", templ,
                              cps__errtext(e));
    }
    return 0;
}

int cps__build_dir_prepare(const char *dir, char **out, struct cps_error *err)
{
    *out = NULL;
    if (mkdir(dir, 0700) < 0 && errno != EEXIST)
        return cps__error_set(err, CPS_STAGE_JOB, errno, NULL, "create build dir %s: %s", dir,
                              cps__errtext(errno));
    *out = realpath(dir, NULL);
    if (!*out)
        return cps__error_set(err, CPS_STAGE_JOB, errno, NULL, "build dir %s: %s", dir,
                              cps__errtext(errno));
    return 0;
}

/* Iterative, one directory open at a time, on the build dir's filesystem
 * only (a mount point, such as a toolchain still mounted, is left alone):
 * what a job left on disk scratch can be of any depth (rmtree.h). */
void cps__build_dir_clean(const char *build_dir)
{
    static const char *const leftovers[] = {"upper", "work", "target"};
    int fd = open(build_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    if (fd < 0)
        return;
    for (size_t i = 0; i < sizeof(leftovers) / sizeof(leftovers[0]); i++)
        cps__rmtree_at(fd, leftovers[i]);
    close(fd);
}

int cps__remove_tree(const char *path)
{
    char *copy = strdup(path), *slash;
    const char *dir = ".", *name = path;
    int fd, rc;

    if (copy == NULL)
        return -ENOMEM;
    slash = strrchr(copy, '/');
    if (slash != NULL) {
        *slash = '\0';
        dir = slash == copy ? "/" : copy;
        name = slash + 1;
    }
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    rc = fd < 0 ? -errno : cps__rmtree_at(fd, name);
    if (fd >= 0)
        close(fd);
    free(copy);
    return rc;
}
