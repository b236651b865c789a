/* overlay_native.c - kernel overlayfs inside the helper's user namespace. */
#include "overlay.h"

#include <errno.h>
#include <linux/limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "error.h"

/*
 * mount(2) copies legacy option data into one page; the kernel ignores what
 * does not fit, so a long lowerdir would be cut silently or fail obscurely.
 * Refuse it up front with the lengths.
 */
#define DATA_MAX 4095

/*
 * userxattr: overlayfs keeps its metadata in "user.overlay.*" xattrs, the only
 * ones an unprivileged user namespace may set; overlayfs may be mounted in a
 * user namespace from Linux 5.11 (commit 459c7c565ac3), with SELinux from 5.13.
 * index=off: the inodes index needs trusted xattrs and file handles; without it
 * overlayfs logs a fallback on every mount.
 * volatile (Linux 5.10): no sync of the upper layer, neither for the job's
 * fsync calls nor at unmount. The upper dir is thrown away after the job, and
 * the sync on the last unmount was a noticeable part of each job's cleanup
 * (docs/MEASUREMENTS.md).
 */
static int build_data(const struct cps_root_paths *p, char *buf, size_t size)
{
    int n = snprintf(buf, size, "lowerdir=%s,upperdir=%s,workdir=%s,userxattr,index=off,volatile",
                     p->toolchain, p->upper, p->work);

    return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : n;
}

int cps__overlay_native_check(const struct cps_root_paths *p, struct cps_error *err)
{
    char data[DATA_MAX + 1];
    int rc = cps__overlay_refuse_option_chars(
        p, "", "overlayfs mount",
        "use paths without ',', ':' or '\\' for the toolchain and build dirs", err);

    if (rc < 0)
        return rc;
    if (build_data(p, data, sizeof(data)) < 0)
        return cps__error_set(err, "overlay", ENAMETOOLONG,
                              "use shorter toolchain and build dir paths",
                              "overlay mount options for lowerdir=%s (%zu bytes), upper and work "
                              "dirs exceed the %d bytes of legacy mount(2) option data",
                              p->toolchain, strlen(p->toolchain), DATA_MAX);
    return 0;
}

static void fs_fact(const char *path, char *buf, size_t size)
{
    struct statfs s;

    if (statfs(path, &s) < 0)
        snprintf(buf, size, "%s: statfs failed: %s", path, strerror(errno));
    else
        snprintf(buf, size, "%s on fs type 0x%lx%s", path, (unsigned long)s.f_type,
                 s.f_type == 0x794c7630 ? " (overlayfs)" : "");
}

int cps__overlay_native_mount(const struct cps_root_paths *p, struct cps_error *err)
{
    char data[DATA_MAX + 1], lower[PATH_MAX + 64], upper[PATH_MAX + 64];
    struct utsname u;
    int saved;

    if (build_data(p, data, sizeof(data)) < 0)
        return cps__error_set(err, "overlay", ENAMETOOLONG, NULL, "overlay options too long");
    if (mount("overlay", p->target, "overlay", MS_NOSUID | MS_NODEV, data) == 0)
        return 0;
    saved = errno;
    if (uname(&u) < 0)
        snprintf(u.release, sizeof(u.release), "?");
    fs_fact(p->toolchain, lower, sizeof(lower));
    fs_fact(p->upper, upper, sizeof(upper));
    return cps__error_set(
        err, "overlay", saved,
        "overlayfs in a user namespace needs Linux 5.11 (5.13 with SELinux) and an upper dir on "
        "a filesystem with user xattrs that is not itself an overlay; use the fuse or bind "
        "overlay mode",
        "mount overlay on %s (%s) failed: %s; kernel %s, euid %u in a user namespace, lower %s, "
        "upper %s",
        p->target, data, strerror(saved), u.release, (unsigned)geteuid(), lower, upper);
}

int cps__overlay_native_unmount(const struct cps_root_paths *p, struct cps_error *err)
{
    if (umount2(p->target, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
        return cps__error_set(err, "cleanup", errno, NULL, "umount %s", p->target);
    return 0;
}
