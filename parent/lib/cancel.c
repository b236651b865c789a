/* cancel.c - cancel tokens. */
#include "cancel.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

/*
 * An eventfd counter that is written and never read: once fired it stays
 * readable, so every poll() of every run that shares the token wakes up, and a
 * run started after the fact sees it at once. Writing an eventfd is async-
 * signal-safe, so cps_cancel() may even be called from a signal handler.
 */
struct cps_cancel_token {
    int fd;
};

CPS_API struct cps_cancel_token *cps_cancel_token_new(void)
{
    struct cps_cancel_token *t = malloc(sizeof(*t));

    if (!t)
        return NULL;
    t->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (t->fd < 0) {
        int saved = errno;
        free(t);
        errno = saved;
        return NULL;
    }
    return t;
}

CPS_API void cps_cancel(struct cps_cancel_token *token)
{
    uint64_t one = 1;

    if (!token)
        return;
    /* EAGAIN only when the counter is about to overflow: it is fired already. */
    while (write(token->fd, &one, sizeof(one)) < 0 && errno == EINTR)
        ;
}

CPS_API void cps_cancel_token_free(struct cps_cancel_token *token)
{
    if (!token)
        return;
    close(token->fd);
    free(token);
}

int cps__cancel_fd(const struct cps_cancel_token *token)
{
    return token ? token->fd : -1;
}
