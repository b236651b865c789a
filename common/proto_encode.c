/* proto_encode.c - canonical CBOR encoding of protocol messages. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "frame.h"
#include "cps_limits.h"
#include "job_features.h"
#include "proto_internal.h"
#include "utf8.h"

/*
 * The encoder writes CBOR heads itself rather than building a libcbor item
 * tree: the output is then canonical by construction (each map's keys in the
 * order docs/PROTOCOL.md lists them, every integer and length in its shortest
 * form, definite lengths only; RFC 8949 section 4.2.1 "preferred
 * serialization") and encoding costs one growing buffer, no reference counts.
 */
struct out {
    uint8_t *p;
    size_t len, cap;
    bool too_big; /* the message does not fit in CPS_MAX_FRAME */
    bool oom;
};

enum major { M_UINT = 0, M_BYTES = 2, M_TEXT = 3, M_ARRAY = 4, M_MAP = 5, M_SIMPLE = 7 };

static void reserve(struct out *o, size_t n)
{
    size_t cap;
    uint8_t *p;

    if (o->too_big || o->oom || o->cap - o->len >= n)
        return;
    /* Never grow past what a frame can carry: the caller reports -EMSGSIZE. */
    if (n > CPS_MAX_FRAME - o->len) {
        o->too_big = true;
        return;
    }
    cap = o->cap ? o->cap : 256;
    while (cap - o->len < n)
        cap *= 2;
    p = realloc(o->p, cap);
    if (!p) {
        o->oom = true;
        return;
    }
    o->p = p;
    o->cap = cap;
}

static void put_head(struct out *o, enum major m, uint64_t v)
{
    uint8_t h[9];
    size_t n;

    h[0] = (uint8_t)(m << 5);
    if (v < 24) {
        h[0] |= (uint8_t)v;
        n = 1;
    } else if (v <= UINT8_MAX) {
        h[0] |= 24;
        n = 2;
    } else if (v <= UINT16_MAX) {
        h[0] |= 25;
        n = 3;
    } else if (v <= UINT32_MAX) {
        h[0] |= 26;
        n = 5;
    } else {
        h[0] |= 27;
        n = 9;
    }
    for (size_t i = 1; i < n; i++)
        h[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
    reserve(o, n);
    if (o->too_big || o->oom)
        return;
    memcpy(o->p + o->len, h, n);
    o->len += n;
}

static void put_raw(struct out *o, enum major m, const void *data, size_t len)
{
    put_head(o, m, len);
    reserve(o, len);
    if (o->too_big || o->oom || len == 0)
        return;
    memcpy(o->p + o->len, data, len);
    o->len += len;
}

static void put_text(struct out *o, const char *s)
{
    put_raw(o, M_TEXT, s, strlen(s));
}

static void put_key(struct out *o, const char *key)
{
    put_text(o, key);
}

static void put_uint(struct out *o, const char *key, uint64_t v)
{
    put_key(o, key);
    put_head(o, M_UINT, v);
}

static void put_bool(struct out *o, const char *key, bool v)
{
    put_key(o, key);
    put_head(o, M_SIMPLE, v ? 21 : 20); /* 0xf5 true, 0xf4 false */
}

static void put_text_kv(struct out *o, const char *key, const char *v)
{
    put_key(o, key);
    put_text(o, v);
}

static void put_bytes_kv(struct out *o, const char *key, const uint8_t *data, size_t len)
{
    put_key(o, key);
    put_raw(o, M_BYTES, data, len);
}

static void put_names(struct out *o, const char *key, uint32_t bits, const uint32_t *order,
                      size_t count, const char *(*name)(uint32_t))
{
    size_t n = 0;

    for (size_t i = 0; i < count; i++)
        if (bits & order[i])
            n++;
    put_key(o, key);
    put_head(o, M_ARRAY, n);
    for (size_t i = 0; i < count; i++)
        if (bits & order[i])
            put_text(o, name(order[i]));
}

static const char *backend_name(uint32_t b)
{
    return cps__backend_name((enum cps_backend)b);
}

static const char *overlay_name(uint32_t v)
{
    return cps__overlay_name((enum cps_overlay)v);
}

static const uint32_t backend_order[] = {CPS_BACKEND_USERNS, CPS_BACKEND_BUBBLEWRAP};
static const uint32_t overlay_order[] = {CPS_OVERLAY_NATIVE, CPS_OVERLAY_FUSE, CPS_OVERLAY_BIND};

static void put_features(struct out *o, uint32_t features)
{
    size_t n = 0;

    for (size_t i = 0; i < cps__feature_count(); i++)
        n += (features >> i) & 1;
    put_key(o, "features");
    put_head(o, M_ARRAY, n);
    for (size_t i = 0; i < cps__feature_count(); i++)
        if ((features >> i) & 1)
            put_text(o, cps__feature_name(i));
}

static void encode_hello(struct out *o, const struct cps_hello *h)
{
    put_head(o, M_MAP, 11 + h->has_features + (h->reuse != 0));
    put_text_kv(o, "type", "hello");
    put_uint(o, "protocol", h->protocol);
    put_text_kv(o, "helper_version", h->helper_version);
    put_names(o, "backends", h->backends, backend_order, 2, backend_name);
    put_names(o, "overlay_modes", h->overlay_modes, overlay_order, 3, overlay_name);
    put_uint(o, "max_frame", h->max_frame);
    put_uint(o, "max_chunk", h->max_chunk);
    put_uint(o, "uid", h->uid);
    put_uint(o, "gid", h->gid);
    put_text_kv(o, "backend", backend_name(h->backend));
    put_bool(o, "seccomp", h->seccomp);
    if (h->has_features)
        put_features(o, h->features);
    if (h->reuse != 0)
        put_uint(o, "reuse", h->reuse);
}

static void encode_limits(struct out *o, const struct cps_job_limits *l)
{
    const struct {
        const char *key;
        uint64_t value;
    } f[] = {
        {"timeout_ms", l->timeout_ms},       {"max_output_bytes", l->max_output_bytes},
        {"cpu_seconds", l->cpu_seconds},     {"address_space", l->address_space},
        {"file_size", l->file_size},         {"open_files", l->open_files},
        {"processes", l->processes},         {"tmp_bytes", l->tmp_bytes},
        {"scratch_bytes", l->scratch_bytes},
    };
    size_t n = 0;

    for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
        n += f[i].value != 0;
    put_key(o, "limits");
    put_head(o, M_MAP, n);
    for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
        if (f[i].value != 0)
            put_uint(o, f[i].key, f[i].value);
}

static bool limits_set(const struct cps_job_limits *l)
{
    return l->timeout_ms || l->max_output_bytes || l->cpu_seconds || l->address_space ||
           l->file_size || l->open_files || l->processes || l->tmp_bytes || l->scratch_bytes;
}

static void encode_job(struct out *o, const struct cps_job *j)
{
    bool has_limits = limits_set(&j->limits);
    size_t n = 8 + (j->backend != 0) + (j->overlay != CPS_OVERLAY_AUTO) + j->has_uid + j->has_gid +
               j->has_seccomp + has_limits;

    put_head(o, M_MAP, n);
    put_text_kv(o, "type", "job");
    put_text_kv(o, "toolchain", j->toolchain);
    put_text_kv(o, "build_dir", j->build_dir);
    put_key(o, "argv");
    put_head(o, M_ARRAY, j->argc);
    for (size_t i = 0; i < j->argc; i++)
        put_text(o, j->argv[i]);
    put_key(o, "env");
    put_head(o, M_ARRAY, j->envc);
    for (size_t i = 0; i < j->envc; i++) {
        put_head(o, M_ARRAY, 2);
        put_text(o, j->env[i].name);
        put_text(o, j->env[i].value);
    }
    put_text_kv(o, "cwd", j->cwd);
    put_key(o, "outputs");
    put_head(o, M_ARRAY, j->outputc);
    for (size_t i = 0; i < j->outputc; i++)
        put_text(o, j->outputs[i]);
    put_key(o, "inputs");
    put_head(o, M_ARRAY, j->inputc);
    for (size_t i = 0; i < j->inputc; i++) {
        put_head(o, M_MAP, 3);
        put_text_kv(o, "path", j->inputs[i].path);
        put_uint(o, "mode", j->inputs[i].mode);
        put_uint(o, "size", j->inputs[i].size);
    }
    if (j->backend != 0)
        put_text_kv(o, "backend", backend_name(j->backend));
    if (j->overlay != CPS_OVERLAY_AUTO)
        put_text_kv(o, "overlay", overlay_name(j->overlay));
    if (j->has_uid)
        put_uint(o, "uid", j->uid);
    if (j->has_gid)
        put_uint(o, "gid", j->gid);
    if (j->has_seccomp)
        put_bool(o, "seccomp", j->seccomp);
    if (has_limits)
        encode_limits(o, &j->limits);
}

static void encode_output(struct out *o, const struct cps_output *out)
{
    if (out->missing) {
        put_head(o, M_MAP, 3);
        put_text_kv(o, "type", "output");
        put_text_kv(o, "path", out->path);
        put_bool(o, "missing", true);
        return;
    }
    put_head(o, M_MAP, 6);
    put_text_kv(o, "type", "output");
    put_text_kv(o, "path", out->path);
    put_uint(o, "mode", out->mode);
    put_uint(o, "size", out->size);
    put_bytes_kv(o, "data", out->data, out->data_len);
    put_bool(o, "end", out->end);
}

static void encode_exit(struct out *o, const struct cps_exit *e)
{
    put_head(o, M_MAP, 10 + (e->limit != NULL));
    put_text_kv(o, "type", "exit");
    if (e->signaled)
        put_uint(o, "signal", e->signal);
    else
        put_uint(o, "code", (uint64_t)e->code);
    put_bool(o, "timed_out", e->timed_out);
    if (e->limit)
        put_text_kv(o, "limit", e->limit);
    put_uint(o, "wall_us", e->wall_us);
    put_uint(o, "user_us", e->user_us);
    put_uint(o, "sys_us", e->sys_us);
    put_uint(o, "max_rss_kb", e->max_rss_kb);
    put_text_kv(o, "backend", backend_name(e->backend));
    put_text_kv(o, "overlay", overlay_name(e->overlay));
    put_key(o, "timings");
    put_head(o, M_ARRAY, e->timingc);
    for (size_t i = 0; i < e->timingc; i++) {
        put_head(o, M_ARRAY, 2);
        put_text(o, e->timings[i].stage);
        put_head(o, M_UINT, e->timings[i].usec);
    }
}

static void encode_error(struct out *o, const struct cps_error *e)
{
    put_head(o, M_MAP, 5);
    put_text_kv(o, "type", "error");
    put_text_kv(o, "stage", e->stage);
    put_uint(o, "errno", (uint64_t)e->errnum);
    put_text_kv(o, "message", e->message);
    put_text_kv(o, "hint", e->hint);
}

int cps__msg_encode(const struct cps_msg *msg, uint8_t **out, size_t *out_len,
                    struct cps_error *err)
{
    struct out o = {0};
    int ret;

    *out = NULL;
    *out_len = 0;
    ret = cps__msg_check(msg, EINVAL, CPS_STAGE_ENCODE, err);
    if (ret < 0)
        return ret;

    switch (msg->type) {
    case CPS_MSG_HELLO:
        encode_hello(&o, &msg->u.hello);
        break;
    case CPS_MSG_JOB:
        encode_job(&o, &msg->u.job);
        break;
    case CPS_MSG_INPUT:
        put_head(&o, M_MAP, 4);
        put_text_kv(&o, "type", "input");
        put_text_kv(&o, "path", msg->u.input.path);
        put_bytes_kv(&o, "data", msg->u.input.data, msg->u.input.data_len);
        put_bool(&o, "end", msg->u.input.end);
        break;
    case CPS_MSG_CANCEL:
        put_head(&o, M_MAP, 1);
        put_text_kv(&o, "type", "cancel");
        break;
    case CPS_MSG_STDOUT:
    case CPS_MSG_STDERR:
        put_head(&o, M_MAP, 2);
        put_text_kv(&o, "type", cps__msg_type_name(msg->type));
        put_bytes_kv(&o, "data", msg->u.stream.data, msg->u.stream.data_len);
        break;
    case CPS_MSG_OUTPUT:
        encode_output(&o, &msg->u.output);
        break;
    case CPS_MSG_EXIT:
        encode_exit(&o, &msg->u.exit);
        break;
    case CPS_MSG_ERROR:
        encode_error(&o, &msg->u.error);
        break;
    }
    if (o.too_big || o.oom) {
        free(o.p);
        if (o.too_big)
            return cps__error_set(err, CPS_STAGE_ENCODE, EMSGSIZE, NULL,
                                  "%s message is larger than a frame (%u bytes)",
                                  cps__msg_type_name(msg->type), CPS_MAX_FRAME);
        return cps__error_set(err, CPS_STAGE_ENCODE, ENOMEM, NULL, "allocate a %s message",
                              cps__msg_type_name(msg->type));
    }
    *out = o.p;
    *out_len = o.len;
    return 0;
}

int cps__msg_send(int fd, const struct cps_msg *msg, struct cps_error *err)
{
    uint8_t *buf;
    size_t len;
    int ret = cps__msg_encode(msg, &buf, &len, err);

    if (ret < 0)
        return ret;
    ret = cps__frame_write(fd, buf, len, err);
    free(buf);
    return ret;
}

int cps__msg_send_error(int fd, const struct cps_error *e, struct cps_error *err)
{
    uint8_t *buf;
    size_t len;
    int ret = cps__msg_encode_error(e, &buf, &len, err);

    if (ret < 0)
        return ret;
    ret = cps__frame_write(fd, buf, len, err);
    free(buf);
    return ret;
}

int cps__msg_encode_error(const struct cps_error *e, uint8_t **out, size_t *out_len,
                          struct cps_error *err)
{
    struct cps_msg msg = {.type = CPS_MSG_ERROR};
    struct cps_error *copy = &msg.u.error;

    /* The error may carry host bytes (a path in a foreign encoding, a
     * truncated message): make it sendable rather than lose the report. */
    *copy = *e;
    copy->stage[sizeof(copy->stage) - 1] = '\0';
    copy->message[sizeof(copy->message) - 1] = '\0';
    copy->hint[sizeof(copy->hint) - 1] = '\0';
    if (!copy->stage[0])
        strcpy(copy->stage, "unknown");
    if (copy->errnum < 0)
        copy->errnum = -copy->errnum;
    cps__utf8_sanitize(copy->stage);
    cps__utf8_sanitize(copy->message);
    cps__utf8_sanitize(copy->hint);
    return cps__msg_encode(&msg, out, out_len, err);
}
