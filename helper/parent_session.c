/* parent_session.c - hello, job, peer errors. */
#include "parent_session.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "error.h"
#include "frame.h"
#include "cps_limits.h"
#include "job_features.h"
#include "proto.h"
#include "timings.h"

/* For messages: the wire name, or "?" for a type the decoder never yields. */
static const char *type_name(enum cps_msg_type t)
{
    const char *name = cps__msg_type_name(t);

    return name ? name : "?";
}

int cps__session_stop_error(int sigfd, struct cps_error *err)
{
    struct signalfd_siginfo si;
    ssize_t n;

    do {
        n = read(sigfd, &si, sizeof(si));
    } while (n < 0 && errno == EINTR);
    if (n != (ssize_t)sizeof(si))
        return cps__error_set(err, CPS_STAGE_PARENT, EINTR, NULL,
                              "stop signal received (the parent died or asked to stop)");
    return cps__error_set(err, CPS_STAGE_PARENT, EINTR, NULL,
                          "SIG%s from pid %u (the parent died or asked to stop): the job, if "
                          "any, was killed",
                          sigabbrev_np((int)si.ssi_signo) ? sigabbrev_np((int)si.ssi_signo) : "?",
                          (unsigned)si.ssi_pid);
}

bool cps__session_is_stop(const struct cps_error *err)
{
    return cps__error_is(err, CPS_STAGE_PARENT) && err->errnum == EINTR;
}

int cps__session_send_error_within(int sock, const struct cps_error *e, int timeout_ms,
                                   struct cps_error *err)
{
    uint64_t deadline = cps__now_usec() + (uint64_t)timeout_ms * 1000u;
    struct cps_frame_out o;
    struct iovec part;
    uint8_t *buf;
    size_t len;
    int flags = fcntl(sock, F_GETFL), rc;

    if (flags < 0 || fcntl(sock, F_SETFL, flags | O_NONBLOCK) < 0)
        return cps__error_set(err, CPS_STAGE_FRAME, errno, NULL, "O_NONBLOCK on fd 3");
    rc = cps__msg_encode_error(e, &buf, &len, err);
    if (rc < 0)
        return rc;
    part = (struct iovec){.iov_base = buf, .iov_len = len};
    rc = cps__frame_out_start(&o, &part, 1, -1, 0, err);
    while (rc == 0 && (rc = cps__frame_out_push(&o, sock, err)) == 0) {
        struct pollfd p = {.fd = sock, .events = POLLOUT};
        uint64_t now = cps__now_usec();

        if (now >= deadline) {
            rc = cps__error_set(err, CPS_STAGE_FRAME, ETIMEDOUT, NULL,
                                "the peer did not take the error frame within %d ms", timeout_ms);
            break;
        }
        if (poll(&p, 1, (int)((deadline - now + 999) / 1000)) < 0 && errno != EINTR) {
            rc = cps__error_set(err, CPS_STAGE_FRAME, errno, NULL, "poll on fd 3");
            break;
        }
    }
    free(buf);
    return rc < 0 ? rc : 0;
}

int cps__session_frame_timeout(const struct cps_frame_reader *r, struct cps_error *err)
{
    char hint[192];

    snprintf(hint, sizeof(hint),
             "a frame must be sent whole: once its first byte arrived, the helper waits at most "
             "%u ms for the rest (docs/PROTOCOL.md, Transport)",
             (unsigned)CPS_FRAME_DEADLINE_MS);

    if (r->payload_len == 0)
        return cps__error_set(err, CPS_STAGE_FRAME, ETIMEDOUT, hint,
                              "the peer sent %zu of the 4 bytes of a frame header, then nothing "
                              "for %u ms",
                              r->header_have, (unsigned)CPS_FRAME_DEADLINE_MS);
    return cps__error_set(err, CPS_STAGE_FRAME, ETIMEDOUT, hint,
                          "the peer sent %zu of the %zu bytes of a frame, then nothing for %u ms",
                          4 + r->payload_have, 4 + r->payload_len, (unsigned)CPS_FRAME_DEADLINE_MS);
}

bool cps__session_is_peer_error(const struct cps_error *err)
{
    return cps__error_is(err, CPS_STAGE_FRAME) || cps__error_is(err, CPS_STAGE_DECODE) ||
           cps__error_is(err, CPS_STAGE_PROTOCOL) || cps__error_is(err, CPS_STAGE_PARENT);
}

int cps__session_hello(int sock, const struct cps_helper_options *o, uint32_t backends,
                       uint32_t overlays, uint32_t reuse, struct cps_error *err)
{
    static char version[] = CPS_VERSION;
    struct cps_msg m;

    memset(&m, 0, sizeof(m));
    m.type = CPS_MSG_HELLO;
    m.u.hello.protocol = CPS_PROTOCOL_VERSION;
    m.u.hello.helper_version = version;
    m.u.hello.backends = backends;
    m.u.hello.overlay_modes = overlays;
    m.u.hello.max_frame = CPS_MAX_FRAME;
    m.u.hello.max_chunk = CPS_MAX_CHUNK;
    m.u.hello.uid = o->uid;
    m.u.hello.gid = o->gid;
    m.u.hello.backend = o->backend;
    m.u.hello.seccomp = o->seccomp;
    m.u.hello.has_features = o->hello_features;
    m.u.hello.features = o->hello_features ? CPS_FEATURES_ALL : 0;
    m.u.hello.reuse = reuse;
    return cps__msg_send(sock, &m, err);
}

int cps__session_wait(int sock, int sigfd, struct cps_error *err)
{
    struct pollfd p[2] = {{.fd = sock, .events = POLLIN}, {.fd = sigfd, .events = POLLIN}};

    for (;;) {
        int n = poll(p, sigfd >= 0 ? 2 : 1, -1);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return cps__error_set(err, CPS_STAGE_FRAME, errno, NULL, "poll on fd 3");
        if (sigfd >= 0 && (p[1].revents & POLLIN))
            return cps__session_stop_error(sigfd, err);
        if (p[0].revents != 0)
            return 0;
    }
}

/* Read one frame from sock, which has a byte for it: the rest must follow
 * within CPS_FRAME_DEADLINE_MS. Stop signals are watched meanwhile. */
static int read_frame(int sock, int sigfd, uint8_t **buf, size_t *len, struct cps_error *err)
{
    struct cps_frame_reader r = {.max_frame = CPS_MAX_FRAME};
    struct pollfd p[2] = {{.fd = sock, .events = POLLIN}, {.fd = sigfd, .events = POLLIN}};
    uint64_t deadline = 0;
    int flags = fcntl(sock, F_GETFL), rc;

    if (flags < 0 || (!(flags & O_NONBLOCK) && fcntl(sock, F_SETFL, flags | O_NONBLOCK) < 0))
        return cps__error_set(err, CPS_STAGE_FRAME, errno, NULL, "O_NONBLOCK on fd 3");
    for (;;) {
        uint64_t now;
        int n;

        rc = cps__frame_reader_feed(&r, sock, err);
        if (rc != 0)
            break;
        now = cps__now_usec();
        if (deadline == 0 && r.header_have > 0)
            deadline = now + CPS_FRAME_DEADLINE_MS * 1000ull;
        if (deadline != 0 && now >= deadline) {
            rc = cps__session_frame_timeout(&r, err);
            break;
        }
        n = poll(p, sigfd >= 0 ? 2 : 1, deadline == 0 ? -1 : (int)((deadline - now + 999) / 1000));
        if (n < 0 && errno != EINTR) {
            rc = cps__error_set(err, CPS_STAGE_FRAME, errno, NULL, "poll on fd 3");
            break;
        }
        if (n > 0 && sigfd >= 0 && (p[1].revents & POLLIN)) {
            rc = cps__session_stop_error(sigfd, err);
            break;
        }
    }
    if (rc < 0) {
        cps__frame_reader_reset(&r);
        return rc;
    }
    cps__frame_reader_take(&r, buf, len);
    return 0;
}

int cps__session_read(int sock, int sigfd, enum cps_msg_type want, struct cps_msg *msg,
                      uint8_t **raw, size_t *raw_len, struct cps_error *err)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc;

    memset(msg, 0, sizeof(*msg));
    rc = cps__session_wait(sock, sigfd, err);
    if (rc < 0)
        return rc;
    rc = read_frame(sock, sigfd, &buf, &len, err);
    if (rc < 0)
        return rc;
    rc = cps__msg_decode(buf, len, msg, err);
    if (rc == 0 && msg->type == CPS_MSG_CANCEL && want == CPS_MSG_INPUT) {
        /* The worker may give up while it uploads inputs: not a protocol error. */
        rc = cps__error_set(err, CPS_STAGE_CANCEL, ECANCELED, NULL,
                            "cancelled by the peer before the job started");
        cps__msg_free(msg);
    } else if (rc == 0 && msg->type != want) {
        rc = cps__error_set(err, CPS_STAGE_PROTOCOL, EPROTO, NULL, "expected a %s message, got %s",
                            type_name(want), type_name(msg->type));
        cps__msg_free(msg);
    }
    if (rc == 0 && raw != NULL) {
        *raw = buf;
        *raw_len = len;
    } else {
        free(buf);
    }
    return rc;
}

int cps__session_check_config(const struct cps_job *job, const struct cps_helper_options *o,
                              struct cps_error *err)
{
    static const char hint[] = "spawn a helper with matching --uid/--gid/--backend/--no-seccomp, "
                               "or leave the field out of the job";

    if (job->has_uid && job->uid != o->uid)
        return cps__error_set(err, CPS_STAGE_JOB, EINVAL, hint,
                              "job uid %u, but this helper was prepared with uid %u",
                              (unsigned)job->uid, (unsigned)o->uid);
    if (job->has_gid && job->gid != o->gid)
        return cps__error_set(err, CPS_STAGE_JOB, EINVAL, hint,
                              "job gid %u, but this helper was prepared with gid %u",
                              (unsigned)job->gid, (unsigned)o->gid);
    if (job->backend != 0 && job->backend != o->backend)
        return cps__error_set(err, CPS_STAGE_JOB, EINVAL, hint,
                              "job backend %s, but this helper was prepared with backend %s",
                              cps__backend_name((enum cps_backend)job->backend),
                              cps__backend_name((enum cps_backend)o->backend));
    if (job->has_seccomp && job->seccomp != o->seccomp)
        return cps__error_set(err, CPS_STAGE_JOB, EINVAL, hint,
                              "job seccomp %s, but this helper was prepared with seccomp %s",
                              job->seccomp ? "on" : "off", o->seccomp ? "on" : "off");
    return 0;
}
