/*
 * cleanup.h - release a local on every way out of its scope.
 *
 * A local declared `cps_cleanup_close int fd = -1;` is closed and one declared
 * `cps_cleanup_free char *p = NULL;` is freed when the function returns, on
 * the error paths as on the normal one (GCC and Clang's cleanup attribute, as
 * crun's cleanup_close and systemd's _cleanup_free_). A function that hands
 * the resource on takes it out first: `return cps_steal_fd(&fd);`.
 *
 * The cleanups run after the return value is computed, so
 * `return cps__error_set(err, stage, errno, ...)` still reads the errno of the
 * failed call; they keep errno as they found it for the caller.
 */
#ifndef CPS_COMMON_CLEANUP_H
#define CPS_COMMON_CLEANUP_H

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

static inline void cps__cleanup_close(int *fd)
{
    if (*fd >= 0) {
        int saved = errno;

        close(*fd);
        errno = saved;
    }
}

static inline void cps__cleanup_free(void *p)
{
    int saved = errno;

    free(*(void **)p);
    errno = saved;
}

/* An int fd, closed at scope exit when >= 0. */
#define cps_cleanup_close __attribute__((cleanup(cps__cleanup_close)))
/* A pointer from malloc, freed at scope exit. */
#define cps_cleanup_free __attribute__((cleanup(cps__cleanup_free)))

/* *fd, which the cleanup will no longer close. */
static inline int cps_steal_fd(int *fd)
{
    int r = *fd;

    *fd = -1;
    return r;
}

#endif
