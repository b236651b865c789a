/* helper_proc.h - starting the helper with posix_spawn, ending it, reaping it. */
#ifndef CPS_PARENT_HELPER_PROC_H
#define CPS_PARENT_HELPER_PROC_H

#include <sys/types.h>

#include "cachepot-sandbox.h"
#include "proto.h"

/* What a helper said in hello, when the pool read it before the run. */
struct cps_helper_hello {
    bool seen;
    char version[32];
    uint64_t max_frame, max_chunk;
    uint32_t features; /* hello.features, or CPS_FEATURES_0_1_0 when it had none */
    /* hello.reuse: jobs the helper still takes counting the one this hello
     * invites (docs/REUSE.md); 0: a one-job helper (no such key). */
    uint32_t reuse;
};

struct cps_helper_proc {
    const char *path; /* borrowed */
    pid_t pid;        /* > 0 until reaped */
    int pidfd;        /* pidfd_open(2), or -1 where the kernel has none */
    int sock;         /* our end of the socketpair, O_NONBLOCK */
    bool reaped;
    int status;                    /* wait status once reaped (-1: reaped by someone else) */
    struct cps_helper_hello hello; /* seen: a warm helper, hello already read */
    uint64_t spawned_at;           /* cps__now_us() at the spawn (the pool's age order) */
    unsigned jobs_per_helper;      /* spawned with --jobs-per-helper this (> 1), else 1 */
    unsigned jobs_done;            /* jobs this helper served before the current one */
};

/* Keep what a run needs of hello (borrowed) in *out; seen becomes true. */
void cps__helper_hello_take(struct cps_helper_hello *out, const struct cps_hello *hello);

/* The helper to run: opts->helper_path > $CACHEPOT_SANDBOX_HELPER > the
 * installed path. Returns a borrowed string. */
const char *cps__helper_path(const struct cps_run_options *opts);

/*
 * Spawn the helper for job (borrowed; its uid/gid/backend/seccomp become the
 * spawn-time options). Never forks: posix_spawn(3) with the helper's socket at
 * fd 3, stdin/stdout on /dev/null, stderr inherited, every other fd closed, all
 * signals unblocked and at their default. Returns 0 or -errno (stage "spawn").
 */
int cps__helper_spawn(const char *path, const struct cps_job *job, struct cps_helper_proc *p,
                      struct cps_error *err);

/* The same, for a helper that serves up to jobs_per_helper jobs in sequence
 * (--jobs-per-helper, docs/REUSE.md); 0 or 1: one job, as cps__helper_spawn. */
int cps__helper_spawn_reusing(const char *path, const struct cps_job *job, unsigned jobs_per_helper,
                              struct cps_helper_proc *p, struct cps_error *err);

/* SIGKILL the helper if it has not been reaped yet. */
void cps__helper_kill(struct cps_helper_proc *p);

/* Has the helper exited? Non-blocking; reaps it when it has. */
bool cps__helper_try_reap(struct cps_helper_proc *p);

/* Wait for the helper to exit, killing it after timeout_ms (< 0: wait forever),
 * reap it, close the fds. */
void cps__helper_finish(struct cps_helper_proc *p, int timeout_ms);

/* "exited with status 3" / "was killed by signal 9 (Killed)" into buf. */
void cps__describe_status(int status, char *buf, size_t size);

#endif
