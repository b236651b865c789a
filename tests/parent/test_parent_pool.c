/*
 * test_parent_pool.c - the warm helper pool against the real helper (run by
 * run-real.sh as root and as uid 65534): warm runs, a warm helper killed while
 * idle, more concurrent jobs than the pool holds, many threads, a job whose
 * configuration differs from the warm helpers', idle expiry, and cps_pool_free
 * leaving no process behind; and helpers serving several jobs (jobs_per_helper):
 * reuse counted, a helper retired after its jobs, one killed between jobs,
 * free while helpers are handed back, results identical to a helper per job.
 * Links the library's internals statically for the raw protocol check (a
 * helper started with --uid X refuses a job for uid Y).
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <stddef.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cachepot-sandbox.h"
#include "error.h"
#include "frame.h"
#include "helper_proc.h"
#include "job_spec.h"
#include "cps_limits.h"
#include "proto.h"
#include "testutil.h"

/* Bound of every wait for the pool to reach a state (a hang, not a timing). */
#define WAIT_LIMIT_S 60

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

static struct cps_pool *new_pool(size_t size, uint64_t max_idle_ms)
{
    struct cps_pool_options *po = cps_pool_options_new();
    struct cps_pool *pool;
    struct cps_error err;

    ck_assert_ptr_nonnull(po);
    po->size = size;
    po->max_idle_ms = max_idle_ms;
    ck_assert_msg(cps_pool_new(po, &pool, &err) == 0, "%s: %s", err.stage, err.message);
    cps_pool_options_free(po);
    return pool;
}

/* Wait until the pool has `ready` idle helpers and none starting. */
static void wait_ready(struct cps_pool *pool, size_t ready)
{
    for (int i = 0; i < WAIT_LIMIT_S * 100; i++) {
        struct cps_pool_stats s = tu_pool_stats(pool);
        if (s.ready >= ready && s.starting == 0)
            return;
        tu_sleep_ms(10);
    }
    ck_abort_msg("the pool never had %zu ready helpers (%zu ready)", ready,
                 tu_pool_stats(pool).ready);
}

/* Run job through pool; stdout into *out (new). Returns cps_run's value. */
static int run_pool(struct cps_pool *pool, const struct cps_job_spec *job, struct cps_result **res,
                    char **out, struct cps_error *err)
{
    struct cps_run_options *o = cps_run_options_new();
    struct tu_streams st = {0};
    int r;

    cps_run_options_set_pool(o, pool);
    o->on_stream = tu_collect_stream;
    o->user = &st;
    o->timeout_ms = 120000;
    r = cps_run(job, o, res, err);
    cps_run_options_free(o);
    *out = st.out ? (char *)st.out : strdup("");
    free(st.err);
    return r;
}

/* ---- processes, from /proc/PID/stat ---- */

static bool read_stat(pid_t pid, pid_t *ppid, char *state)
{
    char path[64], buf[512];
    FILE *f;
    bool ok = false;

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    if (!(f = fopen(path, "r")))
        return false;
    if (fgets(buf, sizeof(buf), f)) {
        char *rp = strrchr(buf, ')');
        int pp = 0;
        char s = '?';
        if (rp && sscanf(rp + 2, "%c %d", &s, &pp) == 2) {
            *ppid = pp;
            *state = s;
            ok = true;
        }
    }
    fclose(f);
    return ok;
}

/* Processes whose parent is one of parents[0..np) (np 0: this process). */
static size_t children_of(const pid_t *parents, size_t np, pid_t *out, size_t max)
{
    DIR *d = opendir("/proc");
    struct dirent *e;
    size_t n = 0;
    pid_t self = getpid();

    while (d && (e = readdir(d))) {
        pid_t pid = atoi(e->d_name), ppid;
        char state;
        if (pid <= 0 || !read_stat(pid, &ppid, &state))
            continue;
        bool match = np == 0 && ppid == self;
        for (size_t i = 0; i < np && !match; i++)
            match = ppid == parents[i];
        if (match && n < max)
            out[n++] = pid;
    }
    if (d)
        closedir(d);
    return n;
}

/* /proc/PID is gone: the process ended and was reaped. */
static bool gone(pid_t pid)
{
    char path[64];
    struct stat st;

    snprintf(path, sizeof(path), "/proc/%d", (int)pid);
    return stat(path, &st) < 0 && errno == ENOENT;
}

static void wait_gone(const pid_t *pids, size_t n)
{
    for (int i = 0; i < WAIT_LIMIT_S * 100; i++) {
        size_t left = 0;
        for (size_t k = 0; k < n; k++)
            left += !gone(pids[k]);
        if (left == 0)
            return;
        tu_sleep_ms(10);
    }
    for (size_t k = 0; k < n; k++)
        ck_assert_msg(gone(pids[k]), "process %d is still there", (int)pids[k]);
}

/* ---- tests ---- */

START_TEST(warm_run)
{
    struct cps_pool *pool = new_pool(2, 0);
    struct cps_job_spec *job = tu_sh_job(toolchain, "echo warm");
    struct cps_result *res;
    struct cps_error err;
    char *out;

    ck_assert_int_eq(cps_pool_prepare(pool, job, &err), 0);
    wait_ready(pool, 2);
    ck_assert_msg(run_pool(pool, job, &res, &out, &err) == 0, "%s: %s", err.stage, err.message);
    ck_assert_int_eq(res->exit_code, 0);
    ck_assert_str_eq(out, "warm\n");
    ck_assert(res->warm);
    ck_assert(!res->retried);
    ck_assert_uint_eq(res->spawn_us, 0);
    ck_assert_str_ne(res->helper_version, "");
    cps_result_free(res);
    free(out);
    /* The pool fills up again behind the run. */
    wait_ready(pool, 2);
    struct cps_pool_stats s = tu_pool_stats(pool);
    ck_assert_uint_eq(s.warm, 1);
    ck_assert_uint_eq(s.cold, 0);
    ck_assert_uint_eq(s.in_use, 0);
    ck_assert_uint_ge(s.spawned, 3);
    cps_pool_free(pool);
    cps_job_free(job);
    ck_assert(tu_no_children());
}
END_TEST

/* A pool of one for job, with its helper ready; *pid is that helper. */
static struct cps_pool *pool_of_one_ready(const struct cps_job_spec *job, pid_t *pid)
{
    struct cps_pool *pool = new_pool(1, 0);
    struct cps_error err;
    pid_t found[4];

    ck_assert_int_eq(cps_pool_prepare(pool, job, &err), 0);
    wait_ready(pool, 1);
    ck_assert_uint_eq(children_of(NULL, 0, found, 4), 1);
    *pid = found[0];
    return pool;
}

/* A run hands its finished helper to the pool thread (it only tears down its
 * namespaces after the exit frame), which reaps it while the pool lives on:
 * no zombie, no helper left running, before any cps_pool_free. */
START_TEST(finished_helper_reaped_by_pool)
{
    struct cps_job_spec *job = tu_sh_job(toolchain, "echo done");
    struct cps_result *res;
    struct cps_error err;
    pid_t used;
    struct cps_pool *pool = pool_of_one_ready(job, &used);
    char *out;

    ck_assert_msg(run_pool(pool, job, &res, &out, &err) == 0, "%s: %s", err.stage, err.message);
    ck_assert(res->warm);
    ck_assert_str_eq(out, "done\n");
    cps_result_free(res);
    free(out);
    wait_gone(&used, 1);
    ck_assert_uint_ge(tu_pool_stats(pool).reaped, 1);
    cps_pool_free(pool);
    cps_job_free(job);
    ck_assert(tu_no_children());
}
END_TEST

/* Kill the only idle helper; wait_noticed: until the pool thread has seen it
 * die (else run at once, racing the kill: the run's own check, or its retry
 * on a fresh helper, must save the job). */
static void kill_idle_then_run(bool wait_noticed)
{
    struct cps_job_spec *job = tu_sh_job(toolchain, "echo fresh");
    struct cps_result *res;
    struct cps_error err;
    pid_t idle;
    struct cps_pool *pool = pool_of_one_ready(job, &idle);
    char *out;

    ck_assert_int_eq(kill(idle, SIGKILL), 0);
    for (int i = 0; wait_noticed && i < WAIT_LIMIT_S * 100 && tu_pool_stats(pool).died == 0; i++)
        tu_sleep_ms(10);
    ck_assert_msg(run_pool(pool, job, &res, &out, &err) == 0, "%s: %s", err.stage, err.message);
    ck_assert_int_eq(res->exit_code, 0);
    ck_assert_str_eq(out, "fresh\n");
    cps_result_free(res);
    free(out);
    /* The killed helper is reaped (not a zombie of ours). */
    wait_gone(&idle, 1);
    struct cps_pool_stats s = tu_pool_stats(pool);
    if (wait_noticed)
        ck_assert_uint_eq(s.died, 1);
    /* Either noticed before the take, or the job ran again on a fresh helper. */
    ck_assert_uint_ge(s.died + s.retried, 1);
    cps_pool_free(pool);
    cps_job_free(job);
    ck_assert(tu_no_children());
}

START_TEST(helper_killed_while_idle)
{
    kill_idle_then_run(true);
}
END_TEST

START_TEST(helper_killed_just_before_the_run)
{
    kill_idle_then_run(false);
}
END_TEST

START_TEST(all_idle_helpers_killed)
{
    struct cps_pool *pool = new_pool(3, 0);
    struct cps_job_spec *job = tu_sh_job(toolchain, "echo again");
    struct cps_result *res;
    struct cps_error err;
    pid_t idle[8];
    size_t n;
    char *out;

    ck_assert_int_eq(cps_pool_prepare(pool, job, &err), 0);
    wait_ready(pool, 3);
    n = children_of(NULL, 0, idle, 8);
    ck_assert_uint_eq(n, 3);
    for (size_t i = 0; i < n; i++)
        ck_assert_int_eq(kill(idle[i], SIGKILL), 0);
    for (int round = 0; round < 3; round++) {
        ck_assert_msg(run_pool(pool, job, &res, &out, &err) == 0, "%s: %s", err.stage, err.message);
        ck_assert_int_eq(res->exit_code, 0);
        ck_assert_str_eq(out, "again\n");
        cps_result_free(res);
        free(out);
    }
    wait_gone(idle, n);
    cps_pool_free(pool);
    cps_job_free(job);
    ck_assert(tu_no_children());
}
END_TEST

/* ---- more jobs at once than the pool holds ---- */

#define BURST 8

struct burst {
    struct cps_pool *pool;
    pthread_barrier_t go;
    int n;
    int ret[BURST];
    bool ok[BURST], warm[BURST];
    char msg[BURST][1400];
};

struct burst_arg {
    struct burst *b;
    int i;
};

static void *burst_thread(void *arg)
{
    struct burst_arg *a = arg;
    struct burst *b = a->b;
    char script[64], want[32];
    struct cps_job_spec *job;
    struct cps_result *res = NULL;
    struct cps_error err;
    char *out;

    snprintf(script, sizeof(script), "sleep 0.3; echo job%d", a->i);
    snprintf(want, sizeof(want), "job%d\n", a->i);
    job = tu_sh_job(toolchain, script);
    pthread_barrier_wait(&b->go);
    b->ret[a->i] = run_pool(b->pool, job, &res, &out, &err);
    if (b->ret[a->i] < 0)
        snprintf(b->msg[a->i], sizeof(b->msg[a->i]), "%s: %s", err.stage, err.message);
    else {
        b->ok[a->i] = res->exit_code == 0 && strcmp(out, want) == 0;
        b->warm[a->i] = res->warm;
        snprintf(b->msg[a->i], sizeof(b->msg[a->i]), "exit %d, stdout \"%s\"", res->exit_code, out);
    }
    free(out);
    cps_result_free(res);
    cps_job_free(job);
    return NULL;
}

START_TEST(pool_exhausted)
{
    struct burst b = {.pool = new_pool(2, 0)};
    struct burst_arg args[BURST];
    pthread_t t[BURST];
    struct cps_job_spec *job = tu_sh_job(toolchain, "true");
    struct cps_error err;
    int warm = 0;

    ck_assert_int_eq(cps_pool_prepare(b.pool, job, &err), 0);
    wait_ready(b.pool, 2);
    pthread_barrier_init(&b.go, NULL, BURST);
    for (int i = 0; i < BURST; i++) {
        args[i] = (struct burst_arg){&b, i};
        ck_assert_int_eq(pthread_create(&t[i], NULL, burst_thread, &args[i]), 0);
    }
    for (int i = 0; i < BURST; i++)
        pthread_join(t[i], NULL);
    pthread_barrier_destroy(&b.go);
    for (int i = 0; i < BURST; i++) {
        ck_assert_msg(b.ret[i] == 0 && b.ok[i], "job %d: %s", i, b.msg[i]);
        warm += b.warm[i];
    }
    struct cps_pool_stats s = tu_pool_stats(b.pool);
    ck_assert_uint_eq(s.warm + s.cold, BURST);
    ck_assert_uint_eq(s.warm, (uint64_t)warm);
    /* Eight runs released together against two ready helpers, each of the
     * others needing a spawn and a hello first: the extra runs went cold. */
    ck_assert_uint_ge(s.cold, 1);
    ck_assert_uint_ge(s.warm, 1);
    cps_pool_free(b.pool);
    cps_job_free(job);
    ck_assert(tu_no_children());
}
END_TEST

/* ---- many threads ---- */

#define MT_JOBS    32
#define MT_THREADS 8

struct mt {
    struct cps_pool *pool;
    int failed;
    char msg[MT_JOBS][1400];
};

struct mt_arg {
    struct mt *m;
    int t;
};

static void *mt_thread(void *arg)
{
    struct mt_arg *a = arg;

    for (int n = a->t; n < MT_JOBS; n += MT_THREADS) {
        char in[4200], outdir[4200], script[128], want[64], got_path[4300];
        struct cps_job_spec *job;
        struct cps_result *res = NULL;
        struct cps_run_options *o = cps_run_options_new();
        struct cps_error err;
        uint8_t *got;
        size_t len;
        int r;

        snprintf(in, sizeof(in), "%s/in-%d", work, n);
        snprintf(outdir, sizeof(outdir), "%s/out-%d", work, n);
        mkdir(outdir, 0755);
        snprintf(want, sizeof(want), "input %d\n", n);
        tu_write_file(in, want, strlen(want));
        snprintf(script, sizeof(script), "cat in.txt > out.txt");
        job = tu_sh_job(toolchain, script);
        cps_job_add_input(job, in, "in.txt", 0644, &err);
        cps_job_add_output(job, "out.txt", &err);
        o->pool = a->m->pool;
        o->out_dir = outdir;
        o->timeout_ms = 120000;
        r = cps_run(job, o, &res, &err);
        snprintf(got_path, sizeof(got_path), "%s/out.txt", outdir);
        got = r == 0 ? tu_read_file(got_path, &len) : NULL;
        if (r < 0)
            snprintf(a->m->msg[n], sizeof(a->m->msg[n]), "%s: %s", err.stage, err.message);
        else if (res->exit_code != 0 || !got || len != strlen(want) || memcmp(got, want, len))
            snprintf(a->m->msg[n], sizeof(a->m->msg[n]), "exit %d, output %s", res->exit_code,
                     got ? "differs" : "missing");
        else
            a->m->msg[n][0] = '\0';
        free(got);
        cps_result_free(res);
        cps_run_options_free(o);
        cps_job_free(job);
    }
    return NULL;
}

START_TEST(many_threads)
{
    struct mt m = {.pool = new_pool(2, 0)};
    struct mt_arg args[MT_THREADS];
    pthread_t t[MT_THREADS];

    for (int i = 0; i < MT_THREADS; i++) {
        args[i] = (struct mt_arg){&m, i};
        ck_assert_int_eq(pthread_create(&t[i], NULL, mt_thread, &args[i]), 0);
    }
    for (int i = 0; i < MT_THREADS; i++)
        pthread_join(t[i], NULL);
    for (int n = 0; n < MT_JOBS; n++)
        ck_assert_msg(m.msg[n][0] == '\0', "job %d: %s", n, m.msg[n]);
    struct cps_pool_stats s = tu_pool_stats(m.pool);
    ck_assert_uint_eq(s.warm + s.cold, MT_JOBS);
    ck_assert_uint_eq(s.in_use, 0);
    cps_pool_free(m.pool);
    ck_assert(tu_no_children());
}
END_TEST

/* ---- configuration mismatch ---- */

START_TEST(job_of_another_uid_gets_a_matching_helper)
{
    struct cps_pool *pool = new_pool(2, 0);
    struct cps_job_spec *def = tu_sh_job(toolchain, "id -u"),
                        *other = tu_sh_job(toolchain, "id -u; id -g");
    struct cps_result *res;
    struct cps_error err;
    char *out;

    ck_assert_int_eq(cps_pool_prepare(pool, def, &err), 0);
    wait_ready(pool, 2);
    cps_job_set_uid(other, 1234);
    cps_job_set_gid(other, 4321);
    ck_assert_msg(run_pool(pool, other, &res, &out, &err) == 0, "%s: %s", err.stage, err.message);
    ck_assert_int_eq(res->exit_code, 0);
    ck_assert_str_eq(out, "1234\n4321\n");
    ck_assert(!res->warm);
    cps_result_free(res);
    free(out);
    /* Now the pool knows that configuration too, and the next one is warm. */
    for (int i = 0; i < WAIT_LIMIT_S * 100 && tu_pool_stats(pool).ready < 4; i++)
        tu_sleep_ms(10);
    ck_assert_uint_eq(tu_pool_stats(pool).configs, 2);
    ck_assert_msg(run_pool(pool, other, &res, &out, &err) == 0, "%s: %s", err.stage, err.message);
    ck_assert_str_eq(out, "1234\n4321\n");
    ck_assert(res->warm);
    cps_result_free(res);
    free(out);
    cps_pool_free(pool);
    cps_job_free(def);
    cps_job_free(other);
    ck_assert(tu_no_children());
}
END_TEST

/* The helper itself: spawned with --uid 2000, a job for uid 3000 is refused
 * with an error frame of stage "job" (the pool never sends one). */
START_TEST(helper_refuses_job_of_other_uid)
{
    struct cps_job_spec *spec = tu_sh_job(toolchain, "true");
    struct cps_job cfg = {.has_uid = true, .uid = 2000};
    struct cps_helper_proc p;
    struct cps_wire_job wire;
    struct cps_msg hello, reply, jobmsg = {.type = CPS_MSG_JOB};
    struct cps_error err;
    char build[4200];
    uint8_t *payload;
    size_t len;

    snprintf(build, sizeof(build), "%s/build", work);
    ck_assert_int_eq(mkdir(build, 0755), 0);
    cps_job_set_uid(spec, 3000);
    ck_assert_msg(cps__wire_job_build(spec, build, &wire, &err) == 0, "%s", err.message);
    ck_assert_int_eq(cps__helper_spawn(cps__helper_path(NULL), &cfg, &p, &err), 0);
    ck_assert_msg(cps__frame_read(p.sock, CPS_MAX_FRAME, &payload, &len, &err) == 0, "%s",
                  err.message);
    ck_assert_int_eq(cps__msg_decode(payload, len, &hello, &err), 0);
    free(payload);
    ck_assert_int_eq(hello.type, CPS_MSG_HELLO);
    ck_assert_uint_eq(hello.u.hello.uid, 2000);
    cps__msg_free(&hello);

    jobmsg.u.job = wire.job;
    ck_assert_int_eq(cps__msg_encode(&jobmsg, &payload, &len, &err), 0);
    ck_assert_int_eq(cps__frame_write(p.sock, payload, len, &err), 0);
    free(payload);
    ck_assert_msg(cps__frame_read(p.sock, CPS_MAX_FRAME, &payload, &len, &err) == 0, "%s",
                  err.message);
    ck_assert_int_eq(cps__msg_decode(payload, len, &reply, &err), 0);
    free(payload);
    ck_assert_int_eq(reply.type, CPS_MSG_ERROR);
    ck_assert_str_eq(reply.u.error.stage, "job");
    ck_assert_msg(strstr(reply.u.error.message, "3000") && strstr(reply.u.error.message, "2000"),
                  "message: %s", reply.u.error.message);
    cps__msg_free(&reply);
    cps__helper_finish(&p, 10000);
    ck_assert(WIFEXITED(p.status) && WEXITSTATUS(p.status) != 0);
    cps__wire_job_free(&wire);
    cps_job_free(spec);
    ck_assert(tu_no_children());
}
END_TEST

/* ---- idle expiry and free ---- */

START_TEST(idle_helpers_expire)
{
    struct cps_pool *pool = new_pool(2, 300);
    struct cps_job_spec *job = tu_sh_job(toolchain, "true");
    struct cps_error err;
    pid_t idle[8];
    size_t n;

    ck_assert_int_eq(cps_pool_prepare(pool, job, &err), 0);
    wait_ready(pool, 2);
    n = children_of(NULL, 0, idle, 8);
    ck_assert_uint_ge(n, 2);
    for (int i = 0; i < WAIT_LIMIT_S * 100; i++) {
        struct cps_pool_stats s = tu_pool_stats(pool);
        if (s.ready == 0 && s.starting == 0 && s.closing == 0 && s.configs == 0)
            break;
        tu_sleep_ms(10);
    }
    struct cps_pool_stats s = tu_pool_stats(pool);
    ck_assert_uint_eq(s.ready + s.starting + s.closing, 0);
    ck_assert_uint_ge(s.expired, 2);
    ck_assert_uint_eq(s.reaped, s.spawned);
    /* Closed by EOF, reaped by the pool thread, before any cps_pool_free. */
    wait_gone(idle, n);
    ck_assert(tu_no_children());
    cps_pool_free(pool);
    cps_job_free(job);
}
END_TEST

START_TEST(free_leaves_nothing)
{
    struct cps_pool *pool = new_pool(3, 0);
    struct cps_job_spec *a = tu_sh_job(toolchain, "true"), *b = tu_sh_job(toolchain, "true");
    struct cps_error err;
    pid_t helpers[16], all[64];
    size_t nh, na;

    cps_job_set_uid(b, 77);
    ck_assert_int_eq(cps_pool_prepare(pool, a, &err), 0);
    ck_assert_int_eq(cps_pool_prepare(pool, b, &err), 0);
    wait_ready(pool, 6);
    nh = children_of(NULL, 0, helpers, 16);
    ck_assert_uint_eq(nh, 6);
    /* Each helper's PID 1 of its namespace (its child) must go too. */
    memcpy(all, helpers, nh * sizeof(pid_t));
    na = nh + children_of(helpers, nh, all + nh, 64 - nh);
    ck_assert_uint_ge(na, 2 * nh);
    cps_pool_free(pool);
    /* Every helper reaped by cps_pool_free itself: no child, no zombie. */
    ck_assert(tu_no_children());
    wait_gone(all, na);
    cps_job_free(a);
    cps_job_free(b);
}
END_TEST

/* A worker that exits without cps_pool_free: its helpers read EOF (and get
 * their parent-death signal) and end; none outlives it. The worker is a
 * child of this (single-threaded) test process. */
START_TEST(worker_exit_ends_idle_helpers)
{
    int fds[2];
    pid_t worker, pids[64];
    size_t n = 0;
    int st;

    ck_assert_int_eq(pipe(fds), 0);
    worker = fork();
    ck_assert_int_ge(worker, 0);
    if (worker == 0) {
        struct cps_pool *pool = new_pool(3, 0);
        struct cps_job_spec *job = tu_sh_job(toolchain, "true");
        struct cps_error err;
        pid_t helpers[16], all[64];
        size_t nh, na;

        close(fds[0]);
        if (cps_pool_prepare(pool, job, &err) < 0)
            _exit(2);
        wait_ready(pool, 3);
        nh = children_of(NULL, 0, helpers, 16);
        memcpy(all, helpers, nh * sizeof(pid_t));
        na = nh + children_of(helpers, nh, all + nh, 64 - nh);
        if (write(fds[1], all, na * sizeof(pid_t)) != (ssize_t)(na * sizeof(pid_t)))
            _exit(3);
        _exit(0);
    }
    close(fds[1]);
    for (ssize_t r; (r = read(fds[0], pids + n, sizeof(pids) - n * sizeof(pid_t))) > 0;)
        n += (size_t)r / sizeof(pid_t);
    close(fds[0]);
    ck_assert_int_eq(waitpid(worker, &st, 0), worker);
    ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    ck_assert_uint_ge(n, 6);
    /* Orphaned helpers are reaped by init (or a subreaper) once they exit. */
    wait_gone(pids, n);
}
END_TEST

START_TEST(free_unused_pool)
{
    struct cps_pool *pool = new_pool(0, 0);
    struct cps_pool_stats s = tu_pool_stats(pool);

    ck_assert_uint_eq(s.spawned, 0);
    ck_assert_uint_eq(s.configs, 0);
    cps_pool_free(pool);
    cps_pool_free(NULL);
    ck_assert(tu_no_children());
}
END_TEST

/* ---- reuse: one helper serving several jobs (docs/REUSE.md) ---- */

/* A pool whose helpers serve jobs_per_helper jobs each. Nothing expires
 * during a test, however slow the host: the counts below must not depend on
 * time. */
static struct cps_pool *new_reusing_pool(size_t size, unsigned jobs_per_helper)
{
    struct cps_pool_options *po = cps_pool_options_new();
    struct cps_pool *pool;
    struct cps_error err;

    ck_assert_ptr_nonnull(po);
    ck_assert_uint_eq(po->jobs_per_helper, 1);
    po->size = size;
    po->max_idle_ms = 3600 * 1000;
    po->jobs_per_helper = jobs_per_helper;
    ck_assert_msg(cps_pool_new(po, &pool, &err) == 0, "%s: %s", err.stage, err.message);
    cps_pool_options_free(po);
    return pool;
}

/* Run job on pool once the pool is settled (a helper ready, none starting:
 * a helper handed back after its last job has said hello again or ended),
 * and check it ran warm with the expected stdout. */
static void run_settled(struct cps_pool *pool, const struct cps_job_spec *job, const char *want)
{
    struct cps_result *res;
    struct cps_error err;
    char *out;

    wait_ready(pool, 1);
    ck_assert_msg(run_pool(pool, job, &res, &out, &err) == 0, "%s: %s", err.stage, err.message);
    ck_assert_int_eq(res->exit_code, 0);
    ck_assert_str_eq(out, want);
    ck_assert(res->warm);
    ck_assert(!res->retried);
    cps_result_free(res);
    free(out);
}

static void wait_stat(struct cps_pool *pool, size_t offset, uint64_t want)
{
    for (int i = 0; i < WAIT_LIMIT_S * 100; i++) {
        struct cps_pool_stats s = tu_pool_stats(pool);
        uint64_t v;
        memcpy(&v, (const char *)&s + offset, sizeof(v));
        if (v >= want)
            return;
        tu_sleep_ms(10);
    }
    ck_abort_msg("a pool counter never reached %llu", (unsigned long long)want);
}

#define WAIT_STAT(pool, field, want) wait_stat(pool, offsetof(struct cps_pool_stats, field), want)

/*
 * Six jobs, one after the other, through a pool of one with three jobs per
 * helper, each run started when the pool is settled. Runs take the oldest
 * ready helper, and a helper handed back keeps its place: so helper 1 serves
 * jobs 1-3 (helper 2 is spawned when job 1 takes helper 1 and waits), helper 2
 * jobs 4-6 (helper 3 is spawned when job 4 takes the last ready one). Exactly
 * 3 spawns, 4 runs on a reused helper, 2 helpers retired; every run warm.
 */
static void reuse_counted_with(const char *backend)
{
    struct cps_pool *pool = new_reusing_pool(1, 3);
    struct cps_job_spec *job = tu_sh_job(toolchain, "echo reuse");
    struct cps_error err;

    if (backend)
        ck_assert_int_eq(cps_job_set_backend(job, backend, &err), 0);
    ck_assert_int_eq(cps_pool_prepare(pool, job, &err), 0);
    for (int i = 0; i < 6; i++)
        run_settled(pool, job, "reuse\n");
    WAIT_STAT(pool, retired, 2);
    wait_ready(pool, 1);
    struct cps_pool_stats s = tu_pool_stats(pool);
    ck_assert_uint_eq(s.warm, 6);
    ck_assert_uint_eq(s.cold, 0);
    ck_assert_msg(s.spawned == 3 && s.reused == 4 && s.retired == 2 && s.died == 0,
                  "spawned %llu reused %llu retired %llu died %llu", (unsigned long long)s.spawned,
                  (unsigned long long)s.reused, (unsigned long long)s.retired,
                  (unsigned long long)s.died);
    ck_assert_uint_eq(s.ready, 1);
    cps_pool_free(pool);
    cps_job_free(job);
    ck_assert(tu_no_children());
}

START_TEST(reuse_counted)
{
    reuse_counted_with(NULL);
}
END_TEST

/* The same with the bubblewrap backend (each job's bwrap makes its own
 * namespaces inside the helper's). */
START_TEST(reuse_counted_bubblewrap)
{
    reuse_counted_with("bubblewrap");
}
END_TEST

/* The helper spawned first serves its two jobs, then ends by itself and is
 * reaped by the pool thread (no zombie) with its PID 1, before any free. */
START_TEST(reusing_helper_retired_after_its_jobs)
{
    struct cps_pool *pool = new_reusing_pool(1, 2);
    struct cps_job_spec *job = tu_sh_job(toolchain, "echo twice");
    struct cps_error err;
    pid_t first[8];
    size_t n;

    ck_assert_int_eq(cps_pool_prepare(pool, job, &err), 0);
    wait_ready(pool, 1);
    ck_assert_uint_eq(children_of(NULL, 0, first, 1), 1);
    n = 1 + children_of(first, 1, first + 1, 7);
    run_settled(pool, job, "twice\n");
    ck_assert(!gone(first[0]));
    run_settled(pool, job, "twice\n");
    wait_gone(first, n);
    WAIT_STAT(pool, retired, 1);
    struct cps_pool_stats s = tu_pool_stats(pool);
    ck_assert_uint_eq(s.reused, 1);
    ck_assert_uint_eq(s.retired, 1);
    ck_assert_uint_eq(s.died, 0);
    cps_pool_free(pool);
    cps_job_free(job);
    ck_assert(tu_no_children());
}
END_TEST

/* A reusing helper killed after its first job, either at once (it is still
 * cleaning up or saying hello again: the pool sees EOF on a handed-back
 * helper) or once it is ready again: the next run succeeds all the same, and
 * the killed helper is reaped and counted as died, or its run retried. */
static void kill_reusing_then_run(bool when_ready)
{
    struct cps_pool *pool = new_reusing_pool(1, 3);
    struct cps_job_spec *job = tu_sh_job(toolchain, "echo again");
    struct cps_result *res;
    struct cps_error err;
    pid_t first;
    char *out;

    ck_assert_int_eq(cps_pool_prepare(pool, job, &err), 0);
    wait_ready(pool, 1);
    ck_assert_uint_eq(children_of(NULL, 0, &first, 1), 1);
    ck_assert_msg(run_pool(pool, job, &res, &out, &err) == 0, "%s: %s", err.stage, err.message);
    ck_assert(res->warm);
    cps_result_free(res);
    free(out);
    /* Settled: the first helper said hello again (and is the oldest). */
    if (when_ready)
        wait_ready(pool, 1);
    ck_assert_int_eq(kill(first, SIGKILL), 0);
    ck_assert_msg(run_pool(pool, job, &res, &out, &err) == 0, "%s: %s", err.stage, err.message);
    ck_assert_int_eq(res->exit_code, 0);
    ck_assert_str_eq(out, "again\n");
    cps_result_free(res);
    free(out);
    wait_gone(&first, 1);
    struct cps_pool_stats s = tu_pool_stats(pool);
    ck_assert_uint_ge(s.died + s.retried, 1);
    ck_assert_uint_eq(s.retired, 0);
    cps_pool_free(pool);
    cps_job_free(job);
    ck_assert(tu_no_children());
}

START_TEST(reusing_helper_killed_after_its_job)
{
    kill_reusing_then_run(false);
}
END_TEST

START_TEST(reusing_helper_killed_while_ready_again)
{
    kill_reusing_then_run(true);
}
END_TEST

/* cps_pool_free right after runs, while reusing helpers are handed back and
 * cleaning up: every helper and every PID 1 seen is gone, no child left. */
START_TEST(reuse_free_leaves_nothing)
{
    struct cps_pool *pool = new_reusing_pool(2, 5);
    struct cps_job_spec *job = tu_sh_job(toolchain, "echo x");
    struct cps_result *res;
    struct cps_error err;
    pid_t helpers[16], all[64];
    size_t nh, na;
    char *out;

    ck_assert_int_eq(cps_pool_prepare(pool, job, &err), 0);
    wait_ready(pool, 2);
    for (int i = 0; i < 3; i++) {
        ck_assert_msg(run_pool(pool, job, &res, &out, &err) == 0, "%s: %s", err.stage, err.message);
        cps_result_free(res);
        free(out);
    }
    nh = children_of(NULL, 0, helpers, 16);
    ck_assert_uint_ge(nh, 1);
    memcpy(all, helpers, nh * sizeof(pid_t));
    na = nh + children_of(helpers, nh, all + nh, 64 - nh);
    cps_pool_free(pool);
    ck_assert(tu_no_children());
    wait_gone(all, na);
    cps_job_free(job);
}
END_TEST

/* What a job sees and returns is the same on a reused helper as on a helper
 * of its own: stdout and the output file byte for byte, exit status. The job
 * also looks for what the job before it left in /tmp, the cwd and /dev/shm. */
#define SAME_SCRIPT                                                                                \
    "cat in.txt; id -u; id -g; hostname; ls -A /tmp /dev/shm . 2>&1; "                             \
    "cat in.txt in.txt > out.txt; echo left > /tmp/left; echo left > left; "                       \
    "echo left > /dev/shm/left 2>/dev/null; exit 3"

static void run_same(struct cps_pool *pool, const char *in, int k, char **out, uint8_t **file,
                     size_t *flen)
{
    struct cps_job_spec *job = tu_sh_job(toolchain, SAME_SCRIPT);
    struct cps_run_options *o = cps_run_options_new();
    struct tu_streams st = {0};
    struct cps_result *res;
    struct cps_error err;
    char dir[4200], path[4300];

    snprintf(dir, sizeof(dir), "%s/same-%s-%d", work, pool ? "pool" : "cold", k);
    ck_assert_int_eq(mkdir(dir, 0755), 0);
    ck_assert_int_eq(cps_job_add_input(job, in, "in.txt", 0644, &err), 0);
    ck_assert_int_eq(cps_job_add_output(job, "out.txt", &err), 0);
    if (pool)
        wait_ready(pool, 1);
    o->pool = pool;
    o->out_dir = dir;
    o->on_stream = tu_collect_stream;
    o->user = &st;
    o->timeout_ms = 120000;
    ck_assert_msg(cps_run(job, o, &res, &err) == 0, "%s: %s", err.stage, err.message);
    ck_assert_int_eq(res->exit_code, 3);
    ck_assert(pool == NULL || res->warm);
    cps_result_free(res);
    cps_run_options_free(o);
    cps_job_free(job);
    snprintf(path, sizeof(path), "%s/out.txt", dir);
    *file = tu_read_file(path, flen);
    ck_assert_ptr_nonnull(*file);
    *out = st.out ? strndup((const char *)st.out, st.out_len) : strdup("");
    tu_streams_free(&st);
}

START_TEST(reuse_results_identical)
{
    struct cps_pool *pool = new_reusing_pool(1, 3);
    struct cps_job_spec *probe = tu_sh_job(toolchain, "true");
    char in[4200], *ref_out, *out;
    uint8_t data[3000], *ref_file, *file;
    size_t ref_len, len;
    struct cps_error err;

    snprintf(in, sizeof(in), "%s/in.bin", work);
    tu_pattern(data, sizeof(data), 16);
    tu_write_file(in, data, sizeof(data));
    run_same(NULL, in, 0, &ref_out, &ref_file, &ref_len);
    ck_assert_uint_eq(ref_len, 2 * sizeof(data));
    ck_assert_int_eq(cps_pool_prepare(pool, probe, &err), 0);
    for (int k = 1; k <= 3; k++) {
        run_same(pool, in, k, &out, &file, &len);
        ck_assert_msg(strcmp(out, ref_out) == 0,
                      "run %d on a reusing helper printed\n%s\n"
                      "where a helper of its own printed\n%s",
                      k, out, ref_out);
        ck_assert(len == ref_len && memcmp(file, ref_file, len) == 0);
        free(out);
        free(file);
    }
    /* Runs 2 and 3 ran on the helper of run 1. */
    ck_assert_uint_eq(tu_pool_stats(pool).reused, 2);
    free(ref_out);
    free(ref_file);
    cps_pool_free(pool);
    cps_job_free(probe);
    ck_assert(tu_no_children());
}
END_TEST

/* With seccomp off a configuration never gets --jobs-per-helper (the helper
 * refuses it): its helpers are warm, each serves one job. */
START_TEST(reuse_never_without_seccomp)
{
    struct cps_pool *pool = new_reusing_pool(1, 3);
    struct cps_job_spec *job = tu_sh_job(toolchain, "echo plain");
    struct cps_error err;

    cps_job_set_seccomp(job, false);
    ck_assert_int_eq(cps_pool_prepare(pool, job, &err), 0);
    for (int i = 0; i < 3; i++)
        run_settled(pool, job, "plain\n");
    struct cps_pool_stats s = tu_pool_stats(pool);
    ck_assert_uint_eq(s.reused, 0);
    ck_assert_uint_eq(s.died, 0);
    ck_assert_uint_eq(s.spawned, 4);
    cps_pool_free(pool);
    cps_job_free(job);
    ck_assert(tu_no_children());
}
END_TEST

START_TEST(reuse_bound_checked)
{
    struct cps_pool_options *po = cps_pool_options_new();
    struct cps_pool *pool = NULL;
    struct cps_error err;

    po->jobs_per_helper = CPS_POOL_MAX_JOBS_PER_HELPER + 1;
    ck_assert_int_eq(cps_pool_new(po, &pool, &err), -EINVAL);
    ck_assert_ptr_null(pool);
    ck_assert_str_eq(err.stage, "pool");
    cps_pool_options_free(po);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("parent_pool");
    TCase *tc = tcase_create("pool");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, warm_run);
    tcase_add_test(tc, finished_helper_reaped_by_pool);
    tcase_add_test(tc, helper_killed_while_idle);
    tcase_add_test(tc, helper_killed_just_before_the_run);
    tcase_add_test(tc, all_idle_helpers_killed);
    tcase_add_test(tc, pool_exhausted);
    tcase_add_test(tc, many_threads);
    tcase_add_test(tc, job_of_another_uid_gets_a_matching_helper);
    tcase_add_test(tc, helper_refuses_job_of_other_uid);
    tcase_add_test(tc, idle_helpers_expire);
    tcase_add_test(tc, free_leaves_nothing);
    tcase_add_test(tc, worker_exit_ends_idle_helpers);
    tcase_add_test(tc, free_unused_pool);
    tcase_add_test(tc, reuse_counted);
    tcase_add_test(tc, reuse_counted_bubblewrap);
    tcase_add_test(tc, reusing_helper_retired_after_its_jobs);
    tcase_add_test(tc, reusing_helper_killed_after_its_job);
    tcase_add_test(tc, reusing_helper_killed_while_ready_again);
    tcase_add_test(tc, reuse_free_leaves_nothing);
    tcase_add_test(tc, reuse_results_identical);
    tcase_add_test(tc, reuse_never_without_seccomp);
    tcase_add_test(tc, reuse_bound_checked);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr;
    int failed;

    if (!getenv("CPS_TEST_TOOLCHAIN") || !getenv("CPS_TEST_TOOLCHAIN")[0]) {
        printf("SKIP: CPS_TEST_TOOLCHAIN is not set (run through run-real.sh)\n");
        return 77;
    }
    sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
