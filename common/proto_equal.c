/* proto_equal.c - deep comparison of messages (tests, fuzzing, callers that
 * dedupe). */
#include <string.h>

#include "proto.h"

static bool str_eq(const char *a, const char *b)
{
    if (!a || !b)
        return a == b;
    return strcmp(a, b) == 0;
}

static bool bytes_eq(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

static bool strv_eq(const char *const *a, const char *const *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!str_eq(a[i], b[i]))
            return false;
    return true;
}

static bool job_eq(const struct cps_job *a, const struct cps_job *b)
{
    if (!str_eq(a->toolchain, b->toolchain) || !str_eq(a->build_dir, b->build_dir) ||
        !str_eq(a->cwd, b->cwd) || a->argc != b->argc || a->envc != b->envc ||
        a->outputc != b->outputc || a->inputc != b->inputc || a->backend != b->backend ||
        a->overlay != b->overlay || a->has_uid != b->has_uid || a->has_gid != b->has_gid ||
        a->has_seccomp != b->has_seccomp)
        return false;
    if ((a->has_uid && a->uid != b->uid) || (a->has_gid && a->gid != b->gid) ||
        (a->has_seccomp && a->seccomp != b->seccomp))
        return false;
    if (memcmp(&a->limits, &b->limits, sizeof(a->limits)) != 0)
        return false;
    if (!strv_eq(a->argv, b->argv, a->argc) || !strv_eq(a->outputs, b->outputs, a->outputc))
        return false;
    for (size_t i = 0; i < a->envc; i++)
        if (!str_eq(a->env[i].name, b->env[i].name) || !str_eq(a->env[i].value, b->env[i].value))
            return false;
    for (size_t i = 0; i < a->inputc; i++)
        if (!str_eq(a->inputs[i].path, b->inputs[i].path) ||
            a->inputs[i].mode != b->inputs[i].mode || a->inputs[i].size != b->inputs[i].size)
            return false;
    return true;
}

static bool exit_eq(const struct cps_exit *a, const struct cps_exit *b)
{
    if (a->signaled != b->signaled || a->timed_out != b->timed_out || !str_eq(a->limit, b->limit) ||
        a->wall_us != b->wall_us || a->user_us != b->user_us || a->sys_us != b->sys_us ||
        a->max_rss_kb != b->max_rss_kb || a->backend != b->backend || a->overlay != b->overlay ||
        a->timingc != b->timingc)
        return false;
    if (a->signaled ? a->signal != b->signal : a->code != b->code)
        return false;
    for (size_t i = 0; i < a->timingc; i++)
        if (!str_eq(a->timings[i].stage, b->timings[i].stage) ||
            a->timings[i].usec != b->timings[i].usec)
            return false;
    return true;
}

bool cps__msg_equal(const struct cps_msg *a, const struct cps_msg *b)
{
    if (a->type != b->type)
        return false;
    switch (a->type) {
    case CPS_MSG_HELLO: {
        const struct cps_hello *x = &a->u.hello, *y = &b->u.hello;
        return x->protocol == y->protocol && str_eq(x->helper_version, y->helper_version) &&
               x->backends == y->backends && x->overlay_modes == y->overlay_modes &&
               x->max_frame == y->max_frame && x->max_chunk == y->max_chunk && x->uid == y->uid &&
               x->gid == y->gid && x->backend == y->backend && x->seccomp == y->seccomp &&
               x->has_features == y->has_features && x->features == y->features &&
               x->reuse == y->reuse;
    }
    case CPS_MSG_JOB:
        return job_eq(&a->u.job, &b->u.job);
    case CPS_MSG_INPUT:
        return str_eq(a->u.input.path, b->u.input.path) && a->u.input.end == b->u.input.end &&
               bytes_eq(a->u.input.data, a->u.input.data_len, b->u.input.data, b->u.input.data_len);
    case CPS_MSG_CANCEL:
        return true;
    case CPS_MSG_STDOUT:
    case CPS_MSG_STDERR:
        return bytes_eq(a->u.stream.data, a->u.stream.data_len, b->u.stream.data,
                        b->u.stream.data_len);
    case CPS_MSG_OUTPUT: {
        const struct cps_output *x = &a->u.output, *y = &b->u.output;
        if (!str_eq(x->path, y->path) || x->missing != y->missing)
            return false;
        return x->missing || (x->mode == y->mode && x->size == y->size && x->end == y->end &&
                              bytes_eq(x->data, x->data_len, y->data, y->data_len));
    }
    case CPS_MSG_EXIT:
        return exit_eq(&a->u.exit, &b->u.exit);
    case CPS_MSG_ERROR:
        return str_eq(a->u.error.stage, b->u.error.stage) &&
               a->u.error.errnum == b->u.error.errnum &&
               str_eq(a->u.error.message, b->u.error.message) &&
               str_eq(a->u.error.hint, b->u.error.hint);
    }
    return false;
}
