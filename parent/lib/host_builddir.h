/* host_builddir.h - the job's build dir on the host side. */
#ifndef CPS_PARENT_HOST_BUILDDIR_H
#define CPS_PARENT_HOST_BUILDDIR_H

#include "cachepot-sandbox.h"

/* Make a fresh private dir under $TMPDIR (or /tmp); *out (new) is its
 * realpath. Returns 0 or -errno (stage "builddir"). */
int cps__build_dir_make_temp(char **out, struct cps_error *err);
/* Create dir if missing (0700) and return its realpath in *out (new). */
int cps__build_dir_prepare(const char *dir, char **out, struct cps_error *err);
/* Remove BUILD/upper, BUILD/work and BUILD/target if a helper left them. */
void cps__build_dir_clean(const char *build_dir);
/* Remove path and everything below it (cps__rmtree_at: any depth, never
 * following a symlink, never crossing into another filesystem than the one
 * of path's parent dir). Returns 0 or -errno. */
int cps__remove_tree(const char *path);

#endif
