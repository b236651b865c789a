/*
 * variant_lib.c - variants that run the job through libcachepot-sandbox,
 * inside the driver process (so the driver is the "parent" whose memory the
 * streaming mode reports). Built without the library (CPS_BENCH_HAVE_LIB
 * undefined), no kind exists and asking for one is an error.
 *
 * Kinds are rows of the table at the end: "cold" spawns a fresh helper per
 * job (cps_run without a pool); "warm" runs every job on a helper from a
 * cps_pool (docs/POOL.md) that the variant keeps for as long as the mode
 * runs; "reuse" is "warm" with helpers that serve REUSE_JOBS jobs each
 * (jobs_per_helper, docs/REUSE.md). The modes and bench/run.sh pick up every
 * kind listed by bench_lib_kinds() without further changes.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>

#include "driver.h"

#ifdef CPS_BENCH_HAVE_LIB
#include "cachepot-sandbox.h"

struct lib_ctx {
    const struct bench_job *job;
    struct bench_result *res;
    size_t err_have;
};

static int on_stream(void *user, enum cps_stream_id stream, const void *data, size_t len)
{
    struct lib_ctx *x = user;
    if (stream == CPS_STDOUT) {
        x->res->stdout_bytes += len;
        return 0;
    }
    /* Keep the start of stderr: a failing compiler says why first. */
    size_t room = sizeof(x->res->err) - 1 - x->err_have;
    size_t n = len < room ? len : room;
    memcpy(x->res->err + x->err_have, data, n);
    x->err_have += n;
    x->res->err[x->err_have] = '\0';
    return 0;
}

static int on_output(void *user, const char *path, unsigned mode, uint64_t size, const void *data,
                     size_t len, bool last)
{
    struct lib_ctx *x = user;
    x->res->output_bytes += len;
    return 0;
}

/* Build the job spec for one run (new). */
static struct cps_job_spec *make_spec(const struct bench_job *job, struct cps_error *err)
{
    struct cps_job_spec *spec = cps_job_new();
    char **argv = NULL, **env = NULL, *in_host = NULL, *in_sbx = NULL, *out = NULL;
    int rc = -ENOMEM;
    size_t argc = 0;
    if (!spec)
        goto fail;
    argv = bench_expand(job->argv_tpl ? job->argv_tpl : "/bin/true", job);
    if (!argv)
        goto fail;
    while (argv[argc])
        argc++;
    if ((rc = cps_job_set_toolchain(spec, bench_lib.toolchain, err)) < 0 ||
        (rc = cps_job_set_build_dir(spec, job->build, err)) < 0 ||
        (rc = cps_job_set_argv(spec, argc, (const char *const *)argv, err)) < 0)
        goto fail;
    if (job->cwd && (rc = cps_job_set_cwd(spec, job->cwd, err)) < 0)
        goto fail;
    if (bench_lib.env && (env = bench_expand(bench_lib.env, job))) {
        for (char **e = env; *e; e++) {
            char *eq = strchr(*e, '=');
            if (!eq)
                continue;
            *eq = '\0';
            if ((rc = cps_job_add_env(spec, *e, eq + 1, err)) < 0)
                goto fail;
        }
    }
    if (job->in_host_tpl && job->in_sbx_tpl) {
        rc = -ENOMEM;
        if (!(in_host = bench_expand1(job->in_host_tpl, job)) ||
            !(in_sbx = bench_expand1(job->in_sbx_tpl, job)))
            goto fail;
        if ((rc = cps_job_add_input(spec, in_host, in_sbx, 0644, err)) < 0)
            goto fail;
    }
    if (job->out_sbx_tpl) {
        rc = -ENOMEM;
        if (!(out = bench_expand1(job->out_sbx_tpl, job)))
            goto fail;
        if ((rc = cps_job_add_output(spec, out, err)) < 0)
            goto fail;
    }
    rc = 0;
fail:
    bench_argv_free(argv);
    bench_argv_free(env);
    free(in_host);
    free(in_sbx);
    free(out);
    if (rc < 0) {
        if (rc == -ENOMEM)
            snprintf(err->message, sizeof(err->message), "out of memory building the job");
        cps_job_free(spec);
        return NULL;
    }
    return spec;
}

static void add_stage(struct bench_result *res, const char *name, uint64_t usec)
{
    if (res->stagec == BENCH_MAX_STAGES)
        return;
    snprintf(res->stages[res->stagec].name, BENCH_STAGE_NAME, "%s", name);
    res->stages[res->stagec++].usec = usec;
}

/* Run job once, on a helper from pool, or a fresh one when pool is NULL. */
static int run_lib(const struct bench_job *job, struct bench_result *res, struct cps_pool *pool)
{
    struct cps_error err = {0};
    struct cps_result *r = NULL;
    struct lib_ctx x = {.job = job, .res = res};
    struct cps_job_spec *spec = make_spec(job, &err);
    if (!spec) {
        snprintf(res->err, sizeof(res->err), "job spec: %s: %.400s", err.stage, err.message);
        return -EINVAL;
    }
    struct cps_run_options *opts = cps_run_options_new();
    if (!opts) {
        cps_job_free(spec);
        return -ENOMEM;
    }
    opts->helper_path = bench_lib.helper;
    opts->pool = pool;
    opts->on_stream = on_stream;
    opts->user = &x;
    if (job->discard_outputs)
        opts->on_output = on_output;
    else
        opts->out_dir = job->dir;

    uint64_t t0 = bench_now_us();
    int rc = cps_run(spec, opts, &r, &err);
    res->wall_us = bench_now_us() - t0;
    if (rc < 0) {
        snprintf(res->err, sizeof(res->err), "cps_run: %s: %.300s (%s)%s%.120s", err.stage,
                 err.message, strerror(-rc), err.hint[0] ? " hint: " : "", err.hint);
    } else {
        res->ok = r->exit_code == 0 && r->signal == 0;
        res->warm = r->warm;
        if (!res->ok) {
            char tail[BENCH_ERR_MAX];
            snprintf(tail, sizeof(tail), "%s", res->err);
            snprintf(res->err, sizeof(res->err), "exit %d signal %d limit '%s': %.400s",
                     r->exit_code, r->signal, r->limit, tail);
        }
        for (size_t i = 0; i < r->timing_count; i++)
            add_stage(res, r->timings[i].stage, r->timings[i].usec);
        /* The library's own clock, prefixed so the report tells them apart. */
        add_stage(res, "lib:spawn", r->spawn_us);
        add_stage(res, "lib:setup", r->setup_us);
        add_stage(res, "lib:run", r->run_us);
        add_stage(res, "lib:outputs", r->outputs_us);
        add_stage(res, "lib:total", r->total_us);
        cps_result_free(r);
    }
    cps_run_options_free(opts);
    cps_job_free(spec);
    return rc < 0 ? rc : 0;
}

static int run_cold(struct bench_variant *v, const struct bench_job *job, struct bench_result *res)
{
    return run_lib(job, res, NULL);
}

/* Jobs per helper of the "reuse" kind: enough that the helper's start-up is
 * spread thin, few enough that a 300-job block retires several helpers. */
#define REUSE_JOBS 50

/* The warm and reuse kinds' pool, made on the variant's first job. */
struct warm_state {
    pthread_mutex_t lock;
    struct cps_pool *pool;
    unsigned jobs_per_helper; /* 1: a helper per job */
};

/* Make the pool and wait (up to 10 s) until job's configuration has a warm
 * helper, so that the first measured job does not find an empty pool. */
static int warm_pool(struct warm_state *w, const struct bench_job *job, struct cps_error *err)
{
    struct cps_pool_options *po = cps_pool_options_new();
    struct cps_job_spec *spec = NULL;
    int rc = -ENOMEM;
    if (!po)
        return rc;
    po->size = bench_lib.pool_size;
    po->helper_path = bench_lib.helper;
    po->jobs_per_helper = w->jobs_per_helper;
    rc = cps_pool_new(po, &w->pool, err);
    cps_pool_options_free(po);
    if (rc < 0)
        return rc;
    if (!(spec = make_spec(job, err)))
        return -EINVAL;
    rc = cps_pool_prepare(w->pool, spec, err);
    cps_job_free(spec);
    for (int i = 0; rc == 0 && i < 10000; i++) {
        struct cps_pool_stats st;
        cps_pool_get_stats(w->pool, &st, sizeof(st));
        if (st.ready >= 1)
            break;
        nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL);
    }
    return rc;
}

/* Make the pool if there is none; err filled on failure. */
static int ensure_pool(struct bench_variant *v, const struct bench_job *job, struct cps_error *err)
{
    struct warm_state *w = v->priv;
    int rc = 0;
    pthread_mutex_lock(&w->lock);
    if (!w->pool)
        rc = warm_pool(w, job, err);
    pthread_mutex_unlock(&w->lock);
    return rc;
}

/* Untimed: the modes call it before they measure, so no measured job pays for
 * starting the pool. */
static int prepare_warm(struct bench_variant *v, const struct bench_job *job)
{
    struct cps_error err = {0};
    int rc = ensure_pool(v, job, &err);
    if (rc < 0)
        fprintf(stderr, "bench-driver: %s: pool: %s: %s\n", v->name, err.stage, err.message);
    return rc;
}

static int run_warm(struct bench_variant *v, const struct bench_job *job, struct bench_result *res)
{
    struct warm_state *w = v->priv;
    struct cps_error err = {0};
    int rc = ensure_pool(v, job, &err);
    if (rc < 0) {
        snprintf(res->err, sizeof(res->err), "pool: %s: %.400s", err.stage, err.message);
        return rc;
    }
    return run_lib(job, res, w->pool);
}

/* Free the pool: it waits for runs, closes and reaps every idle helper. */
static void finish_warm(struct bench_variant *v)
{
    struct warm_state *w = v->priv;
    pthread_mutex_lock(&w->lock);
    if (w->pool) {
        /* Helpers spawned per job tell what the pool costs beyond the jobs. */
        struct cps_pool_stats st;
        cps_pool_get_stats(w->pool, &st, sizeof(st));
        fprintf(stderr,
                "bench-driver: %s: pool spawned %llu, warm %llu, cold %llu, died %llu, expired "
                "%llu, retried %llu, reused %llu, retired %llu\n",
                v->name, (unsigned long long)st.spawned, (unsigned long long)st.warm,
                (unsigned long long)st.cold, (unsigned long long)st.died,
                (unsigned long long)st.expired, (unsigned long long)st.retried,
                (unsigned long long)st.reused, (unsigned long long)st.retired);
    }
    cps_pool_free(w->pool);
    w->pool = NULL;
    pthread_mutex_unlock(&w->lock);
}

static const struct {
    const char *kind;
    bench_run_fn run;
    void (*finish)(struct bench_variant *v);
    int (*prepare)(struct bench_variant *v, const struct bench_job *job);
    size_t priv_size;
    unsigned jobs_per_helper; /* pool kinds: the pool's jobs_per_helper */
} kinds[] = {
    {"cold", run_cold, NULL, NULL, 0, 0},
    {"warm", run_warm, finish_warm, prepare_warm, sizeof(struct warm_state), 1},
    {"reuse", run_warm, finish_warm, prepare_warm, sizeof(struct warm_state), REUSE_JOBS},
};

const char *bench_lib_kinds(void)
{
    static char list[256];
    if (!list[0])
        for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
            snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", i ? " " : "",
                     kinds[i].kind);
    return list;
}

int bench_variant_lib(struct bench_variant *v, const char *name, const char *kind)
{
    memset(v, 0, sizeof(*v));
    snprintf(v->name, sizeof(v->name), "%s", name);
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        if (strcmp(kinds[i].kind, kind) == 0) {
            v->run = kinds[i].run;
            v->finish = kinds[i].finish;
            v->prepare = kinds[i].prepare;
            if (kinds[i].priv_size) {
                v->priv = calloc(1, kinds[i].priv_size);
                if (!v->priv)
                    return -ENOMEM;
            }
            if (kinds[i].finish == finish_warm) {
                struct warm_state *w = v->priv;
                pthread_mutex_init(&w->lock, NULL);
                w->jobs_per_helper = kinds[i].jobs_per_helper;
            }
            return 0;
        }
    }
    fprintf(stderr, "bench-driver: --lib %s %s: unknown kind (this build has: %s)\n", name, kind,
            bench_lib_kinds());
    return -EINVAL;
}

#else /* !CPS_BENCH_HAVE_LIB */

const char *bench_lib_kinds(void)
{
    return "(none: built without libcachepot-sandbox)";
}

int bench_variant_lib(struct bench_variant *v, const char *name, const char *kind)
{
    fprintf(stderr, "bench-driver: --lib %s %s: this driver was built without the library\n", name,
            kind);
    return -EINVAL;
}

#endif
