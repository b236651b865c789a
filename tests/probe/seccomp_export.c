/*
 * seccomp_export.c - write the helper's default seccomp filter (classic BPF,
 * the format of bubblewrap's --seccomp FD) to a file, so that the probe can
 * be run under bubblewrap with exactly the filter the helper installs.
 *
 * usage: cps-seccomp-export FILE
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "seccomp_filter.h"

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s FILE\n", argv[0]);
        return 2;
    }
    struct cps__seccomp sc = {0};
    struct cps_error err;
    if (cps__seccomp_prepare(&sc, &err) < 0) {
        fprintf(stderr, "%s: %s: %s\n", argv[0], err.message, strerror(err.errnum));
        return 1;
    }
    int fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    size_t size = (size_t)sc.len * sizeof(sc.insns[0]);
    ssize_t n = fd < 0 ? -1 : write(fd, sc.insns, size);
    int e = errno;
    cps__seccomp_free(&sc);
    if (fd < 0 || n != (ssize_t)size || close(fd) < 0) {
        fprintf(stderr, "%s: write %s: %s\n", argv[0], argv[1], strerror(n < 0 ? e : EIO));
        return 1;
    }
    return 0;
}
