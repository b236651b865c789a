/*
 * proto_samples.h - one sample of every message shape, shared by the round
 * trip tests, the golden vector test (which also regenerates tests/vectors/
 * from them) and the fuzz seeds. The structs point at static data: they are
 * for encoding only, never for cps__msg_free.
 */
#ifndef CPS_TEST_PROTO_SAMPLES_H
#define CPS_TEST_PROTO_SAMPLES_H

#include <string.h>

#include "job_features.h"
#include "proto.h"

/* The message structs hold char * (decoded messages own their strings); the
 * samples point them at literals, which the encoder only reads. */
#define TXT(lit) ((char *)(uintptr_t)(lit))

struct sample {
    const char *file; /* tests/vectors/<file> */
    struct cps_msg msg;
};

static const char *sample_argv[] = {
    TXT("gcc"),         TXT("-x"), TXT("cpp-output"),   TXT("-c"),
    TXT("/build/in.i"), TXT("-o"), TXT("/build/out.o"), TXT("-fpreprocessed")};
static struct cps_env_pair sample_env[] = {
    {TXT("PATH"), TXT("/usr/bin:/bin")}, {TXT("LANG"), TXT("C.UTF-8")}, {TXT("EMPTY"), TXT("")}};
static const char *sample_outputs[] = {TXT("/build/out.o"), TXT("/build/out.d")};
static struct cps_input_decl sample_inputs[] = {{TXT("/build/in.i"), 0644, 11},
                                                {TXT("/build/empty.h"), 0600, 0}};
static const char *minimal_argv[] = {TXT("true")};
static struct cps_timing sample_timings[] = {
    {TXT("unshare"), 310}, {TXT("overlay"), 812}, {TXT("exec"), 1530}, {TXT("wait"), 120034}};
static uint8_t sample_data[] = "int x = 1;\n";
static uint8_t sample_binary[] = {0x7f, 'E', 'L', 'F', 0x02, 0x01, 0x01, 0x00, 0xff, 0xfe};

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* Fill out[] (at least 16 entries); returns the count. */
static size_t samples(struct sample *out)
{
    size_t n = 0;

    out[n++] = (struct sample){TXT("hello.cbor"),
                               {.type = CPS_MSG_HELLO,
                                .u.hello = {
                                    .protocol = CPS_PROTOCOL_VERSION,
                                    .helper_version = TXT("0.1.0"),
                                    .backends = CPS_BACKEND_USERNS | CPS_BACKEND_BUBBLEWRAP,
                                    .overlay_modes = CPS_OVERLAY_NATIVE | CPS_OVERLAY_BIND,
                                    .max_frame = CPS_MAX_FRAME,
                                    .max_chunk = CPS_MAX_CHUNK,
                                    .uid = 1000,
                                    .gid = 1000,
                                    .backend = CPS_BACKEND_USERNS,
                                    .seccomp = true,
                                }}};
    out[n++] = (struct sample){TXT("job_minimal.cbor"),
                               {.type = CPS_MSG_JOB,
                                .u.job = {
                                    .toolchain = TXT("/var/cache/cachepot/toolchains/abc"),
                                    .build_dir = TXT("/var/cache/cachepot/builds/abc-1"),
                                    .argv = minimal_argv,
                                    .argc = 1,
                                    .cwd = TXT("/"),
                                }}};
    out[n++] = (struct sample){TXT("job_full.cbor"),
                               {.type = CPS_MSG_JOB,
                                .u.job = {
                                    .toolchain = TXT("/var/cache/cachepot/toolchains/abc"),
                                    .build_dir = TXT("/var/cache/cachepot/builds/abc-2"),
                                    .argv = sample_argv,
                                    .argc = N(sample_argv),
                                    .env = sample_env,
                                    .envc = N(sample_env),
                                    .cwd = TXT("/build"),
                                    .outputs = sample_outputs,
                                    .outputc = N(sample_outputs),
                                    .inputs = sample_inputs,
                                    .inputc = N(sample_inputs),
                                    .backend = CPS_BACKEND_BUBBLEWRAP,
                                    .overlay = CPS_OVERLAY_FUSE,
                                    .has_uid = true,
                                    .uid = 0,
                                    .has_gid = true,
                                    .gid = 65534,
                                    .has_seccomp = true,
                                    .seccomp = false,
                                    .limits = {.timeout_ms = 600000,
                                               .max_output_bytes = 1u << 30,
                                               .cpu_seconds = 300,
                                               .address_space = 8ull << 30,
                                               .file_size = 1ull << 32,
                                               .open_files = 1024,
                                               .processes = 256,
                                               .tmp_bytes = 64u << 20,
                                               .scratch_bytes = 2ull << 30},
                                }}};
    out[n++] = (struct sample){
        TXT("input.cbor"),
        {.type = CPS_MSG_INPUT,
         .u.input = {
             .path = TXT("/build/in.i"), .data = sample_data, .data_len = 11, .end = true}}};
    out[n++] = (struct sample){
        TXT("input_empty.cbor"),
        {.type = CPS_MSG_INPUT, .u.input = {.path = TXT("/build/empty.h"), .end = true}}};
    out[n++] = (struct sample){TXT("cancel.cbor"), {.type = CPS_MSG_CANCEL}};
    out[n++] =
        (struct sample){TXT("stdout.cbor"),
                        {.type = CPS_MSG_STDOUT,
                         .u.stream = {.data = (uint8_t *)(uintptr_t)("hello\n"), .data_len = 6}}};
    out[n++] = (struct sample){
        TXT("stderr.cbor"),
        {.type = CPS_MSG_STDERR,
         .u.stream = {.data = (uint8_t *)(uintptr_t)("in.i:1: warning: x\n"), .data_len = 19}}};
    out[n++] = (struct sample){TXT("output.cbor"),
                               {.type = CPS_MSG_OUTPUT,
                                .u.output = {.path = TXT("/build/out.o"),
                                             .mode = 0644,
                                             .size = 70000,
                                             .data = sample_binary,
                                             .data_len = N(sample_binary),
                                             .end = false}}};
    out[n++] = (struct sample){
        TXT("output_missing.cbor"),
        {.type = CPS_MSG_OUTPUT, .u.output = {.path = TXT("/build/out.d"), .missing = true}}};
    out[n++] = (struct sample){TXT("exit_code.cbor"),
                               {.type = CPS_MSG_EXIT,
                                .u.exit = {.code = 1,
                                           .wall_us = 123456,
                                           .user_us = 100000,
                                           .sys_us = 20000,
                                           .max_rss_kb = 51200,
                                           .backend = CPS_BACKEND_USERNS,
                                           .overlay = CPS_OVERLAY_NATIVE,
                                           .timings = sample_timings,
                                           .timingc = N(sample_timings)}}};
    out[n++] = (struct sample){TXT("exit_signal.cbor"),
                               {.type = CPS_MSG_EXIT,
                                .u.exit = {.signaled = true,
                                           .signal = 9,
                                           .timed_out = true,
                                           .limit = TXT("timeout"),
                                           .wall_us = 600000000ull,
                                           .user_us = 599000000ull,
                                           .sys_us = 5000,
                                           .max_rss_kb = 4096,
                                           .backend = CPS_BACKEND_BUBBLEWRAP,
                                           .overlay = CPS_OVERLAY_BIND}}};
    out[n] = (struct sample){TXT("error.cbor"), {.type = CPS_MSG_ERROR}};
    strcpy(out[n].msg.u.error.stage, TXT("uid_map"));
    out[n].msg.u.error.errnum = 1;
    strcpy(out[n].msg.u.error.message, TXT("write /proc/self/uid_map \"0 1000 1\": "
                                           "Operation not permitted"));
    strcpy(out[n].msg.u.error.hint, TXT("sysctl kernel.apparmor_restrict_unprivileged_userns=0"));
    n++;
    /* The hello a parent gets when it asked for features (CACHEPOT_HELLO_FEATURES=1). */
    out[n] = out[0];
    out[n].file = TXT("hello_features.cbor");
    out[n].msg.u.hello.helper_version = TXT("0.2.0");
    out[n].msg.u.hello.has_features = true;
    out[n].msg.u.hello.features = CPS_FEATURES_ALL;
    n++;
    /* The first hello of a helper started with --jobs-per-helper 3 by a parent
     * that asked for features: "reuse" counts the jobs it still takes. */
    out[n] = out[n - 1];
    out[n].file = TXT("hello_reuse.cbor");
    out[n].msg.u.hello.reuse = 3;
    n++;
    return n;
}

#undef N

#endif
