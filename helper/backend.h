/*
 * backend.h - the run step: turning the prepared root into a running job.
 *
 * O prepares the root the same way for every backend (namespaces, overlay,
 * inputs). Then I (PID 1 of the job's PID namespace) launches the job with the
 * backend the helper was spawned with:
 *   userns      I sets up /proc, /dev, /tmp, pivot_root and forks the
 *               compiler itself (rootfs.c, exec.c);
 *   bubblewrap  not built yet: cps__backend_check refuses it with -ENOTSUP.
 * A backend provides a check (run by O before anything is created) and a
 * launch (run by I) with the signatures below, and is added to backend.c.
 */
#ifndef CPS_HELPER_BACKEND_H
#define CPS_HELPER_BACKEND_H

#include <stdint.h>
#include <sys/types.h>

#include "cachepot-sandbox.h"
#include "proto.h"
#include "seccomp_filter.h"

struct cps_launch {
    const struct cps_job *job;           /* borrowed */
    const struct cps_job_limits *limits; /* resolved defaults (rlimits.h) */
    const char *target;                  /* the merged root, host path as I sees it */
    int stdout_fd, stderr_fd;            /* write ends; launch closes I's copies */
    const struct cps__seccomp *seccomp;  /* NULL: no filter */
    uint64_t rootfs_usec;                /* out: /proc, /dev, /tmp, pivot_root */
    uint64_t exec_usec;                  /* out: fork until exec succeeded */
};

/* In O, before anything is created. Stage "backend". */
int cps__backend_check(uint32_t backend, struct cps_error *err);

/* In I. Returns 0 and *pid of the process whose exit ends the job, once its
 * exec succeeded; or -errno with err (stage of the failing step; "exec" for
 * an exec failure, after the failed child was reaped). */
int cps__backend_launch(uint32_t backend, struct cps_launch *l, pid_t *pid, struct cps_error *err);

/* The userns backend (backend_userns.c). */
int cps__backend_userns_launch(struct cps_launch *l, pid_t *pid, struct cps_error *err);

#endif
