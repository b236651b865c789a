/*
 * cbor_diag.h - hand-made CBOR for the protocol tests, written in a small
 * subset of RFC 8949 diagnostic notation so the malformed-input tables stay
 * readable:
 *
 *   {"type": "job", "argv": ["cc", "-c"]}    maps, arrays, text (definite)
 *   h'00ff'  12  -3  true  false  null        byte strings, integers, simple values
 *   "a" * 300   h'00' * 9                     a text (bytes) repeated 300 (9) times
 *   "/" + "a" * 4095                          one text made of several pieces
 *   "\x00"  "\xff"                            any byte inside a text (NUL, bad UTF-8)
 *   <9f 01 ff>                                raw bytes, counted as one item
 *   {...} <00>                                several top-level values in a row
 *
 * Integers and lengths use their shortest encoding. A syntax error aborts the
 * test: the tables are code.
 */
#ifndef CPS_TEST_CBOR_DIAG_H
#define CPS_TEST_CBOR_DIAG_H

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct diag_buf {
    uint8_t *p;
    size_t len, cap;
};

static void diag_put(struct diag_buf *b, const void *data, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n)
            cap *= 2;
        b->p = realloc(b->p, cap);
        if (!b->p)
            abort();
        b->cap = cap;
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
}

static void diag_head(struct diag_buf *b, unsigned major, uint64_t v)
{
    uint8_t h[9];
    size_t n;

    h[0] = (uint8_t)(major << 5);
    if (v < 24) {
        h[0] |= (uint8_t)v;
        n = 1;
    } else if (v <= 0xff) {
        h[0] |= 24;
        n = 2;
    } else if (v <= 0xffff) {
        h[0] |= 25;
        n = 3;
    } else if (v <= 0xffffffffu) {
        h[0] |= 26;
        n = 5;
    } else {
        h[0] |= 27;
        n = 9;
    }
    for (size_t i = 1; i < n; i++)
        h[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
    diag_put(b, h, n);
}

static void diag_fail(const char *src, const char *at, const char *what)
{
    fprintf(stderr, "cbor_diag: %s at offset %zu of: %s\n", what, (size_t)(at - src), src);
    abort();
}

static void diag_ws(const char **s)
{
    while (isspace((unsigned char)**s))
        (*s)++;
}

static int diag_hex(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static void diag_value(const char *src, const char **s, struct diag_buf *out);

/* Items of a container up to the closing character, into their own buffer
 * so the count can be written first. */
static size_t diag_items(const char *src, const char **s, char close, struct diag_buf *items,
                         int per_entry)
{
    size_t count = 0;

    diag_ws(s);
    if (**s == close) {
        (*s)++;
        return 0;
    }
    for (;;) {
        diag_value(src, s, items);
        if (per_entry == 2) {
            diag_ws(s);
            if (**s != ':')
                diag_fail(src, *s, "expected ':'");
            (*s)++;
            diag_value(src, s, items);
        }
        count++;
        diag_ws(s);
        if (**s == ',') {
            (*s)++;
            continue;
        }
        if (**s == close) {
            (*s)++;
            return count;
        }
        diag_fail(src, *s, "expected ',' or the end of a container");
    }
}

static void diag_value(const char *src, const char **s, struct diag_buf *out)
{
    diag_ws(s);
    if (**s == '{' || **s == '[') {
        struct diag_buf items = {0};
        int is_map = **s == '{';
        size_t n;

        (*s)++;
        n = diag_items(src, s, is_map ? '}' : ']', &items, is_map ? 2 : 1);
        diag_head(out, is_map ? 5 : 4, n);
        if (items.len)
            diag_put(out, items.p, items.len);
        free(items.p);
    } else if (**s == '"') {
        struct diag_buf text = {0};

    another_segment:
        (*s)++;
        struct diag_buf seg = {0};
        unsigned long repeat = 1;
        while (**s != '"') {
            uint8_t c = (uint8_t) * *s;
            if (c == '\0')
                diag_fail(src, *s, "unterminated text");
            if (c == '\\') {
                (*s)++;
                if (**s == 'x') {
                    int hi = diag_hex((*s)[1]), lo = hi < 0 ? -1 : diag_hex((*s)[2]);
                    if (lo < 0)
                        diag_fail(src, *s, "bad \\x escape");
                    c = (uint8_t)(hi << 4 | lo);
                    *s += 2;
                } else if (**s == '"' || **s == '\\') {
                    c = (uint8_t) * *s;
                } else {
                    diag_fail(src, *s, "unknown escape");
                }
            }
            diag_put(&seg, &c, 1);
            (*s)++;
        }
        (*s)++;
        diag_ws(s);
        if (**s == '*') {
            char *end;
            (*s)++;
            repeat = strtoul(*s, &end, 10);
            if (end == *s)
                diag_fail(src, *s, "expected a repeat count");
            *s = end;
        }
        for (unsigned long i = 0; i < repeat; i++)
            if (seg.len)
                diag_put(&text, seg.p, seg.len);
        free(seg.p);
        diag_ws(s);
        if (**s == '+') {
            (*s)++;
            diag_ws(s);
            if (**s != '"')
                diag_fail(src, *s, "expected a text after '+'");
            goto another_segment;
        }
        diag_head(out, 3, text.len);
        if (text.len)
            diag_put(out, text.p, text.len);
        free(text.p);
    } else if (**s == 'h' && (*s)[1] == '\'') {
        struct diag_buf bytes = {0};
        unsigned long repeat = 1;

        *s += 2;
        while (**s != '\'') {
            int hi = diag_hex((*s)[0]), lo = hi < 0 ? -1 : diag_hex((*s)[1]);
            uint8_t c;
            if (lo < 0)
                diag_fail(src, *s, "bad hex in h''");
            c = (uint8_t)(hi << 4 | lo);
            diag_put(&bytes, &c, 1);
            *s += 2;
        }
        (*s)++;
        diag_ws(s);
        if (**s == '*') {
            char *end;
            (*s)++;
            repeat = strtoul(*s, &end, 10);
            if (end == *s)
                diag_fail(src, *s, "expected a repeat count");
            *s = end;
        }
        diag_head(out, 2, bytes.len * repeat);
        for (unsigned long i = 0; i < repeat; i++)
            if (bytes.len)
                diag_put(out, bytes.p, bytes.len);
        free(bytes.p);
    } else if (**s == '<') {
        (*s)++;
        for (;;) {
            int hi, lo;
            uint8_t c;
            diag_ws(s);
            if (**s == '>') {
                (*s)++;
                break;
            }
            hi = diag_hex((*s)[0]);
            lo = hi < 0 ? -1 : diag_hex((*s)[1]);
            if (lo < 0)
                diag_fail(src, *s, "bad hex in <>");
            c = (uint8_t)(hi << 4 | lo);
            diag_put(out, &c, 1);
            *s += 2;
        }
    } else if (isdigit((unsigned char)**s)) {
        char *end;
        unsigned long long v = strtoull(*s, &end, 10);
        *s = end;
        diag_head(out, 0, v);
    } else if (**s == '-') {
        char *end;
        unsigned long long v = strtoull(*s + 1, &end, 10);
        *s = end;
        diag_head(out, 1, v - 1);
    } else if (strncmp(*s, "true", 4) == 0) {
        diag_put(out, "\xf5", 1);
        *s += 4;
    } else if (strncmp(*s, "false", 5) == 0) {
        diag_put(out, "\xf4", 1);
        *s += 5;
    } else if (strncmp(*s, "null", 4) == 0) {
        diag_put(out, "\xf6", 1);
        *s += 4;
    } else {
        diag_fail(src, *s, "unexpected character");
    }
}

/* Encode src; *len gets the size. The result is new (free()). */
static uint8_t *cbor_diag(const char *src, size_t *len)
{
    struct diag_buf out = {0};
    const char *s = src;

    /* Several top-level values make a frame with trailing items. */
    do {
        diag_value(src, &s, &out);
        diag_ws(&s);
    } while (*s);
    *len = out.len;
    return out.p;
}

#endif
