/*
 * backend_launch.h - what every backend's launch (backend_userns.c,
 * backend_bwrap.c) gets from I and shares: the launch arguments, and the wait
 * for the job's exec. Kept apart from backend.h so that the backends do not
 * depend on the dispatch that calls them (backend.c).
 */
#ifndef CPS_HELPER_BACKEND_LAUNCH_H
#define CPS_HELPER_BACKEND_LAUNCH_H

#include <stdint.h>
#include <sys/types.h>

#include "error.h"
#include "proto.h"
#include "rootfs_prep.h"
#include "seccomp_filter.h"

struct cps_launch {
    const struct cps_job *job;           /* borrowed */
    const struct cps_job_limits *limits; /* resolved defaults (rlimits.h) */
    const char *target;                  /* the merged root, host path as I sees it */
    int stdout_fd, stderr_fd;            /* write ends; launch closes I's copies */
    const struct cps__seccomp *seccomp;  /* NULL: no filter */
    struct cps_rootfs_prep *prep;        /* /proc /dev /tmp made before hello; NULL: none */
    uint64_t rootfs_usec;                /* out: /proc, /dev, /tmp, pivot_root */
    uint64_t exec_usec;                  /* out: fork until exec succeeded */
};

/*
 * For both backends, in I, right after forking the process c whose exec starts
 * the job, with report_rd the read end of a CLOEXEC pipe whose write end only c
 * holds (c writes a struct cps_error there when a step before exec fails):
 * closes I's copies of the job's stdout/stderr (O then sees EOF when the job's
 * last process is gone), waits for the exec (EOF on report_rd) and sets
 * l->exec_usec from t0. Returns 0 and *pid = c; or, with c reaped, the child's
 * error, or EIO with stage `stage` when c died without a report. Closes
 * report_rd.
 */
int cps__backend_await_exec(struct cps_launch *l, pid_t c, int report_rd, uint64_t t0,
                            enum cps_stage stage, pid_t *pid, struct cps_error *err);

#endif
