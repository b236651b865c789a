/*
 * rootfs_prep.h - the job's /proc, /dev and /tmp built by I before hello, as
 * detached mount trees (the new mount API: fsopen(2), fsmount(2),
 * open_tree(2), move_mount(2), mount_setattr(2)), so that a job only moves
 * them into its root: three move_mount calls instead of one mount per
 * filesystem, device and read-only /proc entry.
 *
 * Building a tree out of detached mounts (a bind of /dev/null onto the
 * detached /dev tmpfs, a clone of /proc/sys onto the detached /proc) needs
 * Linux 6.15 ("fs: create detached mounts from detached mounts" and "fs: mount
 * detached mounts onto detached mounts"; before, move_mount and open_tree
 * answer EINVAL for a mount outside the caller's namespace). The new mount API
 * itself is Linux 5.2, mount_setattr 5.12. Where any step fails, I logs why at
 * info level and the job takes the classic path of rootfs.c, one mount(2) call
 * per step.
 *
 * CACHEPOT_TEST_CLASSIC_MOUNTS=1 in the helper's environment forces the
 * classic path; it exists for the tests of that path and is no tuning knob.
 */
#ifndef CPS_HELPER_ROOTFS_PREP_H
#define CPS_HELPER_ROOTFS_PREP_H

#include <stdbool.h>
#include <stdint.h>

#include "error.h"

struct cps_rootfs_prep {
    int proc_fd;        /* detached procfs of I's PID namespace, entries read-only; -1 */
    int dev_fd;         /* detached /dev tmpfs with its device binds; -1 */
    int tmp_fd;         /* detached /tmp tmpfs of tmp_bytes; -1 */
    uint64_t tmp_bytes; /* size tmp_fd was made with */
};

/* All fds -1: nothing prepared, the classic path. */
void cps__rootfs_prep_init(struct cps_rootfs_prep *p);

/* True when the three trees are ready to be moved into a root. */
bool cps__rootfs_prep_ready(const struct cps_rootfs_prep *p);

/*
 * In I, before the job: build the three detached trees, /tmp of tmp_bytes.
 * Returns 0, or -errno with err (stage "proc", "dev" or "tmp") and *p back
 * to nothing prepared; also -ECANCELED when CACHEPOT_TEST_CLASSIC_MOUNTS=1.
 */
int cps__rootfs_prepare(struct cps_rootfs_prep *p, uint64_t tmp_bytes, struct cps_error *err);

/*
 * At job time, in I's own mount namespace: resize /tmp when the job asks for
 * another size than prepared (fspick + fsconfig, no mount), then move /proc,
 * /dev and /tmp onto the directories of those names in root_fd (borrowed, an
 * O_PATH fd of the root; the directories are created without following
 * symlinks). Closes p's fds. Stages "proc", "dev", "tmp".
 */
int cps__rootfs_attach(struct cps_rootfs_prep *p, int root_fd, uint64_t tmp_bytes,
                       struct cps_error *err);

/* Close whatever p holds. */
void cps__rootfs_prep_close(struct cps_rootfs_prep *p);

#endif
