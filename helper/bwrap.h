/*
 * bwrap.h - the bubblewrap backend's pieces that need no namespace: finding
 * bwrap, checking its version, and building the argv that runs a job on a root
 * the helper already prepared (overlay mounted, inputs written).
 *
 * bwrap runs from inside the helper's own user + mount namespace and creates
 * nested ones (--unshare-user ...): checked on kernel 6.18 with bwrap 0.8.0,
 * as root and as an unprivileged user, with the outer namespace mapping the
 * caller to 0 or to another id and with or without an outer PID namespace.
 */
#ifndef CPS_HELPER_BWRAP_H
#define CPS_HELPER_BWRAP_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "error.h"
#include "proc_mask.h"
#include "proto.h"

/* Environment variable naming the bwrap to run (else PATH is searched). */
#define CPS_BWRAP_ENV "CACHEPOT_BWRAP"

/* Oldest bubblewrap accepted: the floor, and old enough for every flag
 * the argv uses unconditionally (--die-with-parent and --cap-drop appeared in
 * 0.2.0, --unshare-cgroup and --hostname before that). */
#define CPS_BWRAP_MIN_MAJOR 0
#define CPS_BWRAP_MIN_MINOR 3
#define CPS_BWRAP_MIN_MICRO 0

struct cps_bwrap_version {
    unsigned major;
    unsigned minor;
    unsigned micro;
};

/* A bwrap that was found and whose version is known. */
struct cps_bwrap {
    char path[PATH_MAX];
    struct cps_bwrap_version version;
    /* /proc files to cover in the job's /proc (proc_mask.h); filled by
     * cps__backend_prepare from the host's /proc, count 0: none. */
    struct cps_proc_masks proc_masks;
    /* Set by main.c for a helper serving several jobs, whose I has an IPC
     * namespace of its own per job: bwrap then makes none (no --unshare-ipc),
     * so that the job's IPC objects are in I's namespace, which I empties
     * before it reports the job's end (ipc_clear.h). */
    bool ipc_ns_of_init;
};

/*
 * Find bwrap: $CACHEPOT_BWRAP when set and non-empty (then it must be an
 * executable file: no silent fallback to PATH when an operator named one),
 * else a PATH search. Fills path (size bytes). Returns 0, or -ENOENT /
 * -ENAMETOOLONG with err->stage "bubblewrap" and a hint.
 */
int cps__bwrap_find(char *path, size_t size, struct cps_error *err);

/*
 * Parse the output of `bwrap --version` (text[0..len), borrowed): "bubblewrap
 * X.Y.Z", optionally followed by whitespace; "X.Y" means X.Y.0. Returns 0 or
 * -EINVAL for anything else.
 */
int cps__bwrap_version_parse(const char *text, size_t len, struct cps_bwrap_version *out);

/* -1, 0, 1 as a is older than, equal to, newer than major.minor.micro. */
int cps__bwrap_version_cmp(const struct cps_bwrap_version *a, unsigned major, unsigned minor,
                           unsigned micro);

/*
 * Run `path --version` (posix_spawn, stdout and stderr on a pipe, stdin
 * /dev/null, an empty environment, every fd above 2 closed in the child) and
 * parse what it prints. A bwrap that prints nothing within 10 seconds is
 * killed. Returns 0, or -errno with err->stage "bubblewrap": -ENOEXEC when the
 * output is not a version (the message quotes it), -ETIMEDOUT, spawn errors.
 */
int cps__bwrap_query_version(const char *path, struct cps_bwrap_version *out,
                             struct cps_error *err);

/*
 * cps__bwrap_find + cps__bwrap_query_version + the minimum version check.
 * Returns 0 and fills *out, or -errno with err->stage "bubblewrap"; a bwrap
 * older than CPS_BWRAP_MIN_* gives -ENOTSUP and a message naming the version
 * and the path found.
 */
int cps__bwrap_probe(struct cps_bwrap *out, struct cps_error *err);

/*
 * Build the argv that runs job (borrowed) with bwrap (borrowed) on target, the
 * prepared root (host path as seen by the helper):
 *
 *   PATH --die-with-parent --new-session --cap-drop ALL --unshare-user
 *   --unshare-ipc --unshare-pid --unshare-net --unshare-uts --unshare-cgroup
 *   [--uid N] [--gid N] --hostname HOST --bind TARGET / --proc /proc
 *   --ro-bind-try /proc/X /proc/X (each of cps__proc_read_only)
 *   --dev-bind TARGET/dev /dev --ro-bind-try /dev/null /proc/1/mem
 *   --ro-bind-try /dev/null /proc/1/task/1/mem --chdir CWD [--clearenv]
 *   --setenv K V ... -- ARGV...
 *
 * After "--proc /proc" and its read-only entries, "--ro-bind /dev/null
 * /proc/NAME" for each of bwrap->proc_masks (the same files the userns
 * backend covers).
 * HOST is CPS_SANDBOX_HOSTNAME, the userns backend's hostname.
 * --uid/--gid appear when the job carries them (otherwise bwrap keeps the id
 * the helper has in its own namespace, which is the configured one).
 * TARGET's /dev and /tmp must be mounted by the caller first
 * (cps__rootfs_mount_dev_tmp); --bind brings them along. --clearenv needs
 * bwrap >= 0.5.0; the caller must spawn bwrap with an empty environment in any
 * case, so that nothing of the helper's environment (LD_PRELOAD, ...) reaches
 * bwrap itself or the compiler. bwrap always sets PWD to the cwd in the
 * compiler's environment (it does so after --clearenv and --unsetenv).
 *
 * *argv_out is new and NULL-terminated: free it with cps__bwrap_argv_free().
 * Returns 0, -EINVAL (empty job argv, NULL cwd or target) or -ENOMEM, with
 * err->stage "bubblewrap".
 */
int cps__bwrap_argv(const struct cps_job *job, const struct cps_bwrap *bwrap, const char *target,
                    char ***argv_out, struct cps_error *err);

/* Free an argv from cps__bwrap_argv (taken). NULL is fine. */
void cps__bwrap_argv_free(char **argv);

#endif
