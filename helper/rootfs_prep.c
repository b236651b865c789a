/* rootfs_prep.c - /proc, /dev and /tmp as detached mount trees, made before hello. */
#include "rootfs_prep.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "error.h"
#include "log.h"
#include "proc_mask.h"
#include "rootfs_contents.h"
#include "rootpath.h"
#include "tmpfs.h"

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

void cps__rootfs_prep_init(struct cps_rootfs_prep *p)
{
    p->proc_fd = p->dev_fd = p->tmp_fd = -1;
    p->tmp_bytes = 0;
}

void cps__rootfs_prep_close(struct cps_rootfs_prep *p)
{
    close_fd(&p->proc_fd);
    close_fd(&p->dev_fd);
    close_fd(&p->tmp_fd);
}

bool cps__rootfs_prep_ready(const struct cps_rootfs_prep *p)
{
    return p->proc_fd >= 0 && p->dev_fd >= 0 && p->tmp_fd >= 0;
}

/*
 * A detached mount of a new fstype superblock with the string options opts
 * ({key, value} pairs, NULL-terminated) and the per-mount flags attr. Returns
 * the mount fd (O_PATH-like, close-on-exec) or -errno with err.
 */
static int new_fs(const char *fstype, const char *const (*opts)[2], unsigned attr,
                  enum cps_stage stage, struct cps_error *err)
{
    cps_cleanup_close int fs = fsopen(fstype, FSOPEN_CLOEXEC);
    int mnt;

    if (fs < 0)
        return cps__error_set(err, stage, errno, NULL, "fsopen(\"%s\")", fstype);
    for (size_t i = 0; opts != NULL && opts[i][0] != NULL; i++)
        if (fsconfig(fs, FSCONFIG_SET_STRING, opts[i][0], opts[i][1], 0) < 0)
            return cps__error_set(err, stage, errno, NULL, "fsconfig %s %s=%s", fstype, opts[i][0],
                                  opts[i][1]);
    if (fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
        return cps__error_set(err, stage, errno, NULL, "creating the %s superblock", fstype);
    mnt = fsmount(fs, FSMOUNT_CLOEXEC, attr);
    if (mnt < 0)
        return cps__error_set(err, stage, errno, NULL, "fsmount of %s", fstype);
    return mnt;
}

/* Attach a clone of (dirfd, path) onto the existing entry name of the
 * detached tree tree_fd, with the per-mount flags attr (0: as the source). */
static int clone_onto(int dirfd, const char *path, unsigned attr, int tree_fd, const char *name,
                      enum cps_stage stage, struct cps_error *err)
{
    struct mount_attr a = {.attr_set = attr};
    cps_cleanup_close int t =
        open_tree(dirfd, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_SYMLINK_NOFOLLOW);

    if (t < 0)
        return cps__error_set(err, stage, errno, NULL, "open_tree of %s", path);
    if (attr != 0 && mount_setattr(t, "", AT_EMPTY_PATH, &a, sizeof(a)) < 0)
        return cps__error_set(err, stage, errno, NULL, "mount_setattr on the clone of %s", path);
    /* Onto a detached tree: Linux 6.15, see rootfs_prep.h. */
    if (move_mount(t, "", tree_fd, name, MOVE_MOUNT_F_EMPTY_PATH) < 0)
        return cps__error_set(err, stage, errno, NULL,
                              "attaching %s onto the detached %s tree (needs Linux 6.15)", path,
                              cps__stage_name(stage));
    return 0;
}

/* The root-only files of the fresh /proc (proc_mask.h) covered with clones
 * of the host's /dev/null, here on the detached tree: no mount per job. */
static int mask_proc(struct cps_rootfs_prep *p, struct cps_error *err)
{
    struct cps_proc_masks m;
    int rc = cps__proc_masks_find(p->proc_fd, &m, CPS_STAGE_PROC, err);

    for (size_t i = 0; i < m.count && rc == 0; i++)
        rc = clone_onto(AT_FDCWD, "/dev/null", 0, p->proc_fd, m.names[i], CPS_STAGE_PROC, err);
    return rc;
}

/* proc_fd is a fresh procfs made by I, so it shows I's PID namespace. */
static int prep_proc(struct cps_rootfs_prep *p, struct cps_error *err)
{
    int rc;

    rc = new_fs("proc", NULL, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC,
                CPS_STAGE_PROC, err);
    if (rc < 0)
        return rc;
    p->proc_fd = rc;
    /* The same entries, for the same reasons, as the classic path (rootfs.c). */
    for (size_t i = 0; i < cps__proc_read_only_count; i++) {
        const char *name = cps__proc_read_only[i];

        rc =
            clone_onto(p->proc_fd, name,
                       MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC,
                       p->proc_fd, name, CPS_STAGE_PROC, err);
        if (rc == -ENOENT) {
            /* not built into this kernel (CONFIG_MAGIC_SYSRQ, ...) */
            cps__error_clear(err);
            continue;
        }
        if (rc < 0)
            return rc;
    }
    return mask_proc(p, err);
}

static int prep_dev(struct cps_rootfs_prep *p, struct cps_error *err)
{
    char size[24], inodes[24];
    const char *const opts[][2] = {
        {"mode", "0755"}, {"size", size}, {"nr_inodes", inodes}, {NULL, NULL}};
    char host[32];
    int fd, rc;

    snprintf(size, sizeof(size), "%u", CPS_DEV_TMPFS_BYTES);
    snprintf(inodes, sizeof(inodes), "%" PRIu64, cps__tmpfs_inodes(CPS_DEV_TMPFS_BYTES));
    rc = new_fs("tmpfs", opts, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC, CPS_STAGE_DEV, err);
    if (rc < 0)
        return rc;
    p->dev_fd = rc;
    for (size_t i = 0; i < cps__dev_nodes_count; i++) {
        const char *name = cps__dev_nodes[i];

        fd = openat(p->dev_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
            return cps__error_set(err, CPS_STAGE_DEV, errno, NULL,
                                  "creating the mount point /dev/%s", name);
        close(fd);
        snprintf(host, sizeof(host), "/dev/%s", name);
        rc = clone_onto(AT_FDCWD, host, 0, p->dev_fd, name, CPS_STAGE_DEV, err);
        if (rc < 0)
            return rc;
    }
    return cps__dev_populate(p->dev_fd, err);
}

static int prep_tmp(struct cps_rootfs_prep *p, uint64_t tmp_bytes, struct cps_error *err)
{
    char size[24], inodes[24];
    const char *const opts[][2] = {
        {"mode", "1777"}, {"size", size}, {"nr_inodes", inodes}, {NULL, NULL}};
    int rc;

    snprintf(size, sizeof(size), "%" PRIu64, tmp_bytes);
    snprintf(inodes, sizeof(inodes), "%" PRIu64, cps__tmpfs_inodes(tmp_bytes));
    rc = new_fs("tmpfs", opts, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, CPS_STAGE_TMP, err);
    if (rc < 0)
        return rc;
    p->tmp_fd = rc;
    p->tmp_bytes = tmp_bytes;
    return 0;
}

int cps__rootfs_prepare(struct cps_rootfs_prep *p, uint64_t tmp_bytes, struct cps_error *err)
{
    const char *force = getenv("CACHEPOT_TEST_CLASSIC_MOUNTS");
    int rc;

    cps__rootfs_prep_init(p);
    cps__error_clear(err);
    if (force != NULL && strcmp(force, "1") == 0)
        return cps__error_set(err, CPS_STAGE_MOUNT, ECANCELED, NULL,
                              "CACHEPOT_TEST_CLASSIC_MOUNTS=1 forces the classic path");
    rc = prep_proc(p, err);
    if (rc == 0)
        rc = prep_dev(p, err);
    if (rc == 0)
        rc = prep_tmp(p, tmp_bytes, err);
    if (rc < 0)
        cps__rootfs_prep_close(p);
    return rc;
}

/* tmpfs takes a new size and inode bound on reconfiguration (tmpfs(5),
 * "remount"); the empty prepared /tmp is always below both. */
static int resize_tmp(int tmp_fd, uint64_t tmp_bytes, struct cps_error *err)
{
    char size[24], inodes[24];
    int fs, rc = 0;

    snprintf(size, sizeof(size), "%" PRIu64, tmp_bytes);
    snprintf(inodes, sizeof(inodes), "%" PRIu64, cps__tmpfs_inodes(tmp_bytes));
    fs = fspick(tmp_fd, "", FSPICK_EMPTY_PATH | FSPICK_CLOEXEC);
    if (fs < 0)
        return cps__error_set(err, CPS_STAGE_TMP, errno, NULL, "fspick of the prepared /tmp");
    if (fsconfig(fs, FSCONFIG_SET_STRING, "size", size, 0) < 0 ||
        fsconfig(fs, FSCONFIG_SET_STRING, "nr_inodes", inodes, 0) < 0 ||
        fsconfig(fs, FSCONFIG_CMD_RECONFIGURE, NULL, NULL, 0) < 0)
        rc = cps__error_set(err, CPS_STAGE_TMP, errno, NULL, "resizing /tmp to %s bytes", size);
    close(fs);
    return rc;
}

static int move_into(int *tree_fd, int root_fd, const char *path, enum cps_stage stage,
                     struct cps_error *err)
{
    int where, rc = 0;

    where = cps__root_mkdirs(root_fd, path, stage, err);
    if (where < 0)
        return where;
    if (move_mount(*tree_fd, "", where, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
        rc = cps__error_set(err, stage, errno, NULL, "moving the prepared %s into the root", path);
    close(where);
    close_fd(tree_fd);
    return rc;
}

int cps__rootfs_attach(struct cps_rootfs_prep *p, int root_fd, uint64_t tmp_bytes,
                       struct cps_error *err)
{
    int rc = 0;

    if (tmp_bytes != p->tmp_bytes)
        rc = resize_tmp(p->tmp_fd, tmp_bytes, err);
    if (rc == 0)
        rc = move_into(&p->proc_fd, root_fd, "/proc", CPS_STAGE_PROC, err);
    if (rc == 0)
        rc = move_into(&p->dev_fd, root_fd, "/dev", CPS_STAGE_DEV, err);
    if (rc == 0)
        rc = move_into(&p->tmp_fd, root_fd, "/tmp", CPS_STAGE_TMP, err);
    cps__rootfs_prep_close(p);
    return rc;
}
