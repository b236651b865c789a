/* hostcaps.c - cheap capability checks for the hello message. */
#include "hostcaps.h"

#include <linux/limits.h>
#include <unistd.h>

#include "bwrap.h"
#include "overlay.h"
#include "host_facts.h"
#include "proto.h"

int cps__host_caps(uint32_t *backends, uint32_t *overlays)
{
    struct cps_kernel_version kv;
    char path[PATH_MAX];

    *backends = CPS_BACKEND_USERNS;
    *overlays = CPS_OVERLAY_BIND;

    /* Only existence here: running `bwrap --version` would cost a spawn per
     * job. The version is checked when the backend is used and by --check. */
    if (cps__bwrap_find(path, sizeof(path), NULL) == 0)
        *backends |= CPS_BACKEND_BUBBLEWRAP;

    if (cps__kernel_version(&kv) == 0 &&
        cps__kernel_at_least(&kv, CPS_OVERLAY_USERNS_MIN_MAJOR, CPS_OVERLAY_USERNS_MIN_MINOR) &&
        cps__filesystem_listed("overlay") == 1)
        *overlays |= CPS_OVERLAY_NATIVE;

    /* fuse-overlayfs mounts inside a user namespace since Linux 4.18
     * (FS_USERNS_MOUNT for fuse), older than any kernel this helper needs
     * for anything else; what usually stops it is the device's mode. */
    if (cps__fuse_overlayfs_find(path, sizeof(path), NULL) == 0 &&
        access(CPS_DEV_FUSE, R_OK | W_OK) == 0)
        *overlays |= CPS_OVERLAY_FUSE;

    return 0;
}
