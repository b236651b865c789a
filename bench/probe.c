/*
 * probe.c - what a run left behind (mounts, processes, files) and the peak
 * memory of the helper processes.
 *
 * The helper's peak RSS is read from /proc/PID/status VmHWM ("peak resident
 * set size", proc(5)) by a sampler thread: the driver does not own the helper's
 * pid when a library spawns it, but it can find the helper processes by
 * /proc/PID/exe (the bench copies the helper into a private directory, so
 * that path names it uniquely; the command line would also match the
 * driver's own short-lived posix_spawn children before they exec). VmHWM only
 * grows, so the last sample before exit is close to the true peak.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "driver.h"

long bench_count_mounts(void)
{
    FILE *f = fopen("/proc/self/mountinfo", "re");
    long n = 0;
    int c, last = '\n';
    if (!f)
        return -1;
    while ((c = fgetc(f)) != EOF) {
        if (c == '\n')
            n++;
        last = c;
    }
    if (last != '\n')
        n++;
    fclose(f);
    return n;
}

/* Read /proc/PID/cmdline with NULs turned into spaces. */
static bool cmdline_has(const char *pid, const char *match)
{
    char path[64], buf[8192];
    snprintf(path, sizeof(path), "/proc/%s/cmdline", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return false;
    for (ssize_t i = 0; i < n; i++)
        if (buf[i] == '\0')
            buf[i] = ' ';
    buf[n] = '\0';
    return strstr(buf, match) != NULL;
}

static bool is_pid(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

/* Is pid a live (not zombie) child of this process? Orphans of the helpers
 * are reparented to the driver, which is a child subreaper (see main). */
static bool is_live_child(const char *pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof(path), "/proc/%s/stat", pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return false;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* comm may hold spaces and parentheses: the fields follow the last ')'. */
    char *p = strrchr(buf, ')'), state;
    long ppid;
    if (!p || sscanf(p + 1, " %c %ld", &state, &ppid) != 2)
        return false;
    return ppid == (long)getpid() && state != 'Z';
}

static bool exe_is(const char *pid, const char *path)
{
    char link[64], buf[4096];
    snprintf(link, sizeof(link), "/proc/%s/exe", pid);
    ssize_t n = readlink(link, buf, sizeof(buf) - 1);
    if (n <= 0)
        return false;
    buf[n] = '\0';
    return strcmp(buf, path) == 0;
}

enum match_kind { MATCH_LEFTOVER, MATCH_EXE };

/* Calls fn for every process (other than this one) matching; returns count. */
static long for_each_match(enum match_kind kind, const char *match,
                           void (*fn)(const char *pid, void *arg), void *arg)
{
    DIR *d = opendir("/proc");
    struct dirent *e;
    long n = 0, self = (long)getpid();
    if (!d)
        return -1;
    while ((e = readdir(d))) {
        if (!is_pid(e->d_name) || atol(e->d_name) == self)
            continue;
        bool hit = kind == MATCH_EXE ? exe_is(e->d_name, match)
                                     : cmdline_has(e->d_name, match) || is_live_child(e->d_name);
        if (hit) {
            n++;
            if (fn)
                fn(e->d_name, arg);
        }
    }
    closedir(d);
    return n;
}

long bench_count_procs(const char *match)
{
    return for_each_match(MATCH_LEFTOVER, match && *match ? match : "\n", NULL, NULL);
}

/* Recursive count without global state: the jobs' threads call it at once. */
static long count_at(int dirfd)
{
    DIR *d = fdopendir(dirfd);
    struct dirent *e;
    long n = 0;
    if (!d) {
        close(dirfd);
        return 0;
    }
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        n++;
        if (e->d_type == DT_DIR) {
            int fd = openat(dirfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (fd >= 0)
                n += count_at(fd);
        }
    }
    closedir(d);
    return n;
}

long bench_count_entries(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0 : -1;
    return count_at(fd);
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    if (flag == FTW_DP)
        rmdir(p);
    else
        unlink(p);
    return 0;
}

void bench_rm_rf(const char *dir)
{
    nftw(dir, rm_one, 32, FTW_PHYS | FTW_DEPTH);
}

static struct {
    pthread_t thread;
    const char *match;
    unsigned period_ms;
    atomic_bool stop;
    bool running;
    uint64_t max_kb;
} hwm;

static void read_hwm(const char *pid, void *arg)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%s/status", pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return;
    while (fgets(line, sizeof(line), f)) {
        unsigned long long kb;
        if (sscanf(line, "VmHWM: %llu kB", &kb) == 1) {
            if (kb > hwm.max_kb)
                hwm.max_kb = kb;
            break;
        }
    }
    fclose(f);
}

static void *hwm_loop(void *arg)
{
    while (!hwm.stop) {
        for_each_match(MATCH_EXE, hwm.match, read_hwm, NULL);
        usleep(hwm.period_ms * 1000u);
    }
    return NULL;
}

int bench_hwm_start(const char *match, unsigned period_ms)
{
    hwm.match = match;
    hwm.period_ms = period_ms;
    hwm.stop = false;
    hwm.max_kb = 0;
    if (!match || !*match)
        return -EINVAL;
    int rc = pthread_create(&hwm.thread, NULL, hwm_loop, NULL);
    hwm.running = rc == 0;
    return -rc;
}

uint64_t bench_hwm_stop(void)
{
    hwm.stop = true;
    if (hwm.running)
        pthread_join(hwm.thread, NULL);
    hwm.running = false;
    return hwm.max_kb;
}
