/* proctitle.c - overwriting the argument area (proctitle.h). */
#include "proctitle.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "error.h"

/* Fields 48 and 49 of /proc/PID/stat (Linux 3.5): arg_start and arg_end. */
#define ARG_START_FIELD 48

static int read_arg_area(unsigned long *start, unsigned long *end)
{
    char buf[1024];
    const char *p;
    ssize_t n;
    int fd, field;

    fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    do {
        n = read(fd, buf, sizeof(buf) - 1);
    } while (n < 0 && errno == EINTR);
    close(fd);
    if (n <= 0)
        return n < 0 ? -errno : -EIO;
    buf[n] = '\0';
    /* Field 2 is the command in parentheses and may contain ") ": the fields
     * after it start behind the last ')'. */
    p = strrchr(buf, ')');
    if (p == NULL)
        return -EIO;
    /* p + 2 is field 3. */
    p += 2;
    for (field = 3; field < ARG_START_FIELD && p != NULL; field++) {
        p = strchr(p, ' ');
        if (p != NULL)
            p++;
    }
    if (p == NULL || sscanf(p, "%lu %lu", start, end) != 2 || *end <= *start)
        return -EIO;
    return 0;
}

int cps__proctitle_set(const char *title, struct cps_error *err)
{
    unsigned long start, end;
    size_t size, len;
    int rc = read_arg_area(&start, &end);

    if (rc < 0)
        return cps__error_set(err, CPS_STAGE_PROC, -rc, NULL,
                              "reading the argument area from /proc/self/stat");
    size = end - start;
    len = strlen(title);
    if (len > size - 1)
        len = size - 1;
    memset((char *)start, 0, size);
    memcpy((char *)start, title, len);
    return 0;
}
