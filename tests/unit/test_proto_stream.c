/* test_proto_stream.c - data messages encoded around their data and read in
 * place: byte for byte the general encoder's output, and exactly the frames
 * the general decoder accepts in canonical form. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cps_limits.h"
#include "proto.h"
#include "proto_stream.h"
#include "check_run.h"

static const size_t lengths[] = {0,   1,   22,  23,    24,    25,   254,
                                 255, 256, 257, 65535, 65536, 65537 /* too big */};
static const uint64_t sizes[] = {
    0, 23, 24, 255, 256, 65535, 65536, 65537, UINT32_MAX, (uint64_t)UINT32_MAX + 1, UINT64_MAX};
static const uint32_t modes[] = {0, 023, 0644, 07777};

static uint8_t *pattern(size_t len)
{
    uint8_t *p = malloc(len ? len : 1);

    ck_assert_ptr_nonnull(p);
    for (size_t i = 0; i < len; i++)
        p[i] = (uint8_t)(i * 131u + 7u);
    return p;
}

/* A normalized absolute path of exactly len bytes (len >= 1). */
static char *path_of(size_t len)
{
    char *p = malloc(len + 1);

    ck_assert_ptr_nonnull(p);
    memset(p, 'a', len);
    p[0] = '/';
    for (size_t i = 100; i + 1 < len; i += 100)
        p[i] = '/';
    p[len] = '\0';
    return p;
}

/* head + data + tail, the frame the fast encoder's parts make. */
static uint8_t *join(const struct cps_data_frame *f, const uint8_t *data, size_t len,
                     size_t *out_len)
{
    uint8_t *b = malloc(f->head_len + len + f->tail_len);

    ck_assert_ptr_nonnull(b);
    memcpy(b, f->head, f->head_len);
    if (len)
        memcpy(b + f->head_len, data, len);
    memcpy(b + f->head_len + len, f->tail, f->tail_len);
    *out_len = f->head_len + len + f->tail_len;
    return b;
}

/* Encode msg both ways: same bytes, and the view reads them back in place as
 * the general decoder does. Returns false when both encoders refused it. */
static bool same_both_ways(const struct cps_msg *msg)
{
    static struct cps_data_frame f;
    static char path_buf[CPS_MAX_PATH + 1];
    struct cps_error e1, e2;
    struct cps_msg viewed, decoded;
    uint8_t *general, *fast;
    size_t general_len, fast_len;
    const uint8_t *data = msg->type == CPS_MSG_OUTPUT ? msg->u.output.data : msg->u.stream.data;
    size_t data_len = msg->type == CPS_MSG_OUTPUT ? msg->u.output.data_len : msg->u.stream.data_len;
    int r1 = cps__msg_encode(msg, &general, &general_len, &e1);
    int r2 = cps__data_frame_encode(msg, &f, &e2);

    ck_assert_int_eq(r1, r2);
    if (r1 < 0) {
        ck_assert_int_eq(e1.errnum, e2.errnum);
        ck_assert_str_eq(e1.message, e2.message);
        return false;
    }
    ck_assert_uint_le(f.head_len, CPS_DATA_HEAD_MAX);
    ck_assert_uint_le(f.tail_len, CPS_DATA_TAIL_MAX);
    fast = join(&f, data, data_len, &fast_len);
    ck_assert_uint_eq(fast_len, general_len);
    ck_assert(memcmp(fast, general, general_len) == 0);

    ck_assert(cps__data_frame_view(fast, fast_len, &viewed, path_buf));
    ck_assert_int_eq(cps__msg_decode(fast, fast_len, &decoded, &e1), 0);
    ck_assert(cps__msg_equal(&viewed, &decoded));
    ck_assert(cps__msg_equal(&viewed, msg));
    /* In place: the data is the frame's own bytes. */
    if (data_len > 0) {
        const uint8_t *at =
            viewed.type == CPS_MSG_OUTPUT ? viewed.u.output.data : viewed.u.stream.data;
        ck_assert_ptr_eq(at, fast + f.head_len);
    }
    cps__msg_free(&decoded);
    free(fast);
    free(general);
    return true;
}

START_TEST(streams_encode_like_the_general_encoder)
{
    for (int t = 0; t < 2; t++) {
        for (size_t i = 0; i < sizeof(lengths) / sizeof(lengths[0]); i++) {
            struct cps_msg m = {.type = t ? CPS_MSG_STDERR : CPS_MSG_STDOUT};
            size_t len = lengths[i];
            bool ok;

            m.u.stream.data = pattern(len);
            m.u.stream.data_len = len;
            ok = same_both_ways(&m);
            /* Empty and oversized stream chunks are refused by both. */
            ck_assert(ok == (len >= 1 && len <= CPS_MAX_CHUNK));
            free(m.u.stream.data);
        }
    }
}
END_TEST

START_TEST(output_chunks_encode_like_the_general_encoder)
{
    static const size_t path_lengths[] = {1, 22, 23, 24, 254, 255, 256, 4094, CPS_MAX_PATH};
    size_t accepted = 0, refused = 0;

    for (size_t p = 0; p < sizeof(path_lengths) / sizeof(path_lengths[0]); p++) {
        char *path = path_of(path_lengths[p]);

        for (size_t i = 0; i < sizeof(lengths) / sizeof(lengths[0]); i++) {
            uint8_t *data = pattern(lengths[i]);

            for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
                for (size_t md = 0; md < sizeof(modes) / sizeof(modes[0]); md++) {
                    struct cps_msg m = {.type = CPS_MSG_OUTPUT};

                    m.u.output.path = path;
                    m.u.output.mode = modes[md];
                    m.u.output.size = sizes[s];
                    m.u.output.data = data;
                    m.u.output.data_len = lengths[i];
                    m.u.output.end = (s + md) % 2 == 0;
                    bool ok = same_both_ways(&m);

                    ck_assert(ok == (lengths[i] <= CPS_MAX_CHUNK && lengths[i] <= sizes[s]));
                    if (ok)
                        accepted++;
                    else
                        refused++;
                }
            }
            free(data);
        }
        free(path);
    }
    ck_assert_uint_gt(accepted, 0);
    ck_assert_uint_gt(refused, 0);
}
END_TEST

START_TEST(encoder_refuses_what_is_not_a_valid_data_message)
{
    struct cps_data_frame f;
    struct cps_error err;
    struct cps_msg m = {.type = CPS_MSG_OUTPUT};
    uint8_t byte = 1;
    char out[] = "/out", dotdot[] = "/out/../etc";

    m.u.output.path = out;
    m.u.output.missing = true;
    ck_assert_int_eq(cps__data_frame_encode(&m, &f, &err), -EINVAL);
    m.u.output.missing = false;
    m.u.output.mode = 010000;
    m.u.output.size = 1;
    m.u.output.data = &byte;
    m.u.output.data_len = 1;
    ck_assert_int_eq(cps__data_frame_encode(&m, &f, &err), -EINVAL);
    m.u.output.mode = 0644;
    m.u.output.path = dotdot;
    ck_assert_int_eq(cps__data_frame_encode(&m, &f, &err), -EINVAL);
    ck_assert_str_eq(err.stage, "encode");
    m.u.output.path = out;
    ck_assert_int_eq(cps__data_frame_encode(&m, &f, &err), 0);

    memset(&m, 0, sizeof(m));
    m.type = CPS_MSG_CANCEL;
    ck_assert_int_eq(cps__data_frame_encode(&m, &f, &err), -EINVAL);
    m.type = CPS_MSG_STDOUT;
    ck_assert_int_eq(cps__data_frame_encode(&m, &f, &err), -EINVAL);
}
END_TEST

/* A canonical output chunk to mutate: {type: "output", path: "/o", mode: 420,
 * size: 3, data: h'616263', end: true}. */
static const uint8_t output_frame[] = {
    0xa6, 0x64, 't', 'y', 'p',  'e', 0x66, 'o', 'u', 't',  'p',  'u',  't',  0x64, 'p', 'a', 't',
    'h',  0x62, '/', 'o', 0x64, 'm', 'o',  'd', 'e', 0x19, 0x01, 0xa4, 0x64, 's',  'i', 'z', 'e',
    0x03, 0x64, 'd', 'a', 't',  'a', 0x43, 'a', 'b', 'c',  0x63, 'e',  'n',  'd',  0xf5};
/* {type: "stdout", data: h'78'} */
static const uint8_t stdout_frame[] = {0xa2, 0x64, 't', 'y',  'p', 'e', 0x66, 's', 't',  'd',
                                       'o',  'u',  't', 0x64, 'd', 'a', 't',  'a', 0x41, 'x'};

static bool view(const uint8_t *p, size_t len)
{
    static char path_buf[CPS_MAX_PATH + 1];
    struct cps_msg m;

    return cps__data_frame_view(p, len, &m, path_buf);
}

START_TEST(view_reads_the_canonical_frames)
{
    static char path_buf[CPS_MAX_PATH + 1];
    struct cps_msg m;

    ck_assert(cps__data_frame_view(output_frame, sizeof(output_frame), &m, path_buf));
    ck_assert_int_eq(m.type, CPS_MSG_OUTPUT);
    ck_assert_str_eq(m.u.output.path, "/o");
    ck_assert_uint_eq(m.u.output.mode, 0644);
    ck_assert_uint_eq(m.u.output.size, 3);
    ck_assert_uint_eq(m.u.output.data_len, 3);
    ck_assert(memcmp(m.u.output.data, "abc", 3) == 0);
    ck_assert(m.u.output.end);
    ck_assert(cps__data_frame_view(stdout_frame, sizeof(stdout_frame), &m, path_buf));
    ck_assert_int_eq(m.type, CPS_MSG_STDOUT);
    ck_assert_ptr_eq(m.u.stream.data, stdout_frame + sizeof(stdout_frame) - 1);
}
END_TEST

START_TEST(view_never_reads_a_truncated_frame)
{
    /* Every prefix is refused; under ASan a read past the copy would fail. */
    for (size_t n = 0; n < sizeof(output_frame); n++) {
        uint8_t *copy = malloc(n ? n : 1);

        memcpy(copy, output_frame, n);
        ck_assert(!view(copy, n));
        free(copy);
    }
    for (size_t n = 0; n < sizeof(stdout_frame); n++) {
        uint8_t *copy = malloc(n ? n : 1);

        memcpy(copy, stdout_frame, n);
        ck_assert(!view(copy, n));
        free(copy);
    }
}
END_TEST

/* Replace bytes [at, at+cut) of the output frame with with[0..n) and ask the
 * view; the general decoder's verdict is returned in *decodes. */
static bool view_edited(const uint8_t *base, size_t base_len, size_t at, size_t cut,
                        const uint8_t *with, size_t n, bool *decodes)
{
    uint8_t buf[128];
    size_t len = base_len - cut + n;
    struct cps_msg m;
    struct cps_error err;
    bool ok;

    ck_assert_uint_le(len, sizeof(buf));
    memcpy(buf, base, at);
    memcpy(buf + at, with, n);
    memcpy(buf + at + n, base + at + cut, base_len - at - cut);
    ok = view(buf, len);
    *decodes = cps__msg_decode(buf, len, &m, &err) == 0;
    if (*decodes)
        cps__msg_free(&m);
    return ok;
}

START_TEST(view_leaves_everything_else_to_the_general_decoder)
{
    bool decodes;

    /* Valid but not canonical: the general decoder takes them. */
    /* mode 420 in 4 bytes instead of 2 */
    ck_assert(!view_edited(output_frame, sizeof(output_frame), 26, 3,
                           (const uint8_t[]){0x1a, 0, 0, 1, 0xa4}, 5, &decodes));
    ck_assert(decodes);
    /* size 3 in one extra byte */
    ck_assert(!view_edited(output_frame, sizeof(output_frame), 34, 1, (const uint8_t[]){0x18, 3}, 2,
                           &decodes));
    ck_assert(decodes);
    /* data length 3 in one extra byte */
    ck_assert(!view_edited(output_frame, sizeof(output_frame), 40, 1, (const uint8_t[]){0x58, 3}, 2,
                           &decodes));
    ck_assert(decodes);
    /* stdout data length 1 in a longer head */
    ck_assert(!view_edited(stdout_frame, sizeof(stdout_frame), 18, 1, (const uint8_t[]){0x58, 1}, 2,
                           &decodes));
    ck_assert(decodes);

    /* Invalid: both refuse. */
    /* trailing byte */
    ck_assert(!view_edited(output_frame, sizeof(output_frame), sizeof(output_frame), 0,
                           (const uint8_t[]){0}, 1, &decodes));
    ck_assert(!decodes);
    /* end: 0 instead of a boolean */
    ck_assert(!view_edited(output_frame, sizeof(output_frame), sizeof(output_frame) - 1, 1,
                           (const uint8_t[]){0x00}, 1, &decodes));
    ck_assert(!decodes);
    /* data longer than size (size 2) */
    ck_assert(!view_edited(output_frame, sizeof(output_frame), 34, 1, (const uint8_t[]){0x02}, 1,
                           &decodes));
    ck_assert(!decodes);
    /* mode 010000 */
    ck_assert(!view_edited(output_frame, sizeof(output_frame), 26, 3,
                           (const uint8_t[]){0x19, 0x10, 0x00}, 3, &decodes));
    ck_assert(!decodes);
    /* path "/." (not normalized), "\xff" bytes (not UTF-8), "o" (relative) */
    ck_assert(!view_edited(output_frame, sizeof(output_frame), 19, 2, (const uint8_t[]){'/', '.'},
                           2, &decodes));
    ck_assert(!decodes);
    ck_assert(!view_edited(output_frame, sizeof(output_frame), 20, 1, (const uint8_t[]){0xff}, 1,
                           &decodes));
    ck_assert(!decodes);
    ck_assert(!view_edited(output_frame, sizeof(output_frame), 19, 2, (const uint8_t[]){'o', 'o'},
                           2, &decodes));
    ck_assert(!decodes);
    /* an indefinite byte string h'616263' as (_ h'616263') */
    ck_assert(!view_edited(output_frame, sizeof(output_frame), 40, 4,
                           (const uint8_t[]){0x5f, 0x43, 'a', 'b', 'c', 0xff}, 6, &decodes));
    ck_assert(!decodes);
    /* empty stdout data */
    ck_assert(!view_edited(stdout_frame, sizeof(stdout_frame), 18, 2, (const uint8_t[]){0x40}, 1,
                           &decodes));
    ck_assert(!decodes);
    /* type "stdin" */
    ck_assert(!view_edited(stdout_frame, sizeof(stdout_frame), 6, 7,
                           (const uint8_t[]){0x65, 's', 't', 'd', 'i', 'n'}, 6, &decodes));
    ck_assert(!decodes);
    /* an output map that claims 7 entries */
    ck_assert(!view_edited(output_frame, sizeof(output_frame), 0, 1, (const uint8_t[]){0xa7}, 1,
                           &decodes));
    ck_assert(!decodes);
    /* the output as "missing": a valid frame, but not a data chunk */
    {
        const uint8_t missing[] = {0xa3, 0x64, 't', 'y',  'p', 'e', 0x66, 'o', 'u',  't',
                                   'p',  'u',  't', 0x64, 'p', 'a', 't',  'h', 0x62, '/',
                                   'o',  0x67, 'm', 'i',  's', 's', 'i',  'n', 'g',  0xf5};
        struct cps_msg m;
        struct cps_error err;

        ck_assert(!view(missing, sizeof(missing)));
        ck_assert_int_eq(cps__msg_decode(missing, sizeof(missing), &m, &err), 0);
        cps__msg_free(&m);
    }
}
END_TEST

START_TEST(view_refuses_a_chunk_above_the_limit)
{
    /* {type: "stdout", data: <CPS_MAX_CHUNK + 1 bytes>}, canonical heads. */
    size_t n = CPS_MAX_CHUNK + 1, len = 18 + 5 + n;
    uint8_t *b = calloc(1, len);
    struct cps_msg m;
    struct cps_error err;

    ck_assert_ptr_nonnull(b);
    memcpy(b, stdout_frame, 18);
    b[18] = 0x5a;
    b[19] = (uint8_t)(n >> 24);
    b[20] = (uint8_t)(n >> 16);
    b[21] = (uint8_t)(n >> 8);
    b[22] = (uint8_t)n;
    ck_assert(!view(b, len));
    ck_assert_int_eq(cps__msg_decode(b, len, &m, &err), -EPROTO);
    free(b);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("proto_stream");
    TCase *tc = tcase_create("proto_stream");

    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, streams_encode_like_the_general_encoder);
    tcase_add_test(tc, output_chunks_encode_like_the_general_encoder);
    tcase_add_test(tc, encoder_refuses_what_is_not_a_valid_data_message);
    tcase_add_test(tc, view_reads_the_canonical_frames);
    tcase_add_test(tc, view_never_reads_a_truncated_frame);
    tcase_add_test(tc, view_leaves_everything_else_to_the_general_decoder);
    tcase_add_test(tc, view_refuses_a_chunk_above_the_limit);
    suite_add_tcase(s, tc);
    return cps_test_run(s);
}
