/* tmpfs.c - size and inode bound of the helper's tmpfs mounts (tmpfs.h). */
#include "tmpfs.h"

#include <inttypes.h>
#include <stdio.h>

uint64_t cps__tmpfs_inodes(uint64_t bytes)
{
    uint64_t n = bytes / CPS_TMPFS_BYTES_PER_INODE;

    return n > CPS_TMPFS_MIN_INODES ? n : CPS_TMPFS_MIN_INODES;
}

void cps__tmpfs_options(char *buf, size_t size, const char *mode, uint64_t bytes)
{
    snprintf(buf, size, "mode=%s,size=%" PRIu64 ",nr_inodes=%" PRIu64, mode, bytes,
             cps__tmpfs_inodes(bytes));
}
