/* scan.c - allocation-free pre-scan of untrusted CBOR (see scan.h). */
#include "scan.h"

#include <cbor.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cps_limits.h"
#include "utf8.h"

/* How deep the walk follows a frame that already broke a rule (to find the
 * "protocol" of a hello from another version); deeper frames stop the walk. */
#define WALK_DEPTH 32

enum kind {
    K_NONE,
    K_UINT,
    K_NEGINT,
    K_BYTES,
    K_TEXT,
    K_BYTES_INDEF,
    K_TEXT_INDEF,
    K_ARRAY,
    K_ARRAY_INDEF,
    K_MAP,
    K_MAP_INDEF,
    K_TAG,
    K_FLOAT,
    K_NULL,
    K_UNDEFINED,
    K_BOOL,
    K_BREAK,
};

enum pending { P_NONE, P_TYPE, P_PROTOCOL };

struct level {
    bool indefinite;
    bool is_map;
    bool is_string;     /* an indefinite-length string (its chunks) */
    uint64_t remaining; /* items still expected (definite containers) */
    uint64_t seen;      /* items completed so far */
    /* Maps: the last key, when it was a short printable text, for naming
     * the field of a violation ("job.argv[1]"). */
    char key[40];
};

struct walk {
    struct cps_scan *out;
    /* The event the last cbor_stream_decode call reported. */
    enum kind kind;
    uint64_t value; /* integer value, container size, tag number */
    const uint8_t *data;
    size_t data_len;

    struct level stack[WALK_DEPTH];
    unsigned depth;
    bool done;            /* the top-level item is complete */
    uint64_t outstanding; /* items declared by open definite containers, not yet begun */
    uint64_t items;
    enum pending pending; /* what the current top-level value is the value of */
    char type[24];        /* the top-level "type", when printable */
    char where[160];      /* the field of a violation whose message is in what */
    char what[128];
};

static struct walk *W(void *ctx)
{
    return ctx;
}

static void on_uint8(void *c, uint8_t v)
{
    W(c)->kind = K_UINT;
    W(c)->value = v;
}
static void on_uint16(void *c, uint16_t v)
{
    W(c)->kind = K_UINT;
    W(c)->value = v;
}
static void on_uint32(void *c, uint32_t v)
{
    W(c)->kind = K_UINT;
    W(c)->value = v;
}
static void on_uint64(void *c, uint64_t v)
{
    W(c)->kind = K_UINT;
    W(c)->value = v;
}
static void on_negint8(void *c, uint8_t v)
{
    W(c)->kind = K_NEGINT;
}
static void on_negint16(void *c, uint16_t v)
{
    W(c)->kind = K_NEGINT;
}
static void on_negint32(void *c, uint32_t v)
{
    W(c)->kind = K_NEGINT;
}
static void on_negint64(void *c, uint64_t v)
{
    W(c)->kind = K_NEGINT;
}
static void on_bytes(void *c, cbor_data d, size_t n)
{
    W(c)->kind = K_BYTES;
    W(c)->data = d;
    W(c)->data_len = n;
}
static void on_bytes_indef(void *c)
{
    W(c)->kind = K_BYTES_INDEF;
}
static void on_text(void *c, cbor_data d, size_t n)
{
    W(c)->kind = K_TEXT;
    W(c)->data = d;
    W(c)->data_len = n;
}
static void on_text_indef(void *c)
{
    W(c)->kind = K_TEXT_INDEF;
}
static void on_array(void *c, size_t n)
{
    W(c)->kind = K_ARRAY;
    W(c)->value = n;
}
static void on_array_indef(void *c)
{
    W(c)->kind = K_ARRAY_INDEF;
}
static void on_map(void *c, size_t n)
{
    W(c)->kind = K_MAP;
    W(c)->value = n;
}
static void on_map_indef(void *c)
{
    W(c)->kind = K_MAP_INDEF;
}
static void on_tag(void *c, uint64_t v)
{
    W(c)->kind = K_TAG;
    W(c)->value = v;
}
static void on_float(void *c, float v)
{
    W(c)->kind = K_FLOAT;
}
static void on_double(void *c, double v)
{
    W(c)->kind = K_FLOAT;
}
static void on_null(void *c)
{
    W(c)->kind = K_NULL;
}
static void on_undefined(void *c)
{
    W(c)->kind = K_UNDEFINED;
}
static void on_bool(void *c, bool v)
{
    W(c)->kind = K_BOOL;
    W(c)->value = v;
}
static void on_break(void *c)
{
    W(c)->kind = K_BREAK;
}

/* Note libcbor 0.8's member names: byte_string_start/string_start and the
 * *_indef_* members are the indefinite forms, the others the definite ones. */
static const struct cbor_callbacks callbacks = {
    .uint8 = on_uint8,
    .uint16 = on_uint16,
    .uint32 = on_uint32,
    .uint64 = on_uint64,
    .negint8 = on_negint8,
    .negint16 = on_negint16,
    .negint32 = on_negint32,
    .negint64 = on_negint64,
    .byte_string = on_bytes,
    .byte_string_start = on_bytes_indef,
    .string = on_text,
    .string_start = on_text_indef,
    .array_start = on_array,
    .indef_array_start = on_array_indef,
    .map_start = on_map,
    .indef_map_start = on_map_indef,
    .tag = on_tag,
    .float2 = on_float,
    .float4 = on_float,
    .float8 = on_double,
    .null = on_null,
    .undefined = on_undefined,
    .boolean = on_bool,
    .indef_break = on_break,
};

static void violate(struct walk *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void violate(struct walk *w, const char *fmt, ...)
{
    va_list ap;

    if (w->out->violation[0])
        return;
    va_start(ap, fmt);
    vsnprintf(w->out->violation, sizeof(w->out->violation), fmt, ap);
    va_end(ap);
}

static bool text_is(const struct walk *w, const char *s)
{
    return w->kind == K_TEXT && w->data_len == strlen(s) && memcmp(w->data, s, w->data_len) == 0;
}

/* Copy s when it is printable ASCII that fits, else leave dst empty. */
static void copy_printable(char *dst, size_t size, const uint8_t *s, size_t len)
{
    dst[0] = '\0';
    if (len == 0 || len >= size)
        return;
    for (size_t i = 0; i < len; i++)
        if (s[i] < 0x21 || s[i] > 0x7e || s[i] == '"' || s[i] == '\\')
            return;
    memcpy(dst, s, len);
    dst[len] = '\0';
}

/* Where the item that begins now sits, as "job.argv[1]" without the
 * message type (known only at the end of the walk): ".argv[1]". */
static void render_where(struct walk *w)
{
    size_t o = 0;

    w->where[0] = '\0';
    for (unsigned i = 0; i < w->depth && o < sizeof(w->where); i++) {
        const struct level *l = &w->stack[i];
        int r;

        if (l->is_string)
            break;
        if (l->is_map && l->seen % 2 == 0)
            r = snprintf(w->where + o, sizeof(w->where) - o, " (a map key)");
        else if (l->is_map)
            r = snprintf(w->where + o, sizeof(w->where) - o, ".%s", l->key[0] ? l->key : "?");
        else
            r = snprintf(w->where + o, sizeof(w->where) - o, "[%" PRIu64 "]", l->seen);
        if (r < 0)
            break;
        o += (size_t)r;
    }
}

/* A definite text string begins: protocol text must be UTF-8, and libcbor
 * 0.8's cbor_load refuses invalid UTF-8 with a bare "syntax error", so the
 * pre-scan is where the field can still be named. */
static void check_text(struct walk *w)
{
    struct level *top = w->depth ? &w->stack[w->depth - 1] : NULL;

    if (!w->what[0] && !cps__utf8_valid((const char *)w->data, w->data_len)) {
        render_where(w);
        snprintf(w->what, sizeof(w->what), "text is not valid UTF-8");
    }
    if (top && top->is_map && top->seen % 2 == 0)
        copy_printable(top->key, sizeof(top->key), w->data, w->data_len);
}

/* An item begins: if it is a key or value of the top-level map, remember
 * "type" and "protocol" for the hello peek. */
static void peek(struct walk *w)
{
    struct level *top;

    if (w->depth != 1 || !w->stack[0].is_map)
        return;
    top = &w->stack[0];
    if (top->seen % 2 == 0) {
        w->pending = text_is(w, "type") ? P_TYPE : text_is(w, "protocol") ? P_PROTOCOL : P_NONE;
        return;
    }
    if (w->pending == P_TYPE && text_is(w, "hello"))
        w->out->is_hello = true;
    if (w->pending == P_TYPE && w->kind == K_TEXT && !w->type[0])
        copy_printable(w->type, sizeof(w->type), w->data, w->data_len);
    if (w->pending == P_PROTOCOL && w->kind == K_UINT && !w->out->has_protocol) {
        w->out->has_protocol = true;
        w->out->protocol = w->value;
    }
    w->pending = P_NONE;
}

/* An item is complete: count it in its parent, closing every definite
 * container it completes. */
static void complete(struct walk *w)
{
    while (w->depth > 0) {
        struct level *top = &w->stack[w->depth - 1];

        top->seen++;
        if (top->indefinite)
            return;
        top->remaining--;
        if (top->remaining > 0)
            return;
        w->depth--;
    }
    w->done = true;
}

/* Open a container of n items (definite) or of unknown size. Returns false
 * when the walk cannot go on. */
static bool open_container(struct walk *w, size_t pos, bool is_map, bool indefinite, uint64_t n,
                           size_t left)
{
    const char *what = is_map ? "map" : "array";

    if (w->depth + 1 > CPS_MAX_DEPTH)
        violate(w, "frame: %s at byte %zu nests deeper than %d levels", what, pos, CPS_MAX_DEPTH);
    if (indefinite) {
        violate(w, "frame: indefinite-length %s at byte %zu (only definite lengths are allowed)",
                what, pos);
    } else {
        uint64_t items = n;
        if (is_map) {
            if (n > UINT64_MAX / 2) {
                violate(w, "frame: map at byte %zu declares %" PRIu64 " entries", pos, n);
                return false;
            }
            items = 2 * n;
        }
        /* Every declared item takes at least one byte: a count above the bytes
         * left (counting the items enclosing containers still expect) is a
         * lie, and believing it is what makes cbor_load allocate gigabytes. */
        if (items > left) {
            violate(w,
                    "frame: %s at byte %zu declares %" PRIu64 " items but only %zu bytes are left",
                    what, pos, items, left);
            return false;
        }
        if (w->outstanding + items > left) {
            violate(w,
                    "frame: %s at byte %zu declares %" PRIu64 " items; with the %" PRIu64
                    " items the enclosing containers still expect that is more than the %zu "
                    "bytes left",
                    what, pos, items, w->outstanding, left);
            return false;
        }
        if (items > CPS_MAX_ITEMS - w->items) {
            violate(w, "frame: more than %d items in one frame", CPS_MAX_ITEMS);
            return false;
        }
        w->items += items;
        if (items == 0) {
            complete(w);
            return true;
        }
        w->outstanding += items;
    }
    if (w->depth >= WALK_DEPTH)
        return false;
    w->stack[w->depth++] = (struct level){
        .key = "",
        .indefinite = indefinite,
        .is_map = is_map,
        .remaining = indefinite ? 0 : n * (is_map ? 2 : 1),
    };
    return true;
}

/* Declared length of the definite string whose head is at p (for the
 * message when cbor_stream_decode reports missing bytes). */
static bool string_head(const uint8_t *p, size_t left, uint64_t *declared, size_t *head)
{
    unsigned ai = p[0] & 0x1f;
    size_t extra;

    if (ai < 24) {
        *declared = ai;
        *head = 1;
        return true;
    }
    if (ai > 27)
        return false;
    extra = (size_t)1 << (ai - 24);
    if (left < 1 + extra)
        return false;
    *declared = 0;
    for (size_t i = 0; i < extra; i++)
        *declared = *declared << 8 | p[1 + i];
    *head = 1 + extra;
    return true;
}

static void report_short(struct walk *w, const uint8_t *buf, size_t len, size_t pos)
{
    unsigned major = buf[pos] >> 5;
    uint64_t declared;
    size_t head;

    if ((major == 2 || major == 3) && string_head(buf + pos, len - pos, &declared, &head))
        violate(w, "frame: %s at byte %zu declares %" PRIu64 " bytes but only %zu bytes are left",
                major == 2 ? "byte string" : "text string", pos, declared, len - pos - head);
    else
        violate(w, "frame: truncated CBOR item at byte %zu", pos);
}

bool cps__scan_frame(const uint8_t *buf, size_t len, struct cps_scan *scan)
{
    struct walk w = {.out = scan};
    size_t pos = 0;
    bool top_is_map = false;

    memset(scan, 0, sizeof(*scan));
    if (len == 0) {
        violate(&w, "frame: empty");
        return false;
    }
    while (pos < len) {
        struct cbor_decoder_result r;
        size_t left;

        if (w.done) {
            violate(&w, "frame: %zu trailing bytes after the message", len - pos);
            break;
        }
        w.kind = K_NONE;
        r = cbor_stream_decode(buf + pos, len - pos, &callbacks, &w);
        if (r.status == CBOR_DECODER_NEDATA) {
            report_short(&w, buf, len, pos);
            break;
        }
        if (r.status != CBOR_DECODER_FINISHED || w.kind == K_NONE) {
            violate(&w, "frame: malformed CBOR at byte %zu", pos);
            break;
        }
        left = len - pos - r.read;
        if (w.depth == 0 && w.kind != K_TAG)
            top_is_map = w.kind == K_MAP || w.kind == K_MAP_INDEF;
        /* An item begins (a break ends one, a tag only prefixes one). */
        if (w.kind != K_BREAK && w.kind != K_TAG && w.depth > 0 && !w.stack[w.depth - 1].indefinite)
            w.outstanding--;
        if (w.kind == K_TEXT)
            check_text(&w);
        peek(&w);

        switch (w.kind) {
        case K_UINT:
        case K_NEGINT:
        case K_BYTES:
        case K_TEXT:
        case K_BOOL:
            complete(&w);
            break;
        case K_FLOAT:
            violate(&w, "frame: floating-point number at byte %zu (not allowed)", pos);
            complete(&w);
            break;
        case K_NULL:
        case K_UNDEFINED:
            violate(&w, "frame: %s at byte %zu (not allowed)",
                    w.kind == K_NULL ? "null" : "undefined", pos);
            complete(&w);
            break;
        case K_TAG:
            /* A tag prefixes the item that follows; that item fills the slot. */
            violate(&w, "frame: tag %" PRIu64 " at byte %zu (tags are not allowed)", w.value, pos);
            break;
        case K_BYTES_INDEF:
        case K_TEXT_INDEF:
            violate(&w,
                    "frame: indefinite-length %s at byte %zu (only definite lengths are allowed)",
                    w.kind == K_BYTES_INDEF ? "byte string" : "text string", pos);
            if (w.depth >= WALK_DEPTH)
                goto stop;
            w.stack[w.depth++] = (struct level){.indefinite = true, .is_string = true};
            break;
        case K_ARRAY:
        case K_MAP:
        case K_ARRAY_INDEF:
        case K_MAP_INDEF:
            if (!open_container(&w, pos, w.kind == K_MAP || w.kind == K_MAP_INDEF,
                                w.kind == K_ARRAY_INDEF || w.kind == K_MAP_INDEF, w.value, left))
                goto stop;
            break;
        case K_BREAK:
            if (w.depth == 0 || !w.stack[w.depth - 1].indefinite) {
                violate(&w, "frame: unexpected break at byte %zu", pos);
                goto stop;
            }
            w.depth--;
            complete(&w);
            break;
        case K_NONE:
            break;
        }
        pos += r.read;
    }
    if (!w.done)
        violate(&w, "frame: truncated message (%zu bytes)", len);
stop:
    /* Checked last so that the more telling violations of a top-level
     * array or string (a declared size of gigabytes) are the ones reported. */
    if (!top_is_map)
        violate(&w, "frame: the message must be a map");
    /* A field-level violation, reported with the message type now known. */
    if (w.what[0])
        violate(&w, "%s%s: %s", w.type[0] ? w.type : "message", w.where, w.what);
    return scan->violation[0] == '\0';
}
