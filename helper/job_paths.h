/*
 * job_paths.h - sandbox paths a job may not use: those the job would never
 * see because a mount made after them hides them.
 */
#ifndef CPS_HELPER_JOB_PATHS_H
#define CPS_HELPER_JOB_PATHS_H

#include "error.h"
#include "proto.h"

/*
 * O writes the inputs and makes the cwd in the root before I mounts /proc,
 * /dev and /tmp over it, so an input or cwd below those three would be hidden
 * from the job. Refuse such a cwd (the mount point itself is fine: it
 * exists) or input up front: stage "job", EINVAL, naming the path and the
 * mount. Outputs are only requests and are not refused: one there is
 * "missing" (O collects from the root, below I's mounts; docs/PROTOCOL.md).
 * job is borrowed.
 */
int cps__job_paths_check(const struct cps_job *job, struct cps_error *err);

#endif
