/*
 * overlay.h - mounting the job root at BUILD/target.
 *
 * The root is the toolchain dir (read-only to the job, never modified) with the
 * job's writes going somewhere else. How that is achieved is the overlay mode:
 *   native  kernel overlayfs, writes in BUILD/upper (overlay_native.c)
 *   fuse    fuse-overlayfs, writes in BUILD/upper (overlay_fuse.c)
 *   bind    a tmpfs root holding the toolchain's top-level entries bind-mounted
 *           read-only, the cwd and the output dirs bound from BUILD/upper
 *           (overlay_bind.c)
 *   auto    native, then fuse, then bind: the first one that mounts
 * All of it runs in O, inside the helper's user and mount namespaces (no mount
 * ever reaches the host's mount table).
 *
 * Use: zero a struct cps_overlay_state, fill its inputs, then
 *   cps__overlay_plan()     before anything is created: which modes can be
 *                           tried (a job that cannot run leaves nothing behind)
 *   cps__overlay_mount()    mount the first planned mode that works
 *   cps__overlay_unmount()  on every exit path; a no-op when nothing is mounted
 * A mode implementation provides check, mount and unmount with the signatures
 * of struct cps_overlay_mode_ops (overlay.c) and is added to its table; a mount
 * that fails undoes its own partial work before it returns.
 */
#ifndef CPS_HELPER_OVERLAY_H
#define CPS_HELPER_OVERLAY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"
#include "proto.h"

struct cps_root_paths {
    const char *toolchain; /* lower layer, host path (borrowed) */
    const char *upper;     /* BUILD/upper */
    const char *work;      /* BUILD/work */
    const char *target;    /* BUILD/target: the mount point */
};

/*
 * Test hook, for the integration tests only: a comma-separated list of modes
 * (e.g. "native" or "native,fuse") whose mount step fails with EPERM as if the
 * host refused it, so that the fallback of auto can be tested on a host where
 * every mode works. Documented in docs/HELPER.md; never set it on a worker.
 */
#define CPS_ENV_TEST_FAIL_OVERLAY "CACHEPOT_TEST_FAIL_OVERLAY"

/* One job's root. The first three fields are inputs; the rest is the state. */
struct cps_overlay_state {
    struct cps_root_paths paths;
    const struct cps_job *job; /* borrowed: cwd, outputs, inputs (the bind mode needs them) */
    uint32_t requested;        /* the job's enum cps_overlay; CPS_OVERLAY_AUTO allowed */
    uint32_t planned;          /* modes cps__overlay_plan found worth trying */
    uint32_t mode;             /* the mode mounted; 0: nothing is mounted */
    pid_t fuse_pid;            /* fuse mode: the fuse-overlayfs serving target; 0: none */
};

/*
 * Check which modes can be tried for o->requested with these paths and this
 * job: a forced mode must pass its check (else its reason and hint are
 * returned), auto needs at least one (each one skipped is logged at info level
 * with its reason). Creates nothing. Returns 0 or -errno, stage "overlay".
 */
int cps__overlay_plan(struct cps_overlay_state *o, struct cps_error *err);

/*
 * Mount the first planned mode, in the order native, fuse, bind, that works;
 * o->mode says which. A failed attempt is logged at info level and the next
 * one tried; when none works the error names each mode and why. Stage
 * "overlay".
 */
int cps__overlay_mount(struct cps_overlay_state *o, struct cps_error *err);

/* Undo what cps__overlay_mount did (unmount, and for fuse the daemon gone and
 * reaped); o->mode is 0 afterwards. Always tries everything. Stage "cleanup". */
int cps__overlay_unmount(struct cps_overlay_state *o, struct cps_error *err);

/*
 * Refuse a toolchain, upper or work path of p containing ',', ':' or '\\':
 * kernel mount option data and fuse-overlayfs's options split at ',' and
 * lowerdir at ':', with no escaping we want to depend on. The message is
 * "<prefix>path P contains 'C', which <options> options cannot carry".
 * Stage "overlay", EINVAL.
 */
int cps__overlay_refuse_option_chars(const struct cps_root_paths *p, const char *prefix,
                                     const char *options, const char *hint, struct cps_error *err);

/* The native mode (overlay_native.c). The toolchain dir itself is checked
 * once for every mode by cps__overlay_plan. */
int cps__overlay_native_check(const struct cps_root_paths *p, struct cps_error *err);
int cps__overlay_native_mount(const struct cps_root_paths *p, struct cps_error *err);
int cps__overlay_native_unmount(const struct cps_root_paths *p, struct cps_error *err);

/*
 * The fuse mode (overlay_fuse.c): fuse-overlayfs, found through
 * $CACHEPOT_FUSE_OVERLAYFS (an explicit path, no fallback) or PATH, run as a
 * child of O (outside the job's PID namespace, so I's kill(-1) cannot reach
 * it) in O's user and mount namespaces, in the foreground, with an empty
 * environment and PR_SET_PDEATHSIG so it dies with O. Needs /dev/fuse openable
 * read-write.
 */
#define CPS_ENV_FUSE_OVERLAYFS "CACHEPOT_FUSE_OVERLAYFS"
int cps__overlay_fuse_check(const struct cps_overlay_state *o, struct cps_error *err);
int cps__overlay_fuse_mount(struct cps_overlay_state *o, struct cps_error *err);
int cps__overlay_fuse_unmount(struct cps_overlay_state *o, struct cps_error *err);
/* Find fuse-overlayfs as the fuse mode does. Returns 0 with path filled, or
 * -ENOENT / -ENAMETOOLONG with err (stage "overlay") and a hint. */
int cps__fuse_overlayfs_find(char *path, size_t size, struct cps_error *err);

/* The bind mode (overlay_bind.c). */
int cps__overlay_bind_check(const struct cps_overlay_state *o, struct cps_error *err);
int cps__overlay_bind_mount(struct cps_overlay_state *o, struct cps_error *err);
int cps__overlay_bind_unmount(struct cps_overlay_state *o, struct cps_error *err);

#endif
