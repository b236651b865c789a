/*
 * init.h - I, PID 1 of the job's PID namespace.
 *
 * O creates I with clone(CLONE_NEWPID) before hello (the new namespace's
 * first process is its PID 1, pid_namespaces(7)). I waits on the
 * control socket for the job, launches it with the backend, reaps every
 * process of the namespace (orphans are re-parented to it), and when the job's
 * process exits kills what is left (kill(-1, SIGKILL) from PID 1 reaches
 * every other process of its namespace) and reports the status. When I exits
 * the kernel kills the namespace; O ends a job early by killing I.
 */
#ifndef CPS_HELPER_INIT_H
#define CPS_HELPER_INIT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "backend.h"
#include "cgroup.h"
#include "error.h"
#include "seccomp_filter.h"

/* O's side of I. */
struct cps_init {
    pid_t pid;  /* I, as seen from O's PID namespace */
    int ctl;    /* O's end of the control socket */
    int out_rd; /* read end of the job's stdout pipe (non-blocking) */
    int err_rd; /* read end of the job's stderr pipe (non-blocking) */
};

/*
 * Create the stdout/stderr pipes and the control socketpair, fork I. In I,
 * the fds listed in close_fds (borrowed; O's own fds such as the worker socket)
 * are closed. seccomp: the job gets the default filter, which I prepares
 * itself; bp (borrowed) the prepared backend I launches the job with; cg
 * (borrowed) the job cgroup, which I enters first (cps__cgroup_enter).
 * per_job_namespaces (a helper serving several jobs, docs/REUSE.md): I also
 * gets IPC, UTS and network namespaces of its own and sets its hostname, so
 * that nothing a job leaves there (SysV IPC, POSIX message queues, the
 * hostname, the network namespace's counters such as /proc/net/snmp) reaches
 * the next job, which gets another I; O's own namespaces then hold nothing of
 * any job. After the job's processes are reaped, I empties its IPC namespace
 * (ipc_clear.h) before it reports the job's end.
 * Returns
 * 0 in O with *in filled; stage "fork_init". I starts its own setup (init.c:
 * the cgroup, prepare_root) right away, while O says hello.
 */
int cps__init_spawn(struct cps_init *in, const int *close_fds, size_t nclose, bool seccomp,
                    const struct cps_backend_prep *bp, const struct cps_job_cgroup *cg,
                    bool per_job_namespaces, struct cps_error *err);

/* Close O's fds of *in (not the process). */
void cps__init_close(struct cps_init *in);

#endif
