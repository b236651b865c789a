/* proto_decode.c - strict decoding of untrusted frames. */
#include <cbor.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "cps_limits.h"
#include "job_features.h"
#include "proto_internal.h"
#include "scan.h"
#include "utf8.h"

#define STAGE CPS_STAGE_DECODE

/* Every failure below is -EPROTO with stage "decode" and "<field>: <rule>". */
static int fail(struct cps_error *err, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(struct cps_error *err, const char *field, const char *fmt, ...)
{
    char what[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    return cps__error_set(err, STAGE, EPROTO, NULL, "%s: %s", field, what);
}

static int no_memory(struct cps_error *err, const char *field)
{
    return cps__error_set(err, STAGE, ENOMEM, NULL, "%s: out of memory", field);
}

static const char *kind(const cbor_item_t *it)
{
    switch (cbor_typeof(it)) {
    case CBOR_TYPE_UINT:
        return "an unsigned integer";
    case CBOR_TYPE_NEGINT:
        return "a negative integer";
    case CBOR_TYPE_BYTESTRING:
        return "a byte string";
    case CBOR_TYPE_STRING:
        return "a text string";
    case CBOR_TYPE_ARRAY:
        return "an array";
    case CBOR_TYPE_MAP:
        return "a map";
    case CBOR_TYPE_TAG:
        return "a tag";
    case CBOR_TYPE_FLOAT_CTRL:
        return "a simple value";
    }
    return "an unknown item";
}

/* Quote untrusted key bytes for a message: printable ASCII as is, the rest
 * as \xNN, at most 40 bytes, so the message stays valid UTF-8 and short. */
static void quote(char *dst, size_t size, const unsigned char *p, size_t n)
{
    size_t o = 0;

    for (size_t i = 0; i < n && o + 5 < size; i++) {
        if (i == 40) {
            o += (size_t)snprintf(dst + o, size - o, "...");
            break;
        }
        if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '"' && p[i] != '\\')
            dst[o++] = (char)p[i];
        else
            o += (size_t)snprintf(dst + o, size - o, "\\x%02x", p[i]);
    }
    dst[o < size ? o : size - 1] = '\0';
}

static bool text_eq(const cbor_item_t *it, const char *s)
{
    size_t n = strlen(s);

    return cbor_isa_string(it) && cbor_string_is_definite(it) && cbor_string_length(it) == n &&
           (n == 0 || memcmp(cbor_string_handle(it), s, n) == 0);
}

/*
 * Collect the values of a map whose keys must be among names[0..count):
 * values[i] is the value of names[i] or NULL. Rejects a non-map, non-text
 * keys, unknown keys and duplicate keys (cbor_load keeps duplicates).
 */
static int map_fields(const cbor_item_t *map, const char *field, const char *const names[],
                      size_t count, const cbor_item_t *values[], struct cps_error *err)
{
    struct cbor_pair *pairs;
    size_t n;

    for (size_t i = 0; i < count; i++)
        values[i] = NULL;
    if (!cbor_isa_map(map))
        return fail(err, field, "expected a map, got %s", kind(map));
    if (!cbor_map_is_definite(map))
        return fail(err, field, "indefinite-length map");
    n = cbor_map_size(map);
    pairs = cbor_map_handle(map);
    for (size_t i = 0; i < n; i++) {
        const cbor_item_t *key = pairs[i].key;
        size_t k;

        if (!cbor_isa_string(key) || !cbor_string_is_definite(key))
            return fail(err, field, "map key %zu is %s, not a text string", i, kind(key));
        for (k = 0; k < count; k++)
            if (text_eq(key, names[k]))
                break;
        if (k == count) {
            char q[200];
            quote(q, sizeof(q), cbor_string_handle(key), cbor_string_length(key));
            return fail(err, field, "unknown key \"%s\"", q);
        }
        if (values[k])
            return fail(err, field, "duplicate key \"%s\"", names[k]);
        values[k] = pairs[i].value;
    }
    return 0;
}

static int need(const cbor_item_t *const values[], size_t i, const char *const names[],
                const char *field, struct cps_error *err)
{
    if (!values[i])
        return fail(err, field, "missing key \"%s\"", names[i]);
    return 0;
}

/* Join "job" and "argv" into "job.argv". */
static const char *sub(char *buf, size_t size, const char *parent, const char *name)
{
    snprintf(buf, size, "%s.%s", parent, name);
    return buf;
}

static int get_uint(const cbor_item_t *it, const char *field, uint64_t max, uint64_t *out,
                    struct cps_error *err)
{
    uint64_t v;

    if (!cbor_isa_uint(it))
        return fail(err, field, "expected an unsigned integer, got %s", kind(it));
    v = cbor_get_int(it);
    if (v > max)
        return fail(err, field, "%llu is larger than %llu", (unsigned long long)v,
                    (unsigned long long)max);
    *out = v;
    return 0;
}

static int get_u32(const cbor_item_t *it, const char *field, uint32_t max, uint32_t *out,
                   struct cps_error *err)
{
    uint64_t v = 0; /* gcc 12 -O2 cannot see that get_uint sets it when it returns 0 */
    int ret = get_uint(it, field, max, &v, err);

    if (ret == 0)
        *out = (uint32_t)v;
    return ret;
}

static int get_bool(const cbor_item_t *it, const char *field, bool *out, struct cps_error *err)
{
    if (!cbor_isa_float_ctrl(it) || !cbor_is_bool(it))
        return fail(err, field, "expected a boolean, got %s", kind(it));
    *out = cbor_get_bool(it);
    return 0;
}

/* The bytes of a definite text string, checked for length, NUL and UTF-8,
 * without copying them. */
static int text_view(const cbor_item_t *it, const char *field, size_t max, const unsigned char **p,
                     size_t *len, struct cps_error *err)
{
    if (!cbor_isa_string(it))
        return fail(err, field, "expected a text string, got %s", kind(it));
    if (!cbor_string_is_definite(it))
        return fail(err, field, "indefinite-length text string");
    *len = cbor_string_length(it);
    *p = cbor_string_handle(it);
    if (*len > max)
        return fail(err, field, "text of %zu bytes is longer than the limit of %zu bytes", *len,
                    max);
    if (*len > 0 && memchr(*p, '\0', *len))
        return fail(err, field, "text contains NUL");
    if (*len > 0 && !cps__utf8_valid((const char *)*p, *len))
        return fail(err, field, "text is not valid UTF-8");
    return 0;
}

/* A new NUL-terminated copy of a text string. */
static int get_text(const cbor_item_t *it, const char *field, size_t max, const char **out,
                    struct cps_error *err)
{
    const unsigned char *p = NULL;
    size_t len = 0;
    int ret = text_view(it, field, max, &p, &len, err);
    char *s;

    if (ret < 0)
        return ret;
    s = malloc(len + 1);
    if (!s)
        return no_memory(err, field);
    if (len)
        memcpy(s, p, len);
    s[len] = '\0';
    *out = s;
    return 0;
}

/* Copy a text string into a fixed array, cut on a character boundary. */
static int get_text_into(const cbor_item_t *it, const char *field, size_t max, char *dst,
                         size_t size, struct cps_error *err)
{
    const unsigned char *p = NULL;
    size_t len = 0;
    int ret = text_view(it, field, max, &p, &len, err);

    if (ret < 0)
        return ret;
    if (len >= size)
        len = cps__utf8_truncate((const char *)p, len, size - 1);
    if (len)
        memcpy(dst, p, len);
    dst[len] = '\0';
    return 0;
}

static int get_bytes(const cbor_item_t *it, const char *field, uint8_t **out, size_t *out_len,
                     struct cps_error *err)
{
    size_t len;

    if (!cbor_isa_bytestring(it))
        return fail(err, field, "expected a byte string, got %s", kind(it));
    if (!cbor_bytestring_is_definite(it))
        return fail(err, field, "indefinite-length byte string");
    len = cbor_bytestring_length(it);
    if (len > CPS_MAX_CHUNK)
        return fail(err, field, "chunk of %zu bytes is larger than the limit of %u bytes", len,
                    CPS_MAX_CHUNK);
    *out_len = len;
    *out = malloc(len ? len : 1);
    if (!*out)
        return no_memory(err, field);
    if (len)
        memcpy(*out, cbor_bytestring_handle(it), len);
    return 0;
}

/* An array of at most max entries (and at least min). */
static int get_array(const cbor_item_t *it, const char *field, size_t min, size_t max,
                     cbor_item_t ***items, size_t *n, struct cps_error *err)
{
    if (!cbor_isa_array(it))
        return fail(err, field, "expected an array, got %s", kind(it));
    if (!cbor_array_is_definite(it))
        return fail(err, field, "indefinite-length array");
    *n = cbor_array_size(it);
    if (*n < min || *n > max) {
        if (min > 0)
            return fail(err, field, "%zu entries, not %zu..%zu", *n, min, max);
        return fail(err, field, "%zu entries, more than %zu", *n, max);
    }
    *items = cbor_array_handle(it);
    return 0;
}

static int get_backend(const cbor_item_t *it, const char *field, uint32_t *out,
                       struct cps_error *err)
{
    const unsigned char *p = NULL;
    size_t len = 0;
    enum cps_backend b;
    int ret = text_view(it, field, CPS_MAX_SHORT_TEXT, &p, &len, err);

    if (ret < 0)
        return ret;
    if (cps__backend_parse((const char *)p, len, &b) < 0) {
        char q[200];
        quote(q, sizeof(q), p, len);
        return fail(err, field, "unknown backend \"%s\"", q);
    }
    *out = b;
    return 0;
}

static int get_overlay(const cbor_item_t *it, const char *field, bool allow_auto, uint32_t *out,
                       struct cps_error *err)
{
    const unsigned char *p = NULL;
    size_t len = 0;
    enum cps_overlay o;
    int ret = text_view(it, field, CPS_MAX_SHORT_TEXT, &p, &len, err);

    if (ret < 0)
        return ret;
    if (cps__overlay_parse((const char *)p, len, &o) < 0 ||
        (o == CPS_OVERLAY_AUTO && !allow_auto)) {
        char q[200];
        quote(q, sizeof(q), p, len);
        return fail(err, field, "unknown overlay mode \"%s\"", q);
    }
    *out = o;
    return 0;
}

/* The bit of a known name of a hello list, 0 for a name this side does not know. */
typedef uint32_t (*name_bit_fn)(const unsigned char *p, size_t len);

static uint32_t backend_bit(const unsigned char *p, size_t len)
{
    enum cps_backend b;

    return cps__backend_parse((const char *)p, len, &b) == 0 ? (uint32_t)b : 0;
}

static uint32_t overlay_bit(const unsigned char *p, size_t len)
{
    enum cps_overlay o;

    return cps__overlay_parse((const char *)p, len, &o) == 0 ? (uint32_t)o : 0;
}

static uint32_t feature_bit(const unsigned char *p, size_t len)
{
    return cps__feature_parse((const char *)p, len);
}

/*
 * A list of names of hello (backends, overlay modes, features) into the set of
 * bits *out: at most max non-empty names. Names this side does not know are
 * skipped so that a newer helper can announce a new backend, mode or job key
 * to an older parent, which never asks for it anyway (docs/PROTOCOL.md,
 * "Forward compatibility").
 */
static int get_name_set(const cbor_item_t *it, const char *field, size_t max, name_bit_fn bit,
                        uint32_t *out, struct cps_error *err)
{
    cbor_item_t **items;
    size_t n;
    char f[64];
    int ret = get_array(it, field, 0, max, &items, &n, err);

    if (ret < 0)
        return ret;
    *out = 0;
    for (size_t i = 0; i < n; i++) {
        const unsigned char *p;
        size_t len;

        snprintf(f, sizeof(f), "%s[%zu]", field, i);
        if ((ret = text_view(items[i], f, CPS_MAX_SHORT_TEXT, &p, &len, err)) < 0)
            return ret;
        if (len == 0)
            return fail(err, f, "text is empty");
        *out |= bit(p, len);
    }
    return 0;
}

/* Decoders of the message bodies. root is the top-level map. */

enum {
    H_TYPE,
    H_PROTOCOL,
    H_VERSION,
    H_BACKENDS,
    H_OVERLAYS,
    H_MAX_FRAME,
    H_MAX_CHUNK,
    H_UID,
    H_GID,
    H_BACKEND,
    H_SECCOMP,
    H_FEATURES, /* optional: only a parent that asked for it gets it */
    H_REUSE,    /* optional: only a helper started with --jobs-per-helper N > 1 sends it */
    H_COUNT
};
static const char *const hello_keys[H_COUNT] = {
    "type", "protocol", "helper_version", "backends", "overlay_modes", "max_frame", "max_chunk",
    "uid",  "gid",      "backend",        "seccomp",  "features",      "reuse"};

/* The protocol of a hello is read before anything else of it: a parent that
 * cannot speak the helper's version must say so, not complain about a field
 * the newer version added (cps__msg_decode already caught a different
 * number; this catches a protocol that is missing or not a number). */
static int hello_protocol(const cbor_item_t *root, struct cps_error *err)
{
    struct cbor_pair *pairs = cbor_map_handle(root);
    size_t n = cbor_map_size(root);
    uint64_t protocol;

    for (size_t i = 0; i < n; i++)
        if (text_eq(pairs[i].key, "protocol"))
            return get_uint(pairs[i].value, "hello.protocol", UINT64_MAX, &protocol, err);
    return fail(err, "hello", "missing key \"protocol\"");
}

static int decode_hello(const cbor_item_t *root, struct cps_hello *h, struct cps_error *err)
{
    const cbor_item_t *v[H_COUNT];
    char f[64];
    int ret = hello_protocol(root, err);

    if (ret < 0)
        return ret;
    ret = map_fields(root, "hello", hello_keys, H_COUNT, v, err);
    if (ret < 0)
        return ret;
    for (size_t i = 0; i < H_FEATURES; i++)
        if ((ret = need(v, i, hello_keys, "hello", err)) < 0)
            return ret;
#define F(name) sub(f, sizeof(f), "hello", name)
    if ((ret = get_uint(v[H_PROTOCOL], F("protocol"), UINT64_MAX, &h->protocol, err)) < 0 ||
        (ret = get_text(v[H_VERSION], F("helper_version"), CPS_MAX_SHORT_TEXT, &h->helper_version,
                        err)) < 0 ||
        (ret = get_name_set(v[H_BACKENDS], F("backends"), CPS_MAX_CAPS, backend_bit, &h->backends,
                            err)) < 0 ||
        (ret = get_name_set(v[H_OVERLAYS], F("overlay_modes"), CPS_MAX_CAPS, overlay_bit,
                            &h->overlay_modes, err)) < 0 ||
        (ret = get_uint(v[H_MAX_FRAME], F("max_frame"), UINT64_MAX, &h->max_frame, err)) < 0 ||
        (ret = get_uint(v[H_MAX_CHUNK], F("max_chunk"), UINT64_MAX, &h->max_chunk, err)) < 0 ||
        (ret = get_u32(v[H_UID], F("uid"), UINT32_MAX - 1, &h->uid, err)) < 0 ||
        (ret = get_u32(v[H_GID], F("gid"), UINT32_MAX - 1, &h->gid, err)) < 0 ||
        (ret = get_backend(v[H_BACKEND], F("backend"), &h->backend, err)) < 0 ||
        (ret = get_bool(v[H_SECCOMP], F("seccomp"), &h->seccomp, err)) < 0)
        return ret;
    h->has_features = v[H_FEATURES] != NULL;
    if (h->has_features &&
        (ret = get_name_set(v[H_FEATURES], F("features"), CPS_MAX_FEATURES, feature_bit,
                            &h->features, err)) < 0)
        return ret;
    /* Absent is 0; present, 0 would say "no job left", which a helper never
     * invites: it exits instead (docs/PROTOCOL.md, "Serving several jobs"). */
    if (v[H_REUSE] != NULL) {
        if ((ret = get_u32(v[H_REUSE], F("reuse"), CPS_MAX_JOBS_PER_HELPER, &h->reuse, err)) < 0)
            return ret;
        if (h->reuse == 0)
            return fail(err, F("reuse"), "0 is not a number of jobs (1..%u)",
                        (unsigned)CPS_MAX_JOBS_PER_HELPER);
    }
#undef F
    return 0;
}

enum { L_TIMEOUT, L_OUTPUT, L_CPU, L_AS, L_FSIZE, L_NOFILE, L_NPROC, L_TMP, L_SCRATCH, L_COUNT };
static const char *const limit_keys[L_COUNT] = {"timeout_ms",    "max_output_bytes", "cpu_seconds",
                                                "address_space", "file_size",        "open_files",
                                                "processes",     "tmp_bytes",        "scratch_bytes"};

static int decode_limits(const cbor_item_t *it, struct cps_job_limits *l, struct cps_error *err)
{
    const cbor_item_t *v[L_COUNT];
    uint64_t *dst[L_COUNT] = {&l->timeout_ms,    &l->max_output_bytes, &l->cpu_seconds,
                              &l->address_space, &l->file_size,        &l->open_files,
                              &l->processes,     &l->tmp_bytes,        &l->scratch_bytes};
    char f[64];
    int ret = map_fields(it, "job.limits", limit_keys, L_COUNT, v, err);

    if (ret < 0)
        return ret;
    for (size_t i = 0; i < L_COUNT; i++) {
        if (v[i] && (ret = get_uint(v[i], sub(f, sizeof(f), "job.limits", limit_keys[i]),
                                    UINT64_MAX, dst[i], err)) < 0)
            return ret;
    }
    return 0;
}

enum { I_PATH, I_MODE, I_SIZE, I_COUNT };
static const char *const input_decl_keys[I_COUNT] = {"path", "mode", "size"};

static int decode_input_decl(const cbor_item_t *it, const char *field, struct cps_input_decl *d,
                             struct cps_error *err)
{
    const cbor_item_t *v[I_COUNT];
    char f[96];
    int ret = map_fields(it, field, input_decl_keys, I_COUNT, v, err);

    if (ret < 0)
        return ret;
    for (size_t i = 0; i < I_COUNT; i++)
        if ((ret = need(v, i, input_decl_keys, field, err)) < 0)
            return ret;
    if ((ret = get_text(v[I_PATH], sub(f, sizeof(f), field, "path"), CPS_MAX_PATH, &d->path, err)) <
            0 ||
        (ret = get_u32(v[I_MODE], sub(f, sizeof(f), field, "mode"), 07777, &d->mode, err)) < 0 ||
        (ret = get_uint(v[I_SIZE], sub(f, sizeof(f), field, "size"), UINT64_MAX, &d->size, err)) <
            0)
        return ret;
    return 0;
}

/* Element i of the array field (for the messages) as a two-item array, what
 * saying which (e.g. "[name, value]"); *pair is borrowed from it. */
static int get_pair(const cbor_item_t *it, const char *field, size_t i, const char *what,
                    cbor_item_t ***pair, struct cps_error *err)
{
    char f[64];
    size_t n;

    snprintf(f, sizeof(f), "%s[%zu]", field, i);
    if (!cbor_isa_array(it))
        return fail(err, f, "expected a %s array, got %s", what, kind(it));
    return get_array(it, f, 2, 2, pair, &n, err);
}

/* An array of text strings into a new char*[]. */
static int get_strv(const cbor_item_t *it, const char *field, size_t min, size_t max,
                    size_t text_max, const char ***out, size_t *count, struct cps_error *err)
{
    cbor_item_t **items;
    size_t n;
    char f[64];
    int ret = get_array(it, field, min, max, &items, &n, err);
    const char **v;

    if (ret < 0)
        return ret;
    v = calloc(n ? n : 1, sizeof(*v));
    if (!v)
        return no_memory(err, field);
    *out = v;
    *count = n;
    for (size_t i = 0; i < n; i++) {
        snprintf(f, sizeof(f), "%s[%zu]", field, i);
        if ((ret = get_text(items[i], f, text_max, &v[i], err)) < 0)
            return ret;
    }
    return 0;
}

enum {
    J_TYPE,
    J_TOOLCHAIN,
    J_BUILD_DIR,
    J_ARGV,
    J_ENV,
    J_CWD,
    J_OUTPUTS,
    J_INPUTS,
    J_BACKEND,
    J_OVERLAY,
    J_UID,
    J_GID,
    J_SECCOMP,
    J_LIMITS,
    J_COUNT
};
static const char *const job_keys[J_COUNT] = {
    "type",   "toolchain", "build_dir", "argv", "env", "cwd",     "outputs",
    "inputs", "backend",   "overlay",   "uid",  "gid", "seccomp", "limits"};

static int decode_env(const cbor_item_t *it, struct cps_job *j, struct cps_error *err)
{
    cbor_item_t **items;
    size_t n;
    char f[64];
    int ret = get_array(it, "job.env", 0, CPS_MAX_ENV, &items, &n, err);

    if (ret < 0)
        return ret;
    j->env = calloc(n ? n : 1, sizeof(*j->env));
    if (!j->env)
        return no_memory(err, "job.env");
    j->envc = n;
    for (size_t i = 0; i < n; i++) {
        cbor_item_t **pair;

        if ((ret = get_pair(items[i], "job.env", i, "[name, value]", &pair, err)) < 0)
            return ret;
        snprintf(f, sizeof(f), "job.env[%zu][0]", i);
        if ((ret = get_text(pair[0], f, CPS_MAX_TEXT, &j->env[i].name, err)) < 0)
            return ret;
        snprintf(f, sizeof(f), "job.env[%zu][1]", i);
        if ((ret = get_text(pair[1], f, CPS_MAX_TEXT, &j->env[i].value, err)) < 0)
            return ret;
    }
    return 0;
}

static int decode_job(const cbor_item_t *root, struct cps_job *j, struct cps_error *err)
{
    const cbor_item_t *v[J_COUNT];
    cbor_item_t **items;
    size_t n;
    char f[64];
    int ret = map_fields(root, "job", job_keys, J_COUNT, v, err);

    if (ret < 0)
        return ret;
    for (size_t i = 0; i <= J_INPUTS; i++)
        if ((ret = need(v, i, job_keys, "job", err)) < 0)
            return ret;
#define F(name) sub(f, sizeof(f), "job", name)
    if ((ret = get_text(v[J_TOOLCHAIN], F("toolchain"), CPS_MAX_PATH, &j->toolchain, err)) < 0 ||
        (ret = get_text(v[J_BUILD_DIR], F("build_dir"), CPS_MAX_PATH, &j->build_dir, err)) < 0 ||
        (ret = get_strv(v[J_ARGV], F("argv"), 1, CPS_MAX_ARGV, CPS_MAX_TEXT, &j->argv, &j->argc,
                        err)) < 0 ||
        (ret = decode_env(v[J_ENV], j, err)) < 0 ||
        (ret = get_text(v[J_CWD], F("cwd"), CPS_MAX_PATH, &j->cwd, err)) < 0 ||
        (ret = get_strv(v[J_OUTPUTS], F("outputs"), 0, CPS_MAX_OUTPUTS, CPS_MAX_PATH, &j->outputs,
                        &j->outputc, err)) < 0)
        return ret;
    if ((ret = get_array(v[J_INPUTS], "job.inputs", 0, CPS_MAX_INPUTS, &items, &n, err)) < 0)
        return ret;
    j->inputs = calloc(n ? n : 1, sizeof(*j->inputs));
    if (!j->inputs)
        return no_memory(err, "job.inputs");
    j->inputc = n;
    for (size_t i = 0; i < n; i++) {
        char field[64];
        snprintf(field, sizeof(field), "job.inputs[%zu]", i);
        if ((ret = decode_input_decl(items[i], field, &j->inputs[i], err)) < 0)
            return ret;
    }
    if (v[J_BACKEND] && (ret = get_backend(v[J_BACKEND], F("backend"), &j->backend, err)) < 0)
        return ret;
    if (v[J_OVERLAY] && (ret = get_overlay(v[J_OVERLAY], F("overlay"), true, &j->overlay, err)) < 0)
        return ret;
    if (v[J_UID]) {
        if ((ret = get_u32(v[J_UID], F("uid"), UINT32_MAX - 1, &j->uid, err)) < 0)
            return ret;
        j->has_uid = true;
    }
    if (v[J_GID]) {
        if ((ret = get_u32(v[J_GID], F("gid"), UINT32_MAX - 1, &j->gid, err)) < 0)
            return ret;
        j->has_gid = true;
    }
    if (v[J_SECCOMP]) {
        if ((ret = get_bool(v[J_SECCOMP], F("seccomp"), &j->seccomp, err)) < 0)
            return ret;
        j->has_seccomp = true;
    }
    if (v[J_LIMITS] && (ret = decode_limits(v[J_LIMITS], &j->limits, err)) < 0)
        return ret;
#undef F
    return 0;
}

enum { IN_TYPE, IN_PATH, IN_DATA, IN_END, IN_COUNT };
static const char *const input_keys[IN_COUNT] = {"type", "path", "data", "end"};

static int decode_input(const cbor_item_t *root, struct cps_input *in, struct cps_error *err)
{
    const cbor_item_t *v[IN_COUNT];
    int ret = map_fields(root, "input", input_keys, IN_COUNT, v, err);

    if (ret < 0)
        return ret;
    for (size_t i = 0; i < IN_COUNT; i++)
        if ((ret = need(v, i, input_keys, "input", err)) < 0)
            return ret;
    if ((ret = get_text(v[IN_PATH], "input.path", CPS_MAX_PATH, &in->path, err)) < 0 ||
        (ret = get_bytes(v[IN_DATA], "input.data", &in->data, &in->data_len, err)) < 0 ||
        (ret = get_bool(v[IN_END], "input.end", &in->end, err)) < 0)
        return ret;
    return 0;
}

static const char *const cancel_keys[1] = {"type"};

static int decode_cancel(const cbor_item_t *root, struct cps_error *err)
{
    const cbor_item_t *v[1];

    return map_fields(root, "cancel", cancel_keys, 1, v, err);
}

static const char *const stream_keys[2] = {"type", "data"};

static int decode_stream(const cbor_item_t *root, const char *name, struct cps_stream *s,
                         struct cps_error *err)
{
    const cbor_item_t *v[2];
    char f[32];
    int ret = map_fields(root, name, stream_keys, 2, v, err);

    if (ret < 0)
        return ret;
    if ((ret = need(v, 1, stream_keys, name, err)) < 0)
        return ret;
    return get_bytes(v[1], sub(f, sizeof(f), name, "data"), &s->data, &s->data_len, err);
}

enum { O_TYPE, O_PATH, O_MISSING, O_MODE, O_SIZE, O_DATA, O_END, O_COUNT };
static const char *const output_keys[O_COUNT] = {"type", "path", "missing", "mode",
                                                 "size", "data", "end"};

static int decode_output(const cbor_item_t *root, struct cps_output *o, struct cps_error *err)
{
    const cbor_item_t *v[O_COUNT];
    int ret = map_fields(root, "output", output_keys, O_COUNT, v, err);

    if (ret < 0)
        return ret;
    if ((ret = need(v, O_PATH, output_keys, "output", err)) < 0)
        return ret;
    if ((ret = get_text(v[O_PATH], "output.path", CPS_MAX_PATH, &o->path, err)) < 0)
        return ret;
    if (v[O_MISSING]) {
        /* {type, path, missing: true} and nothing else. */
        if ((ret = get_bool(v[O_MISSING], "output.missing", &o->missing, err)) < 0)
            return ret;
        if (!o->missing)
            return fail(err, "output.missing", "must be true when present");
        for (size_t i = O_MODE; i < O_COUNT; i++)
            if (v[i])
                return fail(err, "output", "key \"%s\" is not allowed with \"missing\"",
                            output_keys[i]);
        return 0;
    }
    for (size_t i = O_MODE; i < O_COUNT; i++)
        if ((ret = need(v, i, output_keys, "output", err)) < 0)
            return ret;
    if ((ret = get_u32(v[O_MODE], "output.mode", 07777, &o->mode, err)) < 0 ||
        (ret = get_uint(v[O_SIZE], "output.size", UINT64_MAX, &o->size, err)) < 0 ||
        (ret = get_bytes(v[O_DATA], "output.data", &o->data, &o->data_len, err)) < 0 ||
        (ret = get_bool(v[O_END], "output.end", &o->end, err)) < 0)
        return ret;
    return 0;
}

enum {
    E_TYPE,
    E_CODE,
    E_SIGNAL,
    E_TIMED_OUT,
    E_LIMIT,
    E_WALL,
    E_USER,
    E_SYS,
    E_RSS,
    E_BACKEND,
    E_OVERLAY,
    E_TIMINGS,
    E_COUNT
};
static const char *const exit_keys[E_COUNT] = {"type",       "code",    "signal",  "timed_out",
                                               "limit",      "wall_us", "user_us", "sys_us",
                                               "max_rss_kb", "backend", "overlay", "timings"};

static int decode_exit(const cbor_item_t *root, struct cps_exit *e, struct cps_error *err)
{
    const cbor_item_t *v[E_COUNT];
    cbor_item_t **items;
    size_t n;
    uint64_t value;
    char f[64];
    int ret = map_fields(root, "exit", exit_keys, E_COUNT, v, err);

    if (ret < 0)
        return ret;
    if (v[E_CODE] && v[E_SIGNAL])
        return fail(err, "exit", "both \"code\" and \"signal\" are present");
    if (!v[E_CODE] && !v[E_SIGNAL])
        return fail(err, "exit", "missing key \"code\" (or \"signal\")");
    for (size_t i = E_TIMED_OUT; i < E_COUNT; i++)
        if (i != E_LIMIT && (ret = need(v, i, exit_keys, "exit", err)) < 0)
            return ret;
    if (v[E_CODE]) {
        if ((ret = get_uint(v[E_CODE], "exit.code", 255, &value, err)) < 0)
            return ret;
        e->code = (int32_t)value;
    } else {
        if ((ret = get_uint(v[E_SIGNAL], "exit.signal", 64, &value, err)) < 0)
            return ret;
        if (value == 0)
            return fail(err, "exit.signal", "signal 0 is not 1..64");
        e->signaled = true;
        e->signal = (uint32_t)value;
    }
#define F(name) sub(f, sizeof(f), "exit", name)
    if ((ret = get_bool(v[E_TIMED_OUT], F("timed_out"), &e->timed_out, err)) < 0 ||
        (v[E_LIMIT] &&
         (ret = get_text(v[E_LIMIT], F("limit"), CPS_MAX_SHORT_TEXT, &e->limit, err)) < 0) ||
        (ret = get_uint(v[E_WALL], F("wall_us"), UINT64_MAX, &e->wall_us, err)) < 0 ||
        (ret = get_uint(v[E_USER], F("user_us"), UINT64_MAX, &e->user_us, err)) < 0 ||
        (ret = get_uint(v[E_SYS], F("sys_us"), UINT64_MAX, &e->sys_us, err)) < 0 ||
        (ret = get_uint(v[E_RSS], F("max_rss_kb"), UINT64_MAX, &e->max_rss_kb, err)) < 0 ||
        (ret = get_backend(v[E_BACKEND], F("backend"), &e->backend, err)) < 0 ||
        (ret = get_overlay(v[E_OVERLAY], F("overlay"), false, &e->overlay, err)) < 0 ||
        (ret = get_array(v[E_TIMINGS], F("timings"), 0, CPS_MAX_TIMINGS, &items, &n, err)) < 0)
        return ret;
#undef F
    e->timings = calloc(n ? n : 1, sizeof(*e->timings));
    if (!e->timings)
        return no_memory(err, "exit.timings");
    e->timingc = n;
    for (size_t i = 0; i < n; i++) {
        cbor_item_t **pair;

        if ((ret = get_pair(items[i], "exit.timings", i, "[stage, usec]", &pair, err)) < 0)
            return ret;
        snprintf(f, sizeof(f), "exit.timings[%zu][0]", i);
        if ((ret = get_text(pair[0], f, CPS_MAX_SHORT_TEXT, &e->timings[i].stage, err)) < 0)
            return ret;
        snprintf(f, sizeof(f), "exit.timings[%zu][1]", i);
        if ((ret = get_uint(pair[1], f, UINT64_MAX, &e->timings[i].usec, err)) < 0)
            return ret;
    }
    return 0;
}

enum { R_TYPE, R_STAGE, R_ERRNO, R_MESSAGE, R_HINT, R_COUNT };
static const char *const error_keys[R_COUNT] = {"type", "stage", "errno", "message", "hint"};

static int decode_error(const cbor_item_t *root, struct cps_error *e, struct cps_error *err)
{
    const cbor_item_t *v[R_COUNT];
    uint64_t value;
    int ret = map_fields(root, "error", error_keys, R_COUNT, v, err);

    if (ret < 0)
        return ret;
    for (size_t i = 0; i < R_COUNT; i++)
        if ((ret = need(v, i, error_keys, "error", err)) < 0)
            return ret;
    if ((ret = get_text_into(v[R_STAGE], "error.stage", CPS_MAX_SHORT_TEXT, e->stage,
                             sizeof(e->stage), err)) < 0 ||
        (ret = get_uint(v[R_ERRNO], "error.errno", INT32_MAX, &value, err)) < 0 ||
        (ret = get_text_into(v[R_MESSAGE], "error.message", CPS_MAX_MESSAGE, e->message,
                             sizeof(e->message), err)) < 0 ||
        (ret = get_text_into(v[R_HINT], "error.hint", CPS_MAX_MESSAGE, e->hint, sizeof(e->hint),
                             err)) < 0)
        return ret;
    e->errnum = (int)value;
    return 0;
}

static const struct {
    const char *name;
    enum cps_msg_type type;
} types[] = {
    {"hello", CPS_MSG_HELLO},   {"job", CPS_MSG_JOB},       {"input", CPS_MSG_INPUT},
    {"cancel", CPS_MSG_CANCEL}, {"stdout", CPS_MSG_STDOUT}, {"stderr", CPS_MSG_STDERR},
    {"output", CPS_MSG_OUTPUT}, {"exit", CPS_MSG_EXIT},     {"error", CPS_MSG_ERROR},
};

/* Find the message type: the value of the first "type" key of the map
 * (duplicates are caught by the body's map_fields). */
static int message_type(const cbor_item_t *root, enum cps_msg_type *type, struct cps_error *err)
{
    struct cbor_pair *pairs;
    size_t n;

    if (!cbor_isa_map(root))
        return fail(err, "message", "expected a map, got %s", kind(root));
    n = cbor_map_size(root);
    pairs = cbor_map_handle(root);
    for (size_t i = 0; i < n; i++) {
        const unsigned char *p = NULL;
        size_t len = 0;
        int ret;

        if (!text_eq(pairs[i].key, "type"))
            continue;
        if ((ret = text_view(pairs[i].value, "type", CPS_MAX_SHORT_TEXT, &p, &len, err)) < 0)
            return ret;
        for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++) {
            if (strlen(types[t].name) == len && memcmp(types[t].name, p, len) == 0) {
                *type = types[t].type;
                return 0;
            }
        }
        char q[200];
        quote(q, sizeof(q), p, len);
        return fail(err, "type", "unknown message type \"%s\"", q);
    }
    return fail(err, "message", "missing key \"type\"");
}

static int decode_body(const cbor_item_t *root, struct cps_msg *msg, struct cps_error *err)
{
    switch (msg->type) {
    case CPS_MSG_HELLO:
        return decode_hello(root, &msg->u.hello, err);
    case CPS_MSG_JOB:
        return decode_job(root, &msg->u.job, err);
    case CPS_MSG_INPUT:
        return decode_input(root, &msg->u.input, err);
    case CPS_MSG_CANCEL:
        return decode_cancel(root, err);
    case CPS_MSG_STDOUT:
        return decode_stream(root, "stdout", &msg->u.stream, err);
    case CPS_MSG_STDERR:
        return decode_stream(root, "stderr", &msg->u.stream, err);
    case CPS_MSG_OUTPUT:
        return decode_output(root, &msg->u.output, err);
    case CPS_MSG_EXIT:
        return decode_exit(root, &msg->u.exit, err);
    case CPS_MSG_ERROR:
        return decode_error(root, &msg->u.error, err);
    }
    return fail(err, "message", "unknown message type");
}

int cps__msg_decode(const uint8_t *buf, size_t len, struct cps_msg *msg, struct cps_error *err)
{
    struct cps_scan scan;
    struct cbor_load_result res;
    cbor_item_t *root;
    bool clean;
    int ret;

    memset(msg, 0, sizeof(*msg));
    if (len == 0 || len > CPS_MAX_FRAME)
        return cps__error_set(err, STAGE, EMSGSIZE, NULL, "frame: %zu bytes, not 1..%u", len,
                              CPS_MAX_FRAME);

    clean = cps__scan_frame(buf, len, &scan);
    /* Version negotiation comes before every other rule: a hello from a
     * helper of another protocol version may look like anything else, and
     * "protocol 2 vs 1" is the one message that tells the operator what to
     * do. */
    if (scan.is_hello && scan.has_protocol && scan.protocol != CPS_PROTOCOL_VERSION)
        return cps__error_set(err, STAGE, EPROTONOSUPPORT,
                              "install a cachepot-dist-sandbox helper from the same release "
                              "as the library",
                              "helper speaks protocol %llu, this side speaks %d",
                              (unsigned long long)scan.protocol, CPS_PROTOCOL_VERSION);
    if (!clean)
        return cps__error_set(err, STAGE, EPROTO, NULL, "%s", scan.violation);

    root = cbor_load(buf, len, &res);
    if (!root || res.error.code != CBOR_ERR_NONE) {
        int e = res.error.code == CBOR_ERR_MEMERROR ? ENOMEM : EPROTO;
        if (root)
            cbor_decref(&root);
        return cps__error_set(err, STAGE, e, NULL,
                              "frame: libcbor could not load it (error %d at byte %zu)",
                              (int)res.error.code, res.error.position);
    }
    if (res.read != len) {
        cbor_decref(&root);
        return cps__error_set(err, STAGE, EPROTO, NULL,
                              "frame: %zu trailing bytes after the message", len - res.read);
    }

    ret = message_type(root, &msg->type, err);
    if (ret == 0)
        ret = decode_body(root, msg, err);
    cbor_decref(&root);
    if (ret == 0)
        ret = cps__msg_check(msg, EPROTO, STAGE, err);
    if (ret < 0)
        cps__msg_free(msg);
    return ret;
}
