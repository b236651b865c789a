/*
 * rootfs.h - I's view of the job root: a mount namespace of its own, /proc,
 * /dev, /tmp inside the merged root, then pivot_root into it.
 */
#ifndef CPS_HELPER_ROOTFS_H
#define CPS_HELPER_ROOTFS_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "rootfs_contents.h"
#include "rootfs_prep.h"

/*
 * Runs in I (PID 1 of the job's PID namespace), with the overlay already
 * mounted at target (host path) by O:
 *  - unshare(CLONE_NEWNS) again: pivot_root(2) moves the root of every process
 *    of the mount namespace whose root is the old one, and O must keep the host
 *    view (build dir, outputs);
 *  - /proc: a fresh procfs (nosuid,nodev,noexec), mountable only from inside the
 *    new PID namespace; stage "proc";
 *  - /dev: a small tmpfs with null, zero, full, random, urandom, tty bind-mounted
 *    from the host (mknod is refused in a user namespace), links fd, stdin,
 *    stdout, stderr into /proc/self/fd, an empty shm dir; stage "dev";
 *  - /tmp: tmpfs of tmp_bytes bytes, mode 1777; stage "tmp";
 *  - pivot_root(".", ".") in target and a lazy unmount of the old root
 *    (pivot_root(2), "pivot_root(".", ".")"); stage "pivot_root".
 * Mount points are created without following symlinks (rootpath.h) and every
 * mount targets /proc/self/fd/N of an fd opened that way, so a toolchain
 * containing a /dev -> /somewhere link cannot redirect a mount.
 * That is the classic path. When prep (borrowed, may be NULL) holds the trees
 * I made before hello (rootfs_prep.h), the same /proc, /dev and /tmp are moved
 * in instead of built (three move_mount calls) and prep's fds are closed.
 */
int cps__rootfs_enter(const char *target, uint64_t tmp_bytes, struct cps_rootfs_prep *prep,
                      struct cps_error *err);

/*
 * For the bubblewrap backend, in I after its own unshare(CLONE_NEWNS): the
 * same /dev and /tmp as above, mounted into the root at root_fd, which bwrap
 * then binds (bwrap's own --dev and --tmpfs have neither an inode bound nor,
 * for --dev, a size, and --dev adds a devpts with /dev/ptmx).
 */
int cps__rootfs_mount_dev_tmp(int root_fd, uint64_t tmp_bytes, struct cps_error *err);

#endif
