/* cgroup.c - the job's cgroup: pids and memory limits (cgroup v2, else v1). */
#include "cgroup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "error.h"
#include "log.h"

#define PATH_LEN 4096

void cps__cgroup_init(struct cps_job_cgroup *cg)
{
    memset(cg, 0, sizeof(*cg));
    for (int i = 0; i < CPS_CGROUP_DIRS; i++)
        cg->procs_fd[i] = cg->dir_fd[i] = -1;
    cg->pids_fd = cg->memory_fd = cg->events_fd = -1;
}

static void __attribute__((format(printf, 2, 3)))
off(struct cps_job_cgroup *cg, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(cg->reason, sizeof(cg->reason), fmt, ap);
    va_end(ap);
    cg->version = 0;
}

/* Is tok one of the words of list (separated by blanks, commas, newlines)? */
static bool has_word(const char *list, const char *tok)
{
    size_t n = strlen(tok);

    for (const char *p = list; *p;) {
        size_t len = strcspn(p, " ,\n");

        if (len == n && strncmp(p, tok, n) == 0)
            return true;
        p += len;
        p += strspn(p, " ,\n");
    }
    return false;
}

static int read_small(const char *path, char *buf, size_t size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n;

    if (fd < 0)
        return -errno;
    n = read(fd, buf, size - 1);
    if (n < 0) {
        int e = errno;

        close(fd);
        return -e;
    }
    close(fd);
    buf[n] = '\0';
    return 0;
}

/*
 * /proc/self/mountinfo and /proc/self/cgroup are read once per
 * cps__cgroup_create: the lookups for v2, v1 pids and v1 memory each parsed
 * both files anew, 6 opens and reads at every helper start, a visible share
 * of a warm job's CPU (docs/MEASUREMENTS.md). The helper is single-threaded
 * here.
 */
enum { PROC_MOUNTINFO, PROC_CGROUP, PROC_N };
static const char *const proc_paths[PROC_N] = {"/proc/self/mountinfo", "/proc/self/cgroup"};
static char *proc_text[PROC_N];
static size_t proc_len[PROC_N];

#define PROC_TEXT_MAX (16u << 20) /* a mount table larger than this is not read */

static int load_proc(int which)
{
    size_t cap = 16384, len = 0;
    char *buf = NULL;
    int fd = open(proc_paths[which], O_RDONLY | O_CLOEXEC), e;

    if (fd < 0)
        return -errno;
    for (;;) {
        if (len + 1 >= cap || buf == NULL) {
            char *nb = cap > PROC_TEXT_MAX ? NULL : realloc(buf, cap *= 2);
            if (nb == NULL) {
                e = ENOMEM;
                goto fail;
            }
            buf = nb;
        }
        ssize_t n = read(fd, buf + len, cap - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            e = errno;
            goto fail;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    buf[len] = '\0';
    proc_text[which] = buf;
    proc_len[which] = len;
    return 0;
fail:
    close(fd);
    free(buf);
    return -e;
}

/* A stream over the cached text of one /proc file (read on first use). */
static FILE *open_proc(int which)
{
    if (proc_text[which] == NULL) {
        int rc = load_proc(which);
        if (rc < 0) {
            errno = -rc;
            return NULL;
        }
    }
    return fmemopen(proc_text[which], proc_len[which] + 1, "r");
}

static void drop_proc(void)
{
    for (int i = 0; i < PROC_N; i++) {
        free(proc_text[i]);
        proc_text[i] = NULL;
        proc_len[i] = 0;
    }
}

/*
 * The mount point of the hierarchy: fstype "cgroup2", or "cgroup" with the
 * controller among its super options (proc_pid_mountinfo(5)), and the root
 * of that mount inside the hierarchy (not "/" inside a cgroup namespace).
 */
static int find_mount(const char *fstype, const char *controller, char *mnt, char *root)
{
    FILE *f = open_proc(PROC_MOUNTINFO);
    char line[2 * PATH_LEN];
    int rc = -ENOENT;

    if (f == NULL)
        return -errno;
    while (rc < 0 && fgets(line, sizeof(line), f)) {
        char r[PATH_LEN], m[PATH_LEN], type[64], opts[512];
        const char *dash = strstr(line, " - ");

        if (dash == NULL || sscanf(line, "%*s %*s %*s %4095s %4095s", r, m) != 2 ||
            sscanf(dash + 3, "%63s %*s %511s", type, opts) != 2)
            continue;
        if (strcmp(type, fstype) != 0 || (controller != NULL && !has_word(opts, controller)))
            continue;
        snprintf(mnt, PATH_LEN, "%s", m);
        snprintf(root, PATH_LEN, "%s", r);
        rc = 0;
    }
    fclose(f);
    return rc;
}

/* The helper's cgroup in the hierarchy with this controller ("" for v2). */
static int own_path(const char *controller, char *out)
{
    FILE *f = open_proc(PROC_CGROUP);
    char line[PATH_LEN + 128];
    int rc = -ENOENT;

    if (f == NULL)
        return -errno;
    while (rc < 0 && fgets(line, sizeof(line), f)) {
        char *c = strchr(line, ':'), *p;

        if (c == NULL || (p = strchr(c + 1, ':')) == NULL)
            continue;
        *p = '\0';
        if (controller[0] == '\0' ? c[1] != '\0' || strncmp(line, "0:", 2) != 0
                                  : !has_word(c + 1, controller))
            continue;
        p[1 + strcspn(p + 1, "\n")] = '\0';
        snprintf(out, PATH_LEN, "%s", p + 1);
        rc = 0;
    }
    fclose(f);
    return rc;
}

/* The directory of the helper's cgroup: mount point + path below the mount's root. */
static int own_dir(const char *fstype, const char *controller, char *dir)
{
    char mnt[PATH_LEN], root[PATH_LEN], path[PATH_LEN];
    const char *rel;
    size_t rl;

    if (find_mount(fstype, controller[0] ? controller : NULL, mnt, root) < 0 ||
        own_path(controller, path) < 0)
        return -ENOENT;
    rl = strcmp(root, "/") == 0 ? 0 : strlen(root);
    if (strncmp(path, root, rl) != 0)
        return -ENOENT; /* our cgroup is outside what this mount shows */
    rel = path + rl;
    if (strcmp(rel, "/") == 0)
        rel = ""; /* the hierarchy's root: no "//" in the names we log */
    if ((size_t)snprintf(dir, PATH_LEN, "%s%s", mnt, rel) >= PATH_LEN)
        return -ENAMETOOLONG;
    return 0;
}

/*
 * A helper killed with SIGKILL (the parent library ends idle warm helpers
 * that way) cannot remove its cgroup. Every helper therefore removes the
 * cps-job-PID siblings whose helper is gone: rmdir(2) of a cgroup only
 * succeeds when it holds no process and no child, so a job still running
 * there is never disturbed; a live helper's empty cgroup is left alone
 * (kill(PID, 0) does not say ESRCH).
 */
static void sweep_stale(const char *parent)
{
    char path[PATH_LEN + 64];
    struct dirent *e;
    DIR *d = opendir(parent);

    if (d == NULL)
        return;
    while ((e = readdir(d)) != NULL) {
        char *end;
        long pid;

        if (strncmp(e->d_name, "cps-job-", 8) != 0)
            continue;
        errno = 0;
        pid = strtol(e->d_name + 8, &end, 10);
        if (errno != 0 || *end != '\0' || pid <= 0 || pid == (long)getpid())
            continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue;
        snprintf(path, sizeof(path), "%s/%s", parent, e->d_name);
        if (rmdir(path) == 0)
            cps__log_debug("cgroup: removed %s, left by a helper that is gone", path);
    }
    closedir(d);
}

/* mkdir parent/cps-job-PID; a stale one of a crashed helper with the same pid is removed. */
static int make_child(const char *parent, char *child)
{
    sweep_stale(parent);
    if ((size_t)snprintf(child, PATH_LEN, "%s/cps-job-%ld", parent, (long)getpid()) >= PATH_LEN)
        return -ENAMETOOLONG;
    if (mkdir(child, 0755) == 0)
        return 0;
    if (errno == EEXIST && rmdir(child) == 0 && mkdir(child, 0755) == 0)
        return 0;
    return -errno;
}

static int open_in(const char *dir, const char *name, int flags)
{
    char path[PATH_LEN + 64];

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return open(path, flags | O_CLOEXEC);
}

static void create_v2(struct cps_job_cgroup *cg, const char *own)
{
    char avail[512], buf[512], path[PATH_LEN + 64];
    bool memory;
    int fd, rc;

    snprintf(path, sizeof(path), "%s/cgroup.controllers", own);
    if (read_small(path, avail, sizeof(avail)) < 0 || !has_word(avail, "pids")) {
        off(cg, "cgroup v2: the pids controller is not available in %s", own);
        return;
    }
    /* Moving I from our cgroup into the child needs write access to
     * cgroup.procs of their common ancestor, our cgroup (cgroup-v2.rst,
     * "Delegation Containment"). */
    snprintf(path, sizeof(path), "%s/cgroup.procs", own);
    if (access(own, W_OK) < 0 || access(path, W_OK) < 0) {
        off(cg, "cgroup v2: %s is not writable (not delegated to uid %u)", own, getuid());
        return;
    }
    snprintf(path, sizeof(path), "%s/cgroup.subtree_control", own);
    if (read_small(path, buf, sizeof(buf)) < 0) {
        off(cg, "cgroup v2: cannot read %s", path);
        return;
    }
    /* memory may be missing from cgroup.controllers: then pids alone. */
    memory = has_word(avail, "memory");
    if (!has_word(buf, "pids") || (memory && !has_word(buf, "memory"))) {
        const char *want = memory ? "+pids +memory" : "+pids";

        fd = open(path, O_WRONLY | O_CLOEXEC);
        rc = fd < 0 ? -errno : 0;
        if (fd >= 0 && write(fd, want, strlen(want)) < 0)
            rc = -errno;
        if (fd >= 0)
            close(fd);
        if (rc < 0) {
            off(cg, "cgroup v2: cannot enable pids/memory in %s: %s%s", path, strerror(-rc),
                rc == -EBUSY ? " (the cgroup holds processes: the no-internal-processes rule; "
                               "start the helper in a leaf of a cgroup that enables them)"
                             : "");
            return;
        }
    }
    rc = make_child(own, cg->dir[0]);
    if (rc < 0) {
        off(cg, "cgroup v2: mkdir in %s: %s", own, strerror(-rc));
        cg->dir[0][0] = '\0';
        return;
    }
    cg->version = 2;
    cg->procs_fd[0] = open_in(cg->dir[0], "cgroup.procs", O_WRONLY);
    cg->pids_fd = open_in(cg->dir[0], "pids.max", O_WRONLY);
    cg->memory_fd = open_in(cg->dir[0], "memory.max", O_WRONLY);
    cg->events_fd = open_in(cg->dir[0], "memory.events", O_RDONLY);
    cg->dir_fd[0] = open(cg->dir[0], O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (cg->procs_fd[0] < 0 || cg->pids_fd < 0) {
        rc = errno;
        off(cg, "cgroup v2: cannot open cgroup.procs and pids.max in %s: %s", cg->dir[0],
            strerror(rc));
        cps__cgroup_remove(cg);
    }
}

static void create_v1(struct cps_job_cgroup *cg)
{
    static const char *const ctl[CPS_CGROUP_DIRS] = {"pids", "memory"};
    char own[PATH_LEN], why[CPS_CGROUP_DIRS][160];
    int rc;

    for (int i = 0; i < CPS_CGROUP_DIRS; i++) {
        why[i][0] = '\0';
        if (own_dir("cgroup", ctl[i], own) < 0) {
            snprintf(why[i], sizeof(why[i]), "no v1 %s hierarchy", ctl[i]);
            continue;
        }
        if (access(own, W_OK) < 0) {
            snprintf(why[i], sizeof(why[i]), "v1 %s: %.100s is not writable", ctl[i], own);
            continue;
        }
        rc = make_child(own, cg->dir[i]);
        if (rc < 0) {
            snprintf(why[i], sizeof(why[i]), "v1 %s: mkdir: %s", ctl[i], strerror(-rc));
            cg->dir[i][0] = '\0';
            continue;
        }
        cg->procs_fd[i] = open_in(cg->dir[i], "cgroup.procs", O_WRONLY);
        cg->dir_fd[i] = open(cg->dir[i], O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (i == 0)
            cg->pids_fd = open_in(cg->dir[i], "pids.max", O_WRONLY);
        else {
            cg->memory_fd = open_in(cg->dir[i], "memory.limit_in_bytes", O_WRONLY);
            cg->events_fd = open_in(cg->dir[i], "memory.oom_control", O_RDONLY);
        }
    }
    if (cg->procs_fd[0] >= 0 && cg->pids_fd >= 0) {
        cg->version = 1;
        if (why[1][0])
            cps__log_info("cgroup: v1 pids only (%s)", why[1]);
        return;
    }
    cps__cgroup_remove(cg);
    off(cg, "cgroup v1: %s%s%s", why[0][0] ? why[0] : "pids.max cannot be opened",
        why[1][0] ? "; " : "", why[1]);
}

void cps__cgroup_create(struct cps_job_cgroup *cg)
{
    char own[PATH_LEN];

    cps__cgroup_init(cg);
    if (own_dir("cgroup2", "", own) == 0) {
        create_v2(cg, own);
        if (cg->version == 2) {
            drop_proc();
            cps__log_info("cgroup: v2 %s", cg->dir[0]);
            return;
        }
        cps__log_debug("cgroup: %s; trying v1", cg->reason);
    }
    create_v1(cg);
    drop_proc();
    if (cg->version == 1)
        cps__log_info("cgroup: v1 %s %s", cg->dir[0], cg->dir[1]);
    else
        cps__log_info("cgroup: off (%s)", cg->reason);
}

static int write_num(int fd, uint64_t v, const char *what, struct cps_error *err)
{
    char buf[32];
    int n = snprintf(buf, sizeof(buf), "%" PRIu64, v);

    if (pwrite(fd, buf, (size_t)n, 0) != n)
        return cps__error_set(err, CPS_STAGE_CGROUP, errno, NULL, "writing %s to %s", buf, what);
    return 0;
}

int cps__cgroup_set_limits(struct cps_job_cgroup *cg, const struct cps_job_limits *l,
                           struct cps_error *err)
{
    uint64_t mem = l->address_space ? l->address_space : CPS_DEFAULT_CGROUP_MEMORY;
    int rc;

    if (cg->version == 0)
        return 0;
    rc = write_num(cg->pids_fd, l->processes, "pids.max", err);
    if (rc == 0 && cg->memory_fd >= 0)
        rc = write_num(cg->memory_fd, mem,
                       cg->version == 2 ? "memory.max" : "memory.limit_in_bytes", err);
    return rc;
}

int cps__cgroup_enter(const struct cps_job_cgroup *cg, pid_t pid, struct cps_error *err)
{
    int rc = 0;

    if (cg->version == 0)
        return 0;
    /* "0" is the writer itself (cgroup_procs_write_start), whatever its PID
     * namespace: that is how I enters from inside the job's. */
    for (int i = 0; i < CPS_CGROUP_DIRS && rc == 0; i++)
        if (cg->procs_fd[i] >= 0)
            rc = write_num(cg->procs_fd[i], (uint64_t)pid, "cgroup.procs", err);
    return rc;
}

/* The cgroup's oom_kill count; 0 when it cannot be read. */
static uint64_t oom_kills(const struct cps_job_cgroup *cg)
{
    char buf[1024];
    const char *p;
    ssize_t n;

    if (cg->events_fd < 0)
        return 0;
    n = pread(cg->events_fd, buf, sizeof(buf) - 1, 0);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    /* "oom_kill N": memory.events (v2), memory.oom_control (v1, Linux 4.13). */
    p = strstr(buf, "oom_kill ");
    return p != NULL ? strtoull(p + strlen("oom_kill "), NULL, 10) : 0;
}

void cps__cgroup_job_start(struct cps_job_cgroup *cg)
{
    cg->oom_base = oom_kills(cg);
}

bool cps__cgroup_oom_killed(const struct cps_job_cgroup *cg)
{
    return oom_kills(cg) > cg->oom_base;
}

/*
 * 1: the dir holds a process, 0: it holds none, -1: cannot tell. The file is
 * opened anew each time: v1 keeps the pid list of an open cgroup.procs for
 * its next reads (cgroup_pidlist_start, destroyed 1 s after the last use), so
 * a kept fd would answer with an old list. Through the dir's O_PATH fd,
 * opened with the host's view before O unshared.
 */
static int populated(const struct cps_job_cgroup *cg, int i)
{
    char buf[4096];
    const char *p;
    int fd = openat(cg->dir_fd[i], cg->version == 1 ? "cgroup.procs" : "cgroup.events",
                    O_RDONLY | O_CLOEXEC);
    ssize_t n;

    if (fd < 0)
        return -1;
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n < 0)
        return -1;
    buf[n] = '\0';
    if (cg->version == 1)
        return n > 0; /* cgroup.procs: one pid a line */
    p = strstr(buf, "populated ");
    if (p == NULL)
        return -1;
    return p[strlen("populated ")] != '0';
}

bool cps__cgroup_empty(const struct cps_job_cgroup *cg)
{
    if (cg->version == 0)
        return true;
    for (int i = 0; i < CPS_CGROUP_DIRS; i++) {
        if (cg->dir[i][0] == '\0')
            continue;
        if (cg->dir_fd[i] < 0)
            return false;
        /* A task leaves its cgroup a moment after its parent reaped it (the
         * same wait as in cps__cgroup_remove): up to about 1 s, doubling the
         * pause from 50 us to 5 ms. */
        long pause_ns = 50 * 1000, waited_ns = 0;
        int rc;
        while ((rc = populated(cg, i)) != 0) {
            if (rc < 0 || waited_ns >= 1000L * 1000 * 1000) {
                cps__log_info("cgroup: %s %s", cg->dir[i],
                              rc < 0 ? "cannot be read" : "still holds a process");
                return false;
            }
            nanosleep(&(struct timespec){.tv_sec = 0, .tv_nsec = pause_ns}, NULL);
            waited_ns += pause_ns;
            pause_ns = pause_ns < 5 * 1000 * 1000 / 2 ? pause_ns * 2 : 5 * 1000 * 1000;
        }
    }
    return true;
}

void cps__cgroup_remove(struct cps_job_cgroup *cg)
{
    int *fds[] = {&cg->pids_fd,     &cg->memory_fd, &cg->events_fd, &cg->procs_fd[0],
                  &cg->procs_fd[1], &cg->dir_fd[0], &cg->dir_fd[1]};

    for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
        if (*fds[i] >= 0)
            close(*fds[i]);
        *fds[i] = -1;
    }
    for (int i = 0; i < CPS_CGROUP_DIRS; i++) {
        if (cg->dir[i][0] == '\0')
            continue;
        /* The last task of a cgroup leaves it a moment after its parent reaped
         * it (css_set release is asynchronous): retry EBUSY for up to about
         * 1 s, first after 50 us (usually enough), doubling up to 5 ms. */
        long pause_ns = 50 * 1000, waited_ns = 0;
        while (rmdir(cg->dir[i]) < 0) {
            if (errno != EBUSY || waited_ns >= 1000L * 1000 * 1000) {
                cps__log_error("cgroup: rmdir %s: %s", cg->dir[i], strerror(errno));
                break;
            }
            nanosleep(&(struct timespec){.tv_sec = 0, .tv_nsec = pause_ns}, NULL);
            waited_ns += pause_ns;
            pause_ns = pause_ns < 5 * 1000 * 1000 / 2 ? pause_ns * 2 : 5 * 1000 * 1000;
        }
        cg->dir[i][0] = '\0';
    }
    cg->version = 0;
}
