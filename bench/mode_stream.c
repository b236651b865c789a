/*
 * mode_stream.c - one big job per variant (1 GiB to stdout, or a 1 GiB output
 * file): throughput and peak memory.
 *
 * Run one variant per driver process: ru_maxrss of RUSAGE_SELF is the peak of
 * the whole process lifetime (getrusage(2)), so a second variant in the same
 * process would see the first one's peak. RUSAGE_CHILDREN is the largest
 * ru_maxrss among the reaped children and *their* reaped descendants: an upper
 * bound on the helper's peak that also includes the job's own processes. The
 * sampler (probe.c) reads the helper's VmHWM directly.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "driver.h"

int bench_mode_stream(int argc, char **argv)
{
    struct bench_common c;
    struct bench_result res;
    if (bench_parse_common(argc, argv, &c) < 0)
        return 2;
    FILE *f = c.json ? fopen(c.json, "we") : NULL;
    if (f)
        fprintf(f, "{\"mode\":\"stream\",\"variants\":[");
    for (size_t i = 0; i < c.variantc; i++) {
        struct rusage self, kids;
        bench_prepare_one(&c, &c.variants[i], NULL);
        bool sampling = bench_hwm_start(bench_lib.helper, 5) == 0;
        bench_run_one(&c, &c.variants[i], NULL, &res);
        uint64_t hwm = sampling ? bench_hwm_stop() : 0;
        if (c.variants[i].finish)
            c.variants[i].finish(&c.variants[i]);
        getrusage(RUSAGE_SELF, &self);
        getrusage(RUSAGE_CHILDREN, &kids);
        uint64_t bytes = res.stdout_bytes + res.output_bytes;
        double mibs =
            res.wall_us ? (double)bytes / (1024.0 * 1024.0) / ((double)res.wall_us / 1e6) : 0;
        fprintf(stderr,
                "stream %-14s ok=%d bytes=%llu wall=%.3fs %.0f MiB/s self_maxrss=%ldkB "
                "children_maxrss=%ldkB helper_hwm=%llukB %s\n",
                c.variants[i].name, res.ok, (unsigned long long)bytes, (double)res.wall_us / 1e6,
                mibs, self.ru_maxrss, kids.ru_maxrss, (unsigned long long)hwm,
                res.ok ? "" : res.err);
        if (!f)
            continue;
        fprintf(f, "%s{\"name\":", i ? "," : "");
        bench_json_str(f, c.variants[i].name);
        fprintf(f,
                ",\"ok\":%s,\"bytes\":%llu,\"wall_us\":%llu,\"self_maxrss_kb\":%ld,"
                "\"children_maxrss_kb\":%ld,\"helper_hwm_kb\":%llu,\"warm\":%s,\"error\":",
                res.ok ? "true" : "false", (unsigned long long)bytes,
                (unsigned long long)res.wall_us, self.ru_maxrss, kids.ru_maxrss,
                (unsigned long long)hwm, res.warm ? "true" : "false");
        bench_json_str(f, res.ok ? "" : res.err);
        fputc('}', f);
    }
    if (f) {
        fprintf(f, "]}\n");
        fclose(f);
    }
    return 0;
}
