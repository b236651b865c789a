/*
 * test_parent_real.c - the library against the real helper (run by
 * run-real.sh as root and as uid 65534): cancel mid-job, the helper killed
 * mid-job, outputs and stdout larger than a socket buffer.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cachepot-sandbox.h"
#include "testutil.h"

static char work[4096];
static const char *toolchain;

static void setup(void)
{
    toolchain = tu_fixture_setup(work, sizeof(work));
}

static void teardown(void)
{
    tu_rmtree(work);
}

/* Our direct children (the helper), from /proc. */
static pid_t child_pid(void)
{
    DIR *d = opendir("/proc");
    struct dirent *e;
    pid_t found = 0;

    while (d && (e = readdir(d))) {
        char path[300], buf[512];
        FILE *f;
        int pid = atoi(e->d_name), ppid = 0;
        if (pid <= 0)
            continue;
        snprintf(path, sizeof(path), "/proc/%d/stat", pid);
        f = fopen(path, "r");
        if (!f)
            continue;
        if (fgets(buf, sizeof(buf), f)) {
            char *rp = strrchr(buf, ')');
            if (rp)
                sscanf(rp + 2, "%*c %d", &ppid);
        }
        fclose(f);
        if (ppid == getpid())
            found = pid;
    }
    if (d)
        closedir(d);
    return found;
}

struct started {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool yes;
    struct cps_cancel_token *token;
    bool kill_helper;
};

static int on_started(void *user, enum cps_stream_id id, const void *data, size_t len)
{
    struct started *s = user;

    pthread_mutex_lock(&s->lock);
    s->yes = true;
    pthread_cond_signal(&s->cond);
    pthread_mutex_unlock(&s->lock);
    return 0;
}

static void *act(void *arg)
{
    struct started *s = arg;

    pthread_mutex_lock(&s->lock);
    while (!s->yes)
        pthread_cond_wait(&s->cond, &s->lock);
    pthread_mutex_unlock(&s->lock);
    if (s->kill_helper) {
        pid_t p = child_pid();
        if (p > 0)
            kill(p, SIGKILL);
    } else {
        cps_cancel(s->token);
    }
    return NULL;
}

static int run_with_actor(struct started *s, struct cps_job_spec *job, struct cps_error *err)
{
    struct cps_run_options *o = cps_run_options_new();
    struct cps_result *res = NULL;
    pthread_t t;
    int r;

    o->on_stream = on_started;
    o->user = s;
    o->cancel = s->token;
    o->timeout_ms = 120000;
    pthread_create(&t, NULL, act, s);
    r = cps_run(job, o, &res, err);
    pthread_join(t, NULL);
    cps_result_free(res);
    cps_run_options_free(o);
    return r;
}

START_TEST(cancel_mid_job)
{
    struct cps_job_spec *job = tu_sh_job(toolchain, "echo started; sleep 60; echo late");
    struct started s = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
    struct cps_error err;

    s.token = cps_cancel_token_new();
    ck_assert_int_eq(run_with_actor(&s, job, &err), -ECANCELED);
    ck_assert_str_eq(err.stage, "cancel");
    ck_assert(tu_no_children());
    cps_cancel_token_free(s.token);
    cps_job_free(job);
}
END_TEST

START_TEST(helper_killed_mid_job)
{
    char build[4200];
    struct cps_job_spec *job = tu_sh_job(toolchain, "echo started; sleep 60");
    struct started s = {
        .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER, .kill_helper = true};
    struct cps_error err;

    snprintf(build, sizeof(build), "%s/build", work);
    ck_assert_int_eq(cps_job_set_build_dir(job, build, &err), 0);
    ck_assert_int_eq(run_with_actor(&s, job, &err), -ECONNABORTED);
    ck_assert_str_eq(err.stage, "helper");
    ck_assert_msg(strstr(err.message, "killed by signal 9"), "%s", err.message);
    ck_assert(tu_no_children());
    ck_assert(!tu_exists(strcat(build, "/upper")));
    cps_job_free(job);
}
END_TEST

/* 8 MiB output file and 3 MB of stdout: far beyond any socket buffer. */
START_TEST(large_output_and_stdout)
{
    struct cps_job_spec *job = tu_sh_job(
        toolchain, "yes 0123456789abcdef | head -c 8388608 > big.txt; yes x | head -c 3000000");
    struct cps_run_options *o = cps_run_options_new();
    struct cps_result *res;
    struct cps_error err;
    struct tu_streams s = {0};
    char out[4200], path[4300];
    uint8_t *got;
    size_t len;

    snprintf(out, sizeof(out), "%s/out", work);
    mkdir(out, 0755);
    ck_assert_int_eq(cps_job_add_output(job, "big.txt", &err), 0);
    o->out_dir = out;
    o->on_stream = tu_collect_stream;
    o->user = &s;
    ck_assert_msg(cps_run(job, o, &res, &err) == 0, "%s: %s", err.stage, err.message);
    ck_assert_int_eq(res->exit_code, 0);
    ck_assert_uint_eq(s.out_len, 3000000);
    for (size_t i = 0; i < s.out_len; i++)
        if (s.out[i] != (i % 2 ? '\n' : 'x'))
            ck_abort_msg("stdout byte %zu differs", i);
    snprintf(path, sizeof(path), "%s/big.txt", out);
    got = tu_read_file(path, &len);
    ck_assert_uint_eq(len, 8388608);
    for (size_t i = 0; i < len; i++)
        if (got[i] != "0123456789abcdef\n"[i % 17])
            ck_abort_msg("output byte %zu differs", i);
    ck_assert(tu_no_children());
    free(got);
    tu_streams_free(&s);
    cps_result_free(res);
    cps_run_options_free(o);
    cps_job_free(job);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("parent_real");
    TCase *tc = tcase_create("real helper");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, cancel_mid_job);
    tcase_add_test(tc, helper_killed_mid_job);
    tcase_add_test(tc, large_output_and_stdout);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr;
    int failed;

    if (!getenv("CPS_TEST_TOOLCHAIN")) {
        printf("SKIP: CPS_TEST_TOOLCHAIN is not set (run me through run-real.sh)\n");
        return 77;
    }
    sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
