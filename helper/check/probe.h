/*
 * probe.h - the host probes behind `cachepot-dist-sandbox --check`.
 *
 * Each probe tries one step the helper takes for a job, for real, and says
 * whether it worked, why not, and what to change. Probes that need namespaces
 * run in a forked child (the helper is single-threaded, so fork is safe; and
 * unshare(CLONE_NEWUSER) needs a single-threaded caller, unshare(2)), so the
 * checking process itself never changes namespace. Every mount happens in a
 * child's private mount namespace and disappears with it; every process a
 * probe starts is reaped before the probe returns.
 */
#ifndef CPS_HELPER_PROBE_H
#define CPS_HELPER_PROBE_H

#include <linux/limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "bwrap.h"
#include "host_facts.h"

enum cps_probe_status {
    CPS_PROBE_OK = 0,
    CPS_PROBE_FAILED,
    CPS_PROBE_SKIPPED, /* not tried: a probe it depends on failed (detail says which) */
};

/* Plain data, so a child can send it to its parent in one pipe write
 * (smaller than PIPE_BUF, hence atomic). */
struct cps_probe_result {
    int status;       /* enum cps_probe_status */
    int errnum;       /* errno of the step that failed, 0 when none applies */
    int64_t value;    /* a probe's number (the netns probe: microseconds) */
    char detail[768]; /* what was tried and what happened */
    char hint[768];   /* what to change; empty when ok */
};

/* Fill r. fmt/hint may use printf conversions; hint may be NULL. */
void cps__probe_set(struct cps_probe_result *r, enum cps_probe_status status, int errnum,
                    const char *hint, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Append text to r->detail (truncating). */
void cps__probe_append(struct cps_probe_result *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * Run fn(arg, r) in a forked child and copy its result into *r. The child gets
 * PR_SET_PDEATHSIG(SIGKILL), so it cannot outlive the check; when it sends
 * nothing within timeout_ms it is killed. A child that dies without a result
 * (crash, signal) gives a failed result that says so.
 */
typedef void (*cps_probe_fn)(void *arg, struct cps_probe_result *r);
void cps__probe_in_child(cps_probe_fn fn, void *arg, int timeout_ms, struct cps_probe_result *r);

/*
 * In a probe child: unshare(CLONE_NEWUSER | extra_flags), then map uid and gid
 * 0 inside to the caller's effective ids (setgroups "deny" first, as
 * user_namespaces(7) requires of an unprivileged writer), as the helper does.
 * When CLONE_NEWNS is in extra_flags, "/" is made MS_REC|MS_PRIVATE so nothing
 * mounted afterwards can propagate to the host. On failure fills r (failed,
 * with the step and errno) and returns -errno.
 */
int cps__probe_enter_userns(int extra_flags, struct cps_probe_result *r);

/* Write text to path (open O_WRONLY, one write). Returns 0 or -errno. */
int cps__probe_write_file(const char *path, const char *text);

/* Read the integer in a /proc/sys file. Returns 0 and *out, -ENOENT when the
 * knob does not exist on this kernel, or -errno. */
int cps__probe_read_sysctl(const char *path, long *out);

/* Remove path and everything under it, making directories searchable first
 * (overlayfs leaves a mode 000 "work" directory behind). Does not follow
 * symlinks or cross into other filesystems. Returns 0 or the first -errno. */
int cps__probe_remove_tree(const char *path);

/* ---- the probes (probe_ns.c, probe_overlay.c, probe_bwrap.c, probe_cgroup.c) ---- */

/* Timeout of one probe child: generous, it only stops a hung step. */
#define CPS_PROBE_TIMEOUT_MS 30000

/* The user namespace knobs, read without creating anything. A knob that does
 * not exist on this kernel has has_* false. */
struct cps_userns_facts {
    bool root;              /* euid 0 */
    bool in_user_namespace; /* /proc/self/uid_map is not the initial identity map */
    bool has_max_user_namespaces;
    long max_user_namespaces; /* user.max_user_namespaces */
    bool has_unprivileged_clone;
    long unprivileged_clone; /* kernel.unprivileged_userns_clone (Debian, Ubuntu) */
    bool has_apparmor_restrict;
    long apparmor_restrict; /* kernel.apparmor_restrict_unprivileged_userns (Ubuntu 23.10+) */
};
void cps__probe_userns_facts(struct cps_userns_facts *f);

/* unshare(CLONE_NEWUSER) alone. */
void cps__probe_userns(const struct cps_userns_facts *f, struct cps_probe_result *r);
/* unshare(CLONE_NEWUSER) + setgroups deny + uid_map + gid_map. */
void cps__probe_idmap(const struct cps_userns_facts *f, struct cps_probe_result *r);
/* After the maps: the helper's other namespaces, NS|PID|NET|IPC|UTS|CGROUP. */
void cps__probe_namespaces(struct cps_probe_result *r);
/* A fresh procfs mounted (then unmounted) on dir by PID 1 of a new PID
 * namespace, inside a new user + mount namespace. */
void cps__probe_proc(const char *dir, struct cps_probe_result *r);
/* The time unshare(CLONE_NEWNET) takes inside a new user namespace, in
 * microseconds (r->value: the median of 3). */
void cps__probe_netns(struct cps_probe_result *r);

/* Kernel overlayfs mounted in a user namespace on base/{lower,upper,work,merged}
 * (made here, base must exist), with the helper's options; a file read through
 * it and one written, then unmounted. */
void cps__probe_overlay_native(const char *base, const struct cps_kernel_version *kv,
                               struct cps_probe_result *r);

struct cps_fuse_facts {
    bool found; /* fuse-overlayfs in PATH */
    char path[PATH_MAX];
    bool dev_exists;   /* /dev/fuse is a character device */
    unsigned dev_mode; /* its permission bits */
    unsigned dev_uid, dev_gid;
    bool dev_usable; /* access(R_OK|W_OK) */
};
/* fuse-overlayfs found, /dev/fuse usable, and a real mount in a user namespace
 * on base/... as for the native probe (fuse-overlayfs runs in the foreground
 * as a child of the probe, and is reaped). */
void cps__probe_fuse(const char *base, struct cps_fuse_facts *f, struct cps_probe_result *r);

/* bwrap found, its version >= the minimum, and a trivial command run with the
 * backend's argv from inside a new user + mount namespace, as the helper runs
 * it. *b is filled when bwrap was found (b->path[0] != 0). */
void cps__probe_bwrap(struct cps_bwrap *b, struct cps_probe_result *r);

struct cps_cgroup_facts {
    char layout[16];       /* "unified", "hybrid", "legacy" (v1 only), "none" */
    char dir[PATH_MAX];    /* this process's cgroup v2 directory, or "" */
    char controllers[256]; /* cgroup.controllers of that directory */
    bool writable;         /* a child cgroup could be created (and was removed) */
};
/* cgroup v2 delegation: is there a cgroup2 hierarchy and may we create a child
 * of our cgroup. Informational: no backend needs it. */
void cps__probe_cgroup(struct cps_cgroup_facts *f, struct cps_probe_result *r);

#endif
