/* proto_stream.c - data messages encoded around, and read in place of, their data. */
#include "proto_stream.h"

#include <errno.h>
#include <string.h>

#include "error.h"
#include "proto_internal.h"
#include "utf8.h"

enum { M_UINT = 0, M_BYTES = 2, M_TEXT = 3, M_MAP = 5 };

/* CBOR simple values false and true (RFC 8949 section 3.3). */
#define CBOR_FALSE 0xf4
#define CBOR_TRUE  0xf5

/* ---- encoding ---- */

/* A head in its shortest form (RFC 8949 section 4.2.1); returns its length. */
static size_t put_head(uint8_t *p, unsigned major, uint64_t v)
{
    size_t n;

    if (v < 24) {
        p[0] = (uint8_t)(major << 5 | v);
        return 1;
    }
    if (v <= UINT8_MAX) {
        p[0] = (uint8_t)(major << 5 | 24);
        n = 1;
    } else if (v <= UINT16_MAX) {
        p[0] = (uint8_t)(major << 5 | 25);
        n = 2;
    } else if (v <= UINT32_MAX) {
        p[0] = (uint8_t)(major << 5 | 26);
        n = 4;
    } else {
        p[0] = (uint8_t)(major << 5 | 27);
        n = 8;
    }
    for (size_t i = 0; i < n; i++)
        p[1 + i] = (uint8_t)(v >> (8 * (n - 1 - i)));
    return 1 + n;
}

static size_t put_text(uint8_t *p, const char *s, size_t len)
{
    size_t n = put_head(p, M_TEXT, len);

    memcpy(p + n, s, len);
    return n + len;
}

static size_t put_word(uint8_t *p, const char *s)
{
    return put_text(p, s, strlen(s));
}

int cps__data_frame_encode(const struct cps_msg *msg, struct cps_data_frame *f,
                           struct cps_error *err)
{
    uint8_t *h = f->head;
    size_t n = 0;
    int ret;

    f->head_len = f->tail_len = 0;
    if (msg->type != CPS_MSG_STDOUT && msg->type != CPS_MSG_STDERR &&
        (msg->type != CPS_MSG_OUTPUT || msg->u.output.missing))
        return cps__error_set(err, CPS_STAGE_ENCODE, EINVAL, NULL,
                              "only stdout, stderr and output chunks are data messages");
    /* The same rules as cps__msg_encode, so that both refuse the same messages;
     * the path check bounds the head to CPS_DATA_HEAD_MAX. */
    ret = cps__msg_check(msg, EINVAL, CPS_STAGE_ENCODE, err);
    if (ret < 0)
        return ret;
    if (msg->type == CPS_MSG_OUTPUT) {
        const struct cps_output *o = &msg->u.output;

        n += put_head(h + n, M_MAP, 6);
        n += put_word(h + n, "type");
        n += put_word(h + n, "output");
        n += put_word(h + n, "path");
        n += put_word(h + n, o->path);
        n += put_word(h + n, "mode");
        n += put_head(h + n, M_UINT, o->mode);
        n += put_word(h + n, "size");
        n += put_head(h + n, M_UINT, o->size);
        n += put_word(h + n, "data");
        n += put_head(h + n, M_BYTES, o->data_len);
        f->tail_len = put_word(f->tail, "end");
        f->tail[f->tail_len++] = o->end ? CBOR_TRUE : CBOR_FALSE;
    } else {
        n += put_head(h + n, M_MAP, 2);
        n += put_word(h + n, "type");
        n += put_word(h + n, cps__msg_type_name(msg->type));
        n += put_word(h + n, "data");
        n += put_head(h + n, M_BYTES, msg->u.stream.data_len);
    }
    f->head_len = n;
    return 0;
}

/* ---- recognising ---- */

/* A cursor over the untrusted payload: every read checks what is left. */
struct in {
    const uint8_t *p;
    size_t len, pos;
};

/* A head of the given major type in its shortest form; false otherwise. */
static bool get_head(struct in *c, unsigned major, uint64_t *v)
{
    unsigned info;
    size_t n;

    if (c->pos >= c->len || c->p[c->pos] >> 5 != major)
        return false;
    info = c->p[c->pos] & 0x1f;
    if (info < 24) {
        *v = info;
        c->pos++;
        return true;
    }
    if (info > 27)
        return false;
    n = (size_t)1 << (info - 24);
    if (c->len - c->pos - 1 < n)
        return false;
    *v = 0;
    for (size_t i = 0; i < n; i++)
        *v = *v << 8 | c->p[c->pos + 1 + i];
    c->pos += 1 + n;
    /* Longer than needed is valid CBOR but not canonical: not ours to take. */
    if (info == 24)
        return *v >= 24;
    return *v > (info == 25 ? UINT8_MAX : info == 26 ? UINT16_MAX : UINT32_MAX);
}

/* A definite string of the given major type: its bytes stay in the payload. */
static bool get_string(struct in *c, unsigned major, size_t max, const uint8_t **s, size_t *len)
{
    uint64_t v;

    if (!get_head(c, major, &v) || v > max || v > c->len - c->pos)
        return false;
    *s = c->p + c->pos;
    *len = (size_t)v;
    c->pos += (size_t)v;
    return true;
}

/* The text string word, exactly; the cursor moves only past a match, so the
 * caller can try another word at the same place. */
static bool get_word(struct in *c, const char *word)
{
    size_t want = strlen(word), len;
    struct in try = *c;
    const uint8_t *s;

    if (!get_string(&try, M_TEXT, want, &s, &len) || len != want || memcmp(s, word, len) != 0)
        return false;
    *c = try;
    return true;
}

static bool get_bool(struct in *c, bool *v)
{
    if (c->pos >= c->len || (c->p[c->pos] != CBOR_FALSE && c->p[c->pos] != CBOR_TRUE))
        return false;
    *v = c->p[c->pos++] == CBOR_TRUE;
    return true;
}

static bool view_stream(struct in *c, struct cps_msg *msg)
{
    const uint8_t *data;
    size_t len;

    if (!get_word(c, "data") || !get_string(c, M_BYTES, CPS_MAX_CHUNK, &data, &len) || len == 0)
        return false;
    msg->u.stream.data = (uint8_t *)(uintptr_t)data;
    msg->u.stream.data_len = len;
    return true;
}

static bool view_output(struct in *c, struct cps_msg *msg, char *path_buf)
{
    struct cps_output *o = &msg->u.output;
    const uint8_t *path, *data;
    size_t path_len, data_len;
    uint64_t mode;

    if (!get_word(c, "path") || !get_string(c, M_TEXT, CPS_MAX_PATH, &path, &path_len) ||
        !cps__path_is_normal((const char *)path, path_len) ||
        !cps__utf8_valid((const char *)path, path_len))
        return false;
    if (!get_word(c, "mode") || !get_head(c, M_UINT, &mode) || mode > 07777)
        return false;
    if (!get_word(c, "size") || !get_head(c, M_UINT, &o->size))
        return false;
    if (!get_word(c, "data") || !get_string(c, M_BYTES, CPS_MAX_CHUNK, &data, &data_len) ||
        data_len > o->size)
        return false;
    if (!get_word(c, "end") || !get_bool(c, &o->end))
        return false;
    memcpy(path_buf, path, path_len);
    path_buf[path_len] = '\0';
    o->path = path_buf;
    o->mode = (uint32_t)mode;
    o->data = (uint8_t *)(uintptr_t)data;
    o->data_len = data_len;
    return true;
}

bool cps__data_frame_view(const uint8_t *payload, size_t len, struct cps_msg *msg,
                          char path_buf[CPS_MAX_PATH + 1])
{
    struct in c = {.p = payload, .len = len};
    uint64_t count;
    bool ok;

    memset(msg, 0, sizeof(*msg));
    if (len == 0 || len > CPS_MAX_FRAME || !get_head(&c, M_MAP, &count) || !get_word(&c, "type"))
        return false;
    if (count == 2 && get_word(&c, "stdout")) {
        msg->type = CPS_MSG_STDOUT;
        ok = view_stream(&c, msg);
    } else if (count == 2 && get_word(&c, "stderr")) {
        msg->type = CPS_MSG_STDERR;
        ok = view_stream(&c, msg);
    } else if (count == 6 && get_word(&c, "output")) {
        msg->type = CPS_MSG_OUTPUT;
        ok = view_output(&c, msg, path_buf);
    } else {
        ok = false;
    }
    /* Trailing bytes are the general decoder's to refuse. */
    if (!ok || c.pos != len) {
        memset(msg, 0, sizeof(*msg));
        return false;
    }
    return true;
}
