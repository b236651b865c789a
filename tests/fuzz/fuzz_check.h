/*
 * fuzz_check.h - what every fuzz target asserts about a payload: decoding
 * never crashes, leaks or over-allocates (the sanitizers and libFuzzer's
 * -malloc_limit_mb watch that), and whatever decodes re-encodes canonically
 * into bytes that decode to an equal message and re-encode to themselves.
 */
#ifndef CPS_FUZZ_CHECK_H
#define CPS_FUZZ_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "proto_stream.h"

static void fuzz_fail(const char *what, const struct cps_error *err)
{
    fprintf(stderr, "fuzz: %s: %s\n", what, err ? err->message : "");
    abort();
}

static void fuzz_check_payload_decode(const uint8_t *data, size_t size)
{
    struct cps_error err = {0};
    struct cps_msg msg, again;
    uint8_t *enc, *enc2;
    size_t enc_len, enc2_len;
    int ret = cps__msg_decode(data, size, &msg, &err);

    if (ret < 0) {
        /* A refusal carries a stage, an errno and a message that can itself
         * travel in an error frame. */
        struct cps_msg e = {.type = CPS_MSG_ERROR};
        uint8_t *buf;
        size_t len;

        if (err.errnum != -ret || strcmp(err.stage, "decode") != 0 || !err.message[0])
            fuzz_fail("refusal without a proper error", &err);
        e.u.error = err;
        if (cps__msg_encode(&e, &buf, &len, &err) < 0)
            fuzz_fail("the decoder's error message cannot be sent", &err);
        free(buf);
        return;
    }
    if (cps__msg_encode(&msg, &enc, &enc_len, &err) < 0)
        fuzz_fail("a decoded message does not encode", &err);
    if (cps__msg_decode(enc, enc_len, &again, &err) < 0)
        fuzz_fail("a re-encoded message does not decode", &err);
    if (!cps__msg_equal(&msg, &again))
        fuzz_fail("decode(encode(m)) != m", NULL);
    if (cps__msg_encode(&again, &enc2, &enc2_len, &err) < 0)
        fuzz_fail("second encoding failed", &err);
    if (enc2_len != enc_len || memcmp(enc, enc2, enc_len) != 0)
        fuzz_fail("the encoding is not canonical (differs on the second round)", NULL);
    free(enc);
    free(enc2);
    cps__msg_free(&again);
    cps__msg_free(&msg);
}

/*
 * The in-place reader of data frames (proto_stream.h) takes exactly the
 * canonical stdout/stderr/output-chunk frames the strict decoder accepts, and
 * reads the same message from them; every other frame is left to the decoder.
 */
static void fuzz_check_view(const uint8_t *data, size_t size)
{
    static char path_buf[CPS_MAX_PATH + 1];
    struct cps_error err = {0};
    struct cps_msg view, msg;
    bool viewed = cps__data_frame_view(data, size, &view, path_buf);
    bool canonical_data = false;
    uint8_t *enc;
    size_t enc_len;

    if (cps__msg_decode(data, size, &msg, &err) < 0) {
        if (viewed)
            fuzz_fail("the in-place view took a frame the decoder refuses", &err);
        return;
    }
    if ((msg.type == CPS_MSG_STDOUT || msg.type == CPS_MSG_STDERR ||
         (msg.type == CPS_MSG_OUTPUT && !msg.u.output.missing)) &&
        cps__msg_encode(&msg, &enc, &enc_len, &err) == 0) {
        canonical_data = enc_len == size && memcmp(enc, data, size) == 0;
        free(enc);
    }
    if (viewed != canonical_data)
        fuzz_fail(viewed ? "the in-place view took a frame that is not canonical data"
                         : "the in-place view refused a canonical data frame",
                  NULL);
    if (viewed && !cps__msg_equal(&view, &msg))
        fuzz_fail("the in-place view read another message than the decoder", NULL);
    cps__msg_free(&msg);
}

static void fuzz_check_payload(const uint8_t *data, size_t size)
{
    fuzz_check_view(data, size);
    fuzz_check_payload_decode(data, size);
}

#endif
