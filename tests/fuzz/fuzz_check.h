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

static void fuzz_fail(const char *what, const struct cps_error *err)
{
    fprintf(stderr, "fuzz: %s: %s\n", what, err ? err->message : "");
    abort();
}

static void fuzz_check_payload(const uint8_t *data, size_t size)
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

#endif
