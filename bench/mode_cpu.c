/*
 * mode_cpu.c - CPU per job and jobs/s at saturation (issue 16).
 *
 *   bench-driver cpu -n N --rounds R -P P [--per-block NAME]... VARIANTS
 *
 * Each variant runs N jobs in R blocks of N/R jobs, P at once, back to back;
 * blocks are interleaved round by round (variant order rotated each round),
 * so that the other load of a shared machine falls on every variant alike.
 * Around each block the driver reads the CPU time of its own process tree
 * (cpu_account.c), of kernel threads, and of the whole machine, and the wall
 * time. A --per-block variant runs once per block and does the block's N/R
 * jobs itself (the CLI's --batch: bench/run.sh writes a batch file of N/R
 * lines and passes --jobs P); the other variants run once per job.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cpu_account.h"
#include "driver.h"

struct cpu_totals {
    size_t jobs, fails, warm, blocks;
    uint64_t wall_us, tree_us, user_us, sys_us, kthread_us, busy_us, total_us;
    char first_err[BENCH_ERR_MAX];
};

/* Reap orphans reparented to the driver (a child subreaper) between blocks,
 * outside the measured interval; no job runs then, so waitpid(-1) takes no
 * running job's child. It may take an exited helper that a warm pool retired
 * (or a reusing helper that ended after its last job) and had yet to reap:
 * the library treats ECHILD as reaped (parent/lib/helper_proc.c). */
static void reap_orphans(void)
{
    while (waitpid(-1, NULL, WNOHANG) > 0)
        ;
}

static void run_block(const struct bench_common *c, struct bench_variant *v, bool per_block,
                      size_t jobs, struct bench_result *res, struct cpu_totals *t)
{
    reap_orphans();
    struct bench_kthreads k0, k1;
    bench_cpu_kthreads_take(&k0);
    struct bench_cpu_sample a, b, d;
    bench_cpu_sample(&a);
    uint64_t t0 = bench_now_us();
    size_t runs = per_block ? 1 : jobs;
    if (per_block)
        bench_run_one(c, v, NULL, &res[0]);
    else
        bench_parallel(c, v, NULL, jobs, c->par, res);
    uint64_t wall = bench_now_us() - t0;
    bench_cpu_sample(&b);
    bench_cpu_kthreads_take(&k1);
    bench_cpu_delta(&d, &a, &b);
    t->blocks++;
    t->jobs += jobs;
    t->wall_us += wall;
    t->tree_us += d.tree_us;
    t->user_us += d.tree_user_us;
    t->sys_us += d.tree_sys_us;
    t->kthread_us += bench_cpu_kthreads_delta_us(&k0, &k1);
    bench_cpu_kthreads_free(&k0);
    bench_cpu_kthreads_free(&k1);
    t->busy_us += d.sys_busy_us;
    t->total_us += d.sys_total_us;
    for (size_t k = 0; k < runs; k++) {
        t->warm += res[k].warm;
        if (!res[k].ok && t->fails++ == 0)
            snprintf(t->first_err, sizeof(t->first_err), "%s", res[k].err);
    }
    /* A per-block run that failed failed its whole block. */
    if (per_block && !res[0].ok)
        t->fails += jobs - 1;
}

/* Take "--per-block NAME" out of argv (they are this mode's own options). */
static int split_args(int argc, char **argv, char **rest, const char **per_block, size_t *nper)
{
    int n = 0;
    *nper = 0;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--per-block") == 0 && i + 1 < argc) {
            if (*nper < BENCH_MAX_VARIANT)
                per_block[(*nper)++] = argv[i + 1];
            i++;
            continue;
        }
        rest[n++] = argv[i];
    }
    rest[n] = NULL;
    return n;
}

int bench_mode_cpu(int argc, char **argv)
{
    struct bench_common c;
    const char *per_block[BENCH_MAX_VARIANT];
    size_t nper;
    char **rest = calloc((size_t)argc + 1, sizeof(*rest));
    if (!rest)
        return 1;
    int n = split_args(argc, argv, rest, per_block, &nper);
    if (bench_parse_common(n, rest, &c) < 0) {
        free(rest);
        return 2;
    }
    size_t rounds = c.rounds ? c.rounds : 1;
    size_t block = c.n / rounds ? c.n / rounds : 1;
    bool is_block[BENCH_MAX_VARIANT] = {0};
    for (size_t i = 0; i < c.variantc; i++)
        for (size_t k = 0; k < nper; k++)
            is_block[i] |= strcmp(c.variants[i].name, per_block[k]) == 0;
    struct cpu_totals *t = calloc(c.variantc, sizeof(*t));
    struct bench_result *res = calloc(block, sizeof(*res));
    if (!t || !res) {
        free(rest);
        free(t);
        free(res);
        return 1;
    }
    /* Untimed: a pool's helpers are made before the first block. */
    bench_prepare_all(&c, NULL);
    for (size_t r = 0; r < rounds; r++)
        for (size_t j = 0; j < c.variantc; j++) {
            size_t i = (j + r) % c.variantc;
            run_block(&c, &c.variants[i], is_block[i], block, res, &t[i]);
        }
    bench_finish_all(c.variants, c.variantc);
    reap_orphans();

    FILE *f = c.json ? fopen(c.json, "we") : NULL;
    if (f)
        fprintf(f,
                "{\"mode\":\"cpu\",\"par\":%u,\"rounds\":%zu,\"block\":%zu,\"tree_source\":",
                c.par, rounds, block);
    if (f) {
        bench_json_str(f, bench_cpu_tree_source());
        fprintf(f, ",\"ncpu\":%ld,\"variants\":[", sysconf(_SC_NPROCESSORS_ONLN));
    }
    for (size_t i = 0; i < c.variantc; i++) {
        double per = t[i].jobs ? 1.0 / (double)t[i].jobs : 0;
        /* The exact total, split in the proportion of the user/sys samples. */
        uint64_t samples = t[i].user_us + t[i].sys_us;
        uint64_t user = samples ? (uint64_t)((double)t[i].tree_us * (double)t[i].user_us /
                                             (double)samples)
                                : 0;
        uint64_t sys = t[i].tree_us - user;
        fprintf(stderr,
                "cpu P=%u %-14s jobs=%zu tree=%.0fus/job (user %.0f sys %.0f) kthreads=%.0fus/job "
                "wall=%.0fus/job %.1f jobs/s fails=%zu %s\n",
                c.par, c.variants[i].name, t[i].jobs,
                (double)t[i].tree_us * per, (double)user * per, (double)sys * per,
                (double)t[i].kthread_us * per,
                (double)t[i].wall_us * per,
                t[i].wall_us ? (double)t[i].jobs / ((double)t[i].wall_us / 1e6) : 0, t[i].fails,
                t[i].first_err);
        if (!f)
            continue;
        fprintf(f, "%s{\"name\":", i ? "," : "");
        bench_json_str(f, c.variants[i].name);
        fprintf(f,
                ",\"per_block\":%s,\"jobs\":%zu,\"fails\":%zu,\"warm\":%zu,\"wall_us\":%llu,"
                "\"tree_user_us\":%llu,\"tree_sys_us\":%llu,\"kthread_us\":%llu,"
                "\"sys_busy_us\":%llu,\"sys_total_us\":%llu,\"first_error\":",
                is_block[i] ? "true" : "false", t[i].jobs, t[i].fails, t[i].warm,
                (unsigned long long)t[i].wall_us, (unsigned long long)user,
                (unsigned long long)sys, (unsigned long long)t[i].kthread_us,
                (unsigned long long)t[i].busy_us, (unsigned long long)t[i].total_us);
        bench_json_str(f, t[i].first_err);
        fputc('}', f);
    }
    if (f) {
        fprintf(f, "]}\n");
        fclose(f);
    }
    free(rest);
    free(t);
    free(res);
    return 0;
}
