/*
 * builddir.h - the job's scratch directories under its build dir:
 *   BUILD/upper   overlay upper layer (the job's writes)
 *   BUILD/work    overlay work dir
 *   BUILD/target  the merged root the job runs in
 * Created fresh for each job (an existing one means the build dir is not clean)
 * and removed on every exit path.
 */
#ifndef CPS_HELPER_BUILDDIR_H
#define CPS_HELPER_BUILDDIR_H

#include <linux/limits.h>
#include <stdbool.h>

#include "cachepot-sandbox.h"

struct cps_builddir {
    char upper[PATH_MAX];
    char work[PATH_MAX];
    char target[PATH_MAX];
    bool have_upper, have_work, have_target; /* created by us: removed at cleanup */
};

/* Check build_dir (borrowed): exists, is a directory, is writable, and the
 * three paths fit. Fills the paths of *b, creates nothing. Stage "builddir". */
int cps__builddir_check(const char *build_dir, struct cps_builddir *b, struct cps_error *err);

/* mkdir upper, work, target (mode 0700). EEXIST: "build dir not clean". Stage "builddir". */
int cps__builddir_create(struct cps_builddir *b, struct cps_error *err);

/* Remove what cps__builddir_create made, recursively, never following a
 * symlink; directories are made writable first (overlayfs leaves work/work at
 * mode 000, a job may leave read-only ones). target must be unmounted first.
 * Returns 0 or the first -errno (stage "cleanup"); always tries everything. */
int cps__builddir_remove(struct cps_builddir *b, struct cps_error *err);

#endif
