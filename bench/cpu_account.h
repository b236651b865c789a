/*
 * cpu_account.h - CPU time of the driver's process tree, of kernel threads
 * and of the whole machine, for the cpu mode (see cpu_account.c for what each
 * source covers and misses).
 */
#ifndef CPS_BENCH_CPU_ACCOUNT_H
#define CPS_BENCH_CPU_ACCOUNT_H

#include <stddef.h>
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

/* utime + stime of every kernel thread at one moment (a /proc scan of a few
 * ms: the caller takes it outside the interval it measures for the tree). */
struct bench_kthreads {
    size_t n, cap;
    struct bench_kthread {
        int pid;
        uint64_t ticks;
    } *t; /* sorted by pid */
};

/* Fill *k (freed by bench_cpu_kthreads_free; empty on failure). */
void bench_cpu_kthreads_take(struct bench_kthreads *k);
void bench_cpu_kthreads_free(struct bench_kthreads *k);

/* Kernel-thread CPU between two snapshots, in us: the growth of every thread
 * in both, plus the whole time of a thread only in b (started in between).
 * Not b's sum minus a's: a kworker that exits in between takes its whole
 * history out of the sum, which made a difference of sums negative (and an
 * unsigned one enormous). The CPU of a thread that exited in between is lost. */
uint64_t bench_cpu_kthreads_delta_us(const struct bench_kthreads *a, const struct bench_kthreads *b);

/* d = b - a, field by field. */
void bench_cpu_delta(struct bench_cpu_sample *d, const struct bench_cpu_sample *a,
                     const struct bench_cpu_sample *b);

#endif
