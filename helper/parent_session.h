/*
 * parent_session.h - the helper's side of the protocol before the job runs: hello,
 * reading and validating the job, waiting for the peer.
 *
 * Errors caused by the peer (a frame that does not decode, a message of the
 * wrong type or order, EOF) carry stage "frame", "decode" or "protocol";
 * cps__session_is_peer_error() tells them apart from setup errors.
 */
#ifndef CPS_HELPER_PARENT_SESSION_H
#define CPS_HELPER_PARENT_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "options.h"
#include "proto.h"

/* Send hello with the spawn-time configuration o (borrowed), the host's
 * capability bits and reuse (hello.reuse; 0: no such key, one job per helper). */
int cps__session_hello(int sock, const struct cps_helper_options *o, uint32_t backends,
                       uint32_t overlays, uint32_t reuse, struct cps_error *err);

/*
 * Wait until sock is readable. sigfd (may be -1) is a signalfd of the signals
 * that mean "stop" (the parent-death signal among them): when it becomes
 * readable first, returns -EINTR with stage "parent" (cps__session_stop_error).
 */
int cps__session_wait(int sock, int sigfd, struct cps_error *err);

/* A stop signal is waiting on sigfd: read it and describe it in err (stage
 * "parent", EINTR, naming the signal and its sender). Returns -EINTR. */
int cps__session_stop_error(int sigfd, struct cps_error *err);
/* True when err is the one cps__session_stop_error() made. */
bool cps__session_is_stop(const struct cps_error *err);

/* Send an error frame built from e (borrowed) on sock, waiting at most
 * timeout_ms for the peer to take it (a stop signal must end the helper even
 * when the peer does not read). -ETIMEDOUT when it did not; the frame may
 * then be cut. sock is made O_NONBLOCK. */
int cps__session_send_error_within(int sock, const struct cps_error *e, int timeout_ms,
                                   struct cps_error *err);

/* The peer began a frame (r, borrowed, holds part of it) and sent no more of
 * it for CPS_FRAME_DEADLINE_MS: stage "frame", ETIMEDOUT, with a hint.
 * Returns -ETIMEDOUT. */
struct cps_frame_reader;
int cps__session_frame_timeout(const struct cps_frame_reader *r, struct cps_error *err);

/* Read one frame and decode it; it must be of type want. *msg is filled (free
 * with cps__msg_free); *raw (new, may be NULL when not wanted) keeps the bytes.
 * Once the frame's first byte arrived, the rest must come within
 * CPS_FRAME_DEADLINE_MS (cps__session_frame_timeout); sock is made
 * O_NONBLOCK for that. */
int cps__session_read(int sock, int sigfd, enum cps_msg_type want, struct cps_msg *msg,
                      uint8_t **raw, size_t *raw_len, struct cps_error *err);

/* Check the job (borrowed) against the spawn-time configuration o: uid, gid,
 * backend and seccomp must match (stage "job", naming both values). */
int cps__session_check_config(const struct cps_job *job, const struct cps_helper_options *o,
                              struct cps_error *err);

/* True when err describes a peer error (exit code 3), not a setup error. */
bool cps__session_is_peer_error(const struct cps_error *err);

#endif
