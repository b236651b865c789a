/*
 * mode_overhead.c - per-job cost of each variant: N rounds, each round runs
 * every variant once, starting at a different variant each round (ABC, BCA,
 * CAB, ...) so that machine noise and cache effects spread over all of them.
 * The helper's per-stage timings, when a variant reports them, are kept per
 * stage for their medians.
 */
#include <stdlib.h>
#include <string.h>

#include "driver.h"

struct stage_samples {
    char name[BENCH_STAGE_NAME];
    uint64_t *v;
    size_t n;
};

struct var_samples {
    uint64_t *wall;
    size_t n, fails, warm;
    char first_err[BENCH_ERR_MAX];
    struct stage_samples stages[BENCH_MAX_STAGES];
    size_t stagec;
};

static void add_stages(struct var_samples *s, const struct bench_result *r, size_t cap)
{
    for (size_t i = 0; i < r->stagec; i++) {
        size_t k;
        for (k = 0; k < s->stagec; k++)
            if (strcmp(s->stages[k].name, r->stages[i].name) == 0)
                break;
        if (k == s->stagec) {
            if (s->stagec == BENCH_MAX_STAGES)
                continue;
            snprintf(s->stages[k].name, sizeof(s->stages[k].name), "%s", r->stages[i].name);
            s->stages[k].v = calloc(cap, sizeof(uint64_t));
            s->stagec++;
        }
        struct stage_samples *st = &s->stages[k];
        if (st->v && st->n < cap)
            st->v[st->n++] = r->stages[i].usec;
    }
}

static void write_json(FILE *f, const struct bench_common *c, struct var_samples *s)
{
    fprintf(f, "{\"mode\":\"overhead\",\"n\":%u,\"warmup\":%u,\"variants\":[", c->n, c->warmup);
    for (size_t i = 0; i < c->variantc; i++) {
        fprintf(f, "%s{\"name\":", i ? "," : "");
        bench_json_str(f, c->variants[i].name);
        fprintf(f, ",\"fails\":%zu,\"warm\":%zu,\"first_error\":", s[i].fails, s[i].warm);
        bench_json_str(f, s[i].first_err);
        fprintf(f, ",\"wall_us\":");
        bench_json_u64s(f, s[i].wall, s[i].n);
        fprintf(f, ",\"stages\":[");
        for (size_t k = 0; k < s[i].stagec; k++) {
            fprintf(f, "%s{\"name\":", k ? "," : "");
            bench_json_str(f, s[i].stages[k].name);
            fprintf(f, ",\"usec\":");
            bench_json_u64s(f, s[i].stages[k].v, s[i].stages[k].n);
            fputc('}', f);
        }
        fprintf(f, "]}");
    }
    fprintf(f, "]}\n");
}

int bench_mode_overhead(int argc, char **argv)
{
    struct bench_common c;
    struct bench_result res;
    if (bench_parse_common(argc, argv, &c) < 0)
        return 2;
    struct var_samples *s = calloc(c.variantc, sizeof(*s));
    if (!s)
        return 1;
    for (size_t i = 0; i < c.variantc; i++)
        s[i].wall = calloc(c.n ? c.n : 1, sizeof(uint64_t));

    bench_prepare_all(&c, NULL);
    for (unsigned w = 0; w < c.warmup; w++)
        for (size_t i = 0; i < c.variantc; i++)
            bench_run_one(&c, &c.variants[i], NULL, &res);

    for (unsigned r = 0; r < c.n; r++) {
        for (size_t j = 0; j < c.variantc; j++) {
            size_t i = (r + j) % c.variantc;
            bench_run_one(&c, &c.variants[i], NULL, &res);
            if (!res.ok) {
                if (s[i].fails++ == 0)
                    snprintf(s[i].first_err, sizeof(s[i].first_err), "%s", res.err);
                continue;
            }
            s[i].wall[s[i].n++] = res.wall_us;
            s[i].warm += res.warm;
            add_stages(&s[i], &res, c.n);
        }
    }

    bench_finish_all(c.variants, c.variantc);
    for (size_t i = 0; i < c.variantc; i++) {
        fprintf(stderr, "overhead %-14s n=%zu fails=%zu median=%lluus p90=%lluus%s%s\n",
                c.variants[i].name, s[i].n, s[i].fails,
                (unsigned long long)bench_percentile(s[i].wall, s[i].n, 50),
                (unsigned long long)bench_percentile(s[i].wall, s[i].n, 90),
                s[i].fails ? " first error: " : "", s[i].first_err);
        for (size_t k = 0; k < s[i].stagec; k++)
            fprintf(stderr, "    stage %-16s median=%lluus\n", s[i].stages[k].name,
                    (unsigned long long)bench_percentile(s[i].stages[k].v, s[i].stages[k].n, 50));
    }
    if (c.json) {
        FILE *f = fopen(c.json, "we");
        if (!f) {
            perror(c.json);
            return 1;
        }
        write_json(f, &c, s);
        fclose(f);
    }
    for (size_t i = 0; i < c.variantc; i++) {
        for (size_t k = 0; k < s[i].stagec; k++)
            free(s[i].stages[k].v);
        free(s[i].wall);
    }
    free(s);
    return 0;
}
