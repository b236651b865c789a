/*
 * test_parent_fake.c - the parent library against fake helpers: every way a
 * helper can misbehave ends in a clear error, promptly, with the helper reaped
 * and its leftovers removed; streams and outputs of any size arrive intact.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cachepot-sandbox.h"
#include "testutil.h"

static char fakes[4096], work[4096];

static void setup(void)
{
    tu_fake_helpers(fakes, sizeof(fakes), CPS_FAKE_HELPER);
    tu_mkdtemp(work, sizeof(work));
}

static void teardown(void)
{
    tu_rmtree(fakes);
    tu_rmtree(work);
}

static char *path_in(const char *dir, const char *name)
{
    static char buf[4][4096];
    static int i;
    char tmp[4096], *p = buf[i++ % 4];

    /* dir may be an earlier result, i.e. one of buf's slots. */
    snprintf(tmp, sizeof(tmp), "%s/%s", dir, name);
    memcpy(p, tmp, sizeof(tmp));
    return p;
}

/* A job with argv, toolchain = work dir (the fake never looks at it). */
static struct cps_job_spec *job_of(const char *const *argv, size_t argc)
{
    struct cps_job_spec *job = cps_job_new();
    struct cps_error err;

    ck_assert_ptr_nonnull(job);
    ck_assert_int_eq(cps_job_set_toolchain(job, work, &err), 0);
    ck_assert_int_eq(cps_job_set_argv(job, argc, argv, &err), 0);
    return job;
}

static struct cps_run_options *opts_for(const char *mode)
{
    struct cps_run_options *o = cps_run_options_new();
    ck_assert_ptr_nonnull(o);
    o->helper_path = strdup(path_in(fakes, mode));
    return o;
}

static void opts_free(struct cps_run_options *o)
{
    free((char *)(uintptr_t)o->helper_path);
    cps_run_options_free(o);
}

/* Run argv with helper mode; returns cps_run's value. */
static int run_mode(const char *mode, const char *const *argv, size_t argc, struct cps_result **res,
                    struct cps_error *err)
{
    struct cps_job_spec *job = job_of(argv, argc);
    struct cps_run_options *o = opts_for(mode);
    int r;

    o->timeout_ms = 20000;
    r = cps_run(job, o, res, err);
    opts_free(o);
    cps_job_free(job);
    return r;
}

START_TEST(wrong_protocol_version)
{
    const char *argv[] = {"exit", "0"};
    struct cps_result *res;
    struct cps_error err;

    ck_assert_int_eq(run_mode("wrongproto", argv, 2, &res, &err), -EPROTONOSUPPORT);
    ck_assert_ptr_null(res);
    ck_assert_str_eq(err.stage, "hello");
    ck_assert_msg(strstr(err.message, "protocol 2") && strstr(err.message, "speaks 1"), "%s",
                  err.message);
    ck_assert(tu_no_children());
}
END_TEST

START_TEST(garbage_instead_of_hello)
{
    const char *argv[] = {"exit", "0"};
    struct cps_result *res;
    struct cps_error err;

    ck_assert_int_lt(run_mode("garbage", argv, 2, &res, &err), 0);
    ck_assert_str_eq(err.stage, "hello");
    ck_assert_msg(strstr(err.message, "is this a cachepot-dist-sandbox helper?"), "%s",
                  err.message);
    ck_assert(tu_no_children());
}
END_TEST

START_TEST(exits_before_hello)
{
    const char *argv[] = {"exit", "0"};
    struct cps_job_spec *job = job_of(argv, 2);
    struct cps_run_options *o = cps_run_options_new();
    struct cps_result *res;
    struct cps_error err;

    o->helper_path = "/bin/true";
    ck_assert_int_eq(cps_run(job, o, &res, &err), -ECONNABORTED);
    ck_assert_str_eq(err.stage, "hello");
    ck_assert_msg(strstr(err.message, "exited with status 0") &&
                      strstr(err.message, "is this a cachepot-dist-sandbox helper?"),
                  "%s", err.message);
    ck_assert(tu_no_children());
    cps_run_options_free(o);
    cps_job_free(job);
}
END_TEST

START_TEST(missing_helper_binary)
{
    const char *argv[] = {"exit", "0"};
    struct cps_result *res;
    struct cps_error err;

    ck_assert_int_eq(run_mode("no-such-helper", argv, 2, &res, &err), -ENOENT);
    ck_assert_str_eq(err.stage, "spawn");
    ck_assert_msg(strstr(err.message, "no-such-helper"), "%s", err.message);
    ck_assert_msg(strstr(err.hint, "CACHEPOT_SANDBOX_HELPER"), "%s", err.hint);
}
END_TEST

START_TEST(helper_from_environment)
{
    const char *argv[] = {"exit", "4"};
    struct cps_job_spec *job = job_of(argv, 2);
    struct cps_run_options *o = cps_run_options_new();
    struct cps_result *res;
    struct cps_error err;

    /* This test process is forked by Check and single-threaded: setenv is safe. */
    setenv("CACHEPOT_SANDBOX_HELPER", path_in(fakes, "ok"), 1);
    ck_assert_int_eq(cps_run(job, o, &res, &err), 0);
    ck_assert_int_eq(res->exit_code, 4);
    cps_result_free(res);
    o->helper_path = path_in(fakes, "nonexistent");
    ck_assert_int_eq(cps_run(job, o, &res, &err), -ENOENT);
    cps_run_options_free(o);
    cps_job_free(job);
}
END_TEST

START_TEST(crash_mid_job)
{
    char build[4096], outside[4096];
    const char *argv[2];
    struct cps_job_spec *job;
    struct cps_run_options *o = opts_for("crash");
    struct cps_result *res;
    struct cps_error err;
    struct tu_streams s = {0};

    snprintf(build, sizeof(build), "%s", path_in(work, "build"));
    snprintf(outside, sizeof(outside), "%s", path_in(work, "outside"));
    mkdir(outside, 0755);
    tu_write_file(path_in(outside, "keep"), "x", 1);
    argv[0] = "crash";
    argv[1] = outside;
    job = job_of(argv, 2);
    ck_assert_int_eq(cps_job_set_build_dir(job, build, &err), 0);
    o->on_stream = tu_collect_stream;
    o->user = &s;
    ck_assert_int_eq(cps_run(job, o, &res, &err), -ECONNABORTED);
    ck_assert_str_eq(err.stage, "helper");
    ck_assert_msg(strstr(err.message, "killed by signal 11"), "%s", err.message);
    ck_assert_str_eq((char *)s.out, "about to crash\n");
    ck_assert(tu_no_children());
    /* Leftovers gone, the build dir itself kept, the symlink's target untouched. */
    ck_assert(tu_exists(build));
    ck_assert(!tu_exists(path_in(build, "upper")));
    ck_assert(!tu_exists(path_in(build, "work")));
    ck_assert(!tu_exists(path_in(build, "target")));
    ck_assert(tu_exists(path_in(outside, "keep")));
    tu_streams_free(&s);
    opts_free(o);
    cps_job_free(job);
}
END_TEST

START_TEST(hang_hits_timeout)
{
    const char *argv[] = {"exit", "0"};
    struct cps_job_spec *job = job_of(argv, 2);
    struct cps_run_options *o = opts_for("hang");
    struct cps_result *res;
    struct cps_error err;

    o->timeout_ms = 300;
    ck_assert_int_eq(cps_run(job, o, &res, &err), -ETIMEDOUT);
    ck_assert_str_eq(err.stage, "timeout");
    ck_assert(tu_no_children());
    opts_free(o);
    cps_job_free(job);
}
END_TEST

START_TEST(silent_hits_timeout)
{
    const char *argv[] = {"exit", "0"};
    struct cps_job_spec *job = job_of(argv, 2);
    struct cps_run_options *o = opts_for("silent");
    struct cps_result *res;
    struct cps_error err;

    o->timeout_ms = 300;
    ck_assert_int_eq(cps_run(job, o, &res, &err), -ETIMEDOUT);
    ck_assert(tu_no_children());
    opts_free(o);
    cps_job_free(job);
}
END_TEST

START_TEST(exit_code_signal_timeout)
{
    const char *e3[] = {"exit", "3"}, *s9[] = {"signal", "9"}, *to[] = {"timeout"};
    struct cps_result *res;
    struct cps_error err;

    ck_assert_int_eq(run_mode("ok", e3, 2, &res, &err), 0);
    ck_assert_int_eq(res->exit_code, 3);
    ck_assert_int_eq(res->signal, 0);
    ck_assert_str_eq(res->backend, "userns");
    ck_assert_str_eq(res->overlay, "bind");
    ck_assert_str_eq(res->helper_version, "0.0.0-fake");
    ck_assert_uint_eq(res->timing_count, 1);
    ck_assert_str_eq(res->timings[0].stage, "fake");
    cps_result_free(res);
    ck_assert_int_eq(run_mode("ok", s9, 2, &res, &err), 0);
    ck_assert_int_eq(res->signal, 9);
    cps_result_free(res);
    ck_assert_int_eq(run_mode("ok", to, 1, &res, &err), 0);
    ck_assert(res->timed_out);
    ck_assert_str_eq(res->limit, "timeout");
    cps_result_free(res);
    ck_assert(tu_no_children());
}
END_TEST

/* Inputs and outputs much larger than a socket buffer, both ways at once. */
START_TEST(large_output_to_out_dir)
{
    const size_t size = 8u << 20;
    const char *argv[] = {"echo"};
    struct cps_job_spec *job = job_of(argv, 1);
    struct cps_run_options *o = opts_for("ok");
    struct cps_result *res;
    struct cps_error err;
    uint8_t *data = malloc(size), *got;
    size_t got_len;
    char *out = path_in(work, "out");

    tu_pattern(data, size, 1);
    tu_write_file(path_in(work, "big.in"), data, size);
    mkdir(out, 0755);
    ck_assert_int_eq(cps_job_add_input(job, path_in(work, "big.in"), "sub/big", 0644, &err), 0);
    ck_assert_int_eq(cps_job_add_output(job, "sub/big", &err), 0);
    ck_assert_int_eq(cps_job_add_output(job, "/abs/missing.o", &err), 0);
    o->out_dir = out;
    ck_assert_int_eq(cps_run(job, o, &res, &err), 0);
    got = tu_read_file(path_in(out, "sub/big"), &got_len);
    ck_assert_ptr_nonnull(got);
    ck_assert_uint_eq(got_len, size);
    ck_assert(memcmp(got, data, size) == 0);
    ck_assert(!tu_exists(path_in(out, "abs")));
    ck_assert_uint_eq(res->outputs_received, 1);
    ck_assert_uint_eq(res->outputs_missing, 1);
    ck_assert_uint_eq(res->bytes_in, size);
    ck_assert_uint_ge(res->bytes_out, size);
    cps_result_free(res);
    free(got);
    free(data);
    opts_free(o);
    cps_job_free(job);
}
END_TEST

START_TEST(large_stdout)
{
    const char *argv[] = {"stdout", "5000000"};
    struct cps_job_spec *job = job_of(argv, 2);
    struct cps_run_options *o = opts_for("ok");
    struct cps_result *res;
    struct cps_error err;
    struct tu_streams s = {0};

    o->on_stream = tu_collect_stream;
    o->user = &s;
    ck_assert_int_eq(cps_run(job, o, &res, &err), 0);
    ck_assert_uint_eq(s.out_len, 5000000);
    for (size_t i = 0; i < s.out_len; i++)
        if (s.out[i] != (uint8_t)('a' + (i % 65536) % 26))
            ck_abort_msg("stdout byte %zu differs", i);
    cps_result_free(res);
    tu_streams_free(&s);
    opts_free(o);
    cps_job_free(job);
}
END_TEST

/* The out dir writer never writes through a symlink planted there. */
START_TEST(out_dir_symlink_refused)
{
    const char *argv[] = {"echo"};
    struct cps_job_spec *job = job_of(argv, 1);
    struct cps_run_options *o = opts_for("ok");
    struct cps_result *res;
    struct cps_error err;
    char *out = path_in(work, "out"), *elsewhere = path_in(work, "elsewhere");

    mkdir(out, 0755);
    mkdir(elsewhere, 0755);
    ck_assert_int_eq(symlink(elsewhere, path_in(out, "d")), 0);
    tu_write_file(path_in(work, "x"), "data", 4);
    ck_assert_int_eq(cps_job_add_input(job, path_in(work, "x"), "/build/d/x", 0644, &err), 0);
    ck_assert_int_eq(cps_job_add_output(job, "d/x", &err), 0);
    o->out_dir = out;
    ck_assert_int_lt(cps_run(job, o, &res, &err), 0);
    ck_assert_str_eq(err.stage, "output");
    ck_assert(!tu_exists(path_in(elsewhere, "x")));
    ck_assert(tu_no_children());
    ck_assert_int_eq(cps_job_add_output(job, "../x", &err), -EINVAL);
    ck_assert_int_eq(cps_job_add_output(job, "/a/../../x", &err), -EINVAL);
    opts_free(o);
    cps_job_free(job);
}
END_TEST

struct canceller {
    struct cps_cancel_token *token;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool started;
    pid_t helper;
};

static int on_pid(void *user, enum cps_stream_id id, const void *data, size_t len)
{
    struct canceller *c = user;

    pthread_mutex_lock(&c->lock);
    c->helper = (pid_t)atoi(data);
    c->started = true;
    pthread_cond_signal(&c->cond);
    pthread_mutex_unlock(&c->lock);
    return 0;
}

static void *cancel_thread(void *arg)
{
    struct canceller *c = arg;

    pthread_mutex_lock(&c->lock);
    while (!c->started)
        pthread_cond_wait(&c->cond, &c->lock);
    pthread_mutex_unlock(&c->lock);
    cps_cancel(c->token);
    return NULL;
}

START_TEST(cancel_from_another_thread)
{
    const char *argv[] = {"pid"};
    struct cps_job_spec *job = job_of(argv, 1);
    struct cps_run_options *o = opts_for("ok");
    struct canceller c = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
    struct cps_result *res;
    struct cps_error err;
    pthread_t t;

    c.token = cps_cancel_token_new();
    o->cancel = c.token;
    o->on_stream = on_pid;
    o->user = &c;
    pthread_create(&t, NULL, cancel_thread, &c);
    ck_assert_int_eq(cps_run(job, o, &res, &err), -ECANCELED);
    ck_assert_str_eq(err.stage, "cancel");
    pthread_join(t, NULL);
    ck_assert(tu_no_children());
    /* A fired token cancels later runs at once. */
    ck_assert_int_eq(cps_run(job, o, &res, &err), -ECANCELED);
    ck_assert(tu_no_children());
    cps_cancel_token_free(c.token);
    opts_free(o);
    cps_job_free(job);
}
END_TEST

static int kill_helper(void *user, enum cps_stream_id id, const void *data, size_t len)
{
    kill((pid_t)atoi(data), SIGKILL);
    return 0;
}

START_TEST(helper_killed_mid_job)
{
    const char *argv[] = {"pid"};
    struct cps_job_spec *job = job_of(argv, 1);
    struct cps_run_options *o = opts_for("ok");
    struct cps_result *res;
    struct cps_error err;

    o->on_stream = kill_helper;
    ck_assert_int_eq(cps_run(job, o, &res, &err), -ECONNABORTED);
    ck_assert_str_eq(err.stage, "helper");
    ck_assert_msg(strstr(err.message, "killed by signal 9"), "%s", err.message);
    ck_assert(tu_no_children());
    opts_free(o);
    cps_job_free(job);
}
END_TEST

static int refuse(void *user, enum cps_stream_id id, const void *data, size_t len)
{
    return 1;
}

START_TEST(callback_stops_job)
{
    const char *argv[] = {"pid"};
    struct cps_job_spec *job = job_of(argv, 1);
    struct cps_run_options *o = opts_for("ok");
    struct cps_result *res;
    struct cps_error err;

    o->on_stream = refuse;
    ck_assert_int_eq(cps_run(job, o, &res, &err), -ECANCELED);
    ck_assert_str_eq(err.stage, "callback");
    ck_assert(tu_no_children());
    opts_free(o);
    cps_job_free(job);
}
END_TEST

/* The helper starts with fds 0-3 only, no blocked signals, spawn-time options
 * from the job, and only PATH and CACHEPOT_* from our environment. */
START_TEST(spawn_environment)
{
    const char *argv[] = {"introspect"};
    struct cps_job_spec *job = job_of(argv, 1);
    struct cps_run_options *o = opts_for("ok");
    struct cps_result *res;
    struct cps_error err;
    struct tu_streams s = {0};
    sigset_t block;
    int leak = open("/dev/null", O_RDONLY); /* no O_CLOEXEC on purpose */

    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGCHLD);
    pthread_sigmask(SIG_BLOCK, &block, NULL);
    signal(SIGUSR1, SIG_IGN);
    setenv("CACHEPOT_LOG", "warn", 1);
    setenv("SECRET_TOKEN", "x", 1);
    cps_job_set_uid(job, 1234);
    cps_job_set_gid(job, 5678);
    cps_job_set_seccomp(job, false);
    ck_assert_int_eq(cps_job_set_backend(job, "bubblewrap", &err), 0);
    o->on_stream = tu_collect_stream;
    o->user = &s;
    ck_assert_int_eq(cps_run(job, o, &res, &err), 0);
    ck_assert_msg(strstr((char *)s.out, "fds=0,1,2,3, "), "%s", s.out);
    ck_assert_msg(strstr((char *)s.out, "SigBlk:\t0000000000000000"), "%s", s.out);
    /* glibc's posix_spawn sets its two internal signals (32, 33) to SIG_IGN in
     * the child on purpose (sysdeps/unix/sysv/linux/spawni.c); the API cannot
     * name them. Every other signal must be at its default. */
    const char *ign = strstr((char *)s.out, "SigIgn:\t");
    ck_assert_ptr_nonnull(ign);
    ck_assert_msg((strtoull(ign + 8, NULL, 16) & ~0x180000000ull) == 0, "%s", s.out);
    ck_assert_msg(strstr((char *)s.out, "argv=--uid,1234,--gid,5678,--backend,bubblewrap,"
                                        "--no-seccomp "),
                  "%s", s.out);
    ck_assert_msg(strstr((char *)s.out, "CACHEPOT_LOG,"), "%s", s.out);
    ck_assert_msg(strstr((char *)s.out, "CACHEPOT_HELLO_FEATURES,"), "%s", s.out);
    ck_assert_msg(!strstr((char *)s.out, "SECRET_TOKEN"), "%s", s.out);
    close(leak);
    cps_result_free(res);
    tu_streams_free(&s);
    opts_free(o);
    cps_job_free(job);
}
END_TEST

/* A job key the helper did not announce is never sent: the job is refused
 * with the key and the release that has it; without the key the same helper
 * runs jobs, and a hello without features (0.1.0) takes every 0.1.0 key. */
START_TEST(unannounced_job_key_refused)
{
    const char *argv[] = {"exit", "3"};
    struct cps_job_spec *job = job_of(argv, 2);
    struct cps_run_options *o = opts_for("noscratch");
    struct cps_result *res;
    struct cps_error err;

    o->timeout_ms = 20000;
    ck_assert_int_eq(cps_job_set_limit(job, CPS_LIMIT_SCRATCH_BYTES, 1 << 20, &err), 0);
    ck_assert_int_eq(cps_run(job, o, &res, &err), -EOPNOTSUPP);
    ck_assert_ptr_null(res);
    ck_assert_str_eq(err.stage, "job");
    ck_assert_msg(strstr(err.message, "job.limits.scratch_bytes") &&
                      strstr(err.message, "0.0.0-fake") && strstr(err.message, "0.1.0"),
                  "%s", err.message);
    ck_assert_msg(strstr(err.hint, "0.1.0"), "%s", err.hint);
    ck_assert(tu_no_children());

    ck_assert_int_eq(cps_job_set_limit(job, CPS_LIMIT_SCRATCH_BYTES, 0, &err), 0);
    ck_assert_int_eq(cps_job_set_limit(job, CPS_LIMIT_TIMEOUT_MS, 5000, &err), 0);
    ck_assert_int_eq(cps_run(job, o, &res, &err), 0);
    ck_assert_int_eq(res->exit_code, 3);
    cps_result_free(res);
    opts_free(o);

    o = opts_for("oldhello");
    o->timeout_ms = 20000;
    ck_assert_int_eq(cps_job_set_limit(job, CPS_LIMIT_SCRATCH_BYTES, 1 << 20, &err), 0);
    ck_assert_int_eq(cps_run(job, o, &res, &err), 0);
    ck_assert_int_eq(res->exit_code, 3);
    cps_result_free(res);
    opts_free(o);
    cps_job_free(job);
    ck_assert(tu_no_children());
}
END_TEST

START_TEST(invalid_jobs_refused_before_spawn)
{
    struct cps_job_spec *job = cps_job_new();
    struct cps_run_options *o = opts_for("ok");
    struct cps_result *res;
    struct cps_error err;
    const char *argv[] = {"exit", "0"};

    ck_assert_int_eq(cps_run(job, o, &res, &err), -EINVAL);
    ck_assert_str_eq(err.stage, "job");
    ck_assert_int_eq(cps_job_set_backend(job, "docker", &err), -EINVAL);
    ck_assert_msg(strstr(err.hint, "userns, bubblewrap"), "%s", err.hint);
    ck_assert_int_eq(cps_job_set_overlay(job, "zfs", &err), -EINVAL);
    ck_assert_int_eq(cps_job_set_cwd(job, "relative", &err), -EINVAL);
    ck_assert_int_eq(cps_job_add_env(job, "A=B", "c", &err), -EINVAL);
    ck_assert_int_eq(cps_job_set_argv(job, 2, argv, &err), 0);
    ck_assert_int_eq(cps_job_set_toolchain(job, path_in(work, "no-such-dir"), &err), 0);
    ck_assert_int_eq(cps_run(job, o, &res, &err), -ENOENT);
    ck_assert_str_eq(err.stage, "job");
    ck_assert_int_eq(cps_job_set_toolchain(job, work, &err), 0);
    ck_assert_int_eq(cps_job_add_input(job, path_in(work, "no-such-file"), "x", 0644, &err), 0);
    ck_assert_int_eq(cps_run(job, o, &res, &err), -ENOENT);
    ck_assert_str_eq(err.stage, "input");
    ck_assert(tu_no_children());
    opts_free(o);
    cps_job_free(job);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("parent_fake");
    TCase *tc = tcase_create("fake helpers");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, wrong_protocol_version);
    tcase_add_test(tc, garbage_instead_of_hello);
    tcase_add_test(tc, exits_before_hello);
    tcase_add_test(tc, missing_helper_binary);
    tcase_add_test(tc, helper_from_environment);
    tcase_add_test(tc, crash_mid_job);
    tcase_add_test(tc, hang_hits_timeout);
    tcase_add_test(tc, silent_hits_timeout);
    tcase_add_test(tc, exit_code_signal_timeout);
    tcase_add_test(tc, large_output_to_out_dir);
    tcase_add_test(tc, large_stdout);
    tcase_add_test(tc, out_dir_symlink_refused);
    tcase_add_test(tc, cancel_from_another_thread);
    tcase_add_test(tc, helper_killed_mid_job);
    tcase_add_test(tc, callback_stops_job);
    tcase_add_test(tc, spawn_environment);
    tcase_add_test(tc, invalid_jobs_refused_before_spawn);
    tcase_add_test(tc, unannounced_job_key_refused);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
