/* rootfs.c - /proc, /dev, /tmp and pivot_root, in I. */
#include "rootfs.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cleanup.h"
#include "error.h"
#include "proc_mask.h"
#include "rootfs_prep.h"
#include "rootpath.h"
#include "tmpfs.h"

#define FD_PATH_MAX 32

static void fd_path(char *buf, int fd)
{
    snprintf(buf, FD_PATH_MAX, "/proc/self/fd/%d", fd);
}

/* Mount fstype at the sandbox dir path (created if missing). */
static int mount_at(int root_fd, const char *path, const char *fstype, unsigned long flags,
                    const char *data, enum cps_stage stage, const char *hint, struct cps_error *err)
{
    char where[FD_PATH_MAX];
    int fd, rc = 0;

    fd = cps__root_mkdirs(root_fd, path, stage, err);
    if (fd < 0)
        return fd;
    fd_path(where, fd);
    if (mount(fstype, where, fstype, flags, data) < 0)
        rc = cps__error_set(err, stage, errno, hint, "mount %s on %s in the sandbox root (%s)",
                            fstype, path, data ? data : "no options");
    close(fd);
    return rc;
}

static int bind_device(int dev_fd, const char *name, struct cps_error *err)
{
    char host[32], where[FD_PATH_MAX];
    int fd, rc = 0;

    snprintf(host, sizeof(host), "/dev/%s", name);
    fd = openat(dev_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return cps__error_set(err, CPS_STAGE_DEV, errno, NULL, "creating the mount point /dev/%s",
                              name);
    fd_path(where, fd);
    if (mount(host, where, NULL, MS_BIND, NULL) < 0)
        rc = cps__error_set(err, CPS_STAGE_DEV, errno,
                            "the host must have /dev/null, zero, full, "
                            "random, urandom and tty",
                            "bind mount of the host's %s", host);
    close(fd);
    return rc;
}

static int make_dev(int root_fd, struct cps_error *err)
{
    int dev_fd, rc;

    char opts[96];

    cps__tmpfs_options(opts, sizeof(opts), "0755", CPS_DEV_TMPFS_BYTES);
    rc = mount_at(root_fd, "/dev", "tmpfs", MS_NOSUID | MS_NOEXEC, opts, CPS_STAGE_DEV, NULL, err);
    if (rc < 0)
        return rc;
    /* Opened after the mount: the fd must be the tmpfs, not the dir below it. */
    dev_fd = cps__root_open(root_fd, "/dev", O_RDONLY | O_DIRECTORY, 0);
    if (dev_fd < 0)
        return cps__error_set(err, CPS_STAGE_DEV, -dev_fd, NULL,
                              "opening /dev in the sandbox root");
    for (size_t i = 0; i < cps__dev_nodes_count && rc == 0; i++)
        rc = bind_device(dev_fd, cps__dev_nodes[i], err);
    if (rc == 0)
        rc = cps__dev_populate(dev_fd, err);
    close(dev_fd);
    return rc;
}

static int proc_make_read_only(int root_fd, struct cps_error *err)
{
    char where[FD_PATH_MAX];
    int proc_fd, fd, rc = 0;

    proc_fd = cps__root_open(root_fd, "/proc", O_PATH | O_DIRECTORY, 0);
    if (proc_fd < 0)
        return cps__error_set(err, CPS_STAGE_PROC, -proc_fd, NULL,
                              "opening /proc in the sandbox root");
    for (size_t i = 0; i < cps__proc_read_only_count && rc == 0; i++) {
        const char *name = cps__proc_read_only[i];

        fd = openat(proc_fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 && errno == ENOENT)
            continue; /* not built into this kernel (CONFIG_MAGIC_SYSRQ, ...) */
        if (fd < 0) {
            rc = cps__error_set(err, CPS_STAGE_PROC, errno, NULL, "open /proc/%s", name);
            break;
        }
        fd_path(where, fd);
        if (mount(where, where, NULL, MS_BIND, NULL) < 0)
            rc = cps__error_set(err, CPS_STAGE_PROC, errno, NULL,
                                "bind mount of /proc/%s over itself", name);
        close(fd);
        if (rc < 0)
            break;
        /* The remount must name the new bind mount, so open the path again. */
        fd = openat(proc_fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) {
            rc = cps__error_set(err, CPS_STAGE_PROC, errno, NULL, "open /proc/%s after the bind",
                                name);
            break;
        }
        fd_path(where, fd);
        if (mount(NULL, where, NULL,
                  MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
            rc = cps__error_set(err, CPS_STAGE_PROC, errno, NULL, "remount of /proc/%s read-only",
                                name);
        close(fd);
    }
    close(proc_fd);
    return rc;
}

/* The root-only files of the fresh /proc (proc_mask.h), each covered with a
 * bind of the host's /dev/null: one mount(2) per file on this path. */
static int proc_mask(int root_fd, struct cps_error *err)
{
    char where[FD_PATH_MAX];
    struct cps_proc_masks m;
    int proc_fd, fd, rc;

    proc_fd = cps__root_open(root_fd, "/proc", O_RDONLY | O_DIRECTORY, 0);
    if (proc_fd < 0)
        return cps__error_set(err, CPS_STAGE_PROC, -proc_fd, NULL,
                              "opening /proc in the sandbox root");
    rc = cps__proc_masks_find(proc_fd, &m, CPS_STAGE_PROC, err);
    for (size_t i = 0; i < m.count && rc == 0; i++) {
        fd = openat(proc_fd, m.names[i], O_PATH | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) {
            rc = cps__error_set(err, CPS_STAGE_PROC, errno, NULL, "open /proc/%s", m.names[i]);
            break;
        }
        fd_path(where, fd);
        if (mount("/dev/null", where, NULL, MS_BIND, NULL) < 0)
            rc = cps__error_set(err, CPS_STAGE_PROC, errno, NULL,
                                "bind mount of /dev/null over /proc/%s", m.names[i]);
        close(fd);
    }
    close(proc_fd);
    return rc;
}

static int pivot(int root_fd, const char *target, struct cps_error *err)
{
    if (fchdir(root_fd) < 0)
        return cps__error_set(err, CPS_STAGE_PIVOT_ROOT, errno, NULL, "chdir %s", target);
    /* pivot_root(".", "."): the old root ends up stacked on the new one and is
     * detached right away; no put_old directory is needed (pivot_root(2)). */
    if (syscall(SYS_pivot_root, ".", ".") < 0)
        return cps__error_set(err, CPS_STAGE_PIVOT_ROOT, errno, NULL, "pivot_root into %s", target);
    if (umount2(".", MNT_DETACH) < 0)
        return cps__error_set(err, CPS_STAGE_PIVOT_ROOT, errno, NULL, "detaching the old root");
    if (chdir("/") < 0)
        return cps__error_set(err, CPS_STAGE_PIVOT_ROOT, errno, NULL, "chdir / in the new root");
    return 0;
}

int cps__rootfs_mount_dev_tmp(int root_fd, uint64_t tmp_bytes, struct cps_error *err)
{
    char tmp_opts[96];
    int rc;

    rc = make_dev(root_fd, err);
    if (rc == 0) {
        cps__tmpfs_options(tmp_opts, sizeof(tmp_opts), "1777", tmp_bytes);
        rc = mount_at(root_fd, "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, tmp_opts, CPS_STAGE_TMP, NULL,
                      err);
    }
    return rc;
}

int cps__rootfs_enter(const char *target, uint64_t tmp_bytes, struct cps_rootfs_prep *prep,
                      struct cps_error *err)
{
    cps_cleanup_close int root_fd = -1;
    int rc;

    if (unshare(CLONE_NEWNS) < 0)
        return cps__error_set(err, CPS_STAGE_MOUNT, errno, NULL, "unshare(CLONE_NEWNS) in PID 1");
    root_fd = open(target, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (root_fd < 0)
        return cps__error_set(err, CPS_STAGE_MOUNT, errno, NULL, "open %s", target);
    /* Detached trees survive the unshare above: they belong to no namespace
     * the unshare copies, and may be attached into the new one. */
    if (prep != NULL && cps__rootfs_prep_ready(prep)) {
        rc = cps__rootfs_attach(prep, root_fd, tmp_bytes, err);
        return rc == 0 ? pivot(root_fd, target, err) : rc;
    }
    rc = mount_at(root_fd, "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, CPS_STAGE_PROC,
                  "a fresh /proc cannot be mounted where the host's /proc is partly masked "
                  "(some containers); run the worker with an unmasked /proc",
                  err);
    if (rc == 0)
        rc = proc_make_read_only(root_fd, err);
    if (rc == 0)
        rc = proc_mask(root_fd, err);
    if (rc == 0)
        rc = cps__rootfs_mount_dev_tmp(root_fd, tmp_bytes, err);
    if (rc == 0)
        rc = pivot(root_fd, target, err);
    return rc;
}
