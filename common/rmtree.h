/*
 * rmtree.h - remove a directory tree that a job made, whatever its shape.
 *
 * A job with CACHEPOT_SCRATCH=disk writes on the build dir's own filesystem
 * and can make a tree of any depth (mkdir + chdir, no PATH_MAX involved) and
 * names up to NAME_MAX. A recursive removal that keeps one open directory per
 * level runs out of descriptors (EMFILE) or stack on such a tree (issue 12: a
 * 200,000-deep tree survived cleanup). This one is iterative: it holds one
 * directory open at a time, descends with openat(O_NOFOLLOW) and climbs back
 * with "..", checking at each climb that ".." is the directory it came from
 * (device and inode), so a tree moved under it cannot make it delete
 * elsewhere. Per level it keeps 24 bytes on the heap (the directory's inode
 * and where its entry was in its parent's listing), not the name.
 *
 * Symlinks are removed, never followed. Directories without rwx for the owner
 * are made 0700 first (overlayfs leaves work/work at 000, a job may leave
 * read-only ones). Nothing on another filesystem is entered: a directory on a
 * different device (a mount point) is left, with -EBUSY.
 */
#ifndef CPS_COMMON_RMTREE_H
#define CPS_COMMON_RMTREE_H

/*
 * Remove name (borrowed) in the directory dirfd (a real directory fd, not
 * AT_FDCWD) and everything below it; name itself may be a file or a symlink.
 * Stays on dirfd's filesystem. Returns 0 (also when name does not exist) or
 * the first -errno met; always goes on with the rest of the tree after an
 * error, except -ESTALE (the tree moved while it was being removed) and
 * -ENOMEM, which stop it.
 */
int cps__rmtree_at(int dirfd, const char *name);

#endif
