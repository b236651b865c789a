/*
 * test_decode.c - the strict decoder against hand-made frames: one table row
 * per rule of docs/PROTOCOL.md ("Decoding rules"), each asserting the return
 * code and a piece of the message naming the rule and the field.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "cbor_diag.h"
#include "check_run.h"

/* A valid job with each field replaceable. */
#define JOBX(toolchain, argv, env, cwd, outputs, inputs, extra)                                    \
    "{\"type\":\"job\",\"toolchain\":" toolchain ",\"build_dir\":\"/b\",\"argv\":" argv            \
    ",\"env\":" env ",\"cwd\":" cwd ",\"outputs\":" outputs ",\"inputs\":" inputs extra "}"
#define JOB_TC(x)      JOBX(x, "[\"cc\"]", "[]", "\"/\"", "[]", "[]", "")
#define JOB_ARGV(x)    JOBX("\"/tc\"", x, "[]", "\"/\"", "[]", "[]", "")
#define JOB_ENV(x)     JOBX("\"/tc\"", "[\"cc\"]", x, "\"/\"", "[]", "[]", "")
#define JOB_CWD(x)     JOBX("\"/tc\"", "[\"cc\"]", "[]", x, "[]", "[]", "")
#define JOB_OUTPUTS(x) JOBX("\"/tc\"", "[\"cc\"]", "[]", "\"/\"", x, "[]", "")
#define JOB_INPUTS(x)  JOBX("\"/tc\"", "[\"cc\"]", "[]", "\"/\"", "[]", x, "")
#define JOB_EXTRA(x)   JOBX("\"/tc\"", "[\"cc\"]", "[]", "\"/\"", "[]", "[]", "," x)
#define JOB_OK         JOB_EXTRA("\"seccomp\":true")

#define HELLO_REST                                                                                 \
    "\"helper_version\":\"0.1.0\",\"backends\":[\"userns\"],\"overlay_modes\":[\"native\"],"       \
    "\"max_frame\":1048576,\"max_chunk\":65536,\"uid\":0,\"gid\":0,\"backend\":\"userns\","        \
    "\"seccomp\":true"
#define HELLO(protocol, extra) "{\"type\":\"hello\",\"protocol\":" protocol "," HELLO_REST extra "}"

#define EXIT_REST                                                                                  \
    "\"timed_out\":false,\"wall_us\":1,\"user_us\":2,\"sys_us\":3,\"max_rss_kb\":4,"               \
    "\"backend\":\"userns\",\"overlay\":\"native\",\"timings\":"
#define EXIT(status, timings) "{\"type\":\"exit\"," status EXIT_REST timings "}"

#define OUTPUT(rest) "{\"type\":\"output\",\"path\":\"/o\"," rest "}"
#define OUTPUT_OK    OUTPUT("\"mode\":420,\"size\":3,\"data\":h'616263',\"end\":true")

#define ERR(rest) "{\"type\":\"error\"," rest "}"

struct bad {
    const char *diag;
    int ret;
    const char *needle;
};

static const struct bad bad_frames[] = {
    /* The pre-scan: CBOR the protocol never uses. */
    {"{\"type\":\"cancel\",\"x\":<9f ff>}", -EPROTO, "indefinite-length array at byte 15"},
    {"<bf 64 74797065 66 63616e63656c ff>", -EPROTO, "indefinite-length map at byte 0"},
    {"{\"type\":<7f 63 616263 ff>}", -EPROTO, "indefinite-length text string"},
    {"{\"type\":\"stdout\",\"data\":<5f 41 00 ff>}", -EPROTO, "indefinite-length byte string"},
    {"{\"type\":\"stdout\",\"data\":<c2 41 00>}", -EPROTO, "tag 2 at byte 18"},
    {"<c0> {\"type\":\"cancel\"}", -EPROTO, "tag 0 at byte 0 (tags are not allowed)"},
    {EXIT("\"code\":<f9 3c 00>,", "[]"), -EPROTO, "floating-point number"},
    {"{\"type\":\"cancel\",\"x\":<fb 3ff0000000000000>}", -EPROTO, "floating-point number"},
    {"{\"type\":\"cancel\",\"x\":<fa 3f800000>}", -EPROTO, "floating-point number"},
    {"{\"type\":\"cancel\",\"x\":null}", -EPROTO, "null at byte 15 (not allowed)"},
    {"{\"type\":\"cancel\",\"x\":<f7>}", -EPROTO, "undefined at byte 15"},
    {"{\"type\":\"cancel\",\"x\":<e0>}", -EPROTO, "malformed CBOR at byte 15"},
    {"{\"type\":\"cancel\",\"x\":<f8 20>}", -EPROTO, "malformed CBOR at byte 15"},
    {"{\"type\":\"cancel\",\"x\":<1c>}", -EPROTO, "malformed CBOR at byte 15"},
    {"{\"type\":\"cancel\",\"x\":[[[[]]]]}", -EPROTO, "nests deeper than 4 levels"},
    {"{\"type\":\"cancel\",\"x\":[[[{}]]]}", -EPROTO, "map at byte 18 nests deeper than 4"},
    /* Depth 4 itself passes the pre-scan and fails on the schema. */
    {"{\"type\":\"cancel\",\"x\":[[[1]]]}", -EPROTO, "cancel: unknown key \"x\""},
    /* Declared sizes larger than the bytes left (the 9-byte frames). */
    {"<9b 00 00 00 00 10 00 00 00>", -EPROTO,
     "array at byte 0 declares 268435456 items but only 0 bytes are left"},
    {"<bb 00 00 00 00 10 00 00 00>", -EPROTO,
     "map at byte 0 declares 536870912 items but only 0 bytes are left"},
    {"<5b 00 00 00 00 10 00 00 00>", -EPROTO,
     "byte string at byte 0 declares 268435456 bytes but only 0 bytes are left"},
    {"<7b 00 00 00 00 10 00 00 00>", -EPROTO, "text string at byte 0 declares 268435456 bytes"},
    {"{\"type\":\"job\",\"argv\":<9a 10000000>}", -EPROTO,
     "array at byte 15 declares 268435456 items but only 0 bytes are left"},
    /* Two open arrays together declare more items than there are bytes. */
    {"{\"type\":\"cancel\",\"x\":<85 01 02 03>, \"y\":1}", -EPROTO,
     "array at byte 15 declares 5 items; with the 2 items the enclosing containers still "
     "expect that is more than the 6 bytes left"},
    {"{\"type\":\"cancel\"} <00>", -EPROTO, "1 trailing bytes after the message"},
    {"{\"type\":\"cancel\"} {\"type\":\"cancel\"}", -EPROTO, "trailing bytes"},
    {"<a1 64 74 79>", -EPROTO, "text string at byte 1 declares 4 bytes but only 2 bytes are left"},
    {"<a2 64 74797065 66 63616e63656c>", -EPROTO, "truncated message"},
    {"{\"type\":\"cancel\",\"x\":<ff>}", -EPROTO, "unexpected break at byte 15"},
    {"[\"cancel\"]", -EPROTO, "the message must be a map"},
    {"\"cancel\"", -EPROTO, "the message must be a map"},
    {"7", -EPROTO, "the message must be a map"},

    /* Message type. */
    {"{\"x\":1}", -EPROTO, "message: missing key \"type\""},
    {"{}", -EPROTO, "message: missing key \"type\""},
    {"{\"type\":1}", -EPROTO, "type: expected a text string, got an unsigned integer"},
    {"{\"type\":\"bogus\"}", -EPROTO, "type: unknown message type \"bogus\""},
    {"{\"type\":\"Cancel\"}", -EPROTO, "unknown message type \"Cancel\""},
    {"{\"type\":\"can\\x00cel\"}", -EPROTO, "type: text contains NUL"},

    /* Keys: unknown, duplicate, not text, missing. */
    {"{\"type\":\"cancel\",\"extra\":1}", -EPROTO, "cancel: unknown key \"extra\""},
    {"{\"type\":\"cancel\",\"\\xff\\\"\":1}", -EPROTO,
     "cancel (a map key): text is not valid UTF-8"},
    {"{\"type\":\"cancel\",\"a\\\"b\":1}", -EPROTO, "cancel: unknown key \"a\\x22b\""},
    {"{\"type\":\"cancel\",\"\\xc3\\xa9\":1}", -EPROTO, "cancel: unknown key \"\\xc3\\xa9\""},
    {"{\"type\":\"cancel\",\"type\":\"cancel\"}", -EPROTO, "cancel: duplicate key \"type\""},
    {JOB_EXTRA("\"argv\":[\"cc\"]"), -EPROTO, "job: duplicate key \"argv\""},
    {"{\"type\":\"cancel\",1:2}", -EPROTO, "cancel: map key 1 is an unsigned integer"},
    {"{\"type\":\"cancel\",h'74797065':1}", -EPROTO, "cancel: map key 1 is a byte string"},
    {"{\"type\":\"job\",\"toolchain\":\"/tc\",\"build_dir\":\"/b\",\"argv\":[\"cc\"],"
     "\"env\":[],\"outputs\":[],\"inputs\":[]}",
     -EPROTO, "job: missing key \"cwd\""},
    {"{\"type\":\"stdout\"}", -EPROTO, "stdout: missing key \"data\""},
    {"{\"type\":\"input\",\"path\":\"/a\",\"data\":h''}", -EPROTO, "input: missing key \"end\""},
    {OUTPUT("\"mode\":420,\"size\":3,\"data\":h'616263'"), -EPROTO, "output: missing key \"end\""},
    {ERR("\"stage\":\"x\",\"errno\":1,\"message\":\"m\""), -EPROTO, "error: missing key \"hint\""},

    /* Wrong types. */
    {JOB_ARGV("\"cc\""), -EPROTO, "job.argv: expected an array, got a text string"},
    {JOB_ARGV("[1]"), -EPROTO, "job.argv[0]: expected a text string, got an unsigned integer"},
    {JOB_CWD("h'2f'"), -EPROTO, "job.cwd: expected a text string, got a byte string"},
    {JOB_EXTRA("\"seccomp\":1"), -EPROTO, "job.seccomp: expected a boolean, got an unsigned"},
    {JOB_EXTRA("\"uid\":-1"), -EPROTO, "job.uid: expected an unsigned integer, got a negative"},
    {JOB_EXTRA("\"uid\":\"0\""), -EPROTO, "job.uid: expected an unsigned integer, got a text"},
    {JOB_EXTRA("\"limits\":[]"), -EPROTO, "job.limits: expected a map, got an array"},
    {JOB_EXTRA("\"limits\":{\"timeout_ms\":true}"), -EPROTO,
     "job.limits.timeout_ms: expected an unsigned integer, got a simple value"},
    {JOB_EXTRA("\"limits\":{\"nice\":1}"), -EPROTO, "job.limits: unknown key \"nice\""},
    {JOB_INPUTS("[\"/a\"]"), -EPROTO, "job.inputs[0]: expected a map, got a text string"},
    {JOB_INPUTS("[{\"path\":\"/a\",\"mode\":420}]"), -EPROTO,
     "job.inputs[0]: missing key \"size\""},
    {"{\"type\":\"input\",\"path\":\"/a\",\"data\":h'',\"end\":1}", -EPROTO,
     "input.end: expected a boolean, got an unsigned integer"},
    {"{\"type\":\"input\",\"path\":\"/a\",\"data\":\"\",\"end\":true}", -EPROTO,
     "input.data: expected a byte string, got a text string"},
    {ERR("\"stage\":\"x\",\"errno\":-1,\"message\":\"m\",\"hint\":\"\""), -EPROTO,
     "error.errno: expected an unsigned integer, got a negative integer"},
    {ERR("\"stage\":\"x\",\"errno\":2147483648,\"message\":\"m\",\"hint\":\"\""), -EPROTO,
     "error.errno: 2147483648 is larger than 2147483647"},
    {EXIT("\"code\":-1,", "[]"), -EPROTO, "exit.code: expected an unsigned integer, got a neg"},
    {EXIT("\"code\":0,", "[[\"exec\",-5]]"), -EPROTO,
     "exit.timings[0][1]: expected an unsigned integer, got a negative"},
    {EXIT("\"code\":0,", "[\"exec\"]"), -EPROTO,
     "exit.timings[0]: expected a [stage, usec] array, got a text string"},
    {EXIT("\"code\":0,", "[[\"exec\"]]"), -EPROTO, "exit.timings[0]: 1 entries, not 2..2"},

    /* Text: UTF-8, NUL, limits. */
    {JOB_ARGV("[\"cc\",\"-c\",\"x.c\",\"a\\x00b\"]"), -EPROTO, "job.argv[3]: text contains NUL"},
    {JOB_ARGV("[\"cc\",\"\\xff\"]"), -EPROTO, "job.argv[1]: text is not valid UTF-8"},
    {JOB_ARGV("[\"cc\",\"\\xc0\\xaf\"]"), -EPROTO, "job.argv[1]: text is not valid UTF-8"},
    {JOB_ARGV("[\"\\xed\\xa0\\x80\"]"), -EPROTO, "job.argv[0]: text is not valid UTF-8"},
    {JOB_ARGV("[\"\\xf4\\x90\\x80\\x80\"]"), -EPROTO, "job.argv[0]: text is not valid UTF-8"},
    {JOB_ARGV("[\"\\xe2\\x82\"]"), -EPROTO, "job.argv[0]: text is not valid UTF-8"},
    {JOB_ARGV("[\"\\x80\"]"), -EPROTO, "job.argv[0]: text is not valid UTF-8"},
    {JOB_ENV("[[\"LANG\",\"\\xfe\"]]"), -EPROTO, "job.env[0][1]: text is not valid UTF-8"},
    {JOB_ARGV("[\"a\" * 131073]"), -EPROTO,
     "job.argv[0]: text of 131073 bytes is longer than the limit of 131072 bytes"},
    {JOB_CWD("\"/\" + \"a\" * 4095"), -EPROTO,
     "job.cwd: text of 4096 bytes is longer than the limit of 4095 bytes"},
    {HELLO("1", "") "", 0, NULL},
    {"{\"type\":\"hello\",\"protocol\":1,\"helper_version\":\"v\" * 257,"
     "\"backends\":[],\"overlay_modes\":[],\"max_frame\":1,\"max_chunk\":1,\"uid\":0,\"gid\":0,"
     "\"backend\":\"userns\",\"seccomp\":true}",
     -EPROTO, "hello.helper_version: text of 257 bytes is longer than the limit of 256"},
    {"{\"type\":\"hello\",\"protocol\":1,\"helper_version\":\"\","
     "\"backends\":[],\"overlay_modes\":[],\"max_frame\":1,\"max_chunk\":1,\"uid\":0,\"gid\":0,"
     "\"backend\":\"userns\",\"seccomp\":true}",
     -EPROTO, "hello.helper_version: text is empty"},
    {ERR("\"stage\":\"x\",\"errno\":1,\"message\":\"m\" * 4097,\"hint\":\"\""), -EPROTO,
     "error.message: text of 4097 bytes is longer than the limit of 4096 bytes"},
    {ERR("\"stage\":\"x\",\"errno\":1,\"message\":\"\",\"hint\":\"h\" * 4097"), -EPROTO,
     "error.hint: text of 4097 bytes"},
    {ERR("\"stage\":\"\",\"errno\":1,\"message\":\"\",\"hint\":\"\""), -EPROTO,
     "error.stage: text is empty"},
    {EXIT("\"code\":0,\"limit\":\"\",", "[]"), -EPROTO, "exit.limit: text is empty"},

    /* Counts. */
    {JOB_ARGV("[]"), -EPROTO, "job.argv: 0 entries, not 1..4096"},
    {JOB_ENV("[[\"A\",\"1\",\"2\"]]"), -EPROTO, "job.env[0]: 3 entries, not 2..2"},
    {JOB_ENV("[\"A=1\"]"), -EPROTO, "job.env[0]: expected a [name, value] array, got a text"},
    {JOB_ENV("[[\"\",\"1\"]]"), -EPROTO, "job.env[0][0]: text is empty"},
    {JOB_ENV("[[\"A=B\",\"1\"]]"), -EPROTO, "job.env[0][0]: variable name contains '='"},

    /* Paths. */
    {JOB_CWD("\"build\""), -EPROTO, "job.cwd: path is not absolute"},
    {JOB_CWD("\"\""), -EPROTO, "job.cwd: text is empty"},
    {JOB_CWD("\"/a/../b\""), -EPROTO, "job.cwd: path has a \"..\" component"},
    {JOB_CWD("\"/..\""), -EPROTO, "job.cwd: path has a \"..\" component"},
    {JOB_CWD("\"/a/./b\""), -EPROTO, "job.cwd: path has a \".\" component"},
    {JOB_CWD("\"/a//b\""), -EPROTO, "job.cwd: path has an empty component"},
    {JOB_CWD("\"//\""), -EPROTO, "job.cwd: path ends with '/'"},
    {JOB_CWD("\"/a/\""), -EPROTO, "job.cwd: path ends with '/'"},
    {JOB_TC("\"tc\""), -EPROTO, "job.toolchain: path is not absolute"},
    {JOB_OUTPUTS("[\"/o\",\"../x\"]"), -EPROTO, "job.outputs[1]: path is not absolute"},
    {JOB_INPUTS("[{\"path\":\"/x/..\",\"mode\":420,\"size\":0}]"), -EPROTO,
     "job.inputs[0].path: path has a \"..\" component"},
    {"{\"type\":\"input\",\"path\":\"/a/.\",\"data\":h'',\"end\":true}", -EPROTO,
     "input.path: path has a \".\" component"},
    {"{\"type\":\"output\",\"path\":\"o\",\"missing\":true}", -EPROTO,
     "output.path: path is not absolute"},

    /* Ranges and choices. */
    {JOB_INPUTS("[{\"path\":\"/a\",\"mode\":4096,\"size\":0}]"), -EPROTO,
     "job.inputs[0].mode: 4096 is larger than 4095"},
    {OUTPUT("\"mode\":65535,\"size\":3,\"data\":h'616263',\"end\":true"), -EPROTO,
     "output.mode: 65535 is larger than 4095"},
    {JOB_EXTRA("\"uid\":4294967295"), -EPROTO, "job.uid: 4294967295 is larger than 4294967294"},
    {JOB_EXTRA("\"backend\":\"lxc\""), -EPROTO, "job.backend: unknown backend \"lxc\""},
    {JOB_EXTRA("\"overlay\":\"zfs\""), -EPROTO, "job.overlay: unknown overlay mode \"zfs\""},
    {HELLO("1", ",\"extra\":1"), -EPROTO, "hello: unknown key \"extra\""},
    /* hello.reuse: the jobs a reusing helper still takes, 1..1000. */
    {HELLO("1", ",\"reuse\":0"), -EPROTO, "hello.reuse: 0 is not a number of jobs (1..1000)"},
    {HELLO("1", ",\"reuse\":1001"), -EPROTO, "hello.reuse: 1001 is larger than 1000"},
    {HELLO("1", ",\"reuse\":4294967297"), -EPROTO, "hello.reuse: 4294967297 is larger than 1000"},
    {HELLO("1", ",\"reuse\":-1"), -EPROTO,
     "hello.reuse: expected an unsigned integer, got a negative integer"},
    {HELLO("1", ",\"reuse\":\"2\""), -EPROTO,
     "hello.reuse: expected an unsigned integer, got a text string"},
    {HELLO("1", ",\"reuse\":true"), -EPROTO, "hello.reuse: expected an unsigned integer"},
    {HELLO("1", ",\"reuse\":2,\"reuse\":2"), -EPROTO, "hello: duplicate key \"reuse\""},
    {"{\"type\":\"hello\",\"protocol\":1,\"helper_version\":\"0.1\",\"backends\":[],"
     "\"overlay_modes\":[],\"max_frame\":1,\"max_chunk\":1,\"uid\":0,\"gid\":0,"
     "\"backend\":\"lxc\",\"seccomp\":true}",
     -EPROTO, "hello.backend: unknown backend \"lxc\""},
    {"{\"type\":\"hello\",\"protocol\":1,\"helper_version\":\"0.1\",\"backends\":[1],"
     "\"overlay_modes\":[],\"max_frame\":1,\"max_chunk\":1,\"uid\":0,\"gid\":0,"
     "\"backend\":\"userns\",\"seccomp\":true}",
     -EPROTO, "hello.backends[0]: expected a text string"},
    {"{\"type\":\"hello\",\"protocol\":1,\"helper_version\":\"0.1\",\"backends\":[],"
     "\"overlay_modes\":[\"bind\",\"\"],\"max_frame\":1,\"max_chunk\":1,\"uid\":0,\"gid\":0,"
     "\"backend\":\"userns\",\"seccomp\":true}",
     -EPROTO, "hello.overlay_modes[1]: text is empty"},
    {EXIT("\"code\":256,", "[]"), -EPROTO, "exit.code: 256 is larger than 255"},
    {EXIT("\"signal\":0,", "[]"), -EPROTO, "exit.signal: signal 0 is not 1..64"},
    {EXIT("\"signal\":65,", "[]"), -EPROTO, "exit.signal: 65 is larger than 64"},
    {EXIT("\"code\":0,\"signal\":9,", "[]"), -EPROTO,
     "exit: both \"code\" and \"signal\" are present"},
    {EXIT("", "[]"), -EPROTO, "exit: missing key \"code\" (or \"signal\")"},
    {"{\"type\":\"exit\",\"code\":0,\"timed_out\":false,\"wall_us\":1,\"user_us\":2,"
     "\"sys_us\":3,\"max_rss_kb\":4,\"backend\":\"userns\",\"overlay\":\"auto\",\"timings\":[]}",
     -EPROTO, "exit.overlay: unknown overlay mode \"auto\""},

    /* Data chunks. */
    {"{\"type\":\"stdout\",\"data\":h'00' * 65537}", -EPROTO,
     "stdout.data: chunk of 65537 bytes is larger than the limit of 65536 bytes"},
    {"{\"type\":\"input\",\"path\":\"/a\",\"data\":h'00' * 65537,\"end\":true}", -EPROTO,
     "input.data: chunk of 65537 bytes"},
    {OUTPUT("\"mode\":420,\"size\":70000,\"data\":h'00' * 65537,\"end\":false"), -EPROTO,
     "output.data: chunk of 65537 bytes"},
    {"{\"type\":\"stdout\",\"data\":h''}", -EPROTO, "stdout.data: chunk is empty"},
    {"{\"type\":\"stderr\",\"data\":h''}", -EPROTO, "stderr.data: chunk is empty"},
    {OUTPUT("\"mode\":420,\"size\":2,\"data\":h'616263',\"end\":true"), -EPROTO,
     "output.data: chunk of 3 bytes is larger than the file size 2"},
    {OUTPUT("\"missing\":false"), -EPROTO, "output.missing: must be true when present"},
    {OUTPUT("\"missing\":true,\"mode\":420"), -EPROTO,
     "output: key \"mode\" is not allowed with \"missing\""},

    /* Version negotiation comes first, whatever else the hello holds. */
    {HELLO("2", ""), -EPROTONOSUPPORT, "helper speaks protocol 2, this side speaks 1"},
    {"{\"type\":\"hello\",\"protocol\":7,\"new_field\":<fb 3ff0000000000000>,"
     "\"x\":<c1 1a 00000000>,\"y\":<9f ff>}",
     -EPROTONOSUPPORT, "helper speaks protocol 7, this side speaks 1"},
    {"{\"protocol\":0,\"type\":\"hello\"}", -EPROTONOSUPPORT, "helper speaks protocol 0"},
    {"{\"type\":\"hello\",\"protocol\":\"2\"}", -EPROTO,
     "hello.protocol: expected an unsigned integer, got a text string"},
    {"{\"type\":\"hello\",\"protocols\":[1]}", -EPROTO, "hello: missing key \"protocol\""},
    {"{\"type\":\"job\",\"protocol\":2}", -EPROTO, "job: unknown key \"protocol\""},
};

static void check_bad(size_t i, const struct bad *b)
{
    struct cps_error err = {0};
    struct cps_msg msg;
    size_t len;
    uint8_t *buf = cbor_diag(b->diag, &len);
    int ret = cps__msg_decode(buf, len, &msg, &err);

    if (b->ret == 0) {
        ck_assert_msg(ret == 0, "row %zu: expected success, got %d: %s", i, ret, err.message);
        cps__msg_free(&msg);
    } else {
        ck_assert_msg(ret == b->ret, "row %zu (%s): expected %d, got %d: %s", i, b->needle, b->ret,
                      ret, err.message);
        ck_assert_msg(strstr(err.message, b->needle), "row %zu: message \"%s\" lacks \"%s\"", i,
                      err.message, b->needle);
        ck_assert_str_eq(err.stage, "decode");
        ck_assert_int_eq(err.errnum, -b->ret);
        ck_assert_int_eq(msg.type, 0);
    }
    free(buf);
}

START_TEST(malformed_frames_are_refused_with_their_rule)
{
    check_bad((size_t)_i, &bad_frames[_i]);
}
END_TEST

/* Frames built in C because they repeat an element thousands of times. */
static char *repeat(const char *head, const char *item, size_t n, const char *tail)
{
    size_t len = strlen(head) + n * (strlen(item) + 1) + strlen(tail) + 1;
    char *s = malloc(len), *p = s;

    p += sprintf(p, "%s", head);
    for (size_t i = 0; i < n; i++)
        p += sprintf(p, "%s%s", i ? "," : "", item);
    sprintf(p, "%s", tail);
    return s;
}

static void expect(const char *diag, int want, const char *needle)
{
    struct cps_error err = {0};
    struct cps_msg msg;
    size_t len;
    uint8_t *buf = cbor_diag(diag, &len);
    int ret = cps__msg_decode(buf, len, &msg, &err);

    ck_assert_msg(ret == want, "expected %d, got %d: %s", want, ret, err.message);
    if (want == 0)
        cps__msg_free(&msg);
    else
        ck_assert_msg(strstr(err.message, needle), "message \"%s\" lacks \"%s\"", err.message,
                      needle);
    free(buf);
}

#define JOB_HEAD "{\"type\":\"job\",\"toolchain\":\"/tc\",\"build_dir\":\"/b\",\"cwd\":\"/\","

START_TEST(counts_are_capped)
{
    char *s;

    s = repeat(JOB_HEAD "\"env\":[],\"outputs\":[],\"inputs\":[],\"argv\":[", "\"a\"", 4096, "]}");
    expect(s, 0, NULL);
    free(s);
    s = repeat(JOB_HEAD "\"env\":[],\"outputs\":[],\"inputs\":[],\"argv\":[", "\"a\"", 4097, "]}");
    expect(s, -EPROTO, "job.argv: 4097 entries, not 1..4096");
    free(s);
    s = repeat(JOB_HEAD "\"argv\":[\"cc\"],\"outputs\":[],\"inputs\":[],\"env\":[", "[\"A\",\"1\"]",
               1025, "]}");
    expect(s, -EPROTO, "job.env: 1025 entries, more than 1024");
    free(s);
    s = repeat(JOB_HEAD "\"argv\":[\"cc\"],\"env\":[],\"inputs\":[],\"outputs\":[", "\"/o\"", 257,
               "]}");
    expect(s, -EPROTO, "job.outputs: 257 entries, more than 256");
    free(s);
    s = repeat(JOB_HEAD "\"argv\":[\"cc\"],\"env\":[],\"outputs\":[],\"inputs\":[",
               "{\"path\":\"/i\",\"mode\":420,\"size\":1}", 4096, "]}");
    expect(s, 0, NULL);
    free(s);
    s = repeat(JOB_HEAD "\"argv\":[\"cc\"],\"env\":[],\"outputs\":[],\"inputs\":[",
               "{\"path\":\"/i\",\"mode\":420,\"size\":1}", 4097, "]}");
    expect(s, -EPROTO, "job.inputs: 4097 entries, more than 4096");
    free(s);
    s = repeat("{\"type\":\"exit\",\"code\":0," EXIT_REST "[", "[\"s\",1]", 65, "]}");
    expect(s, -EPROTO, "exit.timings: 65 entries, more than 64");
    free(s);
    s = repeat("{\"type\":\"hello\",\"protocol\":1,\"helper_version\":\"0.1\","
               "\"overlay_modes\":[],\"max_frame\":1,\"max_chunk\":1,\"uid\":0,\"gid\":0,"
               "\"backend\":\"userns\",\"seccomp\":true,\"backends\":[",
               "\"userns\"", 17, "]}");
    expect(s, -EPROTO, "hello.backends: 17 entries, more than 16");
    free(s);
    /* 70,000 one-byte items fit in a frame but not under CPS_MAX_ITEMS. */
    s = repeat("{\"type\":\"cancel\",\"x\":[", "0", 70000, "]}");
    expect(s, -EPROTO, "more than 65536 items in one frame");
    free(s);
}
END_TEST

START_TEST(accepted_variations)
{
    struct cps_error err = {0};
    struct cps_msg msg;
    size_t len;
    uint8_t *buf;

    /* Keys in any order, integers not in their shortest form. */
    buf = cbor_diag("{\"end\":true,\"data\":h'00',\"path\":\"/a\",\"type\":\"input\"}", &len);
    ck_assert_int_eq(cps__msg_decode(buf, len, &msg, &err), 0);
    ck_assert_str_eq(msg.u.input.path, "/a");
    cps__msg_free(&msg);
    free(buf);
    buf = cbor_diag(EXIT("\"code\":<19 00 07>,", "[]"), &len);
    ck_assert_int_eq(cps__msg_decode(buf, len, &msg, &err), 0);
    ck_assert_int_eq(msg.u.exit.code, 7);
    cps__msg_free(&msg);
    free(buf);

    /* Lengths not in their shortest form: a key, a text, a byte string and
     * an array count, each with a head longer than needed (docs/PROTOCOL.md,
     * Encoding). */
    buf = cbor_diag("{<78 04 74 79 70 65>:\"input\",\"path\":<79 00 02 2f 61>,"
                    "\"data\":<5a 00 00 00 01 00>,\"end\":true}",
                    &len);
    ck_assert_msg(cps__msg_decode(buf, len, &msg, &err) == 0, "%s", err.message);
    ck_assert_str_eq(msg.u.input.path, "/a");
    ck_assert_uint_eq(msg.u.input.data_len, 1);
    cps__msg_free(&msg);
    free(buf);
    buf = cbor_diag(EXIT("\"code\":0,", "<98 01 82 63 72 75 6e 05>"), &len);
    ck_assert_msg(cps__msg_decode(buf, len, &msg, &err) == 0, "%s", err.message);
    ck_assert_uint_eq(msg.u.exit.timingc, 1);
    cps__msg_free(&msg);
    free(buf);

    /* hello.reuse at both bounds, and absent (0). */
    {
        static const struct {
            const char *diag;
            uint32_t reuse;
        } r[] = {{HELLO("1", ",\"reuse\":1"), 1},
                 {HELLO("1", ",\"reuse\":1000"), 1000},
                 {HELLO("1", ",\"reuse\":<19 00 02>"), 2}, /* a longer integer form */
                 {HELLO("1", ""), 0}};

        for (size_t i = 0; i < sizeof(r) / sizeof(r[0]); i++) {
            buf = cbor_diag(r[i].diag, &len);
            ck_assert_msg(cps__msg_decode(buf, len, &msg, &err) == 0, "%s", err.message);
            ck_assert_uint_eq(msg.u.hello.reuse, r[i].reuse);
            cps__msg_free(&msg);
            free(buf);
        }
    }

    /* Unknown capability names in hello are skipped (forward compatibility). */
    buf = cbor_diag("{\"type\":\"hello\",\"protocol\":1,\"helper_version\":\"9.0\","
                    "\"backends\":[\"gvisor\",\"userns\"],\"overlay_modes\":[\"auto\",\"zfs\","
                    "\"bind\"],\"max_frame\":1048576,\"max_chunk\":65536,\"uid\":0,\"gid\":0,"
                    "\"backend\":\"userns\",\"seccomp\":false}",
                    &len);
    ck_assert_int_eq(cps__msg_decode(buf, len, &msg, &err), 0);
    ck_assert_uint_eq(msg.u.hello.backends, CPS_BACKEND_USERNS);
    ck_assert_uint_eq(msg.u.hello.overlay_modes, CPS_OVERLAY_BIND);
    cps__msg_free(&msg);
    free(buf);

    /* An explicit "auto" overlay, the path "/", 4095-byte paths, empty text. */
    buf = cbor_diag(JOBX("\"/\" + \"a\" * 4094", "[\"\"]", "[[\"E\",\"\"]]", "\"/\"", "[\"/x\"]",
                         "[{\"path\":\"/x\",\"mode\":4095,\"size\":0}]", ",\"overlay\":\"auto\""),
                    &len);
    ck_assert_msg(cps__msg_decode(buf, len, &msg, &err) == 0, "%s", err.message);
    ck_assert_uint_eq(strlen(msg.u.job.toolchain), 4095);
    ck_assert_uint_eq(msg.u.job.overlay, CPS_OVERLAY_AUTO);
    ck_assert_uint_eq(msg.u.job.inputs[0].mode, 07777);
    cps__msg_free(&msg);
    free(buf);

    /* Valid multi-byte UTF-8 of every length. */
    buf = cbor_diag(
        JOB_ARGV("[\"\\xc3\\xa9\\xe2\\x82\\xac\\xf0\\x9f\\x98\\x80\\xf4\\x8f\\xbf\\xbf\"]"), &len);
    ck_assert_msg(cps__msg_decode(buf, len, &msg, &err) == 0, "%s", err.message);
    cps__msg_free(&msg);
    free(buf);
}
END_TEST

START_TEST(error_text_is_cut_to_the_struct_on_a_character_boundary)
{
    struct cps_error err = {0};
    struct cps_msg msg;
    size_t len;
    /* 1022 ASCII bytes then a 3-byte character: struct cps_error holds 1023
     * bytes plus NUL, so the character is dropped whole, not cut in two. */
    uint8_t *buf = cbor_diag(ERR("\"stage\":\"a_stage_name_longer_than_31_bytes\",\"errno\":5,"
                                 "\"message\":\"a\" * 1022 + \"\\xe2\\x82\\xac\","
                                 "\"hint\":\"\\xc3\\xa9\" * 300"),
                             &len);

    ck_assert_msg(cps__msg_decode(buf, len, &msg, &err) == 0, "%s", err.message);
    ck_assert_uint_eq(strlen(msg.u.error.message), 1022);
    ck_assert_str_eq(msg.u.error.stage, "a_stage_name_longer_than_31_byt");
    ck_assert_uint_eq(strlen(msg.u.error.hint), 510); /* 255 two-byte characters */
    ck_assert_int_eq(msg.u.error.errnum, 5);
    cps__msg_free(&msg);
    free(buf);
}
END_TEST

START_TEST(empty_and_oversize_payloads)
{
    struct cps_error err = {0};
    struct cps_msg msg;
    uint8_t byte = 0xa0;

    ck_assert_int_eq(cps__msg_decode(&byte, 0, &msg, &err), -EMSGSIZE);
    ck_assert_ptr_nonnull(strstr(err.message, "0 bytes"));
    ck_assert_int_eq(cps__msg_decode(&byte, CPS_MAX_FRAME + 1, &msg, &err), -EMSGSIZE);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("decode");
    TCase *tc = tcase_create("decode");

    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, malformed_frames_are_refused_with_their_rule, 0,
                        (int)(sizeof(bad_frames) / sizeof(bad_frames[0])));
    tcase_add_test(tc, counts_are_capped);
    tcase_add_test(tc, accepted_variations);
    tcase_add_test(tc, error_text_is_cut_to_the_struct_on_a_character_boundary);
    tcase_add_test(tc, empty_and_oversize_payloads);
    suite_add_tcase(s, tc);
    return cps_test_run(s);
}
