/*
 * fill BYTES [FILE]: write BYTES zero bytes to stdout, or to FILE (created,
 * truncated). The streaming benchmark's job; static, like true.c, so the same
 * file runs bare and sandboxed. 64 KiB writes: the size of one data chunk of
 * the protocol (common/limits.h CPS_MAX_CHUNK) and of a default pipe buffer.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    static char buf[64 * 1024];
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: fill BYTES [FILE]\n");
        return 2;
    }
    unsigned long long left = strtoull(argv[1], NULL, 10);
    int fd = 1;
    if (argc == 3 && (fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0) {
        perror(argv[2]);
        return 1;
    }
    while (left > 0) {
        size_t n = left < sizeof(buf) ? (size_t)left : sizeof(buf);
        ssize_t w = write(fd, buf, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            perror("write");
            return 1;
        }
        left -= (unsigned long long)w;
    }
    return close(fd) < 0 && fd != 1;
}
