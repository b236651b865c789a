/* proto_check.c - the message rules both the encoder and the decoder apply,
 * and freeing decoded messages. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "cps_limits.h"
#include "job_features.h"
#include "proto_internal.h"
#include "utf8.h"

struct ck {
    int errnum;
    enum cps_stage stage;
    struct cps_error *err;
};

static int bad(const struct ck *c, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int bad(const struct ck *c, const char *field, const char *fmt, ...)
{
    char what[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    return cps__error_set(c->err, c->stage, c->errnum, NULL, "%s: %s", field, what);
}

static int check_text_len(const struct ck *c, const char *field, const char *s, size_t len,
                          size_t max, bool allow_empty)
{
    if (len > max)
        return bad(c, field, "text of %zu bytes is longer than the limit of %zu bytes", len, max);
    if (len == 0 && !allow_empty)
        return bad(c, field, "text is empty");
    if (!cps__utf8_valid(s, len))
        return bad(c, field, "text is not valid UTF-8");
    return 0;
}

static int check_text(const struct ck *c, const char *field, const char *s, size_t max,
                      bool allow_empty)
{
    if (!s)
        return bad(c, field, "text is missing (NULL)");
    return check_text_len(c, field, s, strlen(s), max, allow_empty);
}

/* Names (message stages, versions, limit names) are 1..CPS_MAX_SHORT_TEXT bytes. */
static int check_name(const struct ck *c, const char *field, const char *s)
{
    return check_text(c, field, s, CPS_MAX_SHORT_TEXT, false);
}

static int check_path(const struct ck *c, const char *field, const char *s)
{
    const char *problem;
    int ret = check_text(c, field, s, CPS_MAX_PATH, false);

    if (ret < 0)
        return ret;
    problem = cps__path_problem(s, strlen(s));
    if (problem)
        return bad(c, field, "%s", problem);
    return 0;
}

static int check_mode(const struct ck *c, const char *field, uint32_t mode)
{
    if (mode > 07777)
        return bad(c, field, "mode %#o has bits above 07777", mode);
    return 0;
}

static int check_data(const struct ck *c, const char *field, const uint8_t *data, size_t len,
                      bool allow_empty)
{
    if (len > CPS_MAX_CHUNK)
        return bad(c, field, "chunk of %zu bytes is larger than the limit of %u bytes", len,
                   CPS_MAX_CHUNK);
    if (len == 0 && !allow_empty)
        return bad(c, field, "chunk is empty");
    if (len > 0 && !data)
        return bad(c, field, "data is missing (NULL)");
    return 0;
}

static bool one_backend(uint32_t b)
{
    return b == CPS_BACKEND_USERNS || b == CPS_BACKEND_BUBBLEWRAP;
}

static bool one_overlay_mode(uint32_t o)
{
    return o == CPS_OVERLAY_NATIVE || o == CPS_OVERLAY_FUSE || o == CPS_OVERLAY_BIND;
}

#define ALL_BACKENDS      (CPS_BACKEND_USERNS | CPS_BACKEND_BUBBLEWRAP)
#define ALL_OVERLAY_MODES (CPS_OVERLAY_NATIVE | CPS_OVERLAY_FUSE | CPS_OVERLAY_BIND)

static int check_hello(const struct ck *c, const struct cps_hello *h)
{
    int ret;

    if (h->protocol != CPS_PROTOCOL_VERSION)
        return bad(c, "hello.protocol", "protocol %llu is not %d", (unsigned long long)h->protocol,
                   CPS_PROTOCOL_VERSION);
    if ((ret = check_name(c, "hello.helper_version", h->helper_version)) < 0)
        return ret;
    if (h->backends & ~(uint32_t)ALL_BACKENDS)
        return bad(c, "hello.backends", "unknown backend bits %#x", h->backends);
    if (h->overlay_modes & ~(uint32_t)ALL_OVERLAY_MODES)
        return bad(c, "hello.overlay_modes", "unknown overlay mode bits %#x", h->overlay_modes);
    if (h->uid == UINT32_MAX)
        return bad(c, "hello.uid", "4294967295 is not a valid id");
    if (h->gid == UINT32_MAX)
        return bad(c, "hello.gid", "4294967295 is not a valid id");
    if (!one_backend(h->backend))
        return bad(c, "hello.backend", "not exactly one known backend (%#x)", h->backend);
    if (h->features & ~(uint32_t)CPS_FEATURES_ALL)
        return bad(c, "hello.features", "unknown feature bits %#x", h->features);
    if (!h->has_features && h->features != 0)
        return bad(c, "hello.features", "feature bits %#x without has_features", h->features);
    if (h->reuse > CPS_MAX_JOBS_PER_HELPER)
        return bad(c, "hello.reuse", "%u is larger than %u", h->reuse,
                   (unsigned)CPS_MAX_JOBS_PER_HELPER);
    return 0;
}

static int check_job(const struct ck *c, const struct cps_job *j)
{
    char field[64];
    int ret;

    if ((ret = check_path(c, "job.toolchain", j->toolchain)) < 0 ||
        (ret = check_path(c, "job.build_dir", j->build_dir)) < 0)
        return ret;
    if (j->argc < 1 || j->argc > CPS_MAX_ARGV)
        return bad(c, "job.argv", "%zu entries, not 1..%d", j->argc, CPS_MAX_ARGV);
    if (!j->argv)
        return bad(c, "job.argv", "entries are missing (NULL)");
    for (size_t i = 0; i < j->argc; i++) {
        snprintf(field, sizeof(field), "job.argv[%zu]", i);
        if ((ret = check_text(c, field, j->argv[i], CPS_MAX_TEXT, true)) < 0)
            return ret;
    }
    if (j->envc > CPS_MAX_ENV)
        return bad(c, "job.env", "%zu pairs, more than %d", j->envc, CPS_MAX_ENV);
    if (j->envc && !j->env)
        return bad(c, "job.env", "pairs are missing (NULL)");
    for (size_t i = 0; i < j->envc; i++) {
        const struct cps_env_pair *p = &j->env[i];

        snprintf(field, sizeof(field), "job.env[%zu][0]", i);
        if ((ret = check_text(c, field, p->name, CPS_MAX_TEXT, false)) < 0)
            return ret;
        if (strchr(p->name, '='))
            return bad(c, field, "variable name contains '='");
        snprintf(field, sizeof(field), "job.env[%zu][1]", i);
        if ((ret = check_text(c, field, p->value, CPS_MAX_TEXT, true)) < 0)
            return ret;
    }
    if ((ret = check_path(c, "job.cwd", j->cwd)) < 0)
        return ret;
    if (j->outputc > CPS_MAX_OUTPUTS)
        return bad(c, "job.outputs", "%zu entries, more than %d", j->outputc, CPS_MAX_OUTPUTS);
    if (j->outputc && !j->outputs)
        return bad(c, "job.outputs", "entries are missing (NULL)");
    for (size_t i = 0; i < j->outputc; i++) {
        snprintf(field, sizeof(field), "job.outputs[%zu]", i);
        if ((ret = check_path(c, field, j->outputs[i])) < 0)
            return ret;
    }
    if (j->inputc > CPS_MAX_INPUTS)
        return bad(c, "job.inputs", "%zu entries, more than %d", j->inputc, CPS_MAX_INPUTS);
    if (j->inputc && !j->inputs)
        return bad(c, "job.inputs", "entries are missing (NULL)");
    for (size_t i = 0; i < j->inputc; i++) {
        snprintf(field, sizeof(field), "job.inputs[%zu].path", i);
        if ((ret = check_path(c, field, j->inputs[i].path)) < 0)
            return ret;
        snprintf(field, sizeof(field), "job.inputs[%zu].mode", i);
        if ((ret = check_mode(c, field, j->inputs[i].mode)) < 0)
            return ret;
    }
    if (j->backend != 0 && !one_backend(j->backend))
        return bad(c, "job.backend", "not exactly one known backend (%#x)", j->backend);
    if (j->overlay != CPS_OVERLAY_AUTO && !one_overlay_mode(j->overlay))
        return bad(c, "job.overlay", "not exactly one known overlay mode (%#x)", j->overlay);
    if (j->has_uid && j->uid == UINT32_MAX)
        return bad(c, "job.uid", "4294967295 is not a valid id");
    if (j->has_gid && j->gid == UINT32_MAX)
        return bad(c, "job.gid", "4294967295 is not a valid id");
    return 0;
}

static int check_output(const struct ck *c, const struct cps_output *o)
{
    int ret;

    if ((ret = check_path(c, "output.path", o->path)) < 0)
        return ret;
    if (o->missing)
        return 0;
    if ((ret = check_mode(c, "output.mode", o->mode)) < 0 ||
        (ret = check_data(c, "output.data", o->data, o->data_len, true)) < 0)
        return ret;
    if (o->data_len > o->size)
        return bad(c, "output.data", "chunk of %zu bytes is larger than the file size %llu",
                   o->data_len, (unsigned long long)o->size);
    return 0;
}

static int check_exit(const struct ck *c, const struct cps_exit *e)
{
    char field[64];
    int ret;

    if (e->signaled && (e->signal < 1 || e->signal > 64))
        return bad(c, "exit.signal", "signal %u is not 1..64", e->signal);
    if (!e->signaled && (e->code < 0 || e->code > 255))
        return bad(c, "exit.code", "exit code %d is not 0..255", e->code);
    if (e->limit && (ret = check_name(c, "exit.limit", e->limit)) < 0)
        return ret;
    if (!one_backend(e->backend))
        return bad(c, "exit.backend", "not exactly one known backend (%#x)", e->backend);
    if (!one_overlay_mode(e->overlay))
        return bad(c, "exit.overlay", "not exactly one of native, fuse, bind (%#x)", e->overlay);
    if (e->timingc > CPS_MAX_TIMINGS)
        return bad(c, "exit.timings", "%zu entries, more than %d", e->timingc, CPS_MAX_TIMINGS);
    if (e->timingc && !e->timings)
        return bad(c, "exit.timings", "entries are missing (NULL)");
    for (size_t i = 0; i < e->timingc; i++) {
        snprintf(field, sizeof(field), "exit.timings[%zu][0]", i);
        if ((ret = check_name(c, field, e->timings[i].stage)) < 0)
            return ret;
    }
    return 0;
}

/* The struct's char arrays must hold a terminated string. */
static int check_array_text(const struct ck *c, const char *field, const char *s, size_t size,
                            size_t max, bool allow_empty)
{
    size_t len = strnlen(s, size);

    if (len == size)
        return bad(c, field, "text is not terminated");
    return check_text_len(c, field, s, len, max, allow_empty);
}

static int check_error(const struct ck *c, const struct cps_error *e)
{
    int ret;

    if ((ret = check_array_text(c, "error.stage", e->stage, sizeof(e->stage), CPS_MAX_SHORT_TEXT,
                                false)) < 0 ||
        (ret = check_array_text(c, "error.message", e->message, sizeof(e->message), CPS_MAX_MESSAGE,
                                true)) < 0 ||
        (ret = check_array_text(c, "error.hint", e->hint, sizeof(e->hint), CPS_MAX_MESSAGE, true)) <
            0)
        return ret;
    if (e->errnum < 0)
        return bad(c, "error.errno", "errno %d is negative", e->errnum);
    return 0;
}

int cps__msg_check(const struct cps_msg *msg, int errnum, enum cps_stage stage,
                   struct cps_error *err)
{
    const struct ck c = {.errnum = errnum, .stage = stage, .err = err};
    int ret;

    switch (msg->type) {
    case CPS_MSG_HELLO:
        return check_hello(&c, &msg->u.hello);
    case CPS_MSG_JOB:
        return check_job(&c, &msg->u.job);
    case CPS_MSG_INPUT:
        if ((ret = check_path(&c, "input.path", msg->u.input.path)) < 0)
            return ret;
        return check_data(&c, "input.data", msg->u.input.data, msg->u.input.data_len, true);
    case CPS_MSG_CANCEL:
        return 0;
    case CPS_MSG_STDOUT:
        return check_data(&c, "stdout.data", msg->u.stream.data, msg->u.stream.data_len, false);
    case CPS_MSG_STDERR:
        return check_data(&c, "stderr.data", msg->u.stream.data, msg->u.stream.data_len, false);
    case CPS_MSG_OUTPUT:
        return check_output(&c, &msg->u.output);
    case CPS_MSG_EXIT:
        return check_exit(&c, &msg->u.exit);
    case CPS_MSG_ERROR:
        return check_error(&c, &msg->u.error);
    }
    return bad(&c, "message", "unknown message type %d", (int)msg->type);
}

const char *cps__msg_type_name(enum cps_msg_type type)
{
    switch (type) {
    case CPS_MSG_HELLO:
        return "hello";
    case CPS_MSG_JOB:
        return "job";
    case CPS_MSG_INPUT:
        return "input";
    case CPS_MSG_CANCEL:
        return "cancel";
    case CPS_MSG_STDOUT:
        return "stdout";
    case CPS_MSG_STDERR:
        return "stderr";
    case CPS_MSG_OUTPUT:
        return "output";
    case CPS_MSG_EXIT:
        return "exit";
    case CPS_MSG_ERROR:
        return "error";
    }
    return NULL;
}

static void free_strv(const char **v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        cps__free_const(v[i]);
    free(v);
}

void cps__msg_free(struct cps_msg *msg)
{
    if (!msg)
        return;
    switch (msg->type) {
    case CPS_MSG_HELLO:
        cps__free_const(msg->u.hello.helper_version);
        break;
    case CPS_MSG_JOB: {
        struct cps_job *j = &msg->u.job;

        cps__free_const(j->toolchain);
        cps__free_const(j->build_dir);
        free_strv(j->argv, j->argc);
        if (j->env) {
            for (size_t i = 0; i < j->envc; i++) {
                cps__free_const(j->env[i].name);
                cps__free_const(j->env[i].value);
            }
            free(j->env);
        }
        cps__free_const(j->cwd);
        free_strv(j->outputs, j->outputc);
        if (j->inputs) {
            for (size_t i = 0; i < j->inputc; i++)
                cps__free_const(j->inputs[i].path);
            free(j->inputs);
        }
        break;
    }
    case CPS_MSG_INPUT:
        cps__free_const(msg->u.input.path);
        free(msg->u.input.data);
        break;
    case CPS_MSG_CANCEL:
        break;
    case CPS_MSG_STDOUT:
    case CPS_MSG_STDERR:
        free(msg->u.stream.data);
        break;
    case CPS_MSG_OUTPUT:
        cps__free_const(msg->u.output.path);
        free(msg->u.output.data);
        break;
    case CPS_MSG_EXIT:
        cps__free_const(msg->u.exit.limit);
        if (msg->u.exit.timings) {
            for (size_t i = 0; i < msg->u.exit.timingc; i++)
                cps__free_const(msg->u.exit.timings[i].stage);
            free(msg->u.exit.timings);
        }
        break;
    case CPS_MSG_ERROR:
        break;
    }
    memset(msg, 0, sizeof(*msg));
}
