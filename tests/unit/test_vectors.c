/*
 * test_vectors.c - the golden frames of tests/vectors/.
 *
 * Every file holds one raw frame payload (the CBOR item, without the 4-byte
 * length). The valid ones must decode to the samples of proto_samples.h and
 * re-encode byte for byte; the ones under invalid/ must be refused with the
 * listed error. Run with CPS_REGENERATE_VECTORS=1 to rewrite the files from
 * the samples (then review the diff: a changed vector is a protocol change).
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "cbor_diag.h"
#include "proto_samples.h"
#include "check_run.h"

#define DIR_VECTORS CPS_TEST_VECTORS_DIR

struct invalid {
    const char *file;
    const char *diag;
    int ret;
    const char *needle;
};

/* Mirrored in tests/vectors/README.md. */
static const struct invalid invalids[] = {
    {"hello_protocol_2.cbor",
     "{\"type\":\"hello\",\"protocol\":2,\"helper_version\":\"2.0.0\",\"backends\":[\"userns\"],"
     "\"overlay_modes\":[\"native\"],\"max_frame\":1048576,\"max_chunk\":65536,\"uid\":0,"
     "\"gid\":0,\"backend\":\"userns\",\"seccomp\":true,\"new_in_v2\":<fb 3ff0000000000000>}",
     -EPROTONOSUPPORT, "helper speaks protocol 2, this side speaks 1"},
    {"huge_array.cbor", "<9b 00 00 00 00 10 00 00 00>", -EPROTO, "declares 268435456 items"},
    {"huge_map.cbor", "<bb 00 00 00 00 10 00 00 00>", -EPROTO, "declares 536870912 items"},
    {"huge_bytes.cbor", "<5b 00 00 00 00 10 00 00 00>", -EPROTO, "declares 268435456 bytes"},
    {"indefinite_array.cbor",
     "{\"type\":\"job\",\"toolchain\":\"/t\",\"build_dir\":\"/b\",\"argv\":<9f 62 6363 ff>,"
     "\"env\":[],\"cwd\":\"/\",\"outputs\":[],\"inputs\":[]}",
     -EPROTO, "indefinite-length array"},
    {"tag.cbor", "{\"type\":\"stdout\",\"data\":<c2 41 01>}", -EPROTO, "tag 2"},
    {"float.cbor",
     "{\"type\":\"exit\",\"code\":<f9 0000>,\"timed_out\":false,\"wall_us\":1,\"user_us\":1,"
     "\"sys_us\":1,\"max_rss_kb\":1,\"backend\":\"userns\",\"overlay\":\"native\",\"timings\":[]}",
     -EPROTO, "floating-point number"},
    {"null.cbor", "{\"type\":\"cancel\",\"reason\":null}", -EPROTO, "null"},
    {"too_deep.cbor", "{\"type\":\"cancel\",\"x\":[[[[0]]]]}", -EPROTO, "nests deeper than 4"},
    {"trailing_byte.cbor", "{\"type\":\"cancel\"} <00>", -EPROTO, "trailing bytes"},
    {"not_a_map.cbor", "[\"cancel\"]", -EPROTO, "must be a map"},
    {"unknown_type.cbor", "{\"type\":\"shutdown\"}", -EPROTO, "unknown message type"},
    {"unknown_key.cbor", "{\"type\":\"cancel\",\"force\":true}", -EPROTO,
     "cancel: unknown key \"force\""},
    {"duplicate_key.cbor", "{\"type\":\"stdout\",\"data\":h'41',\"data\":h'42'}", -EPROTO,
     "stdout: duplicate key \"data\""},
    {"missing_key.cbor",
     "{\"type\":\"job\",\"toolchain\":\"/t\",\"build_dir\":\"/b\",\"argv\":[\"cc\"],"
     "\"env\":[],\"outputs\":[],\"inputs\":[]}",
     -EPROTO, "job: missing key \"cwd\""},
    {"wrong_type.cbor", "{\"type\":\"input\",\"path\":\"/a\",\"data\":\"text\",\"end\":true}",
     -EPROTO, "input.data: expected a byte string"},
    {"invalid_utf8.cbor",
     "{\"type\":\"job\",\"toolchain\":\"/t\",\"build_dir\":\"/b\",\"argv\":[\"cc\",\"\\xc0\\xaf\"],"
     "\"env\":[],\"cwd\":\"/\",\"outputs\":[],\"inputs\":[]}",
     -EPROTO, "job.argv[1]: text is not valid UTF-8"},
    {"nul_in_text.cbor",
     "{\"type\":\"job\",\"toolchain\":\"/t\",\"build_dir\":\"/b\",\"argv\":[\"cc\",\"a\\x00b\"],"
     "\"env\":[],\"cwd\":\"/\",\"outputs\":[],\"inputs\":[]}",
     -EPROTO, "job.argv[1]: text contains NUL"},
    {"path_dotdot.cbor",
     "{\"type\":\"job\",\"toolchain\":\"/t\",\"build_dir\":\"/b\",\"argv\":[\"cc\"],"
     "\"env\":[],\"cwd\":\"/\",\"outputs\":[\"/out/../../etc/passwd\"],\"inputs\":[]}",
     -EPROTO, "job.outputs[0]: path has a \"..\" component"},
    {"path_relative.cbor", "{\"type\":\"input\",\"path\":\"in.i\",\"data\":h'',\"end\":true}",
     -EPROTO, "input.path: path is not absolute"},
    {"empty_argv.cbor",
     "{\"type\":\"job\",\"toolchain\":\"/t\",\"build_dir\":\"/b\",\"argv\":[],"
     "\"env\":[],\"cwd\":\"/\",\"outputs\":[],\"inputs\":[]}",
     -EPROTO, "job.argv: 0 entries"},
    {"env_name_with_equals.cbor",
     "{\"type\":\"job\",\"toolchain\":\"/t\",\"build_dir\":\"/b\",\"argv\":[\"cc\"],"
     "\"env\":[[\"A=B\",\"c\"]],\"cwd\":\"/\",\"outputs\":[],\"inputs\":[]}",
     -EPROTO, "job.env[0][0]: variable name contains '='"},
    {"mode_too_big.cbor",
     "{\"type\":\"output\",\"path\":\"/o\",\"mode\":4096,\"size\":0,\"data\":h'',\"end\":true}",
     -EPROTO, "output.mode: 4096 is larger than 4095"},
    {"oversize_chunk.cbor", "{\"type\":\"stdout\",\"data\":h'2e' * 65537}", -EPROTO,
     "stdout.data: chunk of 65537 bytes"},
    {"empty_stdout.cbor", "{\"type\":\"stdout\",\"data\":h''}", -EPROTO,
     "stdout.data: chunk is empty"},
    {"exit_code_and_signal.cbor",
     "{\"type\":\"exit\",\"code\":0,\"signal\":9,\"timed_out\":false,\"wall_us\":1,"
     "\"user_us\":1,\"sys_us\":1,\"max_rss_kb\":1,\"backend\":\"userns\",\"overlay\":\"native\","
     "\"timings\":[]}",
     -EPROTO, "exit: both \"code\" and \"signal\" are present"},
    {"negative_errno.cbor",
     "{\"type\":\"error\",\"stage\":\"exec\",\"errno\":-2,\"message\":\"m\",\"hint\":\"\"}",
     -EPROTO, "error.errno: expected an unsigned integer"},
};

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf;
    long n;

    ck_assert_msg(f != NULL, "open %s: %s (regenerate with CPS_REGENERATE_VECTORS=1)", path,
                  strerror(errno));
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc(n > 0 ? (size_t)n : 1);
    ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* Regeneration runs before the suite, outside any Check test. */
static void die(const char *what, const char *path)
{
    fprintf(stderr, "regenerate %s: %s: %s\n", path, what, strerror(errno));
    exit(EXIT_FAILURE);
}

static void write_file(const char *path, const uint8_t *buf, size_t len)
{
    FILE *f = fopen(path, "wb");

    if (!f)
        die("create", path);
    if (fwrite(buf, 1, len, f) != len || fclose(f) != 0)
        die("write", path);
}

static void regenerate(void)
{
    struct sample s[16];
    size_t n = samples(s);
    char path[4096];
    struct cps_error err;

    for (size_t i = 0; i < n; i++) {
        uint8_t *buf;
        size_t len;
        snprintf(path, sizeof(path), "%s/%s", DIR_VECTORS, s[i].file);
        if (cps__msg_encode(&s[i].msg, &buf, &len, &err) < 0)
            die(err.message, path);
        write_file(path, buf, len);
        free(buf);
    }
    for (size_t i = 0; i < sizeof(invalids) / sizeof(invalids[0]); i++) {
        size_t len;
        uint8_t *buf = cbor_diag(invalids[i].diag, &len);
        snprintf(path, sizeof(path), "%s/invalid/%s", DIR_VECTORS, invalids[i].file);
        write_file(path, buf, len);
        free(buf);
    }
}

START_TEST(valid_vectors_decode_and_reencode_byte_for_byte)
{
    struct sample s[16];
    size_t n = samples(s);
    char path[4096];

    for (size_t i = 0; i < n; i++) {
        struct cps_error err = {0};
        struct cps_msg msg;
        uint8_t *file, *mine, *again;
        size_t len, mine_len, again_len;

        snprintf(path, sizeof(path), "%s/%s", DIR_VECTORS, s[i].file);
        file = read_file(path, &len);
        ck_assert_msg(cps__msg_decode(file, len, &msg, &err) == 0, "%s: %s", s[i].file,
                      err.message);
        ck_assert_msg(cps__msg_equal(&msg, &s[i].msg), "%s: not the sample", s[i].file);
        ck_assert_int_eq(cps__msg_encode(&msg, &again, &again_len, &err), 0);
        ck_assert_msg(again_len == len && memcmp(again, file, len) == 0, "%s: re-encoding differs",
                      s[i].file);
        ck_assert_int_eq(cps__msg_encode(&s[i].msg, &mine, &mine_len, &err), 0);
        ck_assert_msg(mine_len == len && memcmp(mine, file, len) == 0,
                      "%s: the sample encodes differently", s[i].file);
        cps__msg_free(&msg);
        free(file);
        free(again);
        free(mine);
    }
}
END_TEST

START_TEST(invalid_vectors_are_refused)
{
    char path[4096];

    for (size_t i = 0; i < sizeof(invalids) / sizeof(invalids[0]); i++) {
        struct cps_error err = {0};
        struct cps_msg msg;
        size_t len, want_len;
        uint8_t *file, *want;
        int ret;

        snprintf(path, sizeof(path), "%s/invalid/%s", DIR_VECTORS, invalids[i].file);
        file = read_file(path, &len);
        want = cbor_diag(invalids[i].diag, &want_len);
        ck_assert_msg(want_len == len && memcmp(want, file, len) == 0, "%s: file and table differ",
                      invalids[i].file);
        ret = cps__msg_decode(file, len, &msg, &err);
        ck_assert_msg(ret == invalids[i].ret, "%s: got %d (%s)", invalids[i].file, ret,
                      err.message);
        ck_assert_msg(strstr(err.message, invalids[i].needle), "%s: \"%s\" lacks \"%s\"",
                      invalids[i].file, err.message, invalids[i].needle);
        free(file);
        free(want);
    }
}
END_TEST

/* Every file in the directory is checked above and listed in README.md. */
static void every_file_is_known(const char *sub, const char *readme)
{
    struct sample s[16] = {0};
    size_t n = samples(s);
    char path[4096];
    DIR *d;
    struct dirent *e;
    size_t count = 0;

    snprintf(path, sizeof(path), "%s%s", DIR_VECTORS, sub);
    d = opendir(path);
    ck_assert_ptr_nonnull(d);
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        bool known = false;

        if (l < 5 || strcmp(e->d_name + l - 5, ".cbor") != 0)
            continue;
        count++;
        if (*sub) {
            for (size_t i = 0; i < sizeof(invalids) / sizeof(invalids[0]); i++)
                known |= strcmp(invalids[i].file, e->d_name) == 0;
        } else {
            for (size_t i = 0; i < n; i++)
                known |= strcmp(s[i].file, e->d_name) == 0;
        }
        ck_assert_msg(known, "%s%s/%s is not checked by any test", DIR_VECTORS, sub, e->d_name);
        ck_assert_msg(strstr(readme, e->d_name), "README.md does not list %s", e->d_name);
    }
    closedir(d);
    ck_assert_uint_eq(count, *sub ? sizeof(invalids) / sizeof(invalids[0]) : n);
}

START_TEST(no_stray_or_unlisted_files)
{
    size_t len;
    char path[4096];
    char *readme;

    snprintf(path, sizeof(path), "%s/README.md", DIR_VECTORS);
    readme = (char *)read_file(path, &len);
    readme = realloc(readme, len + 1);
    readme[len] = '\0';
    every_file_is_known("", readme);
    every_file_is_known("/invalid", readme);
    free(readme);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("vectors");
    TCase *tc = tcase_create("vectors");
    const char *regen = getenv("CPS_REGENERATE_VECTORS");

    if (regen && *regen && strcmp(regen, "0") != 0) {
        regenerate();
        printf("rewrote the vectors in %s\n", DIR_VECTORS);
    }
    /* A hang guard, not a timing requirement: the machine may be shared. */
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, valid_vectors_decode_and_reencode_byte_for_byte);
    tcase_add_test(tc, invalid_vectors_are_refused);
    tcase_add_test(tc, no_stray_or_unlisted_files);
    suite_add_tcase(s, tc);
    return cps_test_run(s);
}
