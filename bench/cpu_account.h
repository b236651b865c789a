/*
 * cpu_account.h - CPU time of the driver's process tree, of kernel threads
 * and of the whole machine, for the cpu mode (see cpu_account.c for what each
 * source covers and misses).
 */
#ifndef CPS_BENCH_CPU_ACCOUNT_H
#define CPS_BENCH_CPU_ACCOUNT_H

#include <stdint.h>

struct bench_cpu_sample {
    /* The driver and all its descendants: tree_us exact (the scheduler's
     * runtime); user and sys only to split it (with cpuacct they are tick
     * samples, CONFIG_TICK_CPU_ACCOUNTING). */
    uint64_t tree_us, tree_user_us, tree_sys_us;
    uint64_t sys_busy_us, sys_total_us; /* /proc/stat, all CPUs */
};

/* "cpuacct" when the tree figures come from the driver's cpuacct cgroup,
 * "rusage" when from getrusage (waited-for descendants only). */
const char *bench_cpu_tree_source(void);

/* Read the tree and machine figures now. */
void bench_cpu_sample(struct bench_cpu_sample *s);

/* CPU time of every kernel thread so far (a /proc scan of a few ms: the
 * caller does it outside the interval it measures for the tree). */
uint64_t bench_cpu_kthread_us(void);

/* d = b - a, field by field. */
void bench_cpu_delta(struct bench_cpu_sample *d, const struct bench_cpu_sample *a,
                     const struct bench_cpu_sample *b);

#endif
