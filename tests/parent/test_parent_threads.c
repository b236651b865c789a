/*
 * test_parent_threads.c - many jobs at once from many threads, in a process
 * where fork() and its relatives abort: the library (linked as the shared
 * libcachepot-sandbox.so.0, so every libc call it makes goes through the PLT
 * and finds the definitions below first) must only ever posix_spawn.
 *
 * Helper: the fake one by default; the real one when CPS_TEST_TOOLCHAIN names
 * a busybox toolchain (CACHEPOT_SANDBOX_HELPER then names the helper, set by
 * run-real.sh, which also runs this test as uid 65534).
 */
#include <check.h>
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cachepot-sandbox.h"
#include "testutil.h"

#define JOBS    64
#define THREADS 8

/* ---- no forking in this process ---- */

static void forbidden(const char *what)
{
    static const char msg[] = "test_parent_threads: forbidden call in the worker process: ";
    if (write(2, msg, sizeof(msg) - 1) < 0 || write(2, what, strlen(what)) < 0 ||
        write(2, "\n", 1) < 0)
        abort();
    abort();
}

pid_t fork(void)
{
    forbidden("fork");
    return -1;
}

pid_t vfork(void)
{
    forbidden("vfork");
    return -1;
}

pid_t _Fork(void)
{
    forbidden("_Fork");
    return -1;
}

int clone(int (*fn)(void *), void *stack, int flags, void *arg, ...)
{
    forbidden("clone");
    return -1;
}

int system(const char *cmd)
{
    forbidden("system");
    return -1;
}

FILE *popen(const char *cmd, const char *type)
{
    forbidden("popen");
    return NULL;
}

/* ---- the jobs ---- */

static char work[4096], fakes[4096];
static const char *toolchain; /* NULL: fake helper */
static char helper[4200];

static char tmpdir[4200];
/* NULL, or the pool every job of many_jobs_through_a_pool runs through. */
static struct cps_pool *pool;

/* Entries of a directory, "." and ".." not counted. */
static int count_entries(const char *path)
{
    DIR *d = opendir(path);
    struct dirent *e;
    int n = 0;

    while (d && (e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            n++;
    if (d)
        closedir(d);
    return n;
}

static char *orig_tmpdir;

static void restore_tmpdir(void)
{
    if (orig_tmpdir)
        setenv("TMPDIR", orig_tmpdir, 1);
    else
        unsetenv("TMPDIR");
}

static void setup(void)
{
    const char *tc = getenv("CPS_TEST_TOOLCHAIN");
    static bool saved;

    if (!saved) {
        orig_tmpdir = getenv("TMPDIR") ? strdup(getenv("TMPDIR")) : NULL;
        saved = true;
    }
    tu_mkdtemp(work, sizeof(work));
    if (tc && tc[0]) {
        toolchain = tc;
        helper[0] = '\0'; /* CACHEPOT_SANDBOX_HELPER */
    } else {
        toolchain = work;
        tu_fake_helpers(fakes, sizeof(fakes), CPS_FAKE_HELPER);
        snprintf(helper, sizeof(helper), "%s/ok", fakes);
    }
    /* The library's temporary build dirs go here (still single-threaded). */
    snprintf(tmpdir, sizeof(tmpdir), "%s/tmp", work);
    mkdir(tmpdir, 0755);
    setenv("TMPDIR", tmpdir, 1);
}

static void teardown(void)
{
    restore_tmpdir();
    tu_rmtree(work);
    if (fakes[0])
        tu_rmtree(fakes);
}

static bool real_helper(void)
{
    return toolchain != work;
}

struct job_result {
    int ret;
    char message[1200];
};

static void record(struct job_result *r, int ret, const char *fmt, ...)
{
    va_list ap;

    r->ret = ret;
    va_start(ap, fmt);
    vsnprintf(r->message, sizeof(r->message), fmt, ap);
    va_end(ap);
}

/* Job n: input of a size and content of its own; the real helper doubles it
 * with busybox, the fake echoes it. The output must come back exactly. */
static void run_job(int n, struct job_result *r)
{
    char in[4200], out[4200], got_path[4300];
    size_t size = 1 + (size_t)n * 3001, got_len;
    uint8_t *data = malloc(size * 2), *got;
    struct cps_job_spec *job = cps_job_new();
    struct cps_run_options *o = cps_run_options_new();
    struct cps_result *res = NULL;
    struct cps_error err;
    int ret;

    snprintf(in, sizeof(in), "%s/in-%d", work, n);
    snprintf(out, sizeof(out), "%s/out-%d", work, n);
    mkdir(out, 0755);
    tu_pattern(data, size, (unsigned)n + 100);
    tu_write_file(in, data, size);
    cps_job_set_toolchain(job, toolchain, &err);
    if (real_helper()) {
        const char *argv[] = {"sh", "-c", "cat in.dat in.dat > out.dat"};
        cps_job_set_argv(job, 3, argv, &err);
        cps_job_add_env(job, "PATH", "/bin", &err);
        cps_job_add_input(job, in, "in.dat", 0644, &err);
        cps_job_add_output(job, "out.dat", &err);
        memcpy(data + size, data, size);
    } else {
        const char *argv[] = {"echo"};
        cps_job_set_argv(job, 1, argv, &err);
        cps_job_add_input(job, in, "io.dat", 0644, &err);
        cps_job_add_output(job, "io.dat", &err);
    }
    o->helper_path = helper[0] ? helper : NULL;
    o->pool = pool;
    o->out_dir = out;
    o->timeout_ms = 120000;
    ret = cps_run(job, o, &res, &err);
    if (ret < 0) {
        record(r, ret, "job %d: %s: %s (%s)", n, err.stage, err.message, err.hint);
    } else if (res->exit_code != 0 || res->signal != 0) {
        record(r, -1, "job %d: exit %d signal %d", n, res->exit_code, res->signal);
    } else {
        size_t want = real_helper() ? size * 2 : size;
        snprintf(got_path, sizeof(got_path), "%s/%s", out, real_helper() ? "out.dat" : "io.dat");
        got = tu_read_file(got_path, &got_len);
        if (!got || got_len != want || memcmp(got, data, want) != 0)
            record(r, -1, "job %d: output differs (%zu bytes, want %zu)", n, got ? got_len : 0,
                   want);
        else
            record(r, 0, "ok");
        free(got);
    }
    cps_result_free(res);
    cps_run_options_free(o);
    cps_job_free(job);
    free(data);
}

static struct job_result results[JOBS];

static void *worker(void *arg)
{
    int t = (int)(intptr_t)arg;

    for (int n = t; n < JOBS; n += THREADS)
        run_job(n, &results[n]);
    return NULL;
}

START_TEST(fork_is_interposed)
{
    /* The definitions above are what the dynamic linker hands to any library. */
    ck_assert_ptr_eq(dlsym(RTLD_DEFAULT, "fork"), (void *)fork);
    ck_assert_ptr_eq(dlsym(RTLD_DEFAULT, "vfork"), (void *)vfork);
    ck_assert_ptr_eq(dlsym(RTLD_DEFAULT, "clone"), (void *)clone);
}
END_TEST

START_TEST(many_jobs_from_many_threads)
{
    pthread_t threads[THREADS];
    int fds = count_entries("/proc/self/fd");

    for (int t = 0; t < THREADS; t++)
        ck_assert_int_eq(pthread_create(&threads[t], NULL, worker, (void *)(intptr_t)t), 0);
    for (int t = 0; t < THREADS; t++)
        pthread_join(threads[t], NULL);
    for (int n = 0; n < JOBS; n++)
        ck_assert_msg(results[n].ret == 0, "%s", results[n].message);
    ck_assert(tu_no_children());
    /* No fd leaked, every temporary build dir removed. */
    ck_assert_int_eq(count_entries("/proc/self/fd"), fds);
    ck_assert_int_eq(count_entries(tmpdir), 0);
}
END_TEST

/* Jobs from many threads through a pool whose helpers serve jobs_per_helper
 * jobs each: its thread spawns and reaps helpers too, still without fork, and
 * cps_pool_free leaves no child, fd or build dir. */
static void many_jobs_through(unsigned jobs_per_helper)
{
    struct cps_pool_options *po = cps_pool_options_new();
    struct cps_pool_stats st;
    struct cps_error err;
    pthread_t threads[THREADS];
    int fds = count_entries("/proc/self/fd");

    po->size = 2;
    po->helper_path = helper[0] ? helper : NULL;
    po->jobs_per_helper = jobs_per_helper;
    ck_assert_int_eq(cps_pool_new(po, &pool, &err), 0);
    cps_pool_options_free(po);
    memset(results, 0, sizeof(results));
    for (int t = 0; t < THREADS; t++)
        ck_assert_int_eq(pthread_create(&threads[t], NULL, worker, (void *)(intptr_t)t), 0);
    for (int t = 0; t < THREADS; t++)
        pthread_join(threads[t], NULL);
    for (int n = 0; n < JOBS; n++)
        ck_assert_msg(results[n].ret == 0, "%s", results[n].message);
    cps_pool_get_stats(pool, &st, sizeof(st));
    ck_assert_uint_eq(st.warm + st.cold, JOBS);
    ck_assert_uint_ge(st.spawned, 2);
    ck_assert_uint_le(st.reused, st.warm);
    cps_pool_free(pool);
    pool = NULL;
    ck_assert(tu_no_children());
    ck_assert_int_eq(count_entries("/proc/self/fd"), fds);
    ck_assert_int_eq(count_entries(tmpdir), 0);
}

START_TEST(many_jobs_through_a_pool)
{
    many_jobs_through(1);
}
END_TEST

/* The fake helper does not support reuse: its helpers are refused and the
 * jobs go cold; the real one serves several jobs per helper. */
START_TEST(many_jobs_through_a_reusing_pool)
{
    many_jobs_through(8);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("parent_threads");
    TCase *tc = tcase_create("threads");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, fork_is_interposed);
    tcase_add_test(tc, many_jobs_from_many_threads);
    tcase_add_test(tc, many_jobs_through_a_pool);
    tcase_add_test(tc, many_jobs_through_a_reusing_pool);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    int failed;

    /* Check itself forks per test unless told not to. */
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
