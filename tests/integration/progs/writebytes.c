/* writebytes N: write N bytes to stdout as fast as possible; byte i is i % 251,
 * so the reader can check every byte without storing the stream. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    static unsigned char buf[251 * 256];
    unsigned long long n, left;

    if (argc != 2)
        return 2;
    n = strtoull(argv[1], NULL, 10);
    for (size_t i = 0; i < sizeof(buf); i++)
        buf[i] = (unsigned char)(i % 251);
    /* sizeof(buf) is a multiple of 251, so every write continues the pattern. */
    left = n;
    while (left > 0) {
        size_t want = left < sizeof(buf) ? (size_t)left : sizeof(buf);
        size_t off = 0;

        while (off < want) {
            ssize_t w = write(1, buf + off, want - off);

            if (w < 0)
                return 1;
            off += (size_t)w;
        }
        left -= want;
    }
    return 0;
}
