/*
 * pump.h - O while the job runs: stdout/stderr pipes -> frames, the peer's
 * cancel or EOF, I's control records, the timeout and the output byte limit.
 */
#ifndef CPS_HELPER_PUMP_H
#define CPS_HELPER_PUMP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/resource.h>

#include "error.h"
#include "init.h"
#include "proto.h"

struct cps_pump_result {
    bool started; /* I reported the job's exec */
    bool exited;  /* I reported the job's end; wait_status and usage are valid */
    int wait_status;
    struct rusage usage; /* the job's processes, as reaped by I */
    bool failed;         /* I reported a setup or exec failure: failure */
    struct cps_error failure;
    bool ipc_left; /* I could not empty the job's IPC namespace: ipc_err (no reuse) */
    struct cps_error ipc_err;
    bool killed;           /* O killed I (limit says why) */
    /*
     * Why the job ended early, or NULL: O killed I for "timeout"
     * (limits.timeout_ms), "output" (max_output_bytes) or "cancel"; main.c
     * sets "memory" afterwards when the job cgroup's OOM killer ended it. The
     * exit frame (report.c) tells the other ends itself: an exit code, a
     * signal, and the limits the kernel enforces by signal, "cpu" (SIGXCPU) and
     * "file_size" (SIGXFSZ).
     */
    const char *limit;
    bool peer_gone;        /* the peer closed fd 3, or a stop signal came: send nothing */
    char gone_reason[160]; /* why peer_gone was set */
    bool frame_cut;        /* a frame was half sent when peer_gone was set */
    bool peer_error;       /* the peer broke the protocol: peer_err */
    struct cps_error peer_err;
    bool stopped; /* a stop signal came (peer_gone is set too): stop_err says which */
    struct cps_error stop_err;
    bool cancelled_early; /* cancel came before I reported the exec: no exit, an error */
    uint64_t wall_us;     /* from the job's exec to its end */
    uint64_t rootfs_usec, exec_usec;
    uint64_t rootfs_prep_usec; /* I's trees made before the job; 0: classic path */
    uint64_t stream_bytes;     /* stdout + stderr bytes forwarded */
};

/*
 * Send the job's bytes (raw[0..len), borrowed) to I, then pump until both
 * pipes hit EOF and I reported the job's end or is gone (I may still be
 * exiting: the caller reaps it). Chunks of at most CPS_MAX_CHUNK are forwarded
 * as they arrive (never a whole stream in memory), spliced from the pipe into
 * the socket. The timeout (limits->timeout_ms, resolved) runs from the job's
 * exec; max_output_bytes caps stdout + stderr.
 * Ending a job early = SIGKILL to I, which takes the whole PID namespace down.
 * sigfd: signalfd of the stop signals. Returns 0 with *r filled, or -errno when
 * the job could not be handed to I (stage "control").
 */
int cps__pump_run(int sock, int sigfd, struct cps_init *in, const uint8_t *raw, size_t len,
                  const struct cps_job_limits *limits, struct cps_pump_result *r,
                  struct cps_error *err);

#endif
