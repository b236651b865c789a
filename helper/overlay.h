/*
 * overlay.h - mounting the job root at BUILD/target.
 *
 * The root is the toolchain dir (read-only to the job, never modified) with the
 * job's writes going to BUILD/upper. How that is achieved is the overlay mode:
 *   native  kernel overlayfs (overlay_native.c)
 *   fuse    fuse-overlayfs (not built yet: -ENOTSUP)
 *   bind    toolchain bind-mounted read-only + tmpfs scratch (not built yet: -ENOTSUP)
 *   auto    the first mode that works (today: native)
 * A mode implementation provides check (called before anything is created, so a
 * job that cannot run leaves nothing behind), mount and unmount with the
 * signatures of the cps__overlay_* functions below, and is added to the
 * dispatch table in overlay.c. All three run in O, inside the helper's user and
 * mount namespaces (the mount never reaches the host's mount table).
 */
#ifndef CPS_HELPER_OVERLAY_H
#define CPS_HELPER_OVERLAY_H

#include "cachepot-sandbox.h"
#include "proto.h"

struct cps_root_paths {
    const char *toolchain; /* lower layer, host path (borrowed) */
    const char *upper;     /* BUILD/upper */
    const char *work;      /* BUILD/work */
    const char *target;    /* BUILD/target: the mount point */
};

/* Resolve the job's mode (AUTO -> a concrete one) and check that it can be
 * tried with these paths. Returns 0 and *mode_out, or -errno, stage "overlay". */
int cps__overlay_check(uint32_t mode, const struct cps_root_paths *p, uint32_t *mode_out,
                       struct cps_error *err);

/* Mount mode (concrete, from cps__overlay_check) at p->target. Stage "overlay". */
int cps__overlay_mount(uint32_t mode, const struct cps_root_paths *p, struct cps_error *err);

/* Unmount what cps__overlay_mount mounted (MNT_DETACH). Stage "cleanup". */
int cps__overlay_unmount(uint32_t mode, const struct cps_root_paths *p, struct cps_error *err);

/* The native mode (overlay_native.c). */
int cps__overlay_native_check(const struct cps_root_paths *p, struct cps_error *err);
int cps__overlay_native_mount(const struct cps_root_paths *p, struct cps_error *err);
int cps__overlay_native_unmount(const struct cps_root_paths *p, struct cps_error *err);

#endif
