/* reuse.c - whether a helper serving several jobs takes the next one. */
#include "reuse.h"

#include "log.h"

bool cps__reuse_another(const struct cps_job_end *e, const struct cps_job_cgroup *cg)
{
    if (e->left <= 1)
        return false;
    /* A job O ended early (timeout, output, cancel) may have been cut anywhere,
     * and a cancel of the peer may still be on its way, crossing the exit
     * frame: the next job would read it as the first frame after hello. */
    if (!e->ran_to_end) {
        cps__log_info("reuse: the job did not end by itself: exiting after it");
        return false;
    }
    if (!e->clean) {
        cps__log_info("reuse: the job's cleanup failed: exiting after it");
        return false;
    }
    if (!e->ipc_cleared) {
        cps__log_info("reuse: the job's IPC namespace could not be emptied: exiting after it");
        return false;
    }
    if (!cps__cgroup_empty(cg)) {
        cps__log_info("reuse: the job cgroup is not empty: exiting after the job");
        return false;
    }
    return true;
}
