/* helper_session.h - one exchange with a spawned helper: hello, job, inputs, and the
 * streams, outputs and exit that come back, driven by one poll() loop. */
#ifndef CPS_PARENT_HELPER_SESSION_H
#define CPS_PARENT_HELPER_SESSION_H

#include "cachepot-sandbox.h"
#include "job_spec.h"
#include "output_sink.h"
#include "helper_proc.h"

struct cps_session_times {
    uint64_t start, hello, first_output, last_output, exit; /* CLOCK_MONOTONIC, µs; 0: never */
    bool answered; /* the helper sent a frame after hello (it took the job) */
    /* The job ran to its exit frame and nothing of the exchange is pending
     * (the job and every input sent, no cancel): a reusing helper may take
     * another job. */
    bool clean_end;
};

/*
 * Talk to the spawned helper p (p->hello.seen: its hello was already read, the
 * job is sent at once) until it sends exit or error, or until the
 * exchange fails (helper died, timeout at deadline_us (0: none), cancel,
 * protocol violation). Fills res from the exit frame. Returns 0 when the job
 * ran, else -errno with err set. The helper is not reaped here; on failure it
 * has been sent SIGKILL. Nothing is read past the exit frame, so a reusing
 * helper's next hello stays in the socket for the pool.
 */
int cps__session_run(struct cps_helper_proc *p, const struct cps_job_spec *spec,
                     const struct cps_wire_job *wire, const struct cps_run_options *opts,
                     uint64_t deadline_us, struct cps_output_sink *sink, struct cps_result *res,
                     struct cps_session_times *t, struct cps_error *err);

/* CLOCK_MONOTONIC in microseconds. */
uint64_t cps__now_us(void);

#endif
