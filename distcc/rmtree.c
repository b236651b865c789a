/* rmtree.c - removing a half-built toolchain root. */
#define _XOPEN_SOURCE 700
#include "rmtree.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <sys/stat.h>

static int first_error;

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    if (remove(path) < 0 && errno != ENOENT && first_error == 0)
        first_error = -errno;
    return 0;
}

int cpd_rmtree(const char *dir)
{
    /* The shim is single-threaded, so the static error slot is enough. */
    first_error = 0;
    if (nftw(dir, remove_entry, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) < 0 && errno != ENOENT)
        return -errno;
    return first_error;
}
