/* pump.c - streaming and watching while the job runs. */
#include "pump.h"

#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "control.h"
#include "error.h"
#include "frame.h"
#include "log.h"
#include "proto_stream.h"
#include "parent_session.h"
#include "timings.h"

/*
 * A job's pipe holds 64 KiB by default (pipe(7)): a compiler writing a large
 * stdout then blocks every 64 KiB until O has framed and sent the chunk, two
 * context switches per chunk on a busy machine. A 1 MiB pipe (the default
 * /proc/sys/fs/pipe-max-size) lets it run ahead while O sends (the figures:
 * docs/MEASUREMENTS.md). Pipe pages count against the user's quota,
 * /proc/sys/fs/pipe-user-pages-soft (64 MiB), shared by all of the worker's
 * helpers and their jobs; past it every new pipe of the user gets a page or
 * two (pipe(7); gcc -pipe included). So a pipe grows only once the job has written
 * PIPE_GROW_AFTER bytes to it, which a compile's stdout/stderr almost never
 * does, and a refusal (EPERM past the quota or above pipe-max-size) only
 * means the default size.
 */
#define PIPE_BYTES      (1024 * 1024)
#define PIPE_GROW_AFTER (1024 * 1024)
/*
 * An AF_UNIX stream socket charges the bytes a reader has not taken yet to
 * the sender's SO_SNDBUF (212992 by default, net.core.wmem_default): three
 * 64 KiB frames. A larger one (the kernel doubles the value and caps it at
 * net.core.wmem_max, socket(7)) lets O keep sending while the parent is busy
 * with the previous frames (docs/MEASUREMENTS.md). It stays set for the
 * outputs sent after the run.
 */
#define SOCK_SNDBUF (1024 * 1024)
/* Chunks forwarded from one pipe per wakeup before the loop looks at the
 * other descriptors (cancel, I's records, the timeout) again. */
#define PIPE_BURST 16

enum { P_SOCK, P_OUT, P_ERR, P_CTL, P_SIG, P_N };

struct pump {
    int sock;
    struct cps_init *in;
    const struct cps_job_limits *limits;
    struct cps_pump_result *r;
    struct cps_frame_reader reader;
    uint8_t *buf;        /* one chunk of a pipe, reused for every frame */
    uint64_t piped[P_N]; /* bytes read from the P_OUT and P_ERR pipes */
    bool grown[P_N];     /* that pipe was offered PIPE_BYTES */
    struct cps_data_frame frame;
    struct cps_frame_out out; /* the frame being sent */
    bool sending;             /* out is not complete: the socket was full */
    uint64_t start_us, deadline_us;
    uint64_t frame_deadline_us; /* the peer's partial frame must be complete by then; 0: none */
};

/* now + ms, saturating: a job may ask for any 64-bit timeout. */
static uint64_t deadline_after(uint64_t now_us, uint64_t ms)
{
    return ms >= (UINT64_MAX - now_us) / 1000u ? UINT64_MAX : now_us + ms * 1000u;
}

static void kill_job(struct pump *p, const char *limit)
{
    if (p->r->killed)
        return;
    cps__log_info("ending the job: %s", limit);
    kill(p->in->pid, SIGKILL);
    p->r->killed = true;
    p->r->limit = limit;
    if (p->r->started && p->r->wall_us == 0)
        p->r->wall_us = cps__now_usec() - p->start_us;
}

static void peer_gone(struct pump *p, const char *why)
{
    /* Nothing more is sent; a frame half sent stays cut. */
    if (p->sending && p->out.started)
        p->r->frame_cut = true;
    p->sending = false;
    if (!p->r->peer_gone) {
        cps__log_info("peer gone (%s): ending the job", why);
        snprintf(p->r->gone_reason, sizeof(p->r->gone_reason), "%s", why);
    }
    p->r->peer_gone = true;
    kill_job(p, "peer");
}

/* Encode the CBOR before n bytes of a stdout/stderr chunk into p->frame. */
static bool encode_head(struct pump *p, enum cps_msg_type type, size_t n)
{
    struct cps_error e;
    struct cps_msg m = {.type = type};

    /* The encoder checks the data pointer, reads only the length. */
    m.u.stream.data = p->buf;
    m.u.stream.data_len = n;
    if (cps__data_frame_encode(&m, &p->frame, &e) < 0) {
        peer_gone(p, e.message);
        return false;
    }
    return true;
}

/*
 * Send what the socket takes of the current frame, never waiting for the
 * peer: a full socket leaves p->sending set, and the loop then polls for
 * POLLOUT and stops reading the job's pipes (the job blocks on them), while
 * the timeout, cancel, I's records and stop signals go on being watched.
 */
static void push_out(struct pump *p)
{
    struct cps_error e;
    int rc = cps__frame_out_push(&p->out, p->sock, &e);

    if (rc < 0) {
        peer_gone(p, e.message);
        return;
    }
    p->sending = rc == 0;
    if (rc == 1 && p->out.src_got < p->out.src_want) {
        /* Cannot happen while O is the pipe's only reader; the zeros that
         * completed the frame must not pass for the job's output. */
        cps__log_error("the job's pipe gave %zu of the %zu bytes it held", p->out.src_got,
                       p->out.src_want);
        kill_job(p, "stream");
    }
}

/* Send n bytes of the read buffer as one frame, the head in front. */
static void send_buffered(struct pump *p, enum cps_msg_type type, size_t n)
{
    struct cps_error e;
    struct iovec parts[2];

    if (!encode_head(p, type, n))
        return;
    parts[0] = (struct iovec){.iov_base = p->frame.head, .iov_len = p->frame.head_len};
    parts[1] = (struct iovec){.iov_base = p->buf, .iov_len = n};
    if (cps__frame_out_start(&p->out, parts, 2, -1, 0, &e) < 0) {
        peer_gone(p, e.message);
        return;
    }
    push_out(p);
}

/*
 * Send n bytes that the pipe holds (FIONREAD counted them, and only O reads
 * the pipe) as one frame: splice(2) hands the pipe's pages to the socket, so
 * the job's output is copied once (into the pipe by the job's write) before
 * the parent's read, instead of three times.
 */
static void send_spliced(struct pump *p, int fd, enum cps_msg_type type, size_t n)
{
    struct cps_error e;
    struct iovec head;

    if (!encode_head(p, type, n))
        return;
    head = (struct iovec){.iov_base = p->frame.head, .iov_len = p->frame.head_len};
    if (cps__frame_out_start(&p->out, &head, 1, fd, n, &e) < 0) {
        peer_gone(p, e.message);
        return;
    }
    push_out(p);
}

static bool output_limit_hit(const struct pump *p)
{
    return p->r->killed && p->r->limit != NULL && strcmp(p->r->limit, "output") == 0;
}

/* Account for n more bytes of stdout/stderr; false when they break the
 * output limit (the job is killed and they are dropped). */
static bool within_limit(struct pump *p, size_t n)
{
    if (p->r->stream_bytes + (uint64_t)n > p->limits->max_output_bytes) {
        kill_job(p, "output");
        return false;
    }
    p->r->stream_bytes += (uint64_t)n;
    return true;
}

/* A pipe that turned out to carry a large stream gets PIPE_BYTES, where the
 * host allows it. */
static void maybe_grow(struct pump *p, int fd, int which, size_t n)
{
    p->piped[which] += n;
    if (p->grown[which] || p->piped[which] < PIPE_GROW_AFTER)
        return;
    p->grown[which] = true;
    if (fcntl(fd, F_SETPIPE_SZ, PIPE_BYTES) < 0)
        cps__log_debug("the job's %s pipe stays at its size: F_SETPIPE_SZ %d: %s",
                       which == P_OUT ? "stdout" : "stderr", PIPE_BYTES, strerror(errno));
}

/* Forward what a pipe has, a chunk per frame, up to PIPE_BURST chunks or
 * until the socket is full. Returns false at EOF. */
static bool pump_pipe(struct pump *p, int fd, int which, enum cps_msg_type type)
{
    for (int i = 0; i < PIPE_BURST && !p->sending; i++) {
        int avail = 0;
        ssize_t n;

        if (!p->r->peer_gone && !output_limit_hit(p) && ioctl(fd, FIONREAD, &avail) == 0 &&
            avail > 0) {
            size_t chunk = (size_t)avail < CPS_MAX_CHUNK ? (size_t)avail : CPS_MAX_CHUNK;

            maybe_grow(p, fd, which, chunk);
            if (within_limit(p, chunk))
                send_spliced(p, fd, type, chunk);
            if (chunk < CPS_MAX_CHUNK)
                return true;
            continue;
        }
        /* An empty pipe (EOF or EAGAIN tells which), or bytes to drop. */
        n = read(fd, p->buf, CPS_MAX_CHUNK);
        if (n < 0)
            return errno == EAGAIN || errno == EINTR;
        if (n == 0)
            return false;
        maybe_grow(p, fd, which, (size_t)n);
        if (output_limit_hit(p) || !within_limit(p, (size_t)n))
            continue;
        if (!p->r->peer_gone)
            send_buffered(p, type, (size_t)n);
        /* A short read emptied the pipe: poll rather than read EAGAIN. */
        if ((size_t)n < CPS_MAX_CHUNK)
            return true;
    }
    return true;
}

/* A bigger socket send buffer where the host allows it (see SOCK_SNDBUF);
 * without it streaming works, only slower. */
static void grow_sndbuf(int sock)
{
    int sndbuf = SOCK_SNDBUF;

    if (setsockopt(sock, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)) < 0)
        cps__log_debug("fd 3 keeps its send buffer: SO_SNDBUF %d: %s", sndbuf, strerror(errno));
}

/* The peer may send one thing while the job runs: cancel. */
static void pump_sock(struct pump *p)
{
    struct cps_error e;
    struct cps_msg m;
    uint8_t *payload;
    size_t len;
    int rc;

    rc = cps__frame_reader_feed(&p->reader, p->sock, &e);
    if (rc == 0) {
        /* A frame begun must be complete within CPS_FRAME_DEADLINE_MS. */
        if (p->frame_deadline_us == 0 && p->reader.header_have > 0)
            p->frame_deadline_us = cps__now_usec() + CPS_FRAME_DEADLINE_MS * 1000ull;
        return;
    }
    p->frame_deadline_us = 0;
    if (rc < 0) {
        if (rc == -ECONNRESET) {
            peer_gone(p, "EOF on fd 3");
        } else {
            p->r->peer_error = true;
            p->r->peer_err = e;
            peer_gone(p, e.message);
        }
        return;
    }
    cps__frame_reader_take(&p->reader, &payload, &len);
    rc = cps__msg_decode(payload, len, &m, &e);
    free(payload);
    if (rc == 0 && m.type == CPS_MSG_CANCEL) {
        /* Before the job ran, the session ends with an error (stage
         * "cancel"), as a cancel during the inputs does. It ran once I
         * reported the exec or, since that record may come after the job's
         * first output, once anything came out of its pipes. */
        if (!p->r->started && !p->r->killed && !p->r->failed &&
            p->piped[P_OUT] + p->piped[P_ERR] == 0)
            p->r->cancelled_early = true;
        kill_job(p, "cancel");
    } else {
        if (rc == 0)
            cps__error_set(&e, CPS_STAGE_PROTOCOL, EPROTO, NULL,
                           "only cancel may be sent while the job runs");
        p->r->peer_error = true;
        p->r->peer_err = e;
        kill_job(p, "protocol");
    }
    if (rc == 0)
        cps__msg_free(&m);
}

/* One record from I. Returns false on EOF (I is gone). */
static bool pump_ctl(struct pump *p)
{
    struct cps_ctl_record rec;
    struct cps_error e;
    int rc = cps__ctl_recv(p->in->ctl, &rec, &e);

    if (rc < 0) {
        /* EOF: I is gone. Anything else: I is broken and must not go on. */
        if (rc != -ECONNRESET)
            kill_job(p, "control");
        return false;
    }
    switch (rec.kind) {
    case CPS_CTL_STARTED:
        p->r->started = true;
        p->r->rootfs_usec = rec.rootfs_usec;
        p->r->exec_usec = rec.exec_usec;
        p->r->rootfs_prep_usec = rec.prep_usec;
        p->start_us = cps__now_usec();
        p->deadline_us = deadline_after(p->start_us, p->limits->timeout_ms);
        break;
    case CPS_CTL_EXITED:
        p->r->exited = true;
        p->r->wait_status = rec.wait_status;
        p->r->usage = rec.usage;
        p->r->ipc_left = rec.ipc_left != 0;
        if (rec.ipc_left)
            p->r->ipc_err = rec.error;
        if (!p->r->killed)
            p->r->wall_us = cps__now_usec() - p->start_us;
        break;
    case CPS_CTL_SETUP_FAILED:
    case CPS_CTL_EXEC_FAILED:
        p->r->failed = true;
        p->r->failure = rec.error;
        break;
    default:
        break;
    }
    return true;
}

int cps__pump_run(int sock, int sigfd, struct cps_init *in, const uint8_t *raw, size_t len,
                  const struct cps_job_limits *limits, struct cps_pump_result *r,
                  struct cps_error *err)
{
    struct pollfd fds[P_N];
    int pipe_fd[P_N] = {-1, -1, -1, -1, -1};
    struct pump p;
    int rc, sock_flags;

    memset(r, 0, sizeof(*r));
    memset(&p, 0, sizeof(p));
    p.sock = sock;
    p.in = in;
    p.limits = limits;
    p.r = r;
    p.reader.max_frame = CPS_MAX_FRAME;
    p.buf = malloc(CPS_MAX_CHUNK);
    if (p.buf == NULL)
        return cps__error_set(err, CPS_STAGE_RUN, ENOMEM, NULL, "stream buffer");
    grow_sndbuf(sock);
    rc = cps__ctl_send_blob(in->ctl, raw, len, err);
    if (rc < 0) {
        free(p.buf);
        return rc;
    }
    /* Reads and writes on fd 3 never wait for the peer while the job runs (a
     * partial frame from it, or a full socket, must not stall the timeout). */
    sock_flags = fcntl(sock, F_GETFL);
    if (sock_flags < 0 || fcntl(sock, F_SETFL, sock_flags | O_NONBLOCK) < 0) {
        free(p.buf);
        return cps__error_set(err, CPS_STAGE_RUN, errno, NULL, "O_NONBLOCK on fd 3");
    }
    /* Until I reports the exec, the same budget covers the setup in I. */
    p.start_us = cps__now_usec();
    p.deadline_us = deadline_after(p.start_us, limits->timeout_ms);
    pipe_fd[P_OUT] = in->out_rd;
    pipe_fd[P_ERR] = in->err_rd;
    fds[P_CTL].fd = in->ctl;
    /* The end of the job is the exited record, not the EOF of I's socket: that
     * comes from I's exit, after the kernel tore down I's mount and PID
     * namespaces, which O overlaps with the outputs and the cleanup. A frame
     * begun is finished first. */
    while (pipe_fd[P_OUT] >= 0 || pipe_fd[P_ERR] >= 0 || (fds[P_CTL].fd >= 0 && !r->exited) ||
           p.sending) {
        uint64_t now = cps__now_usec();
        int wait_ms = -1, n;
        bool want_in = !r->killed && !r->peer_gone;

        for (int i = 0; i < P_N; i++)
            fds[i].events = POLLIN;
        fds[P_SOCK].events = (short)((want_in ? POLLIN : 0) | (p.sending ? POLLOUT : 0));
        fds[P_SOCK].fd = fds[P_SOCK].events != 0 ? sock : -1;
        /* Also after a kill: a frame may still wait for the peer to read. */
        fds[P_SIG].fd = r->stopped ? -1 : sigfd;
        /* While a frame waits for room in the socket, the pipes wait too. */
        fds[P_OUT].fd = p.sending ? -1 : pipe_fd[P_OUT];
        fds[P_ERR].fd = p.sending ? -1 : pipe_fd[P_ERR];
        if (!r->killed && !r->exited) {
            uint64_t due = p.deadline_us, left_ms;

            if (p.frame_deadline_us != 0 && p.frame_deadline_us < due)
                due = p.frame_deadline_us;
            left_ms = now >= due ? 0 : (due - now + 999) / 1000;
            wait_ms = left_ms > INT_MAX ? INT_MAX : (int)left_ms;
        }
        n = poll(fds, P_N, wait_ms);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            kill_job(&p, "poll");
            break;
        }
        if (!r->killed && !r->exited && cps__now_usec() >= p.deadline_us)
            kill_job(&p, "timeout");
        if (!r->killed && p.frame_deadline_us != 0 && cps__now_usec() >= p.frame_deadline_us) {
            cps__session_frame_timeout(&p.reader, &r->peer_err);
            r->peer_error = true;
            kill_job(&p, "protocol");
        }
        if (fds[P_SIG].fd >= 0 && (fds[P_SIG].revents & POLLIN)) {
            cps__session_stop_error(sigfd, &r->stop_err);
            r->stopped = true;
            peer_gone(&p, r->stop_err.message);
        }
        if (p.sending && fds[P_SOCK].fd >= 0 && fds[P_SOCK].revents != 0) {
            push_out(&p);
            /* Room again: go on with the pipes at once (a burst, as before the
             * socket filled) instead of another round of poll. */
            for (int i = P_OUT; i <= P_ERR && !p.sending; i++)
                if (pipe_fd[i] >= 0 &&
                    !pump_pipe(&p, pipe_fd[i], i, i == P_OUT ? CPS_MSG_STDOUT : CPS_MSG_STDERR))
                    pipe_fd[i] = -1;
        }
        if (want_in && fds[P_SOCK].fd >= 0 && (fds[P_SOCK].revents & ~POLLOUT) != 0)
            pump_sock(&p);
        if (fds[P_OUT].fd >= 0 && fds[P_OUT].revents != 0 &&
            !pump_pipe(&p, fds[P_OUT].fd, P_OUT, CPS_MSG_STDOUT))
            pipe_fd[P_OUT] = -1;
        if (fds[P_ERR].fd >= 0 && fds[P_ERR].revents != 0 &&
            !pump_pipe(&p, fds[P_ERR].fd, P_ERR, CPS_MSG_STDERR))
            pipe_fd[P_ERR] = -1;
        if (fds[P_CTL].fd >= 0 && fds[P_CTL].revents != 0 && !pump_ctl(&p))
            fds[P_CTL].fd = -1;
    }
    (void)fcntl(sock, F_SETFL, sock_flags);
    cps__frame_reader_reset(&p.reader);
    free(p.buf);
    return 0;
}
