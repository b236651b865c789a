/*
 * tree.h - pump mode: every file of distccd's job tree as an input.
 *
 * In pump mode distccd receives the client's sources and headers into
 * T/distccd_XXXXXX/<client path> (srvrpc.c, dcc_r_many_files), and symlinks
 * the include server asked for. The sandbox gets each regular file at the
 * same path. A symlink is given as a copy of the file it resolves to, and only
 * when that file is inside the tree: distcc does not check a link's ".."
 * components (its own FIXME in dcc_r_many_files), and the sandbox must not see
 * another job's files through one. Links to directories are not followed.
 */
#ifndef CPD_TREE_H
#define CPD_TREE_H

#include "cachepot-sandbox.h"

/* Add every file below tree to job. 0 or -errno (stage "inputs"). */
int cpd_tree_add_inputs(struct cps_job_spec *job, const char *tree, struct cps_error *err);

#endif
