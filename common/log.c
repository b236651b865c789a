/* log.c - leveled logging to stderr, one write(2) per line. */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static const char *const level_names[] = {"error", "warn", "info", "debug", "trace"};

static _Atomic int current_level = CPS_LOG_WARN;
static const char *_Atomic current_component = "cachepot";

void cps__log_init(const char *component)
{
    const char *value = getenv("CACHEPOT_LOG");

    if (component)
        atomic_store(&current_component, component);
    if (!value || !*value)
        return;
    for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
        if (strcasecmp(value, level_names[i]) == 0) {
            atomic_store(&current_level, (int)i);
            return;
        }
    }
    atomic_store(&current_level, CPS_LOG_WARN);
    cps__log_warn("CACHEPOT_LOG=%s is not one of error, warn, info, debug, trace; using warn",
                  value);
}

enum cps_log_level cps__log_level(void)
{
    return (enum cps_log_level)atomic_load(&current_level);
}

void cps__log(enum cps_log_level level, const char *fmt, ...)
{
    /* Callers log and then report errno, so logging must not change it. */
    int saved_errno = errno;
    char line[4096];
    struct timespec ts;
    struct tm tm;
    size_t n;
    int r;
    va_list ap;

    if ((int)level > atomic_load(&current_level) || (int)level < 0)
        return;

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    r = snprintf(line, sizeof(line),
                 "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s [%ld] %s: ", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000,
                 level_names[level], (long)getpid(), atomic_load(&current_component));
    n = r < 0 ? 0 : (size_t)r;
    if (n < sizeof(line)) {
        errno = saved_errno; /* so %m in fmt means the caller's errno */
        va_start(ap, fmt);
        r = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
        va_end(ap);
        if (r > 0)
            n += (size_t)r;
    }
    /* A line that did not fit ends in "..." so truncation is visible. */
    if (n >= sizeof(line) - 1) {
        n = sizeof(line) - 1;
        memcpy(line + n - 3, "...", 3);
    }
    line[n++] = '\n';

    /* One write(2) per line: lines of concurrent threads and processes
     * sharing stderr do not interleave (writes up to PIPE_BUF are atomic on
     * pipes, see pipe(7)). A failed write to stderr has nowhere to go. */
    {
        const char *p = line;
        while (n > 0) {
            ssize_t w = write(STDERR_FILENO, p, n);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                break;
            p += w;
            n -= (size_t)w;
        }
    }
    errno = saved_errno;
}
