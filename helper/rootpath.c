/* rootpath.c - symlink-free path walking inside the job root. */
#include "rootpath.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/limits.h>
#include <linux/openat2.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "error.h"

int cps__root_open(int root_fd, const char *path, int flags, mode_t mode)
{
    struct open_how how = {
        .flags = (uint64_t)flags | O_CLOEXEC,
        .mode = (flags & O_CREAT) ? mode : 0,
        .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
    };
    /* openat2 resolves "" as an error; the root itself is ".". */
    const char *rel = path[0] == '/' && path[1] == '\0' ? "." : path;
    long fd;

    do {
        fd = syscall(SYS_openat2, root_fd, rel, &how, sizeof(how));
    } while (fd < 0 && (errno == EINTR || errno == EAGAIN));
    return fd < 0 ? -errno : (int)fd;
}

bool cps__root_errno_is_view(int errnum)
{
    switch (errnum) {
    case ENOENT:
    case ELOOP:
    case ENOTDIR:
    case EXDEV:
    case EACCES:
    case EPERM:
    case EROFS:
    case ENAMETOOLONG:
    case ENXIO:
    case ENODEV:
        return true;
    default:
        return false;
    }
}

int cps__path_split(const char *path, char *parent, const char **name)
{
    const char *slash = strrchr(path, '/');
    size_t len;

    if (slash == NULL || slash[1] == '\0')
        return -EINVAL;
    len = (size_t)(slash - path);
    if (len >= PATH_MAX)
        return -ENAMETOOLONG;
    if (len == 0) {
        strcpy(parent, "/");
    } else {
        memcpy(parent, path, len);
        parent[len] = '\0';
    }
    *name = slash + 1;
    return 0;
}

int cps__root_mkdirs(int root_fd, const char *path, enum cps_stage stage, struct cps_error *err)
{
    char comp[NAME_MAX + 1];
    const char *p = path;
    int cur, next, rc;

    cur = cps__root_open(root_fd, "/", O_PATH | O_DIRECTORY, 0);
    if (cur < 0)
        return cps__error_set(err, stage, -cur, NULL, "opening the sandbox root");
    while (*p != '\0') {
        const char *end;
        size_t len;

        while (*p == '/')
            p++;
        if (*p == '\0')
            break;
        end = strchr(p, '/');
        len = end ? (size_t)(end - p) : strlen(p);
        if (len > NAME_MAX) {
            close(cur);
            return cps__error_set(err, stage, ENAMETOOLONG, NULL,
                                  "a component of %s is longer than NAME_MAX", path);
        }
        memcpy(comp, p, len);
        comp[len] = '\0';
        p += len;
        if (mkdirat(cur, comp, 0755) < 0 && errno != EEXIST) {
            rc = errno;
            close(cur);
            return cps__error_set(err, stage, rc, NULL, "mkdir of \"%s\" in sandbox path %s", comp,
                                  path);
        }
        next = cps__root_open(cur, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW, 0);
        if (next == -ENOTDIR) {
            struct stat st;

            /* O_NOFOLLOW|O_PATH opens a link itself, and O_DIRECTORY then
             * says ENOTDIR: report a link as the link it is. */
            if (fstatat(cur, comp, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
                next = -ELOOP;
        }
        close(cur);
        if (next < 0)
            return cps__error_set(err, stage, -next, NULL, "\"%s\" in sandbox path %s is %s", comp,
                                  path,
                                  next == -ELOOP     ? "a symlink (never followed)"
                                  : next == -ENOTDIR ? "not a directory"
                                                     : "not openable");
        cur = next;
    }
    return cur;
}
