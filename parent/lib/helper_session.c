/* helper_session.c - one exchange with a spawned helper, driven by one poll() loop. */
#include "helper_session.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cancel.h"
#include "errtext.h"
#include "error.h"
#include "job_features.h"
#include "frame.h"
#include "cps_limits.h"
#include "log.h"
#include "proto_stream.h"

/* A helper does its job-independent setup before hello (milliseconds); one
 * that stays silent this long is hung or is not a helper. */
#define HELLO_TIMEOUT_US (30ull * 1000 * 1000)
/* After cancel, the helper kills the job and reports; then we stop waiting. */
#define CANCEL_GRACE_US (5ull * 1000 * 1000)
/* A helper that closed its socket is exiting: give it this long to finish. */
#define EXIT_GRACE_MS 5000
/* Frames read per wakeup before the loop looks at the other fds again. */
#define READ_BURST 64

#define NOT_A_HELPER "is this a cachepot-dist-sandbox helper?"
#define HELPER_HINT                                                                                \
    "run with CACHEPOT_LOG=debug to see the helper's log; check that CACHEPOT_SANDBOX_HELPER "     \
    "or the helper option names the cachepot-dist-sandbox executable"

enum phase { WAIT_HELLO, RUNNING, FINISHED };
enum stop { GOING, STOP_CANCEL };

struct session {
    struct cps_helper_proc *p;
    const struct cps_job_spec *spec;
    const struct cps_wire_job *wire;
    const struct cps_run_options *opts;
    struct cps_output_sink *sink;
    struct cps_result *res;
    struct cps_session_times *t;
    struct cps_error *err;
    struct cps_frame_reader reader;
    /* The path of an output chunk read in place (cps__data_frame_view). */
    char view_path[CPS_MAX_PATH + 1];
    enum phase phase;
    size_t max_chunk, max_frame;
    /* Writing: one encoded frame at a time, header included. */
    uint8_t *wbuf;
    size_t wlen, wpos;
    bool write_closed;
    bool job_queued;
    size_t next_input;
    int in_fd;
    uint64_t in_left;
    /* Stopping: a cancel (token, callback, local failure) waits for the
     * helper's last frame, then returns the saved outcome. */
    enum stop stop;
    bool cancel_sent;
    int stop_ret;
    struct cps_error stop_err;
    uint64_t grace_deadline;
    int ret;
};

uint64_t cps__now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static const char *helper_pid_text(const struct session *s, char *buf, size_t size)
{
    snprintf(buf, size, "%s (pid %d)", s->p->path, (int)s->p->pid);
    return buf;
}

/* End the exchange; ret and err are final. A helper that sent its last frame
 * is left to clean up and exit; on any other failure it is killed now. */
static int finish_as(struct session *s, int ret, bool last_frame_seen)
{
    if (ret < 0 && !last_frame_seen)
        cps__helper_kill(s->p);
    s->phase = FINISHED;
    s->ret = ret;
    return ret;
}

static int finish(struct session *s, int ret)
{
    return finish_as(s, ret, false);
}

static int helper_error(struct session *s, const struct cps_error *e)
{
    *s->err = *e;
    return finish_as(s, -(e->errnum > 0 ? e->errnum : EIO), true);
}

/* Ask the helper to stop the job, remembering why (err is filled by the caller). */
static void begin_stop(struct session *s, int ret)
{
    if (s->stop != GOING)
        return;
    s->stop = STOP_CANCEL;
    s->stop_ret = ret;
    s->stop_err = *s->err;
    s->grace_deadline = cps__now_us() + CANCEL_GRACE_US;
    if (s->phase == WAIT_HELLO)
        finish(s, ret);
}

static int stopped_outcome(struct session *s, bool last_frame_seen)
{
    *s->err = s->stop_err;
    return finish_as(s, s->stop_ret, last_frame_seen);
}

/* ---- writing ---- */

static int queue_msg(struct session *s, const struct cps_msg *msg)
{
    uint8_t *payload;
    size_t len;
    int r = cps__msg_encode(msg, &payload, &len, s->err);

    if (r < 0)
        return r;
    if (len > s->max_frame) {
        free(payload);
        return cps__error_set(s->err, CPS_STAGE_JOB, EMSGSIZE, "send fewer or shorter arguments",
                              "a frame of %zu bytes is larger than the helper accepts (%zu)", len,
                              s->max_frame);
    }
    s->wbuf = malloc(len + 4);
    if (!s->wbuf) {
        free(payload);
        return cps__error_set(s->err, CPS_STAGE_SPAWN, ENOMEM, NULL, "frame of %zu bytes", len);
    }
    s->wbuf[0] = (uint8_t)(len >> 24);
    s->wbuf[1] = (uint8_t)(len >> 16);
    s->wbuf[2] = (uint8_t)(len >> 8);
    s->wbuf[3] = (uint8_t)len;
    memcpy(s->wbuf + 4, payload, len);
    free(payload);
    s->wlen = len + 4;
    s->wpos = 0;
    return 0;
}

/* Open the next input and check it is the file whose size the job announced. */
static int open_input(struct session *s)
{
    const char *host = s->spec->inputs[s->next_input].host_path;
    struct stat st;

    s->in_fd = open(host, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (s->in_fd < 0)
        return cps__error_set(s->err, CPS_STAGE_INPUT, errno, NULL, "open input %s: %s", host,
                              cps__errtext(errno));
    if (fstat(s->in_fd, &st) < 0 || st.st_dev != s->wire->input_dev[s->next_input] ||
        st.st_ino != s->wire->input_ino[s->next_input] ||
        (uint64_t)st.st_size != s->wire->decl[s->next_input].size)
        return cps__error_set(s->err, CPS_STAGE_INPUT, EAGAIN,
                              "do not modify inputs while a job runs",
                              "input %s changed after the job was announced", host);
    s->in_left = s->wire->decl[s->next_input].size;
    return 0;
}

static int queue_input_chunk(struct session *s)
{
    uint8_t *buf = NULL;
    size_t want, have = 0;
    struct cps_msg msg = {.type = CPS_MSG_INPUT};
    int r;

    if (s->in_fd < 0 && (r = open_input(s)) < 0)
        return r;
    want = s->in_left < s->max_chunk ? (size_t)s->in_left : s->max_chunk;
    if (want > 0 && !(buf = malloc(want)))
        return cps__error_set(s->err, CPS_STAGE_INPUT, ENOMEM, NULL, "input chunk");
    while (have < want) {
        ssize_t n = read(s->in_fd, buf + have, want - have);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            const char *host = s->spec->inputs[s->next_input].host_path;
            int e = n < 0 ? errno : EAGAIN;
            free(buf);
            return cps__error_set(s->err, CPS_STAGE_INPUT, e, NULL, "read input %s: %s", host,
                                  n < 0 ? cps__errtext(e) : "file shrank while it was sent");
        }
        have += (size_t)n;
    }
    s->in_left -= have;
    msg.u.input.path = s->wire->input_paths[s->next_input];
    msg.u.input.data = buf;
    msg.u.input.data_len = have;
    msg.u.input.end = s->in_left == 0;
    r = queue_msg(s, &msg);
    free(buf);
    if (r < 0)
        return r;
    if (s->in_left == 0) {
        close(s->in_fd);
        s->in_fd = -1;
        s->next_input++;
    }
    return 0;
}

/* Put the next frame in wbuf, if there is one to send. */
static int fill_wbuf(struct session *s)
{
    if (s->wbuf || s->write_closed || s->phase != RUNNING)
        return 0;
    if (!s->job_queued) {
        struct cps_msg msg = {.type = CPS_MSG_JOB};
        msg.u.job = s->wire->job;
        s->job_queued = true;
        return queue_msg(s, &msg);
    }
    if (s->stop != GOING) {
        if (s->cancel_sent)
            return 0;
        struct cps_msg msg = {.type = CPS_MSG_CANCEL};
        s->cancel_sent = true;
        return queue_msg(s, &msg);
    }
    if (s->next_input < s->wire->job.inputc)
        return queue_input_chunk(s);
    return 0;
}

static bool want_write(struct session *s)
{
    return s->wbuf != NULL;
}

static void drop_wbuf(struct session *s)
{
    free(s->wbuf);
    s->wbuf = NULL;
    s->wlen = s->wpos = 0;
}

static void write_some(struct session *s)
{
    while (s->wbuf) {
        ssize_t n =
            send(s->p->sock, s->wbuf + s->wpos, s->wlen - s->wpos, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            /* The helper stopped reading (it died, or it sent an error and
             * closed). Keep reading: its last frame or its EOF says which. */
            s->write_closed = true;
            drop_wbuf(s);
            return;
        }
        s->wpos += (size_t)n;
        if (s->wpos == s->wlen) {
            drop_wbuf(s);
            int r = fill_wbuf(s);
            if (r < 0) {
                begin_stop(s, r);
                fill_wbuf(s);
            }
        }
    }
}

/* ---- reading ---- */

/*
 * A helper refuses a job key it does not know ("unknown key"), which would
 * fail every job with a message that does not say why; so the library sends
 * no key the helper did not announce, and refuses a job that needs one, naming
 * the keys and the first release that has them (docs/COMPATIBILITY.md).
 */
static int check_features(struct session *s, const struct cps_helper_hello *h)
{
    uint32_t missing = cps__job_features(&s->wire->job) & ~h->features;
    char keys[512] = "", who[512], hint[160];
    const char *since = "";
    size_t len = 0;

    if (missing == 0)
        return 0;
    for (size_t i = 0; i < cps__feature_count() && len < sizeof(keys); i++) {
        if (!((missing >> i) & 1))
            continue;
        len += (size_t)snprintf(keys + len, sizeof(keys) - len, "%s%s", len ? ", " : "",
                                cps__feature_name(i));
        since = cps__feature_since(i); /* the newest first release among them: the table grows */
    }
    snprintf(hint, sizeof(hint),
             "install a helper of release %s or later on this host, or leave those keys unset",
             since);
    return finish(s, cps__error_set(s->err, CPS_STAGE_JOB, EOPNOTSUPP, hint,
                                    "helper %s of release %s does not understand %s, which this "
                                    "job sets; helpers of release %s and later do",
                                    helper_pid_text(s, who, sizeof(who)), h->version, keys, since));
}

/* The helper is ready: take its limits and send the job. */
static int greeted(struct session *s, const struct cps_helper_hello *h)
{
    s->t->hello = cps__now_us();
    snprintf(s->res->helper_version, sizeof(s->res->helper_version), "%s", h->version);
    if (check_features(s, h) < 0)
        return -1;
    if (h->max_chunk > 0 && h->max_chunk < s->max_chunk)
        s->max_chunk = (size_t)h->max_chunk;
    if (h->max_frame > 0 && h->max_frame < s->max_frame)
        s->max_frame = (size_t)h->max_frame;
    s->phase = RUNNING;
    int r = fill_wbuf(s);
    if (r < 0)
        return finish(s, r);
    return 0;
}

static int hello_frame(struct session *s, const struct cps_msg *m)
{
    char who[512];

    if (m->type == CPS_MSG_ERROR)
        return helper_error(s, &m->u.error);
    if (m->type != CPS_MSG_HELLO)
        return finish(s, cps__error_set(s->err, CPS_STAGE_HELLO, EPROTO, HELPER_HINT,
                                        "%s sent another message before hello: " NOT_A_HELPER,
                                        helper_pid_text(s, who, sizeof(who))));
    struct cps_helper_hello h;

    cps__helper_hello_take(&h, &m->u.hello);
    int r = greeted(s, &h);
    cps__log_debug("helper %d said hello (version %s)", (int)s->p->pid, s->res->helper_version);
    return r;
}

static int stream_frame(struct session *s, enum cps_stream_id id, const struct cps_stream *st)
{
    s->res->bytes_out += st->data_len;
    if (s->stop != GOING || !s->opts->on_stream)
        return 0;
    if (s->opts->on_stream(s->opts->user, id, st->data, st->data_len) != 0) {
        begin_stop(s, cps__error_set(s->err, CPS_STAGE_CALLBACK, ECANCELED, NULL,
                                     "the stream callback asked to stop the job"));
        fill_wbuf(s);
    }
    return 0;
}

static int output_frame(struct session *s, const struct cps_output *o)
{
    int r;

    s->t->last_output = cps__now_us();
    if (!s->t->first_output)
        s->t->first_output = s->t->last_output;
    if (s->stop != GOING)
        return 0;
    r = cps__output_sink_frame(s->sink, o, s->err);
    if (r < 0 && cps__error_is(s->err, CPS_STAGE_PROTOCOL))
        return finish(s, r);
    if (r < 0) {
        begin_stop(s, r);
        fill_wbuf(s);
    }
    return 0;
}

static void copy_exit(struct session *s, const struct cps_exit *e)
{
    struct cps_result *res = s->res;

    res->exit_code = e->signaled ? 0 : e->code;
    res->signal = e->signaled ? (int)e->signal : 0;
    res->timed_out = e->timed_out;
    snprintf(res->limit, sizeof(res->limit), "%s", e->limit ? e->limit : "");
    res->wall_us = e->wall_us;
    res->user_us = e->user_us;
    res->sys_us = e->sys_us;
    res->max_rss_kb = e->max_rss_kb;
    snprintf(res->backend, sizeof(res->backend), "%s",
             e->backend ? cps__backend_name((enum cps_backend)e->backend) : "");
    snprintf(res->overlay, sizeof(res->overlay), "%s",
             e->overlay ? cps__overlay_name((enum cps_overlay)e->overlay) : "");
    if (e->timingc > 0) {
        res->timings = calloc(e->timingc, sizeof(*res->timings));
        if (res->timings) {
            res->timing_count = e->timingc;
            for (size_t i = 0; i < e->timingc; i++) {
                snprintf(res->timings[i].stage, sizeof(res->timings[i].stage), "%s",
                         e->timings[i].stage ? e->timings[i].stage : "");
                res->timings[i].usec = e->timings[i].usec;
            }
        }
    }
}

/* Outputs the helper did not send (it may stop early, e.g. when the output
 * limit ended the job) count as missing. */
static int settle_outputs(struct session *s)
{
    struct cps_output_sink *k = s->sink;

    if (k->in_file) {
        cps__output_sink_close(k);
        k->in_file = false;
        k->missing++;
        k->idx++;
    }
    for (; k->idx < s->wire->job.outputc; k->idx++) {
        k->missing++;
        if (s->stop == GOING && s->opts->on_missing &&
            s->opts->on_missing(s->opts->user, s->spec->outputs[k->idx].given) != 0) {
            return cps__error_set(s->err, CPS_STAGE_CALLBACK, ECANCELED, NULL,
                                  "the missing-output callback refused %s",
                                  s->spec->outputs[k->idx].given);
        }
    }
    return 0;
}

static int running_frame(struct session *s, const struct cps_msg *m)
{
    s->t->answered = true;
    switch (m->type) {
    case CPS_MSG_STDOUT:
        return stream_frame(s, CPS_STDOUT, &m->u.stream);
    case CPS_MSG_STDERR:
        return stream_frame(s, CPS_STDERR, &m->u.stream);
    case CPS_MSG_OUTPUT:
        return output_frame(s, &m->u.output);
    case CPS_MSG_EXIT:
        s->t->exit = cps__now_us();
        copy_exit(s, &m->u.exit);
        if (s->stop != GOING)
            return stopped_outcome(s, true);
        return finish_as(s, settle_outputs(s), true);
    case CPS_MSG_ERROR:
        if (s->stop != GOING)
            return stopped_outcome(s, true);
        return helper_error(s, &m->u.error);
    default:
        return finish(s, cps__error_set(s->err, CPS_STAGE_PROTOCOL, EPROTO, HELPER_HINT,
                                        "helper sent a message of type %d during the job",
                                        (int)m->type));
    }
}

/* The first frame could not be read or decoded. */
static int bad_hello(struct session *s)
{
    char who[512], why[CPS_ERROR_MESSAGE_MAX];

    helper_pid_text(s, who, sizeof(who));
    if (s->err->errnum == EPROTONOSUPPORT) {
        snprintf(why, sizeof(why), "%s", s->err->message);
        return finish(s, cps__error_set(s->err, CPS_STAGE_HELLO, EPROTONOSUPPORT, s->err->hint,
                                        "%s: %s", who, why));
    }
    snprintf(why, sizeof(why), "%s", s->err->message);
    return finish(s, cps__error_set(s->err, CPS_STAGE_HELLO, EPROTO, HELPER_HINT,
                                    "%s did not send a valid hello (%s): " NOT_A_HELPER, who, why));
}

/* The helper closed the socket or exited before its last frame. */
static int helper_gone(struct session *s)
{
    char who[512], how[128];

    cps__helper_finish(s->p, EXIT_GRACE_MS);
    helper_pid_text(s, who, sizeof(who));
    cps__describe_status(s->p->status, how, sizeof(how));
    if (s->stop != GOING)
        return stopped_outcome(s, true);
    if (s->phase == WAIT_HELLO)
        return finish(s, cps__error_set(s->err, CPS_STAGE_HELLO, ECONNABORTED, HELPER_HINT,
                                        "%s %s before saying hello: " NOT_A_HELPER, who, how));
    return finish(s, cps__error_set(s->err, CPS_STAGE_HELPER, ECONNABORTED, HELPER_HINT,
                                    "%s %s before the job finished", who, how));
}

/* Read what is there. Returns 0 when nothing is left to read, 1 when more may
 * be waiting, < 0 once the exchange is over (s->ret). */
static int read_some(struct session *s)
{
    for (int i = 0; i < READ_BURST; i++) {
        struct cps_msg m;
        const uint8_t *payload;
        size_t len;
        bool in_place;
        int r = cps__frame_reader_feed(&s->reader, s->p->sock, s->err);

        if (r == 0)
            return 0;
        if (r == -ECONNRESET)
            return helper_gone(s);
        if (r < 0)
            return s->phase == WAIT_HELLO
                       ? bad_hello(s)
                       : finish(s, cps__error_set(s->err, CPS_STAGE_PROTOCOL, -r, HELPER_HINT, "%s",
                                                  s->err->message));
        /* The payload stays in the reader's buffer. Data frames in the
         * canonical form are read in place (their data points into it);
         * everything else, including every malformed frame, goes through the
         * general decoder, which copies what it keeps. */
        cps__frame_reader_peek(&s->reader, &payload, &len);
        in_place = s->phase != WAIT_HELLO && cps__data_frame_view(payload, len, &m, s->view_path);
        r = in_place ? 0 : cps__msg_decode(payload, len, &m, s->err);
        if (r < 0) {
            cps__frame_reader_next(&s->reader);
            return s->phase == WAIT_HELLO
                       ? bad_hello(s)
                       : finish(s, cps__error_set(s->err, CPS_STAGE_PROTOCOL, -r, HELPER_HINT, "%s",
                                                  s->err->message));
        }
        r = s->phase == WAIT_HELLO ? hello_frame(s, &m) : running_frame(s, &m);
        if (!in_place)
            cps__msg_free(&m);
        cps__frame_reader_next(&s->reader);
        if (r < 0)
            return r;
        if (s->phase == FINISHED)
            return s->ret < 0 ? s->ret : -1;
    }
    return 1;
}

/* ---- the loop ---- */

static int poll_timeout_ms(uint64_t now, uint64_t deadline)
{
    uint64_t left;

    if (!deadline)
        return -1;
    if (deadline <= now)
        return 0;
    left = (deadline - now + 999) / 1000;
    return left > 60000 ? 60000 : (int)left;
}

static uint64_t next_deadline(const struct session *s, uint64_t overall)
{
    uint64_t d = overall;

    if (s->phase == WAIT_HELLO) {
        uint64_t h = s->t->start + HELLO_TIMEOUT_US;
        if (!d || h < d)
            d = h;
    }
    if (s->stop != GOING && (!d || s->grace_deadline < d))
        d = s->grace_deadline;
    return d;
}

static int on_deadline(struct session *s, uint64_t overall, uint64_t now)
{
    char who[512];

    helper_pid_text(s, who, sizeof(who));
    if (overall && now >= overall)
        return finish(s, cps__error_set(s->err, CPS_STAGE_TIMEOUT, ETIMEDOUT,
                                        "raise the run timeout, or the job's own timeout",
                                        "%s did not finish within the run timeout of %llu ms; "
                                        "killed it",
                                        who, (unsigned long long)s->opts->timeout_ms));
    if (s->stop != GOING)
        return stopped_outcome(s, false);
    return finish(s, cps__error_set(s->err, CPS_STAGE_HELLO, ETIMEDOUT, HELPER_HINT,
                                    "%s did not say hello within %llu s: " NOT_A_HELPER, who,
                                    HELLO_TIMEOUT_US / 1000000));
}

static void on_cancel(struct session *s)
{
    begin_stop(s,
               cps__error_set(s->err, CPS_STAGE_CANCEL, ECANCELED, NULL, "the run was cancelled"));
    fill_wbuf(s);
}

int cps__session_run(struct cps_helper_proc *p, const struct cps_job_spec *spec,
                     const struct cps_wire_job *wire, const struct cps_run_options *opts,
                     uint64_t deadline_us, struct cps_output_sink *sink, struct cps_result *res,
                     struct cps_session_times *t, struct cps_error *err)
{
    struct session s = {
        .p = p,
        .spec = spec,
        .wire = wire,
        .opts = opts,
        .sink = sink,
        .res = res,
        .t = t,
        .err = err,
        .reader = {.max_frame = CPS_MAX_FRAME},
        .phase = WAIT_HELLO,
        .max_chunk = CPS_MAX_CHUNK,
        .max_frame = CPS_MAX_FRAME,
        .in_fd = -1,
    };
    int cancel_fd = cps__cancel_fd(opts->cancel);

    if (p->hello.seen)
        greeted(&s, &p->hello);
    while (s.phase != FINISHED) {
        struct pollfd fds[3];
        nfds_t n = 0;
        int sock_i, pid_i = -1, cancel_i = -1, r;
        uint64_t now = cps__now_us(), d = next_deadline(&s, deadline_us);

        if (d && now >= d) {
            on_deadline(&s, deadline_us, now);
            break;
        }
        sock_i = (int)n;
        fds[n++] = (struct pollfd){.fd = p->sock,
                                   .events = (short)(POLLIN | (want_write(&s) ? POLLOUT : 0))};
        if (p->pidfd >= 0) {
            pid_i = (int)n;
            fds[n++] = (struct pollfd){.fd = p->pidfd, .events = POLLIN};
        }
        if (cancel_fd >= 0 && s.stop == GOING) {
            cancel_i = (int)n;
            fds[n++] = (struct pollfd){.fd = cancel_fd, .events = POLLIN};
        }
        r = poll(fds, n, poll_timeout_ms(now, d));
        if (r < 0) {
            if (errno == EINTR)
                continue;
            finish(&s, cps__error_set(err, CPS_STAGE_POLL, errno, NULL, "poll: %s",
                                      cps__errtext(errno)));
            break;
        }
        if (cancel_i >= 0 && fds[cancel_i].revents)
            on_cancel(&s);
        if (s.phase != FINISHED && (fds[sock_i].revents & POLLOUT))
            write_some(&s);
        if (s.phase != FINISHED && (fds[sock_i].revents & (POLLIN | POLLHUP | POLLERR)))
            read_some(&s);
        if (s.phase != FINISHED && pid_i >= 0 && (fds[pid_i].revents & POLLIN)) {
            /* The helper exited: what it wrote before is still in the socket. */
            while (read_some(&s) == 1)
                ;
            if (s.phase != FINISHED)
                helper_gone(&s);
        }
    }
    t->clean_end = s.ret == 0 && s.stop == GOING && t->exit && !s.wbuf && !s.write_closed &&
                   s.job_queued && s.next_input == wire->job.inputc && s.in_fd < 0;
    drop_wbuf(&s);
    cps__frame_reader_reset(&s.reader);
    if (s.in_fd >= 0)
        close(s.in_fd);
    return s.ret;
}
