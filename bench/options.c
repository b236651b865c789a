/*
 * options.c - the options every mode shares, and per-job setup.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "driver.h"

struct bench_lib_config bench_lib;

static const char *need(int argc, char **argv, int *i, int k)
{
    if (*i + k >= argc) {
        fprintf(stderr, "bench-driver: %s needs %d argument(s)\n", argv[*i], k);
        return NULL;
    }
    const char *v = argv[*i + 1];
    *i += k;
    return v;
}

int bench_parse_common(int argc, char **argv, struct bench_common *c)
{
    int i;
    memset(c, 0, sizeof(*c));
    c->n = 20;
    c->warmup = 3;
    c->rounds = 3;
    c->par = 1;
    for (i = 0; i < argc; i++) {
        const char *a = argv[i], *v;
        if (strcmp(a, "--exec") == 0 || strcmp(a, "--lib") == 0) {
            if (!(v = need(argc, argv, &i, 2)))
                return -1;
            if (c->variantc == BENCH_MAX_VARIANT) {
                fprintf(stderr, "bench-driver: too many variants\n");
                return -1;
            }
            struct bench_variant *var = &c->variants[c->variantc++];
            if (a[2] == 'e')
                bench_variant_exec(var, v, argv[i]);
            else if (bench_variant_lib(var, v, argv[i]) < 0)
                return -1;
            continue;
        }
#define STR_OPT(flag, field)                                                                       \
    if (strcmp(a, flag) == 0) {                                                                    \
        if (!(c->field = need(argc, argv, &i, 1)))                                                 \
            return -1;                                                                             \
        continue;                                                                                  \
    }
#define NUM_OPT(flag, field)                                                                       \
    if (strcmp(a, flag) == 0) {                                                                    \
        if (!(v = need(argc, argv, &i, 1)))                                                        \
            return -1;                                                                             \
        c->field = (unsigned)strtoul(v, NULL, 10);                                                 \
        continue;                                                                                  \
    }
        STR_OPT("--json", json)
        STR_OPT("--build-base", build_base)
        STR_OPT("--work", work)
        STR_OPT("--argv", argv_tpl)
        STR_OPT("--cwd", cwd)
        STR_OPT("--in-host", in_host_tpl)
        STR_OPT("--in-sandbox", in_sbx_tpl)
        STR_OPT("--out-sandbox", out_sbx_tpl)
        STR_OPT("--match", match)
        STR_OPT("--stems", stems)
        STR_OPT("--count-file", count_file)
        NUM_OPT("-n", n)
        NUM_OPT("--warmup", warmup)
        NUM_OPT("--rounds", rounds)
        NUM_OPT("-P", par)
#undef STR_OPT
#undef NUM_OPT
        if (strcmp(a, "--helper") == 0) {
            if (!(bench_lib.helper = need(argc, argv, &i, 1)))
                return -1;
        } else if (strcmp(a, "--toolchain") == 0) {
            if (!(bench_lib.toolchain = need(argc, argv, &i, 1)))
                return -1;
        } else if (strcmp(a, "--env") == 0) {
            if (!(bench_lib.env = need(argc, argv, &i, 1)))
                return -1;
        } else if (strcmp(a, "--count-stdout") == 0) {
            c->count_stdout = true;
        } else if (strcmp(a, "--discard-outputs") == 0) {
            c->discard_outputs = true;
        } else {
            break;
        }
    }
    if (c->variantc == 0) {
        fprintf(stderr, "bench-driver: no variant (--exec NAME TEMPLATE | --lib NAME KIND)\n");
        return -1;
    }
    if (!c->build_base) {
        fprintf(stderr, "bench-driver: --build-base DIR is required\n");
        return -1;
    }
    if (c->par == 0)
        c->par = 1;
    /* A pool holds as many warm helpers as jobs run at once (at least 2). */
    bench_lib.pool_size = c->par > 2 ? c->par : 2;
    return i;
}

int bench_make_build(const struct bench_common *c, uint64_t seq, char **out)
{
    if (asprintf(out, "%s/job-%llu", c->build_base, (unsigned long long)seq) < 0)
        return -ENOMEM;
    if (mkdir(*out, 0700) < 0 && errno != EEXIST) {
        int e = errno;
        free(*out);
        *out = NULL;
        return -e;
    }
    return 0;
}

void bench_job_init(const struct bench_common *c, struct bench_job *job, const char *variant,
                    const char *stem, uint64_t seq, const char *build, char *dirbuf, size_t dirlen)
{
    memset(job, 0, sizeof(*job));
    job->stem = stem ? stem : "";
    job->seq = seq;
    if (c->work)
        snprintf(dirbuf, dirlen, "%s/%s", c->work, variant);
    else
        snprintf(dirbuf, dirlen, "%s", c->build_base);
    job->dir = dirbuf;
    job->build = build;
    job->argv_tpl = c->argv_tpl;
    job->cwd = c->cwd;
    job->in_host_tpl = c->in_host_tpl;
    job->in_sbx_tpl = c->in_sbx_tpl;
    job->out_sbx_tpl = c->out_sbx_tpl;
    job->discard_outputs = c->discard_outputs;
    job->count_stdout = c->count_stdout;
}
