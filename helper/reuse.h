/*
 * reuse.h - whether a helper started with --jobs-per-helper N takes another
 * job after one ended (docs/REUSE.md, docs/PROTOCOL.md "How a session ends").
 *
 * Kept across the jobs of one helper: O, its user namespace and id maps, its
 * cgroup namespace and the one job cgroup (limits rewritten, counters taken
 * anew per job), the signalfd, the parent watch, the seccomp program. Made
 * anew per job: I (PID 1, with PID, IPC, UTS and network namespaces of its
 * own), I's mount namespace with /proc, /dev, /tmp, the overlay, the scratch
 * tmpfs and the build dir's upper, work and target dirs. The network
 * namespace is not kept: its counters (/proc/net/snmp and others) belong to
 * no socket, and a job could move them for the next one to read
 * (reuse_escape_netns_counters). I empties its IPC namespace after the job
 * (ipc_clear.h), so that nothing of it stays charged to the kept user
 * namespace. What the jobs thus share is in docs/SECURITY.md.
 */
#ifndef CPS_HELPER_REUSE_H
#define CPS_HELPER_REUSE_H

#include <stdbool.h>
#include <stdint.h>

#include "cgroup.h"

/* How the job whose exit frame went out in full ended. */
struct cps_job_end {
    uint32_t left;    /* jobs the helper still takes, counting the one that ended */
    bool ran_to_end;  /* I reported the job's end; O killed no I (timeout, output, cancel) */
    bool clean;       /* overlay unmounted, build dir removed, I reaped */
    bool ipc_cleared; /* I emptied the job's IPC namespace (ipc_clear.h) */
};

/*
 * true when the helper may say hello again: jobs remain, the job ran to its
 * end, its cleanup succeeded in full (I's IPC namespace emptied too), and the
 * job cgroup (cg, borrowed) holds
 * no process. Reuse never continues on a doubtful state: any other answer ends
 * the helper after the exit frame, the reason logged at info level.
 */
bool cps__reuse_another(const struct cps_job_end *e, const struct cps_job_cgroup *cg);

#endif
