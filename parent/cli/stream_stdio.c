/* stream_stdio.c - a job's stdout/stderr passed on to ours. */
#include "stream_stdio.h"

#include <errno.h>
#include <unistd.h>

int cps_cli_stream_to_stdio(void *user, enum cps_stream_id id, const void *data, size_t len)
{
    int fd = id == CPS_STDOUT ? STDOUT_FILENO : STDERR_FILENO;
    const char *p = data;

    (void)user;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return 0;
        p += w;
        len -= (size_t)w;
    }
    return 0;
}
