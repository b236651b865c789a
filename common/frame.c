/* frame.c - length-prefixed frames over a stream socket. */
#include "frame.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "error.h"
#include "cps_limits.h"

#define STAGE "frame"

static size_t effective_max(size_t max_frame)
{
    return max_frame ? max_frame : CPS_MAX_FRAME;
}

/*
 * writev(2) on something that is not a socket (a pipe in tests or when a
 * caller wires the helper differently) raises SIGPIPE when the reader is gone,
 * and MSG_NOSIGNAL does not exist for it. Block SIGPIPE in this thread for the
 * call and consume the one the write raised, unless one was already pending
 * (then it belongs to someone else and merges with ours; signal(7): standard
 * signals do not queue).
 */
static ssize_t writev_nosigpipe(int fd, const struct iovec *iov, int iovcnt)
{
    sigset_t pipe_set, old_set, pending;
    bool was_pending;
    ssize_t w;
    int saved;

    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    sigpending(&pending);
    was_pending = sigismember(&pending, SIGPIPE) == 1;
    if (!was_pending)
        pthread_sigmask(SIG_BLOCK, &pipe_set, &old_set);
    w = writev(fd, iov, iovcnt);
    saved = errno;
    if (!was_pending) {
        if (w < 0 && saved == EPIPE) {
            const struct timespec zero = {0, 0};
            while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR)
                ;
        }
        pthread_sigmask(SIG_SETMASK, &old_set, NULL);
    }
    errno = saved;
    return w;
}

/* Wait until fd is ready for events (the fd may be O_NONBLOCK: the caller
 * asked for a blocking transfer). */
static int wait_fd(int fd, short events)
{
    struct pollfd p = {.fd = fd, .events = events};

    for (;;) {
        int r = poll(&p, 1, -1);
        if (r >= 0)
            return 0;
        if (errno != EINTR)
            return -errno;
    }
}

int cps__frame_write(int fd, const uint8_t *payload, size_t len, struct cps_error *err)
{
    struct iovec part = {.iov_base = (void *)(uintptr_t)payload, .iov_len = len};

    return cps__frame_writev(fd, &part, 1, err);
}

int cps__frame_writev(int fd, const struct iovec *parts, int count, struct cps_error *err)
{
    uint8_t header[4];
    struct iovec iov[1 + CPS_FRAME_MAX_PARTS];
    struct iovec *cur = iov;
    int iovcnt = 1;
    bool is_socket = true;
    size_t len = 0;

    if (count < 0 || count > CPS_FRAME_MAX_PARTS)
        return cps__error_set(err, STAGE, EINVAL, NULL, "a frame in %d parts (at most %d)", count,
                              CPS_FRAME_MAX_PARTS);
    for (int i = 0; i < count; i++) {
        /* Saturating: parts of any size cannot wrap the sum around. */
        len = parts[i].iov_len > SIZE_MAX - len ? SIZE_MAX : len + parts[i].iov_len;
        if (parts[i].iov_len > 0)
            iov[iovcnt++] = parts[i];
    }
    if (len == 0 || len > CPS_MAX_FRAME)
        return cps__error_set(err, STAGE, EMSGSIZE, NULL,
                              "cannot send a frame of %zu bytes (1..%u)", len, CPS_MAX_FRAME);
    header[0] = (uint8_t)(len >> 24);
    header[1] = (uint8_t)(len >> 16);
    header[2] = (uint8_t)(len >> 8);
    header[3] = (uint8_t)len;
    iov[0] = (struct iovec){.iov_base = header, .iov_len = sizeof(header)};

    while (iovcnt > 0) {
        ssize_t w;

        if (is_socket) {
            /* MSG_NOSIGNAL: a closed peer gives EPIPE, never SIGPIPE (send(2)). */
            struct msghdr msg = {.msg_iov = cur, .msg_iovlen = (size_t)iovcnt};
            w = sendmsg(fd, &msg, MSG_NOSIGNAL);
            if (w < 0 && errno == ENOTSOCK) {
                is_socket = false;
                continue;
            }
        } else {
            w = writev_nosigpipe(fd, cur, iovcnt);
        }
        if (w < 0) {
            int e = errno;
            if (e == EINTR)
                continue;
            if (e == EAGAIN || e == EWOULDBLOCK) {
                int r = wait_fd(fd, POLLOUT);
                if (r < 0)
                    return cps__error_set(err, STAGE, -r, NULL, "poll before writing a frame");
                continue;
            }
            if (e == EPIPE || e == ECONNRESET)
                return cps__error_set(err, STAGE, EPIPE, NULL,
                                      "peer closed the connection while a frame was written");
            return cps__error_set(err, STAGE, e, NULL, "write a frame of %zu bytes: %s", len,
                                  strerror(e));
        }
        /* Short write: skip what went out and go on with the rest. */
        size_t done = (size_t)w;
        while (iovcnt > 0 && done >= cur->iov_len) {
            done -= cur->iov_len;
            cur++;
            iovcnt--;
        }
        if (iovcnt > 0) {
            cur->iov_base = (uint8_t *)cur->iov_base + done;
            cur->iov_len -= done;
        }
    }
    return 0;
}

static uint32_t header_length(const uint8_t h[4])
{
    return (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
}

/* Read up to n bytes, retrying EINTR. Returns the count (0 at EOF) or -errno
 * (-EAGAIN on a non-blocking fd with nothing to read). */
static ssize_t read_some(int fd, uint8_t *buf, size_t n)
{
    for (;;) {
        ssize_t r = read(fd, buf, n);
        if (r >= 0)
            return r;
        if (errno != EINTR)
            return -errno;
    }
}

static int eof_error(struct cps_error *err, bool mid_frame, size_t have, size_t want)
{
    if (!mid_frame)
        return cps__error_set(err, STAGE, ECONNRESET, NULL, "peer closed the connection");
    return cps__error_set(err, STAGE, EPROTO, NULL,
                          "peer closed the connection in the middle of a frame (%zu of %zu bytes)",
                          have, want);
}

static int check_length(uint32_t len, size_t max_frame, struct cps_error *err)
{
    if (len == 0)
        return cps__error_set(err, STAGE, EMSGSIZE, NULL, "frame declares a length of 0");
    if (len > max_frame)
        return cps__error_set(err, STAGE, EMSGSIZE, NULL,
                              "frame declares %u bytes, more than the limit of %zu", len,
                              max_frame);
    return 0;
}

static int read_error(struct cps_error *err, int e)
{
    return cps__error_set(err, STAGE, e, NULL, "read a frame: %s", strerror(e));
}

int cps__frame_read(int fd, size_t max_frame, uint8_t **payload, size_t *len, struct cps_error *err)
{
    struct cps_frame_reader r = {.max_frame = max_frame};

    *payload = NULL;
    *len = 0;
    for (;;) {
        int ret = cps__frame_reader_feed(&r, fd, err);
        if (ret == 1)
            break;
        if (ret < 0) {
            cps__frame_reader_reset(&r);
            return ret;
        }
        /* Non-blocking fd without data: block in poll as promised. */
        ret = wait_fd(fd, POLLIN);
        if (ret < 0) {
            cps__frame_reader_reset(&r);
            return cps__error_set(err, STAGE, -ret, NULL, "poll before reading a frame");
        }
    }
    cps__frame_reader_take(&r, payload, len);
    return 0;
}

int cps__frame_reader_feed(struct cps_frame_reader *r, int fd, struct cps_error *err)
{
    size_t max_frame = effective_max(r->max_frame);

    if (r->header_have == sizeof(r->header) && r->payload_len == 0)
        return cps__error_set(err, STAGE, EINVAL, NULL,
                              "frame reader used after an error without a reset");
    while (r->header_have < sizeof(r->header)) {
        ssize_t n = read_some(fd, r->header + r->header_have, sizeof(r->header) - r->header_have);
        if (n == -EAGAIN || n == -EWOULDBLOCK)
            return 0;
        if (n < 0)
            return read_error(err, (int)-n);
        if (n == 0)
            return eof_error(err, r->header_have > 0, r->header_have, sizeof(r->header));
        r->header_have += (size_t)n;
        if (r->header_have == sizeof(r->header)) {
            uint32_t flen = header_length(r->header);
            int ret = check_length(flen, max_frame, err);
            if (ret < 0)
                return ret;
            if (flen > r->payload_cap) {
                /* Grow to this frame; what the old buffer held is not needed. */
                free(r->payload);
                r->payload_cap = 0;
                r->payload = malloc(flen);
                if (!r->payload)
                    return cps__error_set(err, STAGE, ENOMEM, NULL, "allocate %u bytes for a frame",
                                          flen);
                r->payload_cap = flen;
            }
            r->payload_len = flen;
            r->payload_have = 0;
        }
    }
    while (r->payload_have < r->payload_len) {
        ssize_t n = read_some(fd, r->payload + r->payload_have, r->payload_len - r->payload_have);
        if (n == -EAGAIN || n == -EWOULDBLOCK)
            return 0;
        if (n < 0)
            return read_error(err, (int)-n);
        if (n == 0)
            return eof_error(err, true, sizeof(r->header) + r->payload_have,
                             sizeof(r->header) + r->payload_len);
        r->payload_have += (size_t)n;
    }
    return 1;
}

void cps__frame_reader_take(struct cps_frame_reader *r, uint8_t **payload, size_t *len)
{
    *payload = r->payload;
    *len = r->payload_len;
    r->payload = NULL;
    cps__frame_reader_reset(r);
}

void cps__frame_reader_peek(const struct cps_frame_reader *r, const uint8_t **payload, size_t *len)
{
    *payload = r->payload;
    *len = r->payload_len;
}

void cps__frame_reader_next(struct cps_frame_reader *r)
{
    r->header_have = 0;
    r->payload_len = 0;
    r->payload_have = 0;
}

void cps__frame_reader_reset(struct cps_frame_reader *r)
{
    size_t max_frame = r->max_frame;

    free(r->payload);
    memset(r, 0, sizeof(*r));
    r->max_frame = max_frame;
}
