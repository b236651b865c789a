/*
 * exec.h - the compiler child C: from a fork of I to execve of the job's
 * program, inside the pivoted root.
 */
#ifndef CPS_HELPER_EXEC_H
#define CPS_HELPER_EXEC_H

#include <stdbool.h>

#include "error.h"
#include "proto.h"
#include "seccomp_filter.h"

struct cps_exec_args {
    const struct cps_job *job;           /* borrowed */
    const struct cps_job_limits *limits; /* resolved (rlimits.h) */
    int stdout_fd, stderr_fd;            /* write ends of O's pipes */
    int report_fd;                       /* close-on-exec pipe to I */
    const struct cps__seccomp *seccomp;  /* NULL: no filter */
};

/*
 * In the child: stdin /dev/null, stdout/stderr the pipes, nothing else open
 * at exec but the close-on-exec report fd; cwd; rlimits; capabilities dropped;
 * PR_SET_NO_NEW_PRIVS; seccomp; environment exactly the job's; argv[0]
 * without '/' looked up in the job's PATH. On any failure writes one struct
 * cps_error to the report fd (exec failures: stage "exec", message listing
 * every path tried) and exits 127. Never returns.
 */
_Noreturn void cps__exec_child(const struct cps_exec_args *a);

#endif
