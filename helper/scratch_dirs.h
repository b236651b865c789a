/*
 * scratch_dirs.h - the job's scratch directories under its build dir:
 *   BUILD/upper   overlay upper layer (the job's writes)
 *   BUILD/work    overlay work dir
 *   BUILD/target  the merged root the job runs in
 * Created fresh for each job (an existing one means the build dir is not clean)
 * and removed on every exit path.
 *
 * By default the three live on a tmpfs mounted on BUILD in the helper's own
 * mount namespace: the host directory is never written, creating them costs
 * no ext4 journal work (builddir + overlay + cleanup became several times
 * cheaper per job, docs/MEASUREMENTS.md), a crashed helper leaves nothing
 * (the tmpfs dies with its namespace), and limits.scratch_bytes bounds what
 * the job can write.
 * The tmpfs pages are charged to the memory cgroup of the job that writes
 * them. CACHEPOT_SCRATCH=disk keeps them on BUILD's own filesystem.
 */
#ifndef CPS_HELPER_SCRATCH_DIRS_H
#define CPS_HELPER_SCRATCH_DIRS_H

#include <linux/limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "error.h"

struct cps_builddir {
    char root[PATH_MAX]; /* BUILD itself */
    char upper[PATH_MAX];
    char work[PATH_MAX];
    char target[PATH_MAX];
    bool have_upper, have_work, have_target; /* created by us: removed at cleanup */
    bool tmpfs; /* a tmpfs is mounted on root (in the helper's mount namespace) */
};

/* Check build_dir (borrowed): exists, is a directory, is writable, and the
 * three paths fit. Fills the paths of *b, creates nothing. Stage "builddir". */
int cps__builddir_check(const char *build_dir, struct cps_builddir *b, struct cps_error *err);

/* Unless disk: mount a tmpfs of scratch_bytes on BUILD (falling back to disk,
 * logged, when the kernel's tmpfs lacks the user xattrs overlayfs needs in a
 * user namespace: Linux < 6.6). Then mkdir upper, work, target (mode 0700).
 * EEXIST: "build dir not clean". Stage "builddir". */
int cps__builddir_create(struct cps_builddir *b, bool disk, uint64_t scratch_bytes,
                         struct cps_error *err);

/* Remove what cps__builddir_create made: unmount the tmpfs, or on disk remove
 * the dirs with cps__rmtree_at (any depth, one fd at a time, never following a
 * symlink, staying on the build dir's filesystem; directories are made
 * writable first). target must be unmounted first.
 * Returns 0 or the first -errno (stage "cleanup"); always tries everything. */
int cps__builddir_remove(struct cps_builddir *b, struct cps_error *err);

#endif
