/*
 * reuse.h - whether a helper started with --jobs-per-helper N takes another
 * job after one ended (docs/REUSE.md, docs/PROTOCOL.md "How a session ends").
 *
 * Kept across the jobs of one helper: O, its user namespace and id maps, its
 * network namespace (no interface up), its cgroup namespace and the one job
 * cgroup (limits rewritten, counters taken anew per job), the signalfd, the
 * parent watch, the seccomp program. Made anew per job: I (PID 1, with PID,
 * IPC and UTS namespaces of its own), I's mount namespace with /proc, /dev,
 * /tmp, the overlay, the scratch tmpfs and the build dir's upper, work and
 * target dirs. What the jobs thus share is in docs/SECURITY.md.
 */
#ifndef CPS_HELPER_REUSE_H
#define CPS_HELPER_REUSE_H

#include <stdbool.h>
#include <stdint.h>

#include "cgroup.h"

/* How the job whose exit frame went out in full ended. */
struct cps_job_end {
    uint32_t left;   /* jobs the helper still takes, counting the one that ended */
    bool ran_to_end; /* I reported the job's end; O killed no I (timeout, output, cancel) */
    bool clean;      /* overlay unmounted, build dir removed, I reaped */
};

/*
 * true when the helper may say hello again: jobs remain, the job ran to its
 * end, its cleanup succeeded in full, and the job cgroup (cg, borrowed) holds
 * no process. Reuse never continues on a doubtful state: any other answer ends
 * the helper after the exit frame, the reason logged at info level.
 */
bool cps__reuse_another(const struct cps_job_end *e, const struct cps_job_cgroup *cg);

#endif
