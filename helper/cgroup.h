/*
 * cgroup.h - a per-job cgroup with pids and memory limits, when the helper
 * may make one.
 *
 * RLIMIT_NPROC does not bound a job whose host uid is root (the kernel
 * exempts the initial root user, copy_process), and no rlimit bounds memory
 * that is touched rather than mapped. A child cgroup of the helper's own
 * cgroup does both: pids.max and memory.max (v2), or pids.max and
 * memory.limit_in_bytes (v1 pids and memory hierarchies). The helper uses it
 * when its cgroup is writable (root, or a delegated subtree) and otherwise
 * runs without one, logging why (cps__cgroup_create never fails a job).
 *
 * Everything that needs the host's view (finding the hierarchies, mkdir,
 * opening the files that move a process) happens in cps__cgroup_create,
 * before O unshares its user and cgroup namespaces: cgroup.procs checks the
 * credentials and cgroup namespace of the opener (Linux 5.16,
 * CVE-2021-4197), so the fds opened here keep working afterwards.
 */
#ifndef CPS_HELPER_CGROUP_H
#define CPS_HELPER_CGROUP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"
#include "proto.h"

/* memory.max when the job sets no address_space: a bound for runaway jobs,
 * far above what one compile needs (docs/HELPER.md). */
#define CPS_DEFAULT_CGROUP_MEMORY (8ull * 1024 * 1024 * 1024) /* 8 GiB */

#define CPS_CGROUP_DIRS 2 /* v2: one dir; v1: pids and memory */

struct cps_job_cgroup {
    int version;                     /* 0: off, 1 or 2 */
    char reason[256];                /* why off */
    char dir[CPS_CGROUP_DIRS][4096]; /* created dirs, "" when unused */
    int procs_fd[CPS_CGROUP_DIRS];   /* cgroup.procs of each dir, -1 when unused */
    int pids_fd;                     /* pids.max, or -1 */
    int memory_fd;                   /* memory.max / memory.limit_in_bytes, or -1 */
    int events_fd;                   /* memory.events / memory.oom_control, or -1 */
    int dir_fd[CPS_CGROUP_DIRS];     /* O_PATH of each dir (cps__cgroup_empty), or -1 */
    uint64_t oom_base;               /* oom_kill count when the current job started */
};

/* Set every fd to -1 and the version to 0; call before anything else. */
void cps__cgroup_init(struct cps_job_cgroup *cg);

/* Find the helper's cgroup, create a child for the job and open its files.
 * Never fails: when no cgroup can be made, cg->version is 0 and cg->reason
 * says why (also logged at info level). */
void cps__cgroup_create(struct cps_job_cgroup *cg);

/* Write pids.max (l->processes) and the memory limit (l->address_space, else
 * CPS_DEFAULT_CGROUP_MEMORY). No-op when off. Stage "cgroup". */
int cps__cgroup_set_limits(struct cps_job_cgroup *cg, const struct cps_job_limits *l,
                           struct cps_error *err);

/*
 * Move pid (0: the calling process) into the cgroup. No-op when off. Stage
 * "cgroup". On cgroup v1 a move takes the cgroup_threadgroup_rwsem for
 * writing, which waits for an RCU grace period unless another move happened
 * just before: an isolated job's move costs milliseconds, a move right after
 * another almost nothing (docs/MEASUREMENTS.md). So I enters by itself right
 * after its fork, while O says hello and a warm helper waits for its job,
 * instead of O moving it when the job arrives.
 */
int cps__cgroup_enter(const struct cps_job_cgroup *cg, pid_t pid, struct cps_error *err);

/* A job starts: take the counters its end is compared to (a reusing helper
 * keeps one cgroup for all its jobs, docs/REUSE.md). Call before the job's
 * first process is forked. No-op when off. */
void cps__cgroup_job_start(struct cps_job_cgroup *cg);

/* true when the memory limit made the kernel kill a process of the current
 * job (the oom_kill count grew since cps__cgroup_job_start). */
bool cps__cgroup_oom_killed(const struct cps_job_cgroup *cg);

/* true when the cgroup holds no process (v2 cgroup.events "populated 0", v1
 * every cgroup.procs empty), waiting up to about 1 s for exiting tasks to
 * leave it; true when off. A reusing helper asks before its next hello. */
bool cps__cgroup_empty(const struct cps_job_cgroup *cg);

/* Close the fds and remove the dirs; call after every process of the job is
 * gone. Failures are logged. */
void cps__cgroup_remove(struct cps_job_cgroup *cg);

#endif
