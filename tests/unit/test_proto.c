/* test_proto.c - encoding, round trips and the encoder's refusals. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "error.h"
#include "frame.h"
#include "job_features.h"
#include "proto.h"
#include "proto_samples.h"
#include "check_run.h"

static void round_trip(const struct cps_msg *msg, const char *name)
{
    struct cps_error err = {0};
    struct cps_msg back;
    uint8_t *buf, *again;
    size_t len, again_len;

    ck_assert_msg(cps__msg_encode(msg, &buf, &len, &err) == 0, "%s: encode: %s", name, err.message);
    ck_assert_msg(cps__msg_decode(buf, len, &back, &err) == 0, "%s: decode: %s", name, err.message);
    ck_assert_msg(cps__msg_equal(msg, &back), "%s: decoded message differs", name);
    ck_assert_int_eq(cps__msg_encode(&back, &again, &again_len, &err), 0);
    ck_assert_uint_eq(again_len, len);
    ck_assert_msg(memcmp(buf, again, len) == 0, "%s: re-encoding differs", name);
    cps__msg_free(&back);
    ck_assert_int_eq(back.type, 0);
    free(buf);
    free(again);
}

START_TEST(every_sample_round_trips)
{
    struct sample s[16];
    size_t n = samples(s);
    unsigned seen = 0;

    for (size_t i = 0; i < n; i++) {
        round_trip(&s[i].msg, s[i].file);
        seen |= 1u << s[i].msg.type;
    }
    /* Every message type of proto.h has at least one sample. */
    for (int t = CPS_MSG_HELLO; t <= CPS_MSG_ERROR; t++)
        ck_assert_msg(seen & (1u << t), "no sample of message type %d", t);
}
END_TEST

START_TEST(job_optional_fields_round_trip_one_by_one)
{
    struct sample s[16];
    struct cps_msg m;

    samples(s);
    m = s[1].msg; /* job_minimal */
    m.u.job.has_uid = true;
    round_trip(&m, "uid 0");
    m.u.job.uid = 4294967294u;
    round_trip(&m, "uid max");
    m.u.job.has_seccomp = true;
    m.u.job.seccomp = true;
    round_trip(&m, "seccomp");
    m.u.job.overlay = CPS_OVERLAY_BIND;
    round_trip(&m, "overlay bind");
    m.u.job.limits.tmp_bytes = 1;
    round_trip(&m, "one limit");
    m.u.job.limits.timeout_ms = UINT64_MAX;
    round_trip(&m, "u64 limit");
    m.u.job.limits.scratch_bytes = 5ull << 30;
    round_trip(&m, "scratch limit");
}
END_TEST

/* hello.features: names this side does not know are skipped (a newer helper
 * announces keys this parent never sends), and a hello without the key is the
 * hello of 0.1.0. */
START_TEST(hello_features_unknown_names_skipped)
{
    struct sample s[16];
    struct cps_error err;
    struct cps_msg back;
    uint8_t *buf;
    size_t len;
    size_t n = samples(s);
    struct cps_msg m = s[n - 1].msg;

    ck_assert(m.u.hello.has_features);
    ck_assert_int_eq(cps__msg_encode(&m, &buf, &len, &err), 0);
    uint8_t *k = memmem(buf, len, "job.uid", 7);
    ck_assert_ptr_nonnull(k);
    memcpy(k, "job.xyz", 7);
    ck_assert_msg(cps__msg_decode(buf, len, &back, &err) == 0, "%s", err.message);
    ck_assert(back.u.hello.has_features);
    ck_assert_uint_eq(back.u.hello.features, CPS_FEATURES_ALL & ~(uint32_t)CPS_FEATURE_UID);
    cps__msg_free(&back);
    free(buf);

    m.u.hello.has_features = false;
    m.u.hello.features = 0;
    ck_assert_int_eq(cps__msg_encode(&m, &buf, &len, &err), 0);
    ck_assert_ptr_null(memmem(buf, len, "features", 8));
    ck_assert_int_eq(cps__msg_decode(buf, len, &back, &err), 0);
    ck_assert(!back.u.hello.has_features);
    cps__msg_free(&back);
    free(buf);
}
END_TEST

/* cps__job_features names exactly the optional keys the encoder writes: one
 * job per key, decoded again, has that key and only that one. */
START_TEST(job_features_match_the_encoded_keys)
{
    struct sample s[16];
    struct cps_error err;
    uint8_t *buf;
    size_t len;

    samples(s);
    for (size_t i = 0; i < cps__feature_count(); i++) {
        struct cps_msg m = s[1].msg; /* job_minimal: no optional key */
        struct cps_job *j = &m.u.job;
        uint64_t *limits[] = {&j->limits.timeout_ms,    &j->limits.max_output_bytes,
                              &j->limits.cpu_seconds,   &j->limits.address_space,
                              &j->limits.file_size,     &j->limits.open_files,
                              &j->limits.processes,     &j->limits.tmp_bytes,
                              &j->limits.scratch_bytes};
        const char *name = cps__feature_name(i), *key = strrchr(name, '.') + 1;

        ck_assert_uint_eq(cps__job_features(j), 0);
        switch (1u << i) {
        case CPS_FEATURE_BACKEND: j->backend = CPS_BACKEND_BUBBLEWRAP; break;
        case CPS_FEATURE_OVERLAY: j->overlay = CPS_OVERLAY_FUSE; break;
        case CPS_FEATURE_UID: j->has_uid = true; break;
        case CPS_FEATURE_GID: j->has_gid = true; break;
        case CPS_FEATURE_SECCOMP: j->has_seccomp = true; break;
        default: *limits[i - 5] = 7; break;
        }
        ck_assert_uint_eq(cps__job_features(j), 1u << i);
        ck_assert_int_eq(cps__msg_encode(&m, &buf, &len, &err), 0);
        ck_assert_msg(memmem(buf, len, key, strlen(key)), "%s not encoded", name);
        free(buf);
    }
}
END_TEST

START_TEST(integers_use_the_shortest_form)
{
    /* {"type": "exit", "code": 23, ...}: 23 is one byte (0x17), 24 two (0x18 0x18),
     * checked on the encoded bytes right after the "code" key. */
    struct sample s[16];
    struct cps_msg m;
    struct cps_error err;
    uint8_t *buf;
    size_t len;
    const uint8_t key[] = {0x64, 'c', 'o', 'd', 'e'};
    const uint64_t values[] = {0, 23, 24, 255};
    const size_t sizes[] = {1, 1, 2, 2};

    samples(s);
    m = s[10].msg; /* exit_code */
    for (size_t i = 0; i < 4; i++) {
        uint8_t *at;
        m.u.exit.code = (int32_t)values[i];
        ck_assert_int_eq(cps__msg_encode(&m, &buf, &len, &err), 0);
        at = memmem(buf, len, key, sizeof(key));
        ck_assert_ptr_nonnull(at);
        at += sizeof(key);
        if (sizes[i] == 1)
            ck_assert_uint_eq(at[0], values[i]);
        else
            ck_assert(at[0] == 0x18 && at[1] == values[i]);
        free(buf);
    }
}
END_TEST

START_TEST(cancel_encodes_to_known_bytes)
{
    struct cps_msg m = {.type = CPS_MSG_CANCEL};
    struct cps_error err;
    uint8_t *buf;
    size_t len;
    const uint8_t want[] = {0xa1, 0x64, 't', 'y', 'p', 'e', 0x66, 'c', 'a', 'n', 'c', 'e', 'l'};

    ck_assert_int_eq(cps__msg_encode(&m, &buf, &len, &err), 0);
    ck_assert_uint_eq(len, sizeof(want));
    ck_assert(memcmp(buf, want, len) == 0);
    free(buf);
}
END_TEST

/* The encoder refuses what the decoder would refuse, with -EINVAL. */
static void refused(const struct cps_msg *m, const char *needle)
{
    struct cps_error err = {0};
    uint8_t *buf = (uint8_t *)&err;
    size_t len = 1;

    ck_assert_int_eq(cps__msg_encode(m, &buf, &len, &err), -EINVAL);
    ck_assert_ptr_null(buf);
    ck_assert_str_eq(err.stage, "encode");
    ck_assert_msg(strstr(err.message, needle), "message \"%s\" lacks \"%s\"", err.message, needle);
}

START_TEST(encoder_refuses_invalid_messages)
{
    struct sample s[16];
    struct cps_msg m;
    const char *bad_argv[] = {TXT("cc"), TXT("\xff")};
    const char *rel[] = {TXT("out.o")};
    struct cps_env_pair bad_env[] = {{TXT("A=B"), TXT("x")}};
    uint8_t big[CPS_MAX_CHUNK + 1] = {0};

    samples(s);
    m = s[1].msg;
    m.u.job.argc = 0;
    refused(&m, "job.argv: 0 entries");
    m = s[1].msg;
    m.u.job.argv = bad_argv;
    m.u.job.argc = 2;
    refused(&m, "job.argv[1]: text is not valid UTF-8");
    m = s[1].msg;
    m.u.job.outputs = rel;
    m.u.job.outputc = 1;
    refused(&m, "job.outputs[0]: path is not absolute");
    m = s[1].msg;
    m.u.job.env = bad_env;
    m.u.job.envc = 1;
    refused(&m, "job.env[0][0]: variable name contains '='");
    m = s[1].msg;
    m.u.job.cwd = TXT("/a/../b");
    refused(&m, "job.cwd: path has a \"..\" component");
    m = s[1].msg;
    m.u.job.backend = CPS_BACKEND_USERNS | CPS_BACKEND_BUBBLEWRAP;
    refused(&m, "job.backend");
    m = s[0].msg;
    m.u.hello.protocol = 2;
    refused(&m, "hello.protocol");
    m = s[6].msg;
    m.u.stream.data_len = 0;
    refused(&m, "stdout.data: chunk is empty");
    m = s[3].msg;
    m.u.input.data = big;
    m.u.input.data_len = sizeof(big);
    refused(&m, "input.data: chunk of 65537 bytes");
    m = s[10].msg;
    m.u.exit.code = 256;
    refused(&m, "exit.code");
    m = s[11].msg;
    m.u.exit.signal = 65;
    refused(&m, "exit.signal");
    m = s[10].msg;
    m.u.exit.overlay = CPS_OVERLAY_AUTO;
    refused(&m, "exit.overlay");
    m = s[8].msg;
    m.u.output.mode = 010000;
    refused(&m, "output.mode");
    m = s[8].msg;
    m.u.output.size = 3;
    refused(&m, "larger than the file size");
}
END_TEST

START_TEST(encoder_refuses_a_message_larger_than_a_frame)
{
    /* 16 argv entries of 100 KiB: within every per-field limit, above 1 MiB. */
    static char big[100 * 1024 + 1];
    const char *argv[16];
    struct sample s[16];
    struct cps_msg m;
    struct cps_error err;
    uint8_t *buf;
    size_t len;

    memset(big, 'a', sizeof(big) - 1);
    for (int i = 0; i < 16; i++)
        argv[i] = big;
    samples(s);
    m = s[1].msg;
    m.u.job.argv = argv;
    m.u.job.argc = 16;
    ck_assert_int_eq(cps__msg_encode(&m, &buf, &len, &err), -EMSGSIZE);
    ck_assert_ptr_null(buf);
    ck_assert_ptr_nonnull(strstr(err.message, "larger than a frame"));
    /* Ten of them fit (about 1,000 KiB). */
    m.u.job.argc = 10;
    ck_assert_int_eq(cps__msg_encode(&m, &buf, &len, &err), 0);
    ck_assert_uint_le(len, CPS_MAX_FRAME);
    free(buf);
}
END_TEST

START_TEST(send_and_receive_over_a_socketpair)
{
    struct sample s[16];
    size_t n = samples(s);
    struct cps_error err;
    int sv[2];

    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    for (size_t i = 0; i < n; i++) {
        struct cps_msg back;
        uint8_t *buf;
        size_t len;

        ck_assert_int_eq(cps__msg_send(sv[0], &s[i].msg, &err), 0);
        ck_assert_int_eq(cps__frame_read(sv[1], 0, &buf, &len, &err), 0);
        ck_assert_int_eq(cps__msg_decode(buf, len, &back, &err), 0);
        ck_assert(cps__msg_equal(&s[i].msg, &back));
        cps__msg_free(&back);
        free(buf);
    }
    close(sv[0]);
    close(sv[1]);
}
END_TEST

START_TEST(send_error_makes_any_error_sendable)
{
    struct cps_error e = {0}, err, got;
    struct cps_msg back;
    uint8_t *buf;
    size_t len;
    int sv[2];

    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    /* No stage, a Latin-1 path in the message: still reported, sanitized. */
    cps__error_set_named(&e, "", ENOENT, "check the \xe9 path", "open /tmp/caf\xe9: %s",
                         strerror(ENOENT));
    ck_assert_int_eq(cps__msg_send_error(sv[0], &e, &err), 0);
    ck_assert_int_eq(cps__frame_read(sv[1], 0, &buf, &len, &err), 0);
    ck_assert_int_eq(cps__msg_decode(buf, len, &back, &err), 0);
    ck_assert_int_eq(back.type, CPS_MSG_ERROR);
    got = back.u.error;
    ck_assert_str_eq(got.stage, "unknown");
    ck_assert_int_eq(got.errnum, ENOENT);
    ck_assert_str_eq(got.message, "open /tmp/caf?: No such file or directory");
    ck_assert_str_eq(got.hint, "check the ? path");
    cps__msg_free(&back);
    free(buf);
    close(sv[0]);
    close(sv[1]);
}
END_TEST

START_TEST(backend_and_overlay_names)
{
    enum cps_backend b;
    enum cps_overlay o;

    ck_assert_str_eq(cps__backend_name(CPS_BACKEND_USERNS), "userns");
    ck_assert_str_eq(cps__backend_name(CPS_BACKEND_BUBBLEWRAP), "bubblewrap");
    ck_assert_str_eq(cps__backend_name((enum cps_backend)3), "unknown");
    ck_assert_int_eq(cps__backend_parse("bubblewrap", 10, &b), 0);
    ck_assert_int_eq(b, CPS_BACKEND_BUBBLEWRAP);
    ck_assert_int_eq(cps__backend_parse("bubblewrapX", 10, &b), 0); /* length counts */
    ck_assert_int_eq(cps__backend_parse("bwrap", 5, &b), -EINVAL);
    ck_assert_int_eq(cps__backend_parse("userns", 5, &b), -EINVAL);
    ck_assert_str_eq(cps__overlay_name(CPS_OVERLAY_AUTO), "auto");
    ck_assert_str_eq(cps__overlay_name(CPS_OVERLAY_NATIVE), "native");
    ck_assert_str_eq(cps__overlay_name(CPS_OVERLAY_FUSE), "fuse");
    ck_assert_str_eq(cps__overlay_name(CPS_OVERLAY_BIND), "bind");
    ck_assert_str_eq(cps__overlay_name((enum cps_overlay)6), "unknown");
    ck_assert_int_eq(cps__overlay_parse("fuse", 4, &o), 0);
    ck_assert_int_eq(o, CPS_OVERLAY_FUSE);
    ck_assert_int_eq(cps__overlay_parse("auto", 4, &o), 0);
    ck_assert_int_eq(o, CPS_OVERLAY_AUTO);
    ck_assert_int_eq(cps__overlay_parse("", 0, &o), -EINVAL);
}
END_TEST

START_TEST(free_is_safe_on_a_zeroed_message)
{
    struct cps_msg m = {0};

    cps__msg_free(&m);
    cps__msg_free(NULL);
    ck_assert_int_eq(m.type, 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("proto");
    TCase *tc = tcase_create("proto");

    /* A hang guard, not a timing requirement: the machine may be shared. */
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, every_sample_round_trips);
    tcase_add_test(tc, job_optional_fields_round_trip_one_by_one);
    tcase_add_test(tc, hello_features_unknown_names_skipped);
    tcase_add_test(tc, job_features_match_the_encoded_keys);
    tcase_add_test(tc, integers_use_the_shortest_form);
    tcase_add_test(tc, cancel_encodes_to_known_bytes);
    tcase_add_test(tc, encoder_refuses_invalid_messages);
    tcase_add_test(tc, encoder_refuses_a_message_larger_than_a_frame);
    tcase_add_test(tc, send_and_receive_over_a_socketpair);
    tcase_add_test(tc, send_error_makes_any_error_sendable);
    tcase_add_test(tc, backend_and_overlay_names);
    tcase_add_test(tc, free_is_safe_on_a_zeroed_message);
    suite_add_tcase(s, tc);
    return cps_test_run(s);
}
