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

#include <sys/types.h>

#include "cachepot-sandbox.h"

/* openat2(root_fd, path, flags, mode, RESOLVE_IN_ROOT|NO_SYMLINKS|NO_MAGICLINKS).
 * path is a sandbox path (absolute, normalized). Returns an fd or -errno. */
int cps__root_open(int root_fd, const char *path, int flags, mode_t mode);

/*
 * Create the directory path inside the root and its missing parents (mode 0755
 * minus the umask), component by component; an existing symlink or non-directory
 * component is an error (-ELOOP / -ENOTDIR). On success returns an O_PATH fd of
 * the directory (caller closes). Stage as given; the message names the component.
 */
int cps__root_mkdirs(int root_fd, const char *path, const char *stage, struct cps_error *err);

/*
 * Split a sandbox path into its parent directory and last component:
 * "/a/b/c" -> "/a/b", "c"; "/c" -> "/", "c". parent has room for PATH_MAX
 * bytes. Returns 0, or -EINVAL for "/" (no last component).
 */
int cps__path_split(const char *path, char *parent, const char **name);

#endif
