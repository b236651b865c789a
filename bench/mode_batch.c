/*
 * mode_batch.c - a real workload: every stem of --stems compiled as one job,
 * P jobs at once, for each variant; R rounds, the variants interleaved (and
 * their order rotated) round by round. Exec variants run in W/<variant> (the
 * bench script put the inputs there); library variants read W/src/<stem>.i
 * through --in-host and write their outputs to W/<variant>.
 */
#include <stdlib.h>
#include <string.h>

#include "driver.h"

static char **read_stems(const char *path, size_t *count)
{
    FILE *f = fopen(path, "re");
    char line[512], **v = NULL;
    size_t n = 0;
    if (!f)
        return NULL;
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (!*line)
            continue;
        char **nv = realloc(v, (n + 1) * sizeof(*v));
        if (!nv)
            break;
        v = nv;
        v[n++] = strdup(line);
    }
    fclose(f);
    *count = n;
    return v;
}

int bench_mode_batch(int argc, char **argv)
{
    struct bench_common c;
    size_t count = 0;
    if (bench_parse_common(argc, argv, &c) < 0)
        return 2;
    if (!c.stems || !c.work) {
        fprintf(stderr, "bench-driver batch: --stems FILE and --work DIR are required\n");
        return 2;
    }
    char **stems = read_stems(c.stems, &count);
    if (!stems || count == 0) {
        fprintf(stderr, "bench-driver batch: no stems in %s\n", c.stems);
        return 2;
    }
    struct bench_result *res = calloc(count, sizeof(*res));
    uint64_t *walls = calloc(c.variantc * c.rounds, sizeof(uint64_t));
    uint64_t *jobs = calloc(c.variantc * c.rounds * count, sizeof(uint64_t));
    size_t *fails = calloc(c.variantc, sizeof(size_t));
    size_t *warm = calloc(c.variantc, sizeof(size_t));
    char(*first)[BENCH_ERR_MAX] = calloc(c.variantc, BENCH_ERR_MAX);
    if (!res || !walls || !jobs || !fails || !warm || !first)
        return 1;

    bench_prepare_all(&c, stems[0]);
    for (unsigned r = 0; r < c.rounds; r++) {
        for (size_t j = 0; j < c.variantc; j++) {
            size_t i = (r + j) % c.variantc;
            uint64_t wall = bench_parallel(&c, &c.variants[i], stems, count, c.par, res);
            walls[i * c.rounds + r] = wall;
            for (size_t k = 0; k < count; k++) {
                jobs[(i * c.rounds + r) * count + k] = res[k].wall_us;
                warm[i] += res[k].warm;
                if (!res[k].ok && fails[i]++ == 0)
                    snprintf(first[i], BENCH_ERR_MAX, "%s: %s", stems[k], res[k].err);
            }
            fprintf(stderr, "batch round %u %-14s wall=%.3fs\n", r, c.variants[i].name,
                    (double)wall / 1e6);
        }
    }

    bench_finish_all(c.variants, c.variantc);
    FILE *f = c.json ? fopen(c.json, "we") : NULL;
    if (f)
        fprintf(f, "{\"mode\":\"batch\",\"rounds\":%u,\"par\":%u,\"jobs\":%zu,\"variants\":[",
                c.rounds, c.par, count);
    for (size_t i = 0; i < c.variantc; i++) {
        fprintf(stderr, "batch %-14s median wall=%.3fs fails=%zu %s\n", c.variants[i].name,
                (double)bench_percentile(&walls[i * c.rounds], c.rounds, 50) / 1e6, fails[i],
                first[i]);
        if (!f)
            continue;
        fprintf(f, "%s{\"name\":", i ? "," : "");
        bench_json_str(f, c.variants[i].name);
        fprintf(f, ",\"fails\":%zu,\"warm\":%zu,\"first_error\":", fails[i], warm[i]);
        bench_json_str(f, first[i]);
        fprintf(f, ",\"round_wall_us\":");
        bench_json_u64s(f, &walls[i * c.rounds], c.rounds);
        fprintf(f, ",\"job_wall_us\":");
        bench_json_u64s(f, &jobs[i * c.rounds * count], c.rounds * count);
        fputc('}', f);
    }
    if (f) {
        fprintf(f, "]}\n");
        fclose(f);
    }
    for (size_t k = 0; k < count; k++)
        free(stems[k]);
    free(stems);
    free(res);
    free(walls);
    free(jobs);
    free(fails);
    free(warm);
    free(first);
    return 0;
}
