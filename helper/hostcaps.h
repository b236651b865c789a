/*
 * hostcaps.h - the capability sets the helper announces in hello.
 *
 * These are cheap static checks done at every helper start (the per-job hot
 * path): a few stat/access/uname calls and one read of /proc/filesystems; no
 * namespace is created, nothing is mounted, nothing is spawned. They say what
 * is worth trying, not what will work: a job can still fail at the real step
 * (with a precise error), and `cachepot-dist-sandbox --check` tries each step
 * for real.
 */
#ifndef CPS_HELPER_HOSTCAPS_H
#define CPS_HELPER_HOSTCAPS_H

#include <stdint.h>

/* Oldest mainline kernel whose overlayfs may be mounted inside a user
 * namespace: Linux 5.11, commits 92dbc9dedccb ("ovl: unprivieged mounts") and
 * 2d2f2d7322ff ("ovl: user xattr", the userxattr option); 5.13 where SELinux
 * is enforcing. Ubuntu kernels carried their own patch before that; the hello
 * check under-reports there, `--check` tries a real mount. */
#define CPS_OVERLAY_USERNS_MIN_MAJOR 5
#define CPS_OVERLAY_USERNS_MIN_MINOR 11

/* Executable name of fuse-overlayfs, searched in PATH. */
#define CPS_FUSE_OVERLAYFS "fuse-overlayfs"
/* The FUSE device fuse-overlayfs opens. */
#define CPS_DEV_FUSE "/dev/fuse"

/*
 * Fill *backends with enum cps_backend bits and *overlays with enum
 * cps_overlay bits (common/proto.h):
 *   userns      always (the helper's own backend);
 *   bubblewrap  bwrap found ($CACHEPOT_BWRAP, else PATH) and executable;
 *   native      kernel >= 5.11 and "overlay" listed in /proc/filesystems;
 *   fuse        fuse-overlayfs found ($CACHEPOT_FUSE_OVERLAYFS, else PATH;
 *               cps__fuse_overlayfs_find) and /dev/fuse readable and writable
 *               by this process (access(2));
 *   bind        always.
 * Always returns 0 (a check that cannot be made leaves its bit clear).
 */
int cps__host_caps(uint32_t *backends, uint32_t *overlays);

#endif
