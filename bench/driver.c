/*
 * driver.c - bench-driver: runs benchmark variants from one long-lived process.
 *
 *   bench-driver overhead|batch|stream|conc|cpu [options] (--exec NAME TEMPLATE | --lib NAME KIND)...
 *
 * Each mode writes its raw samples as JSON (--json FILE) for bench/report.py
 * and a one-line summary per variant on stderr. See bench/README.md.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "driver.h"

static atomic_uint_fast64_t seq_counter;

uint64_t bench_next_seq(void)
{
    return atomic_fetch_add(&seq_counter, 1) + 1;
}

int bench_run_one(const struct bench_common *c, struct bench_variant *v, const char *stem,
                  struct bench_result *res)
{
    struct bench_job job;
    char dir[4096], *build = NULL;
    uint64_t seq = bench_next_seq();
    memset(res, 0, sizeof(*res));
    int rc = bench_make_build(c, seq, &build);
    if (rc < 0) {
        snprintf(res->err, sizeof(res->err), "mkdir build dir below %s: %s", c->build_base,
                 strerror(-rc));
        return rc;
    }
    bench_job_init(c, &job, v->name, stem, seq, build, dir, sizeof(dir));
    rc = v->run(v, &job, res);
    if (rc < 0)
        res->ok = false;
    if (c->count_file) {
        char *path = bench_expand1(c->count_file, &job);
        struct stat st;
        if (path && stat(path, &st) == 0) {
            res->output_bytes += (uint64_t)st.st_size;
            unlink(path);
        }
        free(path);
    }
    res->leftover = bench_count_entries(build);
    bench_rm_rf(build);
    free(build);
    return rc;
}

void bench_prepare_one(struct bench_common *c, struct bench_variant *v, const char *stem)
{
    struct bench_job job;
    char dir[4096];
    if (!v->prepare)
        return;
    bench_job_init(c, &job, v->name, stem, 0, c->build_base, dir, sizeof(dir));
    v->prepare(v, &job);
}

void bench_prepare_all(struct bench_common *c, const char *stem)
{
    for (size_t i = 0; i < c->variantc; i++)
        bench_prepare_one(c, &c->variants[i], stem);
}

void bench_finish_all(struct bench_variant *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (v[i].finish)
            v[i].finish(&v[i]);
}

static void usage(void)
{
    fprintf(stderr,
            "usage: bench-driver MODE [options] (--exec NAME TEMPLATE | --lib NAME KIND)...\n"
            "modes: overhead (-n N --warmup W), batch (--work W --stems FILE -P P --rounds R),\n"
            "       stream (--count-stdout | --out-sandbox PATH --discard-outputs),\n"
            "       conc (-P JOBS_AT_ONCE -n TOTAL),\n"
            "       cpu (-P JOBS_AT_ONCE -n TOTAL --rounds R [--per-block NAME]...)\n"
            "common: --json FILE --build-base DIR --match STR --helper PATH --toolchain DIR\n"
            "        --env 'K=V ...' --argv TEMPLATE --cwd DIR --in-host TPL --in-sandbox TPL\n"
            "        --out-sandbox TPL --discard-outputs --count-stdout --count-file TPL\n"
            "templates: words split on blanks; {stem} {seq} {dir} {build} are replaced\n"
            "library kinds in this build: %s\n",
            bench_lib_kinds());
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage();
        return 2;
    }
    /* Orphans of the helpers (a process that outlived its sandbox) are
     * reparented to the driver instead of init, so the leftover count of the
     * concurrency mode sees them (prctl(2) PR_SET_CHILD_SUBREAPER). */
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    const char *mode = argv[1];
    if (strcmp(mode, "overhead") == 0)
        return bench_mode_overhead(argc - 2, argv + 2);
    if (strcmp(mode, "batch") == 0)
        return bench_mode_batch(argc - 2, argv + 2);
    if (strcmp(mode, "stream") == 0)
        return bench_mode_stream(argc - 2, argv + 2);
    if (strcmp(mode, "conc") == 0)
        return bench_mode_conc(argc - 2, argv + 2);
    if (strcmp(mode, "cpu") == 0)
        return bench_mode_cpu(argc - 2, argv + 2);
    usage();
    return 2;
}
