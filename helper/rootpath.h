/*
 * rootpath.h - reaching paths inside the job root without following symlinks.
 *
 * The root (BUILD/target) holds files the job and its toolchain control: a
 * symlink there may point anywhere on the host. Every path below is resolved
 * with openat2(2) (Linux 5.6) relative to an fd of the root, with
 * RESOLVE_IN_ROOT (".." and absolute links cannot leave it) and
 * RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS (no link is followed at all).
 */
#ifndef CPS_HELPER_ROOTPATH_H
#define CPS_HELPER_ROOTPATH_H

#include <stdbool.h>
#include <sys/types.h>

#include "error.h"

/* openat2(root_fd, path, flags, mode, RESOLVE_IN_ROOT|NO_SYMLINKS|NO_MAGICLINKS).
 * path is a sandbox path (absolute, normalized). Returns an fd or -errno. */
int cps__root_open(int root_fd, const char *path, int flags, mode_t mode);

/*
 * Create the directory path inside the root and its missing parents (mode 0755
 * minus the umask), component by component; an existing symlink or non-directory
 * component is an error (-ELOOP / -ENOTDIR). On success returns an O_PATH fd of
 * the directory (caller closes). Stage as given; the message names the component.
 */
int cps__root_mkdirs(int root_fd, const char *path, enum cps_stage stage, struct cps_error *err);

/*
 * Is errnum, from opening or creating a path in the root, an answer about the
 * job's view (nothing can be at that path there, or the sandbox may not
 * reach it) rather than a fault of the worker? True for ENOENT (nothing
 * there), ELOOP (a symlink on the way: never followed), ENOTDIR (a component
 * is a file), EXDEV (RESOLVE_IN_ROOT saw a way out of the root: only a
 * rename racing the lookup makes one), EACCES, EPERM and EROFS (the view's
 * permissions or a read-only toolchain bind forbid it; the same toolchain
 * gives the same answer on any worker), ENAMETOOLONG (a component longer
 * than NAME_MAX: no file has that name), and ENXIO / ENODEV (a socket or a
 * device node: not a regular file). Anything else (EMFILE, ENFILE, ENOMEM,
 * EIO, ENOSPC, ENOTCONN of a fuse-overlayfs that died, ...) is the worker's
 * problem: retrying the job elsewhere may well succeed, so it must not look
 * like the compile's result.
 */
bool cps__root_errno_is_view(int errnum);

/*
 * Split a sandbox path into its parent directory and last component:
 * "/a/b/c" -> "/a/b", "c"; "/c" -> "/", "c". parent has room for PATH_MAX
 * bytes. Returns 0, or -EINVAL for "/" (no last component).
 */
int cps__path_split(const char *path, char *parent, const char **name);

#endif
