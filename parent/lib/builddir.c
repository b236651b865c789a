/* builddir.c - temporary build dirs and what a dead helper left in them. */
#include "builddir.h"

#include <dirent.h>
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

/* Deeper trees are left in place rather than risking the caller's stack. */
#define MAX_DEPTH 128

int cps__build_dir_make_temp(char **out, struct cps_error *err)
{
    /* secure_getenv: a setuid worker must not be steered by its caller's TMPDIR. */
    const char *tmp = secure_getenv("TMPDIR");
    char templ[PATH_MAX];

    *out = NULL;
    if (!tmp || tmp[0] != '/')
        tmp = "/tmp";
    if (snprintf(templ, sizeof(templ), "%s/cachepot-build-XXXXXX", tmp) >= (int)sizeof(templ))
        return cps__error_set(err, "spawn", ENAMETOOLONG, "set TMPDIR to a shorter path",
                              "TMPDIR %s is too long", tmp);
    if (!mkdtemp(templ))
        return cps__error_set(err, "spawn", errno, "set TMPDIR to a writable directory",
                              "create a build dir under %s: %s", tmp, cps__errtext(errno));
    *out = realpath(templ, NULL);
    if (!*out) {
        int e = errno;
        rmdir(templ);
        return cps__error_set(err, "spawn", e, NULL, "realpath %s: %s", templ, cps__errtext(e));
    }
    return 0;
}

int cps__build_dir_prepare(const char *dir, char **out, struct cps_error *err)
{
    *out = NULL;
    if (mkdir(dir, 0700) < 0 && errno != EEXIST)
        return cps__error_set(err, "job", errno, NULL, "create build dir %s: %s", dir,
                              cps__errtext(errno));
    *out = realpath(dir, NULL);
    if (!*out)
        return cps__error_set(err, "job", errno, NULL, "build dir %s: %s", dir,
                              cps__errtext(errno));
    return 0;
}

static int remove_at(int dirfd, const char *name, dev_t dev, int depth);

/* Empty the directory open at fd (taken). */
static int empty_dir(int fd, dev_t dev, int depth)
{
    DIR *d = fdopendir(fd);
    struct dirent *e;
    int ret = 0;

    if (!d) {
        ret = -errno;
        close(fd);
        return ret;
    }
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        int r = remove_at(dirfd(d), e->d_name, dev, depth + 1);
        if (r < 0 && ret == 0)
            ret = r;
    }
    closedir(d);
    return ret;
}

static int open_dir_nofollow(int dirfd, const char *name)
{
    return openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

static int remove_at(int dirfd, const char *name, dev_t dev, int depth)
{
    struct stat st;
    int fd, r;

    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return errno == ENOENT ? 0 : -errno;
    if (!S_ISDIR(st.st_mode))
        return unlinkat(dirfd, name, 0) < 0 && errno != ENOENT ? -errno : 0;
    /* A mount point means something is mounted in our namespace: leave it
     * alone rather than deleting through it (it could be the toolchain). */
    if (st.st_dev != dev || depth > MAX_DEPTH)
        return -EBUSY;
    fd = open_dir_nofollow(dirfd, name);
    if (fd < 0 && errno == EACCES) {
        /* overlayfs makes work/work mode 000; we own it, so we may open it up.
         * The entry was a directory a moment ago and fchmodat() follows no
         * symlink for a directory we then open with O_NOFOLLOW. */
        fchmodat(dirfd, name, 0700, 0);
        fd = open_dir_nofollow(dirfd, name);
    }
    if (fd < 0)
        return errno == ENOENT ? 0 : -errno;
    /* Entries of a read-only directory cannot be unlinked without write permission. */
    if ((st.st_mode & 0700) != 0700)
        fchmod(fd, 0700);
    r = empty_dir(fd, dev, depth);
    if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
        return r < 0 ? r : -errno;
    return r;
}

void cps__build_dir_clean(const char *build_dir)
{
    static const char *const leftovers[] = {"upper", "work", "target"};
    struct stat st;
    int fd = open(build_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    if (fd < 0)
        return;
    if (fstat(fd, &st) == 0)
        for (size_t i = 0; i < sizeof(leftovers) / sizeof(leftovers[0]); i++)
            remove_at(fd, leftovers[i], st.st_dev, 0);
    close(fd);
}

int cps__remove_tree(const char *path)
{
    struct stat st;

    if (lstat(path, &st) < 0)
        return errno == ENOENT ? 0 : -errno;
    return remove_at(AT_FDCWD, path, st.st_dev, 0);
}
