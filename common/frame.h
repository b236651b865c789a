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

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "error.h"

/* Write one frame (header + payload, borrowed). Blocks until all is written.
 * Returns 0, or -errno with err->stage "frame" (-EPIPE: peer closed;
 * -EMSGSIZE: len is 0 or above CPS_MAX_FRAME). */
int cps__frame_write(int fd, const uint8_t *payload, size_t len, struct cps_error *err);

/* The same for a payload in parts (borrowed, e.g. the CBOR head, the data and
 * the tail of a data message, see proto_stream.h): the frame's length is the
 * sum of the parts, and header and parts go out in one sendmsg(2) where the
 * socket takes them, so the data is never copied into a frame buffer first.
 * At most CPS_FRAME_MAX_PARTS parts. */
#define CPS_FRAME_MAX_PARTS 4
int cps__frame_writev(int fd, const struct iovec *parts, int count, struct cps_error *err);

/*
 * Begin a frame whose payload is before[0..nbefore) (borrowed), then n bytes
 * moved from src, then `rest` more bytes the caller sends at once with
 * cps__frame_write_rest() (nothing else may be written to fd in between).
 * src is a regular file, read from its file offset with sendfile(2), or, with
 * src_is_pipe, a pipe holding at least n bytes (splice(2)). The bytes go from
 * the page cache or the pipe into the socket without a copy through this
 * process (AF_UNIX takes spliced pages by reference since Linux 6.5; before,
 * the kernel copies them once). When src ends or fails before n bytes, zeros
 * complete the n bytes so the stream stays in step: the call still returns
 * 0, *got < n tells the caller that the frame does not carry the data it
 * announced, and err says why. Otherwise returns 0 (*got == n) or -errno as
 * cps__frame_writev (-EPIPE: peer closed).
 */
int cps__frame_write_spliced(int fd, size_t rest, const struct iovec *before, int nbefore, int src,
                             bool src_is_pipe, size_t n, size_t *got, struct cps_error *err);
int cps__frame_write_rest(int fd, const struct iovec *parts, int count, struct cps_error *err);

/*
 * A frame sent without ever blocking, for a caller that polls the fd and
 * must keep watching other things meanwhile (the helper's deadline, cancel,
 * stop signals: helper/pump.c). fd must be O_NONBLOCK.
 * cps__frame_out_start() fixes the frame: parts[0..count) (borrowed: they
 * must stay valid until the frame is out), then n bytes to move from the pipe
 * src with splice(2) (src -1 and n 0 for none; the pipe must hold n bytes).
 * cps__frame_out_push() sends what fd takes now: 1 when the whole frame is
 * out, 0 when fd is full (poll for POLLOUT, then push again), or -errno as
 * cps__frame_writev (-EPIPE: peer closed). When src ends or fails before n
 * bytes, zeros complete the frame so the stream stays in step; src_got < n
 * then tells the caller that the frame does not carry what it announced.
 */
struct cps_frame_out {
    uint8_t header[4];
    struct iovec part[1 + CPS_FRAME_MAX_PARTS]; /* the header, then the parts */
    int nparts, cur;                            /* parts to send, the first not yet fully sent */
    size_t len;                                 /* of the payload, for messages */
    int src;
    size_t src_left; /* bytes still to move from src (zeros once src ended) */
    size_t src_want; /* n */
    size_t src_got;  /* bytes src gave */
    bool src_ended;
    bool started; /* a byte of this frame went out: it can only be completed */
};
int cps__frame_out_start(struct cps_frame_out *o, const struct iovec *parts, int count, int src,
                         size_t n, struct cps_error *err);
int cps__frame_out_push(struct cps_frame_out *o, int fd, struct cps_error *err);

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
 *
 * The reader keeps its payload buffer from frame to frame (growing it to the
 * largest frame seen, never above max_frame): a stream of 64 KiB chunks then
 * costs no malloc/free per frame, which glibc answered with a heap trim and
 * fresh page faults for every chunk (a large share of the parent's time when
 * streaming, docs/MEASUREMENTS.md). Take a completed frame either with
 * cps__frame_reader_peek() + cps__frame_reader_next() (borrowed, the buffer
 * stays) or with cps__frame_reader_take() (new, the buffer goes with it).
 */
struct cps_frame_reader {
    size_t max_frame;
    uint8_t header[4];
    size_t header_have;
    uint8_t *payload; /* the buffer, payload_cap bytes, or NULL */
    size_t payload_cap;
    size_t payload_len; /* of the current frame; 0 until its header is valid */
    size_t payload_have;
};
int cps__frame_reader_feed(struct cps_frame_reader *r, int fd, struct cps_error *err);
/* Hand the completed payload to the caller (new) and reset for the next frame. */
void cps__frame_reader_take(struct cps_frame_reader *r, uint8_t **payload, size_t *len);
/* The completed payload, borrowed: valid until the next call on r. */
void cps__frame_reader_peek(const struct cps_frame_reader *r, const uint8_t **payload, size_t *len);
/* Done with the peeked payload: get ready for the next frame, keeping the buffer. */
void cps__frame_reader_next(struct cps_frame_reader *r);
/* Free the buffer and forget a partial frame. */
void cps__frame_reader_reset(struct cps_frame_reader *r);

#endif
