/*
 * backend.h - the run step: turning the prepared root into a running job.
 *
 * O prepares the root the same way for every backend (namespaces, overlay,
 * inputs). Then I (PID 1 of the job's PID namespace) launches the job with the
 * backend the helper was spawned with:
 *   userns      I sets up /proc, /dev, /tmp, pivot_root and forks the
 *               compiler itself (rootfs.c, exec.c);
 *   bubblewrap  I mounts /dev and /tmp into the root as the userns backend
 *               does (in a mount namespace of its own), then forks bwrap
 *               (found and version-checked by O before I was forked) on it
 *               instead of the compiler: bwrap does /proc, its own
 *               namespaces and the exec (backend_bwrap.c).
 * A backend provides a check (run by O before anything is created) and a
 * launch (run by I) with the signatures below, and is added to backend.c.
 */
#ifndef CPS_HELPER_BACKEND_H
#define CPS_HELPER_BACKEND_H

#include <stdint.h>
#include <sys/types.h>

#include "backend_launch.h"
#include "bwrap.h"
#include "error.h"

/* What O learns about its backend before I is forked; I inherits the copy
 * (fork), so no per-job probe runs in I. */
struct cps_backend_prep {
    uint32_t backend;           /* the helper's backend: one enum cps_backend */
    int bwrap_rc;               /* bubblewrap: 0 when bwrap was found and is new enough */
    struct cps_error bwrap_err; /* else why, stage "bubblewrap" (path, version, hint) */
    struct cps_bwrap bwrap;     /* the bwrap found, when bwrap_rc is 0 */
};

/* In O, before I is forked (before hello): for bubblewrap, find bwrap and
 * check its version (one `bwrap --version`), and list the /proc files it must
 * cover (proc_mask.h); a failure is kept in *bp and reported by
 * cps__backend_check when a job arrives. Always returns 0. */
int cps__backend_prepare(uint32_t backend, struct cps_backend_prep *bp);

/* In O, before anything is created: can bp's backend run a job? Stage
 * "backend", or "bubblewrap" for a bwrap that is missing or too old. */
int cps__backend_check(const struct cps_backend_prep *bp, struct cps_error *err);

/* In I. Returns 0 and *pid of the process whose exit ends the job, once its
 * exec succeeded; or -errno with err (stage of the failing step; "exec" for
 * an exec failure, after the failed child was reaped). */
int cps__backend_launch(const struct cps_backend_prep *bp, struct cps_launch *l, pid_t *pid,
                        struct cps_error *err);

/* The userns backend (backend_userns.c). */
int cps__backend_userns_launch(struct cps_launch *l, pid_t *pid, struct cps_error *err);

/*
 * The bubblewrap backend (backend_bwrap.c), in I: no /proc or pivot_root of
 * our own; checks that argv[0] resolves to an executable in the root (stage
 * "exec", the same message as the userns backend), unshares a mount
 * namespace and mounts /dev and /tmp into the root (cps__rootfs_mount_dev_tmp,
 * stages "mount", "dev", "tmp"), then forks
 * bwrap with cps__bwrap_argv's flags (plus --seccomp with the helper's filter
 * when it is on) passed through `--args 5` (a memfd; only "--" and the job's
 * argv stay in bwrap's argv, which the job sees as /proc/1/cmdline), an
 * empty environment, stdin /dev/null, stdout/stderr the job's pipes and the
 * job's rlimits. bwrap's own diagnostics, should its
 * setup fail, reach the worker as the job's stderr with exit code 1.
 */
int cps__backend_bwrap_launch(const struct cps_bwrap *bw, struct cps_launch *l, pid_t *pid,
                              struct cps_error *err);

#endif
