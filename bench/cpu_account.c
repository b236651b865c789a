/*
 * cpu_account.c - where CPU time is read from for the cpu mode.
 *
 * Three sources, because each misses something:
 *  - the driver's cpuacct cgroup (v1 cpuacct.usage_user / usage_sys, ns;
 *    bench/run.sh starts the driver in a fresh one): every process the
 *    driver starts, to any depth (helpers O, I, C, bwrap, the CLI), counted
 *    by the scheduler whether or not they are waited for. Without cpuacct,
 *    getrusage(SELF) + getrusage(CHILDREN), which only has waited-for
 *    descendants whose parents waited for theirs.
 *  - kernel threads (children of kthreadd, PID 2): utime + stime from
 *    /proc/PID/stat. Namespace teardown partly runs there (cleanup_net and
 *    the RCU callbacks that free mount and PID namespaces), not in the task
 *    that dropped the last reference. Shared with every other load, so only
 *    meaningful as a difference between interleaved variants.
 *  - /proc/stat: the whole machine, busy and total. Equals 100% busy on a
 *    saturated machine whatever the job, so it is reported, not used as the
 *    headline, when idle time is scarce.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "cpu_account.h"

static char cpuacct_dir[4096];
static int cpuacct_checked;

/* The driver's cpuacct cgroup directory, or "" when there is none. */
static const char *find_cpuacct(void)
{
    if (cpuacct_checked)
        return cpuacct_dir;
    cpuacct_checked = 1;
    FILE *f = fopen("/proc/self/cgroup", "re");
    char line[4096];
    while (f && fgets(line, sizeof(line), f)) {
        char *ctl = strchr(line, ':');
        char *path = ctl ? strchr(ctl + 1, ':') : NULL;
        if (!path)
            continue;
        *path++ = '\0';
        path[strcspn(path, "\n")] = '\0';
        /* v1 line "N:cpu,cpuacct:/path" or "N:cpuacct:/path" */
        char *tok, *save = NULL;
        for (tok = strtok_r(ctl + 1, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
            if (strcmp(tok, "cpuacct") != 0)
                continue;
            static const char *const bases[] = {"/sys/fs/cgroup/cpuacct",
                                                "/sys/fs/cgroup/cpu,cpuacct"};
            for (size_t b = 0; b < sizeof(bases) / sizeof(bases[0]); b++) {
                char probe[4200];
                snprintf(cpuacct_dir, sizeof(cpuacct_dir), "%s%s", bases[b], path);
                snprintf(probe, sizeof(probe), "%s/cpuacct.usage_user", cpuacct_dir);
                if (access(probe, R_OK) == 0) {
                    fclose(f);
                    return cpuacct_dir;
                }
            }
        }
    }
    if (f)
        fclose(f);
    cpuacct_dir[0] = '\0';
    return cpuacct_dir;
}

static uint64_t read_u64_file(const char *dir, const char *name)
{
    char path[4200];
    unsigned long long v = 0;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "re");
    if (f) {
        if (fscanf(f, "%llu", &v) != 1)
            v = 0;
        fclose(f);
    }
    return v;
}

static uint64_t tv_us(struct timeval tv)
{
    return (uint64_t)tv.tv_sec * 1000000u + (uint64_t)tv.tv_usec;
}

const char *bench_cpu_tree_source(void)
{
    return find_cpuacct()[0] ? "cpuacct" : "rusage";
}

static void kthreads_add(struct bench_kthreads *k, int pid, uint64_t ticks)
{
    if (k->n == k->cap) {
        size_t cap = k->cap ? 2 * k->cap : 256;
        struct bench_kthread *t = realloc(k->t, cap * sizeof(*t));
        if (!t)
            return;
        k->t = t;
        k->cap = cap;
    }
    k->t[k->n].pid = pid;
    k->t[k->n].ticks = ticks;
    k->n++;
}

static int by_pid(const void *a, const void *b)
{
    int x = ((const struct bench_kthread *)a)->pid, y = ((const struct bench_kthread *)b)->pid;
    return (x > y) - (x < y);
}

/* utime+stime (clock ticks) of every child of kthreadd, and of kthreadd. */
void bench_cpu_kthreads_take(struct bench_kthreads *k)
{
    DIR *d = opendir("/proc");
    struct dirent *e;
    memset(k, 0, sizeof(*k));
    while (d && (e = readdir(d))) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        char path[300], buf[1024];
        snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
        FILE *f = fopen(path, "re");
        if (!f)
            continue;
        size_t n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[n] = '\0';
        /* comm may hold spaces and parentheses: fields start after the last ')'. */
        char *p = strrchr(buf, ')');
        if (!p)
            continue;
        char state;
        int ppid;
        unsigned long long ut, st;
        if (sscanf(p + 2, "%c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &state, &ppid,
                   &ut, &st) != 4)
            continue;
        if (ppid == 2 || strcmp(e->d_name, "2") == 0)
            kthreads_add(k, atoi(e->d_name), ut + st);
    }
    if (d)
        closedir(d);
    if (k->n)
        qsort(k->t, k->n, sizeof(k->t[0]), by_pid);
}

void bench_cpu_kthreads_free(struct bench_kthreads *k)
{
    free(k->t);
    memset(k, 0, sizeof(*k));
}

static void proc_stat(uint64_t *busy, uint64_t *total)
{
    unsigned long long v[10] = {0};
    FILE *f = fopen("/proc/stat", "re");
    *busy = *total = 0;
    if (!f)
        return;
    if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2],
               &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9]) >= 8) {
        /* user nice system idle iowait irq softirq steal (guest is in user) */
        *total = v[0] + v[1] + v[2] + v[3] + v[4] + v[5] + v[6] + v[7];
        *busy = *total - v[3] - v[4];
    }
    fclose(f);
}

static uint64_t tick_us(void)
{
    return 1000000u / (uint64_t)sysconf(_SC_CLK_TCK);
}

uint64_t bench_cpu_kthreads_delta_us(const struct bench_kthreads *a, const struct bench_kthreads *b)
{
    uint64_t ticks = 0;
    size_t i = 0;

    for (size_t j = 0; j < b->n; j++) {
        while (i < a->n && a->t[i].pid < b->t[j].pid)
            i++;
        if (i < a->n && a->t[i].pid == b->t[j].pid) {
            if (b->t[j].ticks > a->t[i].ticks)
                ticks += b->t[j].ticks - a->t[i].ticks;
        } else {
            ticks += b->t[j].ticks;
        }
    }
    return ticks * tick_us();
}

void bench_cpu_sample(struct bench_cpu_sample *s)
{
    const char *dir = find_cpuacct();
    memset(s, 0, sizeof(*s));
    if (dir[0]) {
        /* cpuacct.usage is the scheduler's exact runtime; usage_user and
         * usage_sys are tick samples (CONFIG_TICK_CPU_ACCOUNTING: whoever
         * runs at the tick gets the whole tick), so they only split it. */
        s->tree_us = read_u64_file(dir, "cpuacct.usage") / 1000;
        s->tree_user_us = read_u64_file(dir, "cpuacct.usage_user") / 1000;
        s->tree_sys_us = read_u64_file(dir, "cpuacct.usage_sys") / 1000;
    } else {
        struct rusage self, kids;
        getrusage(RUSAGE_SELF, &self);
        getrusage(RUSAGE_CHILDREN, &kids);
        s->tree_user_us = tv_us(self.ru_utime) + tv_us(kids.ru_utime);
        s->tree_sys_us = tv_us(self.ru_stime) + tv_us(kids.ru_stime);
        s->tree_us = s->tree_user_us + s->tree_sys_us;
    }
    uint64_t busy, total;
    proc_stat(&busy, &total);
    s->sys_busy_us = busy * tick_us();
    s->sys_total_us = total * tick_us();
}

void bench_cpu_delta(struct bench_cpu_sample *d, const struct bench_cpu_sample *a,
                     const struct bench_cpu_sample *b)
{
    d->tree_us = b->tree_us - a->tree_us;
    d->tree_user_us = b->tree_user_us - a->tree_user_us;
    d->tree_sys_us = b->tree_sys_us - a->tree_sys_us;
    d->sys_busy_us = b->sys_busy_us - a->sys_busy_us;
    d->sys_total_us = b->sys_total_us - a->sys_total_us;
}
