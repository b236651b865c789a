/*
 * frame.h - the transport: a 4-byte big-endian length, then exactly that many
 * bytes holding one CBOR data item. Lengths of 0 or above the cap are errors.
 * Writes use send(MSG_NOSIGNAL) on sockets (write(2) with SIGPIPE blocked and
 * consumed otherwise) so no SIGPIPE is ever raised in the caller's process;
 * EINTR and short transfers are retried, and an O_NONBLOCK fd is waited for
 * with poll(2) by the blocking calls. A max_frame of 0 means CPS_MAX_FRAME.
 */
#ifndef CPS_COMMON_FRAME_H
#define CPS_COMMON_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "cachepot-sandbox.h"

/* Write one frame (header + payload, borrowed). Blocks until all is written.
 * Returns 0, or -errno with err->stage "frame" (-EPIPE: peer closed;
 * -EMSGSIZE: len is 0 or above CPS_MAX_FRAME). */
int cps__frame_write(int fd, const uint8_t *payload, size_t len, struct cps_error *err);

/* Read one whole frame, blocking. *payload is new (free()), *len its length.
 * Returns 0; -ECONNRESET with stage "frame" and message "peer closed the
 * connection" on EOF before the first header byte (a clean close: callers may
 * treat it as end of session); -EPROTO on EOF mid-frame; -EMSGSIZE when the
 * declared length is 0 or above max_frame. */
int cps__frame_read(int fd, size_t max_frame, uint8_t **payload, size_t *len,
                    struct cps_error *err);

/*
 * Incremental reader for non-blocking fds driven by poll(). Zero-initialise,
 * set max_frame, call cps__frame_reader_feed() when the fd is readable:
 *   1  a frame is complete: take it with cps__frame_reader_take();
 *   0  no complete frame yet (EAGAIN), call again when readable;
 *  <0  -errno as for cps__frame_read (EOF between frames: -ECONNRESET).
 * Reads at most one frame per call; never reads past the current frame.
 */
struct cps_frame_reader {
    size_t max_frame;
    uint8_t header[4];
    size_t header_have;
    uint8_t *payload;
    size_t payload_len;
    size_t payload_have;
};
int cps__frame_reader_feed(struct cps_frame_reader *r, int fd, struct cps_error *err);
/* Hand the completed payload to the caller (new) and reset for the next frame. */
void cps__frame_reader_take(struct cps_frame_reader *r, uint8_t **payload, size_t *len);
/* Free a partial frame. */
void cps__frame_reader_reset(struct cps_frame_reader *r);

#endif
