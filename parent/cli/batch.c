/* batch.c - cachepot-dist-run --batch: many jobs, optionally through a pool. */
#include "batch.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "run_report.h"
#include "words.h"

struct batch_job {
    unsigned line;
    struct cps_job_spec *spec;
    char out_dir[4096];
    /* Filled by the run. */
    int ret;
    struct cps_error err;
    int status;
    bool warm, retried;
    double ms;
};

struct batch {
    const struct run_args *a;
    struct cps_pool *pool;
    struct batch_job *jobs;
    size_t n;
    pthread_mutex_t lock; /* next, and our stderr lines */
    size_t next;
};

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int on_stream(void *user, enum cps_stream_id id, const void *data, size_t len)
{
    FILE *f = id == CPS_STDOUT ? stdout : stderr;

    /* stdio locks the stream: chunks of concurrent jobs do not tear. */
    fwrite(data, 1, len, f);
    fflush(f);
    return 0;
}

static int add_job(struct batch *b, unsigned line, char **words, int n)
{
    struct batch_job *j;
    struct batch_job *grown = realloc(b->jobs, (b->n + 1) * sizeof(*b->jobs));

    if (!grown)
        return -1;
    b->jobs = grown;
    j = &b->jobs[b->n];
    memset(j, 0, sizeof(*j));
    j->line = line;
    j->spec = cps_job_new();
    if (!j->spec || run_args_make_job(b->a, (size_t)n, (const char *const *)words, j->spec) < 0) {
        cps_job_free(j->spec);
        return -1;
    }
    snprintf(j->out_dir, sizeof(j->out_dir), "%s/%u", b->a->out_dir, line);
    b->n++;
    return 0;
}

/* Read the file: one job per line. Returns 0 or -1 after printing why. */
static int read_jobs(struct batch *b)
{
    const char *path = b->a->batch;
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "re");
    char *line = NULL;
    size_t cap = 0;
    unsigned lineno = 0;
    ssize_t len;
    int r = 0;

    if (!f) {
        fprintf(stderr, "cachepot-dist-run: --batch %s: %s\n", path, strerror(errno));
        return -1;
    }
    while (r == 0 && (len = getline(&line, &cap, f)) >= 0) {
        char **words;
        const char *why;
        int n;

        lineno++;
        if (len > 0 && line[len - 1] == '\n')
            line[len - 1] = '\0';
        n = words_split(line, &words, &why);
        if (n < 0) {
            fprintf(stderr, "cachepot-dist-run: %s:%u: %s\n", path, lineno, why);
            r = -1;
        } else if (n > 0 && add_job(b, lineno, words, n) < 0) {
            fprintf(stderr, "cachepot-dist-run: %s:%u: cannot make this job\n", path, lineno);
            r = -1;
        }
        words_free(words);
    }
    free(line);
    if (f != stdin)
        fclose(f);
    if (r == 0 && b->n == 0) {
        fprintf(stderr, "cachepot-dist-run: --batch %s: no jobs in the file\n", path);
        r = -1;
    }
    return r;
}

static void run_one(struct batch *b, struct batch_job *j)
{
    struct cps_run_options *o = cps_run_options_new();
    struct cps_result *res = NULL;
    double t0;

    if (!o) {
        j->ret = -ENOMEM;
        snprintf(j->err.stage, sizeof(j->err.stage), "job");
        snprintf(j->err.message, sizeof(j->err.message), "out of memory");
        j->status = RUN_EXIT_FAILURE;
        return;
    }
    if (mkdir(j->out_dir, 0755) < 0 && errno != EEXIST) {
        j->ret = -errno;
        snprintf(j->err.stage, sizeof(j->err.stage), "output");
        snprintf(j->err.message, sizeof(j->err.message), "mkdir %.900s: %s", j->out_dir,
                 strerror(errno));
        j->status = RUN_EXIT_FAILURE;
        cps_run_options_free(o);
        return;
    }
    o->helper_path = b->a->helper;
    o->out_dir = j->out_dir;
    o->on_stream = on_stream;
    if (b->a->timeout_s > 0)
        o->timeout_ms = (uint64_t)(b->a->timeout_s * 2000) + 30000;
    cps_run_options_set_pool(o, b->pool);
    t0 = now_s();
    j->ret = cps_run(j->spec, o, &res, &j->err);
    j->ms = (now_s() - t0) * 1000;
    j->status = run_exit_status(j->ret, res);
    if (res) {
        j->warm = res->warm;
        j->retried = res->retried;
    }
    cps_result_free(res);
    cps_run_options_free(o);

    pthread_mutex_lock(&b->lock);
    if (j->ret < 0)
        fprintf(stderr, "cachepot-dist-run: job %u: failed: %s: %s (%.1f ms)\n", j->line,
                j->err.stage, j->err.message, j->ms);
    else
        fprintf(stderr, "cachepot-dist-run: job %u: exit %d (%s%s, %.1f ms)\n", j->line, j->status,
                j->warm ? "warm" : "cold", j->retried ? ", retried" : "", j->ms);
    pthread_mutex_unlock(&b->lock);
}

static void *worker(void *arg)
{
    struct batch *b = arg;

    for (;;) {
        struct batch_job *j = NULL;
        pthread_mutex_lock(&b->lock);
        if (b->next < b->n)
            j = &b->jobs[b->next++];
        pthread_mutex_unlock(&b->lock);
        if (!j)
            return NULL;
        run_one(b, j);
    }
}

static int start_pool(struct batch *b)
{
    struct cps_pool_options *po;
    struct cps_error err;
    int r;

    if (b->a->pool == 0)
        return 0;
    if (!(po = cps_pool_options_new()))
        return -1;
    po->size = b->a->pool;
    po->helper_path = b->a->helper;
    po->jobs_per_helper = b->a->reuse;
    r = cps_pool_new(po, &b->pool, &err);
    cps_pool_options_free(po);
    if (r < 0) {
        run_print_error(&err);
        return -1;
    }
    /* Warm up while the threads start: the first jobs need not go cold. */
    if (cps_pool_prepare(b->pool, b->jobs[0].spec, &err) < 0)
        run_print_error(&err);
    return 0;
}

/* The summary line and the exit status. */
static int summarize(const struct batch *b, double secs)
{
    size_t failed = 0, broken = 0, warm = 0;
    char reuse[96] = "";

    for (size_t i = 0; i < b->n; i++) {
        failed += b->jobs[i].status != 0;
        broken += b->jobs[i].ret < 0;
        warm += b->jobs[i].ret == 0 && b->jobs[i].warm;
    }
    if (b->pool && b->a->reuse > 1) {
        struct cps_pool_stats st;

        cps_pool_get_stats(b->pool, &st, sizeof(st));
        snprintf(reuse, sizeof(reuse),
                 " (reuse %u: %llu helpers spawned, %llu jobs on a reused helper)", b->a->reuse,
                 (unsigned long long)st.spawned, (unsigned long long)st.reused);
    }
    fprintf(stderr,
            "cachepot-dist-run: batch: %zu jobs, %zu failed, %zu warm, %zu cold, pool %u%s, "
            "%u at once, %.3f s, %.1f jobs/s\n",
            b->n, failed, warm, b->n - broken - warm, b->a->pool, reuse, b->a->jobs, secs,
            secs > 0 ? (double)b->n / secs : 0.0);
    return broken ? RUN_EXIT_FAILURE : failed ? 1 : 0;
}

/* Each job makes OUT-DIR/LINE: OUT-DIR itself must be there. */
static bool out_dir_ok(const char *dir)
{
    struct stat st;

    if (stat(dir, &st) < 0) {
        fprintf(stderr, "cachepot-dist-run: --out-dir %s: %s\n", dir, strerror(errno));
        return false;
    }
    if (!S_ISDIR(st.st_mode)) {
        fprintf(stderr, "cachepot-dist-run: --out-dir %s: not a directory\n", dir);
        return false;
    }
    return true;
}

int run_batch(const struct run_args *a)
{
    struct batch b = {.a = a};
    pthread_t *threads = NULL;
    unsigned started = 0;
    double t0;
    int status = RUN_EXIT_FAILURE;

    pthread_mutex_init(&b.lock, NULL);
    if (!out_dir_ok(a->out_dir) || read_jobs(&b) < 0 || start_pool(&b) < 0)
        goto out;
    threads = calloc(a->jobs, sizeof(*threads));
    if (!threads)
        goto out;
    t0 = now_s();
    for (; started < a->jobs && started < b.n; started++)
        if (pthread_create(&threads[started], NULL, worker, &b) != 0)
            break;
    if (started == 0)
        worker(&b);
    for (unsigned i = 0; i < started; i++)
        pthread_join(threads[i], NULL);
    status = summarize(&b, now_s() - t0);
out:
    cps_pool_free(b.pool);
    for (size_t i = 0; i < b.n; i++)
        cps_job_free(b.jobs[i].spec);
    free(b.jobs);
    free(threads);
    pthread_mutex_destroy(&b.lock);
    return status;
}
