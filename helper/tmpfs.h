/*
 * tmpfs.h - the options of every tmpfs the helper mounts: its size and an
 * inode bound derived from it.
 *
 * A tmpfs without nr_inodes allows as many inodes as half the host's RAM
 * pages (tmpfs(5)); an empty file costs no size but about 1 KiB of kernel
 * memory (inode and dentry), so a job could pin gigabytes of kernel memory in
 * files that `df` does not count (3 million empty files in the escape test of
 * issue 12). Every tmpfs therefore gets nr_inodes = max(CPS_TMPFS_MIN_INODES,
 * bytes / CPS_TMPFS_BYTES_PER_INODE): the kernel memory its inodes can pin
 * stays a small fraction (about 1/16) of its size, and a small tmpfs (/dev)
 * still holds what it needs. docs/SECURITY.md states the same rule.
 */
#ifndef CPS_HELPER_TMPFS_H
#define CPS_HELPER_TMPFS_H

#include <stddef.h>
#include <stdint.h>

#define CPS_TMPFS_BYTES_PER_INODE 16384u
#define CPS_TMPFS_MIN_INODES      1024u

/* The inode bound of a tmpfs of bytes bytes. */
uint64_t cps__tmpfs_inodes(uint64_t bytes);

/* "mode=MODE,size=BYTES,nr_inodes=N" into buf (size bytes, 96 is enough);
 * mode (borrowed) is an octal string such as "0755". */
void cps__tmpfs_options(char *buf, size_t size, const char *mode, uint64_t bytes);

#endif
