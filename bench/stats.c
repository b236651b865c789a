/*
 * stats.c - clock, percentiles and the few JSON writers the modes need.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "driver.h"

uint64_t bench_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

int bench_cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

uint64_t bench_percentile(const uint64_t *v, size_t n, double pct)
{
    if (n == 0)
        return 0;
    uint64_t *s = malloc(n * sizeof(*s));
    if (!s)
        return 0;
    memcpy(s, v, n * sizeof(*s));
    qsort(s, n, sizeof(*s), bench_cmp_u64);
    /* Nearest rank: the smallest sample with at least pct% at or below it. */
    size_t rank = (size_t)((pct / 100.0) * (double)n + 0.999999);
    if (rank < 1)
        rank = 1;
    if (rank > n)
        rank = n;
    uint64_t r = s[rank - 1];
    free(s);
    return r;
}

void bench_json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20 || c >= 0x7f) /* keep the file ASCII: stderr may be any bytes */
            fprintf(f, "\\u%04x", c < 0x7f ? c : 0x3f);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

void bench_json_u64s(FILE *f, const uint64_t *v, size_t n)
{
    fputc('[', f);
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%s%llu", i ? "," : "", (unsigned long long)v[i]);
    fputc(']', f);
}
