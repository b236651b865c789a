/*
 * pool.c - warm helpers kept ready per configuration, refilled by one
 * library-owned thread (docs/POOL.md).
 *
 * The pool thread owns every helper that is starting, ready or closing; a run
 * takes a ready one out (state TAKEN: the run owns its process and fds from
 * then on, the pool thread only frees the list node). Nodes are freed by the
 * pool thread alone, so the pointers it polls with stay valid while it polls
 * without the lock; after each poll it acts on a node only if its state is
 * still the one it polled for. A reusing helper (jobs_per_helper > 1,
 * docs/REUSE.md) comes back from its run in a new node, as starting: its next
 * hello makes it ready again.
 */
#include "pool.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "error.h"
#include "errtext.h"
#include "frame.h"
#include "job_spec.h"
#include "cps_limits.h"
#include "log.h"
#include "helper_session.h"

/* The public bound is the helper's (--jobs-per-helper, hello.reuse). */
_Static_assert(CPS_POOL_MAX_JOBS_PER_HELPER == CPS_MAX_JOBS_PER_HELPER,
               "cachepot-sandbox.h and cps_limits.h disagree on jobs per helper");

#define DEFAULT_SIZE        2
#define DEFAULT_MAX_IDLE_MS 60000
/* A helper does its job-independent setup in milliseconds; one silent this
 * long is hung (the same bound cps_run applies to a cold helper). */
#define HELLO_TIMEOUT_US (30ull * 1000 * 1000)
/* A closed idle helper exits on EOF at once; after this it is killed. */
#define CLOSE_GRACE_US (2ull * 1000 * 1000)
/* A helper that sent its exit frame only cleans up (as CLEANUP_GRACE_MS of a
 * run that waits for its helper itself). */
#define RETIRE_GRACE_US (10ull * 1000 * 1000)
/* Without a pidfd, closing helpers are looked at this often. */
#define REAP_POLL_US (50ull * 1000)
/* Spawning a configuration that keeps failing is retried with a growing
 * pause, up to this. */
#define MAX_BACKOFF_US (30ull * 1000 * 1000)

struct pool_config {
    struct pool_config *next;
    /* The key: exactly what becomes the helper's spawn-time argv. */
    bool has_uid, has_gid, has_seccomp, seccomp;
    uint32_t uid, gid, backend;
    uint64_t last_used;
    size_t ready, starting;
    unsigned failures; /* consecutive helpers that never became ready */
    uint64_t retry_at; /* no spawn before this after failures */
};

enum hstate { H_STARTING, H_READY, H_CLOSING, H_TAKEN };

struct pool_helper {
    struct pool_helper *next;
    struct pool_config *cfg; /* NULL once closing or taken */
    enum hstate state;
    struct cps_helper_proc proc;
    struct cps_frame_reader reader;
    uint64_t since;    /* spawned, handed back, ready, or closed at */
    uint64_t grace_us; /* H_CLOSING: killed this long after since */
    /* H_CLOSING: a reusing helper that ends after a job; counted retired when
     * it exits 0 (else died). */
    bool ending_after_job;
};

struct cps_pool {
    pthread_mutex_t mu;
    pthread_cond_t runs_done; /* in_use dropped to 0 */
    pthread_t thread;
    int wake_fd; /* eventfd: state changed, look again */
    char *helper_path;
    size_t size;
    uint64_t max_idle_us;
    unsigned jobs_per_helper; /* 1: a helper per job */
    bool stopping;
    struct pool_config *configs;
    struct pool_helper *helpers; /* oldest first */
    struct cps_pool_stats stats; /* counters; the gauges are counted on demand */
};

CPS_API struct cps_pool_options *cps_pool_options_new(void)
{
    struct cps_pool_options *o = calloc(1, sizeof(*o));

    if (o)
        o->jobs_per_helper = 1;
    return o;
}

CPS_API void cps_pool_options_free(struct cps_pool_options *opts)
{
    free(opts);
}

static void wake(struct cps_pool *pool)
{
    uint64_t one = 1;

    /* A full eventfd counter (EAGAIN) is already a pending wakeup. */
    (void)!write(pool->wake_fd, &one, sizeof(one));
}

static bool same_config(const struct pool_config *c, const struct cps_job *job)
{
    return c->has_uid == job->has_uid && (!c->has_uid || c->uid == job->uid) &&
           c->has_gid == job->has_gid && (!c->has_gid || c->gid == job->gid) &&
           c->backend == job->backend && c->has_seccomp == job->has_seccomp &&
           (!c->has_seccomp || c->seccomp == job->seccomp);
}

static struct pool_config *find_config(struct cps_pool *pool, const struct cps_job *job, bool add)
{
    struct pool_config *c;

    for (c = pool->configs; c; c = c->next)
        if (same_config(c, job))
            return c;
    if (!add || !(c = calloc(1, sizeof(*c))))
        return NULL;
    c->has_uid = job->has_uid;
    c->uid = job->has_uid ? job->uid : 0;
    c->has_gid = job->has_gid;
    c->gid = job->has_gid ? job->gid : 0;
    c->backend = job->backend;
    c->has_seccomp = job->has_seccomp;
    c->seccomp = job->has_seccomp && job->seccomp;
    c->next = pool->configs;
    pool->configs = c;
    return c;
}

/* Jobs a helper of configuration c serves. Never more than one with seccomp
 * off: keyrings are per uid and user namespace, and only the default filter
 * refuses keyctl, add_key and request_key (docs/REUSE.md); the helper refuses
 * --jobs-per-helper with --no-seccomp. */
static unsigned config_jobs(const struct cps_pool *pool, const struct pool_config *c)
{
    return c->has_seccomp && !c->seccomp ? 1 : pool->jobs_per_helper;
}

/* Link h into the list, which stays ordered by spawn time (oldest first): a
 * helper handed back after a job keeps its place, so runs keep taking the
 * helpers that already served jobs while the others wait (or expire). */
static void insert_by_age(struct cps_pool *pool, struct pool_helper *h)
{
    struct pool_helper **link = &pool->helpers;

    while (*link && (*link)->proc.spawned_at <= h->proc.spawned_at)
        link = &(*link)->next;
    h->next = *link;
    *link = h;
}

/* The spawn-time part of a job of configuration c. */
static void config_job(const struct pool_config *c, struct cps_job *job)
{
    memset(job, 0, sizeof(*job));
    job->has_uid = c->has_uid;
    job->uid = c->uid;
    job->has_gid = c->has_gid;
    job->gid = c->gid;
    job->backend = c->backend;
    job->has_seccomp = c->has_seccomp;
    job->seccomp = c->seccomp;
}

/* Stop counting h for its configuration; close its socket (EOF ends an idle
 * helper); kill it at once when it misbehaved. */
static void close_helper(struct cps_pool *pool, struct pool_helper *h, bool kill_now, uint64_t now)
{
    if (h->cfg) {
        if (h->state == H_READY)
            h->cfg->ready--;
        else if (h->state == H_STARTING)
            h->cfg->starting--;
        h->cfg = NULL;
    }
    cps__frame_reader_reset(&h->reader);
    if (h->proc.sock >= 0)
        close(h->proc.sock);
    h->proc.sock = -1;
    if (kill_now)
        cps__helper_kill(&h->proc);
    h->state = H_CLOSING;
    h->since = now;
    h->grace_us = CLOSE_GRACE_US;
    wake(pool);
}

/* A helper that never became ready: back off spawning its configuration. */
static void config_failed(struct pool_config *c, uint64_t now)
{
    uint64_t pause;

    if (!c)
        return;
    c->failures++;
    pause = 100000ull << (c->failures < 9 ? c->failures : 9);
    c->retry_at = now + (pause < MAX_BACKOFF_US ? pause : MAX_BACKOFF_US);
}

/* An idle helper sends nothing after hello and stays alive: any readable
 * byte, EOF or hangup on its socket, or its pidfd turning readable (it
 * exited, pidfd_open(2)) means it cannot take a job. */
static bool idle_alive(const struct pool_helper *h)
{
    struct pollfd fds[2] = {
        {.fd = h->proc.sock, .events = POLLIN | POLLRDHUP},
        {.fd = h->proc.pidfd, .events = POLLIN},
    };
    int n;

    while ((n = poll(fds, h->proc.pidfd >= 0 ? 2 : 1, 0)) < 0 && errno == EINTR)
        ;
    return n == 0;
}

/* ---- the run's side ---- */

bool cps__pool_enter(struct cps_pool *pool, const char *helper_path)
{
    bool ok;

    if (helper_path && helper_path[0] && strcmp(helper_path, pool->helper_path) != 0)
        return false;
    pthread_mutex_lock(&pool->mu);
    ok = !pool->stopping;
    if (ok)
        pool->stats.in_use++;
    pthread_mutex_unlock(&pool->mu);
    return ok;
}

const char *cps__pool_helper_path(const struct cps_pool *pool)
{
    return pool->helper_path;
}

bool cps__pool_take(struct cps_pool *pool, const struct cps_job *job, struct cps_helper_proc *p)
{
    struct pool_config *c;
    bool got = false;
    uint64_t now = cps__now_us();

    pthread_mutex_lock(&pool->mu);
    c = find_config(pool, job, true);
    if (c) {
        c->last_used = now;
        for (struct pool_helper *h = pool->helpers; h && !got; h = h->next) {
            if (h->cfg != c || h->state != H_READY)
                continue;
            if (!idle_alive(h)) {
                cps__log_debug("pool: idle helper %d is gone; not using it", (int)h->proc.pid);
                pool->stats.died++;
                close_helper(pool, h, true, now);
                continue;
            }
            *p = h->proc;
            c->ready--;
            h->cfg = NULL;
            h->state = H_TAKEN;
            h->proc.sock = h->proc.pidfd = -1;
            got = true;
        }
    }
    wake(pool);
    pthread_mutex_unlock(&pool->mu);
    return got;
}

bool cps__pool_retire(struct cps_pool *pool, struct cps_helper_proc *p)
{
    struct pool_helper *h = calloc(1, sizeof(*h)), **link;
    bool ok;

    if (!h)
        return false;
    pthread_mutex_lock(&pool->mu);
    ok = !pool->stopping;
    if (ok) {
        h->proc = *p;
        h->state = H_CLOSING;
        h->since = cps__now_us();
        h->grace_us = RETIRE_GRACE_US;
        /* A reusing helper after its last job exits after the exit frame
         * (one its run did not hand back with jobs left is only reaped). */
        h->ending_after_job = p->hello.reuse == 1;
        /* Its job is over: EOF on the socket changes nothing for it. */
        if (h->proc.sock >= 0)
            close(h->proc.sock);
        h->proc.sock = -1;
        for (link = &pool->helpers; *link; link = &(*link)->next)
            ;
        *link = h;
        p->sock = p->pidfd = -1;
        p->pid = 0;
        wake(pool);
    }
    pthread_mutex_unlock(&pool->mu);
    if (!ok)
        free(h);
    return ok;
}

bool cps__pool_give_back(struct cps_pool *pool, const struct cps_job *job,
                         struct cps_helper_proc *p)
{
    struct pool_helper *h = calloc(1, sizeof(*h));
    struct pool_config *c;
    bool ok;

    if (!h)
        return false;
    pthread_mutex_lock(&pool->mu);
    c = pool->stopping ? NULL : find_config(pool, job, true);
    ok = c != NULL;
    if (ok) {
        h->proc = *p;
        h->proc.jobs_done++;
        h->proc.hello.seen = false;
        h->cfg = c;
        h->state = H_STARTING;
        /* The hello timeout runs from here: the helper cleans up after the job
         * and makes a fresh PID 1 first (milliseconds). */
        h->since = cps__now_us();
        h->reader.max_frame = CPS_MAX_FRAME;
        c->starting++;
        insert_by_age(pool, h);
        p->sock = p->pidfd = -1;
        p->pid = 0;
        wake(pool);
    }
    pthread_mutex_unlock(&pool->mu);
    if (!ok)
        free(h);
    return ok;
}

void cps__pool_leave(struct cps_pool *pool, bool ran, bool warm, bool retried, bool reused)
{
    pthread_mutex_lock(&pool->mu);
    if (ran) {
        if (warm)
            pool->stats.warm++;
        else
            pool->stats.cold++;
        if (reused)
            pool->stats.reused++;
    }
    if (retried)
        pool->stats.retried++;
    if (--pool->stats.in_use == 0)
        pthread_cond_broadcast(&pool->runs_done);
    pthread_mutex_unlock(&pool->mu);
}

CPS_API int cps_pool_prepare(struct cps_pool *pool, const struct cps_job_spec *spec,
                             struct cps_error *err)
{
    /* The configuration fields of the spec, as the wire job carries them. */
    struct cps_job job = {
        .has_uid = spec->has_uid,
        .uid = spec->uid,
        .has_gid = spec->has_gid,
        .gid = spec->gid,
        .backend = spec->backend,
        .has_seccomp = spec->has_seccomp,
        .seccomp = spec->seccomp,
    };
    struct pool_config *c;

    cps__error_clear(err);
    pthread_mutex_lock(&pool->mu);
    c = find_config(pool, &job, true);
    if (c)
        c->last_used = cps__now_us();
    wake(pool);
    pthread_mutex_unlock(&pool->mu);
    if (!c)
        return cps__error_set(err, CPS_STAGE_POOL, ENOMEM, NULL, "pool configuration");
    return 0;
}

CPS_API void cps_pool_get_stats(struct cps_pool *pool, struct cps_pool_stats *stats, size_t size)
{
    struct cps_pool_stats s;

    pthread_mutex_lock(&pool->mu);
    s = pool->stats;
    s.configs = s.ready = s.starting = s.closing = 0;
    for (struct pool_config *c = pool->configs; c; c = c->next)
        s.configs++;
    for (struct pool_helper *h = pool->helpers; h; h = h->next) {
        if (h->state == H_READY)
            s.ready++;
        else if (h->state == H_STARTING)
            s.starting++;
        else if (h->state == H_CLOSING)
            s.closing++;
    }
    pthread_mutex_unlock(&pool->mu);
    memcpy(stats, &s, size < sizeof(s) ? size : sizeof(s));
}

/* ---- the pool thread ---- */

/* A reaped helper that ended after a job: retired if it exited 0 (status -1:
 * the worker reaped it, its status is unknown), else it died. */
static void count_end(struct cps_pool *pool, const struct pool_helper *h)
{
    char how[128];
    int st = h->proc.status;

    if (!h->ending_after_job)
        return;
    if (st == -1 || (WIFEXITED(st) && WEXITSTATUS(st) == 0)) {
        pool->stats.retired++;
        return;
    }
    cps__describe_status(st, how, sizeof(how));
    cps__log_warn("pool: reusing helper %s (pid %d) %s after a job", h->proc.path, (int)h->proc.pid,
                  how);
    pool->stats.died++;
}

static void min_deadline(uint64_t *next, uint64_t d)
{
    if (!*next || d < *next)
        *next = d;
}

/* Reap, kill, expire and drop what is due; *next: the earliest next deadline. */
static void sweep(struct cps_pool *pool, uint64_t now, uint64_t *next)
{
    struct pool_helper **link = &pool->helpers;

    while (*link) {
        struct pool_helper *h = *link;
        bool drop = false;

        switch (h->state) {
        case H_TAKEN:
            drop = true;
            break;
        case H_READY:
            if (now - h->since >= pool->max_idle_us) {
                cps__log_debug("pool: helper %d idle for %llu ms; closing it", (int)h->proc.pid,
                               (unsigned long long)(now - h->since) / 1000);
                pool->stats.expired++;
                close_helper(pool, h, false, now);
            } else
                min_deadline(next, h->since + pool->max_idle_us);
            break;
        case H_STARTING:
            if (now - h->since >= HELLO_TIMEOUT_US) {
                cps__log_warn("pool: helper %s (pid %d) did not say hello within %llu s; "
                              "killed it",
                              h->proc.path, (int)h->proc.pid, HELLO_TIMEOUT_US / 1000000);
                pool->stats.died++;
                config_failed(h->cfg, now);
                close_helper(pool, h, true, now);
            } else
                min_deadline(next, h->since + HELLO_TIMEOUT_US);
            break;
        case H_CLOSING:
            break;
        }
        if (h->state == H_CLOSING) {
            if (cps__helper_try_reap(&h->proc)) {
                pool->stats.reaped++;
                count_end(pool, h);
                cps__helper_finish(&h->proc, -1);
                drop = true;
            } else {
                if (now - h->since >= h->grace_us)
                    cps__helper_kill(&h->proc);
                else
                    min_deadline(next, h->since + h->grace_us);
                if (h->proc.pidfd < 0)
                    min_deadline(next, now + REAP_POLL_US);
            }
        }
        if (drop) {
            *link = h->next;
            free(h);
        } else
            link = &h->next;
    }
    /* Configurations unused for max_idle_ms with no helper left are forgotten. */
    for (struct pool_config **cl = &pool->configs; *cl;) {
        struct pool_config *c = *cl;
        if (now - c->last_used >= pool->max_idle_us && c->ready == 0 && c->starting == 0) {
            *cl = c->next;
            free(c);
        } else
            cl = &c->next;
    }
}

/* Spawn what the used configurations lack. posix_spawn runs without the lock
 * so runs can take helpers meanwhile. */
static void refill(struct cps_pool *pool, uint64_t now, uint64_t *next)
{
    for (struct pool_config *c = pool->configs; c && !pool->stopping; c = c->next) {
        struct pool_helper *h;
        struct cps_job job;
        struct cps_error err;
        int r;

        if (now - c->last_used >= pool->max_idle_us)
            continue;
        min_deadline(next, c->last_used + pool->max_idle_us);
        if (c->retry_at > now) {
            min_deadline(next, c->retry_at);
            continue;
        }
        while (c->ready + c->starting < pool->size && !pool->stopping) {
            if (!(h = calloc(1, sizeof(*h))))
                return;
            config_job(c, &job);
            c->starting++;
            pthread_mutex_unlock(&pool->mu);
            r = cps__helper_spawn_reusing(pool->helper_path, &job, config_jobs(pool, c), &h->proc,
                                          &err);
            pthread_mutex_lock(&pool->mu);
            c->starting--;
            if (r < 0) {
                cps__log_warn("pool: %s: %s", err.stage, err.message);
                free(h);
                config_failed(c, now);
                min_deadline(next, c->retry_at);
                break;
            }
            h->cfg = c;
            h->state = H_STARTING;
            h->since = cps__now_us();
            h->reader.max_frame = CPS_MAX_FRAME;
            c->starting++;
            pool->stats.spawned++;
            insert_by_age(pool, h);
        }
    }
}

static bool hello_matches(const struct pool_config *c, const struct cps_hello *hello)
{
    return (!c->has_uid || hello->uid == c->uid) && (!c->has_gid || hello->gid == c->gid) &&
           (!c->backend || hello->backend == c->backend) &&
           (!c->has_seccomp || hello->seccomp == c->seccomp);
}

/* The hello.reuse h must send: the jobs it still takes, counting the next
 * (N, N-1, ..., 1 for --jobs-per-helper N; docs/REUSE.md), or 0 (no key) for
 * a one-job helper. */
static uint32_t reuse_expected(const struct pool_helper *h)
{
    const struct cps_helper_proc *p = &h->proc;

    return p->jobs_per_helper > 1 ? p->jobs_per_helper - p->jobs_done : 0;
}

/* A hello of the wrong configuration or reuse count: err says which. */
static void hello_refused(const struct pool_helper *h, const struct cps_hello *hello,
                          struct cps_error *err)
{
    if (!hello_matches(h->cfg, hello))
        cps__error_set(err, CPS_STAGE_HELLO, EPROTO, NULL,
                       "it was prepared with uid %u gid %u backend %s seccomp %s, which is "
                       "not the configuration it was spawned for",
                       (unsigned)hello->uid, (unsigned)hello->gid,
                       cps__backend_name((enum cps_backend)hello->backend),
                       hello->seccomp ? "on" : "off");
    else if (hello->reuse == 0 && h->proc.jobs_done == 0)
        cps__error_set(err, CPS_STAGE_HELLO, EPROTO,
                       "install a helper that supports --jobs-per-helper (hello key \"reuse\"), "
                       "or set the pool's jobs_per_helper to 1",
                       "it was spawned with --jobs-per-helper %u but its hello has no \"reuse\": "
                       "this helper does not support reuse",
                       h->proc.jobs_per_helper);
    else
        cps__error_set(err, CPS_STAGE_HELLO, EPROTO, NULL,
                       "after %u job(s) its hello offers %u more, where %u were due "
                       "(--jobs-per-helper %u)",
                       h->proc.jobs_done, (unsigned)hello->reuse, (unsigned)reuse_expected(h),
                       h->proc.jobs_per_helper);
}

/* A reusing helper handed back after a job closed its socket instead of
 * saying hello: it served its jobs, or found its cleanup doubtful (it never
 * continues then). Not a failure of the configuration: no backoff. */
static void ended_after_job(struct cps_pool *pool, struct pool_helper *h, uint64_t now)
{
    cps__log_debug("pool: reusing helper %d ended after %u job(s)", (int)h->proc.pid,
                   h->proc.jobs_done);
    close_helper(pool, h, false, now);
    h->grace_us = RETIRE_GRACE_US;
    h->ending_after_job = true;
}

/* A starting helper's socket is readable: its hello, an error frame, or EOF. */
static void read_hello(struct cps_pool *pool, struct pool_helper *h, uint64_t now)
{
    struct cps_error err;
    struct cps_msg m;
    uint8_t *payload;
    size_t len;
    int r = cps__frame_reader_feed(&h->reader, h->proc.sock, &err);

    if (r == 0)
        return;
    if (r == -ECONNRESET && h->proc.jobs_done > 0) {
        ended_after_job(pool, h, now);
        return;
    }
    if (r > 0) {
        cps__frame_reader_take(&h->reader, &payload, &len);
        r = cps__msg_decode(payload, len, &m, &err);
        free(payload);
        if (r == 0 && m.type == CPS_MSG_HELLO && hello_matches(h->cfg, &m.u.hello) &&
            m.u.hello.reuse == reuse_expected(h)) {
            cps__helper_hello_take(&h->proc.hello, &m.u.hello);
            h->cfg->starting--;
            h->cfg->ready++;
            h->cfg->failures = 0;
            h->state = H_READY;
            h->since = now;
            cps__msg_free(&m);
            return;
        }
        if (r == 0 && m.type == CPS_MSG_ERROR)
            cps__error_set_named(&err, m.u.error.stage, m.u.error.errnum, m.u.error.hint, "%s",
                                 m.u.error.message);
        else if (r == 0 && m.type == CPS_MSG_HELLO)
            hello_refused(h, &m.u.hello, &err);
        else if (r == 0)
            cps__error_set(&err, CPS_STAGE_HELLO, EPROTO, NULL,
                           "it sent another message before hello");
        if (r == 0)
            cps__msg_free(&m);
    }
    cps__log_warn("pool: helper %s (pid %d) did not become ready%s: %s: %s%s%s%s", h->proc.path,
                  (int)h->proc.pid, h->proc.jobs_done ? " again after a job" : "", err.stage,
                  err.message, err.hint[0] ? "; hint: " : "", err.hint,
                  h->proc.jobs_per_helper > 1 && h->proc.jobs_done == 0 && r == -ECONNRESET
                      ? " (a helper that does not support --jobs-per-helper exits at once with "
                        "a usage error)"
                      : "");
    pool->stats.died++;
    config_failed(h->cfg, now);
    close_helper(pool, h, true, now);
}

struct watch {
    struct pollfd *fds;
    struct pool_helper **who;
    enum hstate *was;
    size_t n, cap;
};

static bool watch_add(struct watch *w, int fd, short events, struct pool_helper *h)
{
    if (w->n == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 16;
        struct pollfd *fds = realloc(w->fds, cap * sizeof(*fds));
        if (fds)
            w->fds = fds;
        struct pool_helper **who = realloc(w->who, cap * sizeof(*who));
        if (who)
            w->who = who;
        enum hstate *was = realloc(w->was, cap * sizeof(*was));
        if (was)
            w->was = was;
        if (!fds || !who || !was)
            return false;
        w->cap = cap;
    }
    w->fds[w->n] = (struct pollfd){.fd = fd, .events = events};
    w->who[w->n] = h;
    w->was[w->n] = h ? h->state : H_TAKEN;
    w->n++;
    return true;
}

static void build_watch(struct cps_pool *pool, struct watch *w)
{
    w->n = 0;
    watch_add(w, pool->wake_fd, POLLIN, NULL);
    for (struct pool_helper *h = pool->helpers; h; h = h->next) {
        switch (h->state) {
        case H_STARTING:
            watch_add(w, h->proc.sock, POLLIN, h);
            break;
        case H_READY:
            watch_add(w, h->proc.sock, POLLIN | POLLRDHUP, h);
            if (h->proc.pidfd >= 0)
                watch_add(w, h->proc.pidfd, POLLIN, h);
            break;
        case H_CLOSING:
            if (h->proc.pidfd >= 0)
                watch_add(w, h->proc.pidfd, POLLIN, h);
            break;
        case H_TAKEN:
            break;
        }
    }
}

static void handle_events(struct cps_pool *pool, struct watch *w, uint64_t now)
{
    for (size_t i = 0; i < w->n; i++) {
        struct pool_helper *h = w->who[i];

        if (!w->fds[i].revents)
            continue;
        if (!h) {
            uint64_t v;
            (void)!read(pool->wake_fd, &v, sizeof(v));
            continue;
        }
        if (h->state != w->was[i])
            continue;
        switch (h->state) {
        case H_STARTING:
            read_hello(pool, h, now);
            break;
        case H_READY:
            cps__log_debug("pool: idle helper %d talked, hung up or exited; closing it",
                           (int)h->proc.pid);
            pool->stats.died++;
            close_helper(pool, h, true, now);
            break;
        case H_CLOSING:
            /* Reaped by the next sweep. */
            break;
        case H_TAKEN:
            break;
        }
    }
}

static int timeout_ms(uint64_t now, uint64_t next)
{
    if (!next)
        return -1;
    if (next <= now)
        return 0;
    uint64_t ms = (next - now + 999) / 1000;
    return ms > 60000 ? 60000 : (int)ms;
}

/* A reusing helper handed back is about to say hello: closing the socket
 * under it would make it report a failed write, while EOF after its hello is
 * its normal end (exit 0). Wait up to wait_ms for the hello (or its exit);
 * returns what is left of wait_ms. */
static int let_hello_out(const struct cps_helper_proc *p, int wait_ms)
{
    struct pollfd fds[2] = {
        {.fd = p->sock, .events = POLLIN},
        {.fd = p->pidfd, .events = POLLIN},
    };
    uint64_t t0 = cps__now_us(), spent;
    int r;

    if (wait_ms <= 0)
        return 0;
    while ((r = poll(fds, p->pidfd >= 0 ? 2 : 1, wait_ms)) < 0 && errno == EINTR)
        ;
    spent = (cps__now_us() - t0) / 1000;
    return spent >= (uint64_t)wait_ms ? 0 : wait_ms - (int)spent;
}

/* Free: every helper not taken is killed and reaped; nothing keeps running.
 * An idle helper has mounted nothing on the host and holds no build dir, so
 * SIGKILL loses nothing. A retired one (its job is over), and a reusing one
 * handed back that has not said hello again (it is cleaning up after its job),
 * get the rest of their grace time to finish: as root a helper still removes
 * its job cgroup when it exits. The latter says hello, then reads EOF once its
 * socket is closed, and exits. */
static void shut_down(struct cps_pool *pool)
{
    uint64_t now = cps__now_us();

    while (pool->helpers) {
        struct pool_helper *h = pool->helpers;
        pool->helpers = h->next;
        if (h->state != H_TAKEN) {
            int wait_ms = 0;

            bool after_job = (h->state == H_CLOSING && h->grace_us == RETIRE_GRACE_US) ||
                             (h->state == H_STARTING && h->proc.jobs_done > 0);

            if (after_job && now - h->since < RETIRE_GRACE_US)
                wait_ms = (int)((RETIRE_GRACE_US - (now - h->since)) / 1000);
            if (h->state == H_STARTING && h->proc.sock >= 0) {
                wait_ms = let_hello_out(&h->proc, wait_ms);
                close(h->proc.sock);
                h->proc.sock = -1;
            }
            cps__frame_reader_reset(&h->reader);
            if (!h->proc.reaped)
                pool->stats.reaped++;
            cps__helper_finish(&h->proc, wait_ms);
            count_end(pool, h);
        }
        free(h);
    }
    while (pool->configs) {
        struct pool_config *c = pool->configs;
        pool->configs = c->next;
        free(c);
    }
}

static void *pool_main(void *arg)
{
    struct cps_pool *pool = arg;
    struct watch w = {0};

    pthread_mutex_lock(&pool->mu);
    while (!pool->stopping) {
        uint64_t now = cps__now_us(), next = 0;
        int n;

        sweep(pool, now, &next);
        refill(pool, now, &next);
        if (pool->stopping)
            break;
        build_watch(pool, &w);
        pthread_mutex_unlock(&pool->mu);
        n = poll(w.fds, w.n, timeout_ms(cps__now_us(), next));
        pthread_mutex_lock(&pool->mu);
        if (n > 0)
            handle_events(pool, &w, cps__now_us());
    }
    shut_down(pool);
    pthread_mutex_unlock(&pool->mu);
    free(w.fds);
    free(w.who);
    free(w.was);
    return NULL;
}

CPS_API int cps_pool_new(const struct cps_pool_options *opts, struct cps_pool **out,
                         struct cps_error *err)
{
    struct cps_run_options ro = {.helper_path = opts ? opts->helper_path : NULL};
    struct cps_pool *pool;
    pthread_attr_t attr;
    sigset_t all;
    int r;

    *out = NULL;
    cps__error_clear(err);
    cps__log_init("libcachepot-sandbox");
    if (opts && opts->jobs_per_helper > CPS_POOL_MAX_JOBS_PER_HELPER)
        return cps__error_set(err, CPS_STAGE_POOL, EINVAL, NULL,
                              "jobs_per_helper %u is larger than %u", opts->jobs_per_helper,
                              CPS_POOL_MAX_JOBS_PER_HELPER);
    if (!(pool = calloc(1, sizeof(*pool))))
        return cps__error_set(err, CPS_STAGE_POOL, ENOMEM, NULL, "pool");
    pool->size = opts && opts->size ? opts->size : DEFAULT_SIZE;
    pool->jobs_per_helper = opts && opts->jobs_per_helper > 1 ? opts->jobs_per_helper : 1;
    pool->max_idle_us =
        (opts && opts->max_idle_ms ? opts->max_idle_ms : DEFAULT_MAX_IDLE_MS) * 1000u;
    pool->helper_path = strdup(cps__helper_path(&ro));
    pool->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (!pool->helper_path || pool->wake_fd < 0) {
        r = pool->helper_path ? errno : ENOMEM;
        if (pool->wake_fd >= 0)
            close(pool->wake_fd);
        free(pool->helper_path);
        free(pool);
        return cps__error_set(err, CPS_STAGE_POOL, r, NULL, "eventfd: %s", cps__errtext(r));
    }
    pthread_mutex_init(&pool->mu, NULL);
    pthread_cond_init(&pool->runs_done, NULL);
    /* The pool thread takes no signal of the worker's (glibc 2.32+); the
     * helpers it spawns get all signals unblocked by posix_spawn attributes. */
    sigfillset(&all);
    r = pthread_attr_init(&attr);
    if (r == 0) {
        r = pthread_attr_setsigmask_np(&attr, &all);
        if (r == 0)
            r = pthread_create(&pool->thread, &attr, pool_main, pool);
        pthread_attr_destroy(&attr);
    }
    if (r != 0) {
        pthread_cond_destroy(&pool->runs_done);
        pthread_mutex_destroy(&pool->mu);
        close(pool->wake_fd);
        free(pool->helper_path);
        free(pool);
        return cps__error_set(err, CPS_STAGE_POOL, r, NULL, "cannot start the pool thread: %s",
                              cps__errtext(r));
    }
    *out = pool;
    return 0;
}

CPS_API void cps_pool_free(struct cps_pool *pool)
{
    if (!pool)
        return;
    pthread_mutex_lock(&pool->mu);
    /* Runs on warm helpers must end first: a helper dies with the thread
     * that spawned it (PR_SET_PDEATHSIG), and that thread ends below. */
    while (pool->stats.in_use > 0)
        pthread_cond_wait(&pool->runs_done, &pool->mu);
    pool->stopping = true;
    wake(pool);
    pthread_mutex_unlock(&pool->mu);
    pthread_join(pool->thread, NULL);
    pthread_cond_destroy(&pool->runs_done);
    pthread_mutex_destroy(&pool->mu);
    close(pool->wake_fd);
    free(pool->helper_path);
    free(pool);
}
