/* overlay_native.c - kernel overlayfs inside the helper's user namespace. */
#include "overlay.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "error.h"

/*
 * The layers are named by /proc/self/fd/N of O_PATH fds, not by their host
 * paths: overlayfs shows its lowerdir, upperdir and workdir options as given
 * in every mountinfo, also the job's (/proc/self/mountinfo), and these name
 * the host's toolchain and build dirs. Through the magic links the kernel
 * resolves the same directories (checked on Linux 6.18: mountinfo then shows
 * "lowerdir=/proc/self/fd/N"). It also keeps the option data far below the
 * one page legacy mount(2) copies.
 *
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
#define DATA_FMT                                                                                   \
    "lowerdir=/proc/self/fd/%d,upperdir=/proc/self/fd/%d,workdir=/proc/self/fd/%d,userxattr,"      \
    "index=off,volatile"

int cps__overlay_native_check(const struct cps_root_paths *p, struct cps_error *err)
{
    return cps__overlay_refuse_option_chars(
        p, "", "overlayfs mount",
        "use paths without ',', ':' or '\\' for the toolchain and build dirs", err);
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

/* The layers as O_PATH fds (directories, symlinks not followed in the last
 * component, as the path mount would). -errno. */
static int open_layers(const struct cps_root_paths *p, int fds[3])
{
    const char *const paths[3] = {p->toolchain, p->upper, p->work};

    for (int i = 0; i < 3; i++) {
        fds[i] = open(paths[i], O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (fds[i] < 0) {
            int saved = errno;

            while (i-- > 0)
                close(fds[i]);
            return -saved;
        }
    }
    return 0;
}

int cps__overlay_native_mount(const struct cps_root_paths *p, struct cps_error *err)
{
    char data[192], lower[PATH_MAX + 64], upper[PATH_MAX + 64];
    struct utsname u;
    int fds[3], saved, rc;

    rc = open_layers(p, fds);
    if (rc < 0)
        return cps__error_set(err, CPS_STAGE_OVERLAY, -rc, NULL,
                              "opening the overlay layers %s, %s, %s", p->toolchain, p->upper,
                              p->work);
    snprintf(data, sizeof(data), DATA_FMT, fds[0], fds[1], fds[2]);
    rc = mount("overlay", p->target, "overlay", MS_NOSUID | MS_NODEV, data);
    saved = errno;
    for (int i = 0; i < 3; i++)
        close(fds[i]);
    if (rc == 0)
        return 0;
    if (uname(&u) < 0)
        snprintf(u.release, sizeof(u.release), "?");
    fs_fact(p->toolchain, lower, sizeof(lower));
    fs_fact(p->upper, upper, sizeof(upper));
    return cps__error_set(
        err, CPS_STAGE_OVERLAY, saved,
        "overlayfs in a user namespace needs Linux 5.11 (5.13 with SELinux) and an upper dir on "
        "a filesystem with user xattrs that is not itself an overlay; use the fuse or bind "
        "overlay mode",
        "mount overlay on %s (%s; lowerdir %s, upperdir %s, workdir %s) failed: %s; kernel %s, "
        "euid %u in a user namespace, lower %s, upper %s",
        p->target, data, p->toolchain, p->upper, p->work, strerror(saved), u.release,
        (unsigned)geteuid(), lower, upper);
}

int cps__overlay_native_unmount(const struct cps_root_paths *p, struct cps_error *err)
{
    if (umount2(p->target, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
        return cps__error_set(err, CPS_STAGE_CLEANUP, errno, NULL, "umount %s", p->target);
    return 0;
}
