/*
 * rootfs_contents.h - the contents of the sandbox's /dev and the /proc entries
 * made read-only, shared by the userns backend's setup in I (rootfs.c) and the
 * detached trees made before hello (rootfs_prep.c).
 */
#ifndef CPS_HELPER_ROOTFS_CONTENTS_H
#define CPS_HELPER_ROOTFS_CONTENTS_H

#include <stddef.h>

#include "error.h"

/* Size of the /dev tmpfs: it holds mount points, links and /dev/shm, which
 * compilers do not use (POSIX shared memory is for servers); 64 KiB keeps a
 * job from filling memory through it. */
#define CPS_DEV_TMPFS_BYTES 65536u

/* The host devices bound into /dev, and the /proc entries made read-only. */
extern const char *const cps__dev_nodes[];
extern const size_t cps__dev_nodes_count;
extern const char *const cps__proc_read_only[];
extern const size_t cps__proc_read_only_count;

/* The links fd, stdin, stdout, stderr and the shm dir in the /dev at dev_fd. */
int cps__dev_populate(int dev_fd, struct cps_error *err);

#endif
