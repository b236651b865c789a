/*
 * inputs.h - writing the job's input files into the merged root, and making
 * the directories the job needs (its cwd, the parents of its outputs).
 * Everything goes through rootpath.h: no symlink is ever followed.
 */
#ifndef CPS_HELPER_INPUTS_H
#define CPS_HELPER_INPUTS_H

#include "error.h"
#include "proto.h"

/*
 * Read the input frames of job->inputs (borrowed) from sock, in order, and
 * write each file at its sandbox path under root_fd with its mode and exactly
 * its declared size. A frame for another path, too many or too few bytes: stage
 * "protocol". Filesystem failures: stage "inputs". sigfd as for cps__session_wait.
 */
int cps__inputs_receive(int sock, int sigfd, int root_fd, const struct cps_job *job,
                        struct cps_error *err);

/* mkdir -p the cwd and the parent dir of every output. Stage "inputs". An
 * output dir that cannot exist in the job's view (cps__root_errno_is_view)
 * is skipped, not an error: that output will be "missing". */
int cps__inputs_make_dirs(int root_fd, const struct cps_job *job, struct cps_error *err);

#endif
