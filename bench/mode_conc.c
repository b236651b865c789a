/*
 * mode_conc.c - P jobs at once, n jobs in total, per variant: jobs/s and
 * failures, then what the run left behind: mount table lines of this mount
 * namespace (a leaked mount shows here), processes still running whose command
 * line names the bench's private directory or that are children of the driver
 * (100 ms after the last job returned, see settle()), and entries left in each
 * job's build dir when the job returned (counted by bench_run_one before it removes the dir).
 */
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "driver.h"

/*
 * Give processes that are exiting when their job returned (bubblewrap's inner
 * PID 1 dies by PR_SET_PDEATHSIG after its parent is gone) SETTLE_MS to go, and
 * reap orphans reparented to the driver (it is a child subreaper) that have
 * exited. Only called when no job runs, so waitpid(-1) takes no one else's child.
 * A process still alive after that is a leftover.
 */
#define SETTLE_MS 100
static void settle(void)
{
    usleep(SETTLE_MS * 1000);
    while (waitpid(-1, NULL, WNOHANG) > 0)
        ;
}

int bench_mode_conc(int argc, char **argv)
{
    struct bench_common c;
    if (bench_parse_common(argc, argv, &c) < 0)
        return 2;
    size_t count = c.n;
    struct bench_result *res = calloc(count ? count : 1, sizeof(*res));
    if (!res)
        return 1;
    FILE *f = c.json ? fopen(c.json, "we") : NULL;
    if (f)
        fprintf(f, "{\"mode\":\"conc\",\"par\":%u,\"jobs\":%zu,\"variants\":[", c.par, count);
    for (size_t i = 0; i < c.variantc; i++) {
        settle();
        long mounts0 = bench_count_mounts(), procs0 = bench_count_procs(c.match);
        /* After the "before" counts: a pool's warm helpers are the run's own. */
        bench_prepare_one(&c, &c.variants[i], NULL);
        uint64_t wall = bench_parallel(&c, &c.variants[i], NULL, count, c.par, res);
        /* A pool's idle helpers are not leftovers while the pool lives; what
         * freeing it leaves behind is. */
        if (c.variants[i].finish)
            c.variants[i].finish(&c.variants[i]);
        settle();
        long mounts = bench_count_mounts() - mounts0;
        long procs = bench_count_procs(c.match) - procs0;
        long files = 0;
        size_t fails = 0, warm = 0;
        const char *first = "";
        for (size_t k = 0; k < count; k++) {
            files += res[k].leftover;
            warm += res[k].warm;
            if (!res[k].ok && fails++ == 0)
                first = res[k].err;
        }
        double rate = wall ? (double)count / ((double)wall / 1e6) : 0;
        fprintf(stderr,
                "conc P=%u %-14s jobs=%zu wall=%.3fs %.1f jobs/s fails=%zu leftover mounts=%ld "
                "procs=%ld files=%ld %s\n",
                c.par, c.variants[i].name, count, (double)wall / 1e6, rate, fails, mounts, procs,
                files, first);
        if (f) {
            fprintf(f, "%s{\"name\":", i ? "," : "");
            bench_json_str(f, c.variants[i].name);
            fprintf(f,
                    ",\"wall_us\":%llu,\"fails\":%zu,\"warm\":%zu,\"leftover_mounts\":%ld,"
                    "\"leftover_procs\":%ld,\"leftover_files\":%ld,\"first_error\":",
                    (unsigned long long)wall, fails, warm, mounts, procs, files);
            bench_json_str(f, first);
            fputc('}', f);
        }
    }
    if (f) {
        fprintf(f, "]}\n");
        fclose(f);
    }
    free(res);
    return 0;
}
