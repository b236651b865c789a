/* frame.c - length-prefixed frames over a stream socket. */
#include "frame.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "error.h"
#include "errtext.h"
#include "cps_limits.h"

#define STAGE CPS_STAGE_FRAME

static size_t effective_max(size_t max_frame)
{
    return max_frame ? max_frame : CPS_MAX_FRAME;
}

/*
 * writev(2) on something that is not a socket (a pipe in tests or when a
 * caller wires the helper differently) raises SIGPIPE when the reader is gone,
 * and MSG_NOSIGNAL does not exist for it; neither does it for sendfile(2) and
 * splice(2) into a socket. Block SIGPIPE in this thread for the call and
 * consume the one the write raised, unless one was already pending (then it
 * belongs to someone else and merges with ours; signal(7): standard signals
 * do not queue).
 */
struct sigpipe_guard {
    sigset_t pipe_set, old_set;
    bool was_pending;
};

static void sigpipe_block(struct sigpipe_guard *g)
{
    sigset_t pending;

    sigemptyset(&g->pipe_set);
    sigaddset(&g->pipe_set, SIGPIPE);
    sigpending(&pending);
    g->was_pending = sigismember(&pending, SIGPIPE) == 1;
    if (!g->was_pending)
        pthread_sigmask(SIG_BLOCK, &g->pipe_set, &g->old_set);
}

/* raised: the call failed with EPIPE, so a SIGPIPE is pending. Keeps errno. */
static void sigpipe_unblock(struct sigpipe_guard *g, bool raised)
{
    int saved = errno;

    if (!g->was_pending) {
        if (raised) {
            const struct timespec zero = {0, 0};
            while (sigtimedwait(&g->pipe_set, NULL, &zero) < 0 && errno == EINTR)
                ;
        }
        pthread_sigmask(SIG_SETMASK, &g->old_set, NULL);
    }
    errno = saved;
}

static ssize_t writev_nosigpipe(int fd, const struct iovec *iov, int iovcnt)
{
    struct sigpipe_guard g;
    ssize_t w;

    sigpipe_block(&g);
    w = writev(fd, iov, iovcnt);
    sigpipe_unblock(&g, w < 0 && errno == EPIPE);
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

/* Send all of iov[0..iovcnt) (modified), blocking. frame_len is for messages. */
static int send_iov(int fd, struct iovec *iov, int iovcnt, size_t frame_len, struct cps_error *err)
{
    struct iovec *cur = iov;
    bool is_socket = true;

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
            return cps__error_set(err, STAGE, e, NULL, "write a frame of %zu bytes: %s", frame_len,
                                  cps__errtext(e));
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

/* iov[0] = the header for the parts, iov[1..] = the non-empty parts; *iovcnt,
 * *len. Fails for a count or a total length a frame cannot have. */
static int frame_iov(const struct iovec *parts, int count, size_t extra, uint8_t header[4],
                     struct iovec *iov, int *iovcnt, size_t *len, struct cps_error *err)
{
    size_t total = extra;

    if (count < 0 || count > CPS_FRAME_MAX_PARTS)
        return cps__error_set(err, STAGE, EINVAL, NULL, "a frame in %d parts (at most %d)", count,
                              CPS_FRAME_MAX_PARTS);
    *iovcnt = 1;
    for (int i = 0; i < count; i++) {
        /* Saturating: parts of any size cannot wrap the sum around. */
        total = parts[i].iov_len > SIZE_MAX - total ? SIZE_MAX : total + parts[i].iov_len;
        if (parts[i].iov_len > 0)
            iov[(*iovcnt)++] = parts[i];
    }
    if (total == 0 || total > CPS_MAX_FRAME)
        return cps__error_set(err, STAGE, EMSGSIZE, NULL,
                              "cannot send a frame of %zu bytes (1..%u)", total, CPS_MAX_FRAME);
    header[0] = (uint8_t)(total >> 24);
    header[1] = (uint8_t)(total >> 16);
    header[2] = (uint8_t)(total >> 8);
    header[3] = (uint8_t)total;
    iov[0] = (struct iovec){.iov_base = header, .iov_len = 4};
    *len = total;
    return 0;
}

int cps__frame_writev(int fd, const struct iovec *parts, int count, struct cps_error *err)
{
    uint8_t header[4];
    struct iovec iov[1 + CPS_FRAME_MAX_PARTS];
    int iovcnt = 0, r;
    size_t len = 0;

    r = frame_iov(parts, count, 0, header, iov, &iovcnt, &len, err);
    return r < 0 ? r : send_iov(fd, iov, iovcnt, len, err);
}

/* Move up to n bytes from src into fd; returns the count (0: src ended) or -errno. */
static ssize_t move_some(int fd, int src, bool src_is_pipe, size_t n)
{
    struct sigpipe_guard g;
    ssize_t w;

    sigpipe_block(&g);
    if (src_is_pipe)
        w = splice(src, NULL, fd, NULL, n, SPLICE_F_MOVE);
    else
        w = sendfile(fd, src, NULL, n);
    sigpipe_unblock(&g, w < 0 && errno == EPIPE);
    return w < 0 ? -errno : w;
}

int cps__frame_write_spliced(int fd, size_t rest, const struct iovec *before, int nbefore, int src,
                             bool src_is_pipe, size_t n, size_t *got, struct cps_error *err)
{
    static const uint8_t zeros[4096];
    uint8_t header[4];
    struct iovec iov[1 + CPS_FRAME_MAX_PARTS];
    int iovcnt = 0, r;
    size_t len = 0, done = 0;
    bool failed = false;

    *got = 0;
    if (n > SIZE_MAX - rest)
        return cps__error_set(err, STAGE, EMSGSIZE, NULL, "cannot send a frame of %zu + %zu bytes",
                              n, rest);
    r = frame_iov(before, nbefore, n + rest, header, iov, &iovcnt, &len, err);
    if (r < 0)
        return r;
    r = send_iov(fd, iov, iovcnt, len, err);
    if (r < 0)
        return r;
    while (done < n) {
        ssize_t w = move_some(fd, src, src_is_pipe, n - done);

        if (w > 0) {
            done += (size_t)w;
            continue;
        }
        if (w == 0)
            break;
        if (w == -EINTR)
            continue;
        if (w == -EAGAIN) {
            /* The socket is full (the source holds the bytes: a file, or a
             * pipe whose n bytes were counted before). */
            r = wait_fd(fd, POLLOUT);
            if (r < 0)
                return cps__error_set(err, STAGE, -r, NULL, "poll before writing a frame");
            continue;
        }
        if (w == -EPIPE || w == -ECONNRESET)
            return cps__error_set(err, STAGE, EPIPE, NULL,
                                  "peer closed the connection while a frame was written");
        /* Most likely the source (an I/O error reading the file); if it was
         * the socket, sending the padding below fails and says so. */
        cps__error_set(err, STAGE, (int)-w, NULL, "%s after %zu of %zu bytes: %s",
                       src_is_pipe ? "splice" : "sendfile", done, n, cps__errtext((int)-w));
        failed = true;
        break;
    }
    *got = done;
    if (done < n && !failed)
        cps__error_set(err, STAGE, EIO, NULL, "the source ended after %zu of %zu bytes", done, n);
    /* The header promised n bytes: zeros make up the rest so the stream stays
     * in step; the caller decides what the frame then means. */
    while (done < n) {
        struct iovec pad = {.iov_base = (void *)(uintptr_t)zeros,
                            .iov_len = n - done < sizeof(zeros) ? n - done : sizeof(zeros)};

        r = send_iov(fd, &pad, 1, len, err);
        if (r < 0)
            return r;
        done += pad.iov_len;
    }
    return 0;
}

int cps__frame_write_rest(int fd, const struct iovec *parts, int count, struct cps_error *err)
{
    struct iovec iov[CPS_FRAME_MAX_PARTS];
    int iovcnt = 0;

    if (count < 0 || count > CPS_FRAME_MAX_PARTS)
        return cps__error_set(err, STAGE, EINVAL, NULL, "a frame in %d parts (at most %d)", count,
                              CPS_FRAME_MAX_PARTS);
    for (int i = 0; i < count; i++)
        if (parts[i].iov_len > 0)
            iov[iovcnt++] = parts[i];
    return send_iov(fd, iov, iovcnt, 0, err);
}

int cps__frame_out_start(struct cps_frame_out *o, const struct iovec *parts, int count, int src,
                         size_t n, struct cps_error *err)
{
    struct iovec iov[1 + CPS_FRAME_MAX_PARTS];
    int iovcnt = 0, r;

    memset(o, 0, sizeof(*o));
    o->src = -1;
    r = frame_iov(parts, count, n, o->header, iov, &iovcnt, &o->len, err);
    if (r < 0)
        return r;
    memcpy(o->part, iov, (size_t)iovcnt * sizeof(iov[0]));
    o->nparts = iovcnt;
    o->src = src;
    o->src_left = o->src_want = n;
    o->src_ended = src < 0;
    return 0;
}

/* One non-blocking send of iov[0..iovcnt): the count, or -errno. */
/* One send that never blocks: the bytes sent, -EAGAIN when the socket is
 * full (EWOULDBLOCK is the same value on Linux), or -errno. EINTR is retried
 * here, so that callers only tell "sent", "full" and "failed" apart. */
static ssize_t send_nowait(int fd, struct iovec *iov, int iovcnt)
{
    struct msghdr msg = {.msg_iov = iov, .msg_iovlen = (size_t)iovcnt};
    ssize_t w;

    do {
        w = sendmsg(fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0 && errno == ENOTSOCK)
            w = writev_nosigpipe(fd, iov, iovcnt); /* fd is O_NONBLOCK */
    } while (w < 0 && errno == EINTR);
    return w < 0 ? -errno : w;
}

static int out_error(struct cps_error *err, int e, const struct cps_frame_out *o)
{
    if (e == EPIPE || e == ECONNRESET)
        return cps__error_set(err, STAGE, EPIPE, NULL,
                              "peer closed the connection while a frame was written");
    return cps__error_set(err, STAGE, e, NULL, "write a frame of %zu bytes: %s", o->len,
                          cps__errtext(e));
}

int cps__frame_out_push(struct cps_frame_out *o, int fd, struct cps_error *err)
{
    static const uint8_t zeros[4096];

    while (o->cur < o->nparts) {
        ssize_t w = send_nowait(fd, o->part + o->cur, o->nparts - o->cur);

        if (w == -EAGAIN)
            return 0;
        if (w < 0)
            return out_error(err, (int)-w, o);
        o->started = true;
        while (o->cur < o->nparts && (size_t)w >= o->part[o->cur].iov_len) {
            w -= (ssize_t)o->part[o->cur].iov_len;
            o->cur++;
        }
        if (o->cur < o->nparts) {
            o->part[o->cur].iov_base = (uint8_t *)o->part[o->cur].iov_base + w;
            o->part[o->cur].iov_len -= (size_t)w;
        }
    }
    while (o->src_left > 0) {
        ssize_t w;

        if (!o->src_ended) {
            struct sigpipe_guard g;

            sigpipe_block(&g);
            w = splice(o->src, NULL, fd, NULL, o->src_left, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
            sigpipe_unblock(&g, w < 0 && errno == EPIPE);
            w = w < 0 ? -errno : w;
            if (w == -EAGAIN) {
                int avail = 0;

                /* Full socket, or (cannot happen while the caller is the
                 * pipe's only reader) an empty pipe: zeros then. */
                if (ioctl(o->src, FIONREAD, &avail) == 0 && avail == 0)
                    o->src_ended = true;
                else
                    return 0;
                continue;
            }
            if (w == -EPIPE || w == -ECONNRESET)
                return out_error(err, EPIPE, o);
            if (w <= 0 && w != -EINTR) {
                /* The pipe ended or failed (a socket error shows again below). */
                o->src_ended = true;
                continue;
            }
            if (w > 0) {
                o->src_got += (size_t)w;
                o->src_left -= (size_t)w;
                o->started = true;
            }
            continue;
        }
        {
            struct iovec pad = {.iov_base = (void *)(uintptr_t)zeros,
                                .iov_len =
                                    o->src_left < sizeof(zeros) ? o->src_left : sizeof(zeros)};

            w = send_nowait(fd, &pad, 1);
            if (w == -EAGAIN)
                return 0;
            if (w < 0)
                return out_error(err, (int)-w, o);
            o->src_left -= (size_t)w;
            o->started = true;
        }
    }
    return 1;
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
    return cps__error_set(err, STAGE, e, NULL, "read a frame: %s", cps__errtext(e));
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
