/* scratch_dirs.c - BUILD/{upper,work,target}: create and remove, on a tmpfs or on disk. */
#include "scratch_dirs.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "error.h"
#include "log.h"
#include "rmtree.h"
#include "tmpfs.h"

int cps__builddir_check(const char *build_dir, struct cps_builddir *b, struct cps_error *err)
{
    struct stat st;

    memset(b, 0, sizeof(*b));
    if (stat(build_dir, &st) < 0)
        return cps__error_set(err, CPS_STAGE_BUILDDIR, errno,
                              "the worker must create the build dir", "build dir %s: %s", build_dir,
                              strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return cps__error_set(err, CPS_STAGE_BUILDDIR, ENOTDIR, NULL,
                              "build dir %s is not a directory", build_dir);
    if (faccessat(AT_FDCWD, build_dir, W_OK | X_OK, AT_EACCESS) < 0)
        return cps__error_set(err, CPS_STAGE_BUILDDIR, errno,
                              "the build dir must be writable by the helper's uid",
                              "build dir %s (owner %u, mode %04o) is not writable by euid %u: %s",
                              build_dir, (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777),
                              (unsigned)geteuid(), strerror(errno));
    if ((size_t)snprintf(b->root, sizeof(b->root), "%s", build_dir) >= sizeof(b->root) ||
        (size_t)snprintf(b->upper, sizeof(b->upper), "%s/upper", build_dir) >= sizeof(b->upper) ||
        (size_t)snprintf(b->work, sizeof(b->work), "%s/work", build_dir) >= sizeof(b->work) ||
        (size_t)snprintf(b->target, sizeof(b->target), "%s/target", build_dir) >= sizeof(b->target))
        return cps__error_set(err, CPS_STAGE_BUILDDIR, ENAMETOOLONG, NULL,
                              "build dir path %s is too long", build_dir);
    return 0;
}

static int make_dir(const char *path, bool *made, struct cps_error *err)
{
    if (mkdir(path, 0700) < 0)
        return cps__error_set(err, CPS_STAGE_BUILDDIR, errno,
                              errno == EEXIST ? "remove leftovers of an earlier job, or use a "
                                                "fresh build dir per job"
                                              : NULL,
                              "mkdir %s: %s%s", path, strerror(errno),
                              errno == EEXIST ? " (build dir not clean)" : "");
    *made = true;
    return 0;
}

/*
 * overlayfs in a user namespace keeps whiteouts and opaque dirs in
 * "user.overlay.*" xattrs of the upper layer (userxattr); tmpfs has user
 * xattrs only from Linux 6.6 ("shmem: add support for user extended
 * attributes"). One setxattr on the fresh tmpfs answers the question for
 * this kernel.
 */
static bool has_user_xattrs(const char *dir)
{
    if (setxattr(dir, "user.cachepot", "1", 1, 0) == 0)
        return true;
    cps__log_info("scratch: tmpfs on this kernel has no user xattrs (%s): the writable layer "
                  "goes to the build dir's own filesystem",
                  strerror(errno));
    return false;
}

static int mount_tmpfs(struct cps_builddir *b, uint64_t scratch_bytes, struct cps_error *err)
{
    char data[128];
    int rc;

    /*
     * Only this helper's mount namespace sees it (/ is rprivate): the host's
     * build dir stays as it was, whatever the job writes.
     * huge=within_size lets the tmpfs back a file with large folios up to its
     * size (tmpfs(5)), so writing a large file and freeing it at the unmount
     * cost a fraction of the time (docs/MEASUREMENTS.md). A kernel without
     * transparent huge pages refuses the option (EINVAL): then the tmpfs is
     * mounted without it.
     */
    cps__tmpfs_options(data, sizeof(data) - sizeof(",huge=within_size"), "0700", scratch_bytes);
    strcat(data, ",huge=within_size");
    rc = mount("tmpfs", b->root, "tmpfs", MS_NOSUID | MS_NODEV, data);
    if (rc < 0 && errno == EINVAL) {
        *strrchr(data, ',') = '\0';
        rc = mount("tmpfs", b->root, "tmpfs", MS_NOSUID | MS_NODEV, data);
    }
    if (rc < 0)
        return cps__error_set(err, CPS_STAGE_BUILDDIR, errno,
                              "set CACHEPOT_SCRATCH=disk to keep the job's writes on the build "
                              "dir's filesystem",
                              "mount a tmpfs (%s) on the build dir %s: %s", data, b->root,
                              strerror(errno));
    b->tmpfs = true;
    if (has_user_xattrs(b->root))
        return 0;
    if (umount2(b->root, MNT_DETACH) < 0)
        return cps__error_set(err, CPS_STAGE_BUILDDIR, errno, NULL, "umount the tmpfs on %s: %s",
                              b->root, strerror(errno));
    b->tmpfs = false;
    return 0;
}

int cps__builddir_create(struct cps_builddir *b, bool disk, uint64_t scratch_bytes,
                         struct cps_error *err)
{
    int rc = disk ? 0 : mount_tmpfs(b, scratch_bytes, err);

    if (rc == 0)
        rc = make_dir(b->upper, &b->have_upper, err);

    if (rc == 0)
        rc = make_dir(b->work, &b->have_work, err);
    if (rc == 0)
        rc = make_dir(b->target, &b->have_target, err);
    return rc;
}

static void remove_one(int root_fd, const char *root, const char *name, bool *have, int *first,
                       struct cps_error *err)
{
    int r;

    if (!*have)
        return;
    r = cps__rmtree_at(root_fd, name);
    if (r < 0 && *first == 0)
        *first = cps__error_set(err, CPS_STAGE_CLEANUP, -r, NULL, "removing %s/%s: %s", root, name,
                                strerror(-r));
    if (r == 0)
        *have = false;
}

int cps__builddir_remove(struct cps_builddir *b, struct cps_error *err)
{
    int first = 0, root_fd;

    /* Everything below went with the tmpfs; MNT_DETACH: a job's leftover open
     * file cannot keep it busy (all its processes are dead, but be sure). */
    if (b->tmpfs) {
        if (umount2(b->root, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
            return cps__error_set(err, CPS_STAGE_CLEANUP, errno, NULL, "umount the tmpfs on %s: %s",
                                  b->root, strerror(errno));
        b->tmpfs = false;
        b->have_upper = b->have_work = b->have_target = false;
        return 0;
    }

    if (!b->have_target && !b->have_work && !b->have_upper)
        return 0;
    root_fd = open(b->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (root_fd < 0)
        return cps__error_set(err, CPS_STAGE_CLEANUP, errno, NULL, "open the build dir %s: %s",
                              b->root, strerror(errno));
    /* Iterative, one directory open at a time: a job on disk scratch can
     * make a tree of any depth (rmtree.h). */
    remove_one(root_fd, b->root, "target", &b->have_target, &first, err);
    remove_one(root_fd, b->root, "work", &b->have_work, &first, err);
    remove_one(root_fd, b->root, "upper", &b->have_upper, &first, err);
    close(root_fd);
    return first;
}
