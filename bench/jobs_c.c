/*
 * jobs_c.c - bench-jobs-c: the C library's side of bench/clients.sh. The
 * same loop as clients/rust/examples/bench_jobs.rs and
 * clients/python/bench_jobs.py, with the same options and output, so the
 * three clients are measured doing exactly the same thing:
 *
 *   bench-jobs-c --helper PATH --toolchain DIR --build-dir DIR --jobs N
 *                [--argv /bin/true] [--cwd /build] [--warmup 1]
 *
 * N jobs one after another, a fresh helper each (cps_run without a pool),
 * env PATH=/bin; prints "per_job_us <mean>" on stdout, the median on stderr.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cachepot-sandbox.h"

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    const char *helper = NULL, *toolchain = NULL, *build = NULL, *cmd = "/bin/true", *cwd = "/build";
    long jobs = 0, warmup = 1;
    const char *words[64];
    size_t nwords = 0;
    char *cmdcopy, *save = NULL;
    struct cps_error err = {0};

    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--helper") == 0)
            helper = argv[i + 1];
        else if (strcmp(argv[i], "--toolchain") == 0)
            toolchain = argv[i + 1];
        else if (strcmp(argv[i], "--build-dir") == 0)
            build = argv[i + 1];
        else if (strcmp(argv[i], "--jobs") == 0)
            jobs = atol(argv[i + 1]);
        else if (strcmp(argv[i], "--argv") == 0)
            cmd = argv[i + 1];
        else if (strcmp(argv[i], "--cwd") == 0)
            cwd = argv[i + 1];
        else if (strcmp(argv[i], "--warmup") == 0)
            warmup = atol(argv[i + 1]);
    }
    if (!helper || !toolchain || !build || jobs < 1 || warmup < 0) {
        fprintf(stderr, "usage: bench-jobs-c --helper PATH --toolchain DIR --build-dir DIR --jobs N "
                        "[--argv CMD] [--cwd P] [--warmup N]\n");
        return 2;
    }
    cmdcopy = strdup(cmd);
    for (char *w = strtok_r(cmdcopy, " ", &save); w && nwords < 64; w = strtok_r(NULL, " ", &save))
        words[nwords++] = w;

    struct cps_job_spec *job = cps_job_new();
    struct cps_run_options *opts = cps_run_options_new();
    double *t = calloc((size_t)jobs, sizeof(*t)), sum = 0;
    if (!job || !opts || !t || cps_job_set_toolchain(job, toolchain, &err) < 0 ||
        cps_job_set_build_dir(job, build, &err) < 0 || cps_job_set_cwd(job, cwd, &err) < 0 ||
        cps_job_set_argv(job, nwords, words, &err) < 0 || cps_job_add_env(job, "PATH", "/bin", &err) < 0) {
        fprintf(stderr, "bench-jobs-c: job: %s\n", err.message);
        return 1;
    }
    opts->helper_path = helper;
    for (long i = 0; i < warmup + jobs; i++) {
        struct cps_result *res = NULL;
        double t0 = now_us();
        if (cps_run(job, opts, &res, &err) < 0) {
            fprintf(stderr, "bench-jobs-c: %s: %s\n", err.stage, err.message);
            return 1;
        }
        double us = now_us() - t0;
        int ok = res->exit_code == 0 && res->signal == 0;
        cps_result_free(res);
        if (!ok) {
            fprintf(stderr, "bench-jobs-c: job %ld failed\n", i);
            return 1;
        }
        if (i >= warmup) {
            t[i - warmup] = us;
            sum += us;
        }
    }
    qsort(t, (size_t)jobs, sizeof(*t), cmp);
    fprintf(stderr, "bench-jobs-c: %ld jobs, median %.0f us, fastest %.0f us\n", jobs, t[jobs / 2], t[0]);
    printf("per_job_us %.1f\n", sum / (double)jobs);
    cps_run_options_free(opts);
    cps_job_free(job);
    free(t);
    free(cmdcopy);
    return 0;
}
