/*
 * test_parent_pool_fake.c - the warm helper pool against fake helpers: a warm
 * helper that dies after taking the job without a word is replaced once (not
 * twice), helpers that never become ready are closed and reaped and the run
 * falls back to a cold helper with the usual error, a run that names another
 * helper bypasses the pool, and a helper spawned by the pool thread starts with
 * the same clean fds, signal mask and argv as a cold one; with jobs_per_helper,
 * a helper that does not support reuse is closed, one that does serves its
 * jobs and retires, one whose hello miscounts is refused.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cachepot-sandbox.h"
#include "testutil.h"

#define WAIT_LIMIT_S 60

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

static const char *fake(const char *mode)
{
    static char buf[4][4200];
    static int i;
    char *p = buf[i++ % 4];
    snprintf(p, sizeof(buf[0]), "%s/%s", fakes, mode);
    return p;
}

static struct cps_job_spec *job_of(const char *cmd, const char *arg)
{
    struct cps_job_spec *job = cps_job_new();
    const char *argv[] = {cmd, arg};
    struct cps_error err;

    ck_assert_int_eq(cps_job_set_toolchain(job, work, &err), 0);
    ck_assert_int_eq(cps_job_set_argv(job, arg ? 2 : 1, argv, &err), 0);
    return job;
}

static struct cps_pool *pool_of(const char *mode, size_t size)
{
    struct cps_pool_options *po = cps_pool_options_new();
    struct cps_pool *pool;
    struct cps_error err;

    po->size = size;
    po->helper_path = fake(mode);
    ck_assert_msg(cps_pool_new(po, &pool, &err) == 0, "%s", err.message);
    cps_pool_options_free(po);
    return pool;
}

static void wait_ready(struct cps_pool *pool, size_t n)
{
    for (int i = 0; i < WAIT_LIMIT_S * 100; i++) {
        if (tu_pool_stats(pool).ready >= n)
            return;
        tu_sleep_ms(10);
    }
    ck_abort_msg("the pool never had %zu ready helpers", n);
}

static void wait_died(struct cps_pool *pool, uint64_t n)
{
    for (int i = 0; i < WAIT_LIMIT_S * 100; i++) {
        if (tu_pool_stats(pool).died >= n)
            return;
        tu_sleep_ms(10);
    }
    ck_abort_msg("the pool never saw %llu helpers fail", (unsigned long long)n);
}

START_TEST(warm_helper_dying_on_the_job_is_replaced_once)
{
    struct cps_pool *pool = pool_of("vanish", 1);
    struct cps_job_spec *job = job_of("exit", "0");
    struct cps_run_options *o = cps_run_options_new();
    struct cps_result *res;
    struct cps_error err;

    cps_run_options_set_pool(o, pool);
    ck_assert_int_eq(cps_pool_prepare(pool, job, &err), 0);
    wait_ready(pool, 1);
    /* The warm helper and the fresh one both vanish: one retry, then the
     * second helper's failure is the answer. */
    ck_assert_int_eq(cps_run(job, o, &res, &err), -ECONNABORTED);
    ck_assert_ptr_null(res);
    ck_assert_str_eq(err.stage, "helper");
    struct cps_pool_stats s = tu_pool_stats(pool);
    ck_assert_uint_eq(s.retried, 1);
    ck_assert_uint_eq(s.warm + s.cold, 0);
    ck_assert_uint_eq(s.in_use, 0);
    cps_pool_free(pool);
    cps_run_options_free(o);
    cps_job_free(job);
    ck_assert(tu_no_children());
}
END_TEST

/* Helpers that never say a valid hello are closed, reaped and counted; the
 * run goes cold and reports the helper's fault as without a pool. */
static void never_ready(const char *mode, int want_ret)
{
    struct cps_pool *pool = pool_of(mode, 2);
    struct cps_job_spec *job = job_of("exit", "0");
    struct cps_run_options *o = cps_run_options_new();
    struct cps_result *res;
    struct cps_error err;

    cps_run_options_set_pool(o, pool);
    ck_assert_int_eq(cps_pool_prepare(pool, job, &err), 0);
    wait_died(pool, 2);
    ck_assert_int_eq(cps_run(job, o, &res, &err), want_ret);
    ck_assert_str_eq(err.stage, "hello");
    struct cps_pool_stats s = tu_pool_stats(pool);
    ck_assert_uint_eq(s.ready, 0);
    ck_assert_uint_eq(s.warm, 0);
    cps_pool_free(pool);
    cps_run_options_free(o);
    cps_job_free(job);
    ck_assert(tu_no_children());
}

START_TEST(garbage_hello)
{
    never_ready("garbage", -EPROTO);
}
END_TEST

START_TEST(wrong_protocol)
{
    never_ready("wrongproto", -EPROTONOSUPPORT);
}
END_TEST

START_TEST(other_helper_path_bypasses_the_pool)
{
    struct cps_pool *pool = pool_of("vanish", 1);
    struct cps_job_spec *job = job_of("exit", "5");
    struct cps_run_options *o = cps_run_options_new();
    struct cps_result *res;
    struct cps_error err;

    cps_run_options_set_pool(o, pool);
    o->helper_path = fake("ok");
    ck_assert_int_eq(cps_run(job, o, &res, &err), 0);
    ck_assert_int_eq(res->exit_code, 5);
    ck_assert(!res->warm);
    cps_result_free(res);
    struct cps_pool_stats s = tu_pool_stats(pool);
    ck_assert_uint_eq(s.warm + s.cold + s.spawned, 0);
    cps_pool_free(pool);
    cps_run_options_free(o);
    cps_job_free(job);
    ck_assert(tu_no_children());
}
END_TEST

START_TEST(warm_helper_starts_clean)
{
    struct cps_pool *pool = pool_of("ok", 1);
    struct cps_job_spec *job = job_of("introspect", NULL);
    struct cps_run_options *o = cps_run_options_new();
    struct tu_streams st = {0};
    struct cps_result *res;
    struct cps_error err;

    cps_run_options_set_pool(o, pool);
    o->on_stream = tu_collect_stream;
    o->user = &st;
    /* The fake's hello says uid 0, gid 0: that configuration matches it. */
    cps_job_set_uid(job, 0);
    cps_job_set_gid(job, 0);
    ck_assert_int_eq(cps_pool_prepare(pool, job, &err), 0);
    wait_ready(pool, 1);
    ck_assert_int_eq(cps_run(job, o, &res, &err), 0);
    ck_assert(res->warm);
    ck_assert_str_eq(res->helper_version, "0.0.0-fake");
    /* The pool thread blocks every signal; its helpers must not inherit that,
     * nor its eventfd, nor anything but fds 0-3. */
    ck_assert_msg(strstr((char *)st.out, "fds=0,1,2,3, "), "%s", st.out);
    ck_assert_msg(strstr((char *)st.out, "SigBlk:\t0000000000000000"), "%s", st.out);
    ck_assert_msg(strstr((char *)st.out, "argv=--uid,0,--gid,0 "), "%s", st.out);
    cps_result_free(res);
    tu_streams_free(&st);
    cps_pool_free(pool);
    cps_run_options_free(o);
    cps_job_free(job);
    ck_assert(tu_no_children());
}
END_TEST

/* A pool whose helpers serve jobs_per_helper jobs (fake helper mode). */
static struct cps_pool *reusing_pool_of(const char *mode, unsigned jobs_per_helper)
{
    struct cps_pool_options *po = cps_pool_options_new();
    struct cps_pool *pool;
    struct cps_error err;

    po->size = 1;
    po->max_idle_ms = 3600 * 1000;
    po->helper_path = fake(mode);
    po->jobs_per_helper = jobs_per_helper;
    ck_assert_msg(cps_pool_new(po, &pool, &err) == 0, "%s", err.message);
    cps_pool_options_free(po);
    return pool;
}

/* Ready and nothing starting: a helper handed back said hello again, or ended. */
static void wait_settled(struct cps_pool *pool)
{
    for (int i = 0; i < WAIT_LIMIT_S * 100; i++) {
        struct cps_pool_stats s = tu_pool_stats(pool);
        if (s.ready >= 1 && s.starting == 0)
            return;
        tu_sleep_ms(10);
    }
    ck_abort_msg("the pool never settled");
}

/* Redirect this process's stderr (the library's log) into a file of work. */
static int log_to_file(char *path, size_t size)
{
    int saved = dup(2), fd;

    snprintf(path, size, "%s/stderr", work);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_ge(saved, 0);
    dup2(fd, 2);
    close(fd);
    return saved;
}

static char *log_back(int saved, const char *path)
{
    size_t len;
    char *text;

    dup2(saved, 2);
    close(saved);
    text = (char *)tu_read_file(path, &len);
    ck_assert_ptr_nonnull(text);
    return text;
}

/* The pool's side of the reuse protocol against a helper that follows it:
 * spawned with --jobs-per-helper 2, its two jobs run warm on it (the second
 * counted reused), then it ends with 0 and is counted retired; the third job
 * runs on the next helper. */
START_TEST(fake_reusing_helper_serves_its_jobs)
{
    struct cps_pool *pool = reusing_pool_of("reuse", 2);
    struct cps_job_spec *job = job_of("introspect", NULL);
    struct cps_run_options *o = cps_run_options_new();
    struct cps_error err;

    cps_run_options_set_pool(o, pool);
    o->on_stream = tu_collect_stream;
    cps_job_set_uid(job, 0);
    cps_job_set_gid(job, 0);
    ck_assert_int_eq(cps_pool_prepare(pool, job, &err), 0);
    for (int i = 0; i < 3; i++) {
        struct tu_streams st = {0};
        struct cps_result *res;

        o->user = &st;
        wait_settled(pool);
        ck_assert_msg(cps_run(job, o, &res, &err) == 0, "%s", err.message);
        ck_assert(res->warm);
        ck_assert_msg(strstr((char *)st.out, "argv=--uid,0,--gid,0,--jobs-per-helper,2 "), "%s",
                      st.out);
        cps_result_free(res);
        tu_streams_free(&st);
    }
    for (int i = 0; i < WAIT_LIMIT_S * 100 && tu_pool_stats(pool).retired < 1; i++)
        tu_sleep_ms(10);
    struct cps_pool_stats s = tu_pool_stats(pool);
    ck_assert_uint_eq(s.warm, 3);
    ck_assert_uint_eq(s.reused, 1);
    ck_assert_uint_eq(s.retired, 1);
    ck_assert_uint_eq(s.died, 0);
    cps_pool_free(pool);
    cps_run_options_free(o);
    cps_job_free(job);
    ck_assert(tu_no_children());
}
END_TEST

/* A helper whose second hello does not count down is refused like a hello of
 * another configuration: closed, counted died, the log says what was due. */
START_TEST(wrong_reuse_count_refused)
{
    struct cps_pool *pool = reusing_pool_of("badreuse", 3);
    struct cps_job_spec *job = job_of("exit", "0");
    struct cps_run_options *o = cps_run_options_new();
    struct cps_result *res;
    struct cps_error err;
    char log[4300], *text;
    int saved = log_to_file(log, sizeof(log));

    cps_run_options_set_pool(o, pool);
    cps_job_set_uid(job, 0);
    cps_job_set_gid(job, 0);
    ck_assert_int_eq(cps_pool_prepare(pool, job, &err), 0);
    wait_settled(pool);
    ck_assert_int_eq(cps_run(job, o, &res, &err), 0);
    ck_assert(res->warm);
    cps_result_free(res);
    wait_died(pool, 1);
    struct cps_pool_stats s = tu_pool_stats(pool);
    ck_assert_uint_eq(s.retired, 0);
    cps_pool_free(pool);
    text = log_back(saved, log);
    ck_assert_msg(strstr(text, "after 1 job(s) its hello offers 3 more, where 2 were due"),
                  "log: %s", text);
    free(text);
    cps_run_options_free(o);
    cps_job_free(job);
    ck_assert(tu_no_children());
}
END_TEST

/* A helper that does not support reuse (this fake ignores --jobs-per-helper
 * and says the hello of a one-job helper) is closed like one whose hello
 * reports another configuration, and the log says why; runs go cold and
 * succeed. */
START_TEST(helper_without_reuse_is_closed)
{
    struct cps_pool_options *po = cps_pool_options_new();
    struct cps_job_spec *job = job_of("exit", "0");
    struct cps_run_options *o = cps_run_options_new();
    struct cps_pool *pool;
    struct cps_result *res;
    struct cps_error err;
    char log[4300], *text;
    int saved = log_to_file(log, sizeof(log));

    po->size = 1;
    po->helper_path = fake("ok");
    po->jobs_per_helper = 3;
    ck_assert_msg(cps_pool_new(po, &pool, &err) == 0, "%s", err.message);
    cps_pool_options_free(po);
    cps_job_set_uid(job, 0);
    cps_job_set_gid(job, 0);
    cps_run_options_set_pool(o, pool);
    ck_assert_int_eq(cps_pool_prepare(pool, job, &err), 0);
    wait_died(pool, 1);
    ck_assert_int_eq(cps_run(job, o, &res, &err), 0);
    ck_assert(!res->warm);
    cps_result_free(res);
    struct cps_pool_stats s = tu_pool_stats(pool);
    ck_assert_uint_eq(s.warm, 0);
    ck_assert_uint_eq(s.reused, 0);
    cps_pool_free(pool);
    text = log_back(saved, log);
    ck_assert_msg(strstr(text, "--jobs-per-helper 3") && strstr(text, "does not support reuse"),
                  "log: %s", text);
    free(text);
    cps_run_options_free(o);
    cps_job_free(job);
    ck_assert(tu_no_children());
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("parent_pool_fake");
    TCase *tc = tcase_create("pool");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, warm_helper_dying_on_the_job_is_replaced_once);
    tcase_add_test(tc, garbage_hello);
    tcase_add_test(tc, wrong_protocol);
    tcase_add_test(tc, other_helper_path_bypasses_the_pool);
    tcase_add_test(tc, warm_helper_starts_clean);
    tcase_add_test(tc, helper_without_reuse_is_closed);
    tcase_add_test(tc, fake_reusing_helper_serves_its_jobs);
    tcase_add_test(tc, wrong_reuse_count_refused);
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
