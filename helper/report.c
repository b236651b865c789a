/* report.c - the exit frame. */
#include "report.h"

#include <signal.h>
#include <string.h>
#include <sys/wait.h>

#include "proto.h"

static uint64_t tv_usec(const struct timeval *tv)
{
    return (uint64_t)tv->tv_sec * 1000000u + (uint64_t)tv->tv_usec;
}

int cps__report_exit(int sock, const struct cps_pump_result *r, const struct rusage *ru,
                     uint32_t backend, uint32_t overlay, const struct cps_timings *t,
                     struct cps_error *err)
{
    static char limit_timeout[] = "timeout", limit_output[] = "output", limit_cancel[] = "cancel",
                limit_cpu[] = "cpu", limit_fsize[] = "file_size", limit_memory[] = "memory";
    struct cps_msg m;
    struct cps_exit *x = &m.u.exit;
    struct cps_timing items[CPS_MAX_TIMINGS];

    memset(&m, 0, sizeof(m));
    m.type = CPS_MSG_EXIT;
    if (r->killed) {
        x->signaled = true;
        x->signal = SIGKILL;
        if (strcmp(r->limit, "timeout") == 0) {
            x->timed_out = true;
            x->limit = limit_timeout;
        } else if (strcmp(r->limit, "output") == 0) {
            x->limit = limit_output;
        } else if (strcmp(r->limit, "cancel") == 0) {
            x->limit = limit_cancel;
        }
    } else if (WIFSIGNALED(r->wait_status)) {
        x->signaled = true;
        x->signal = (uint32_t)WTERMSIG(r->wait_status);
        if (x->signal == SIGXCPU)
            x->limit = limit_cpu;
        else if (x->signal == SIGXFSZ)
            x->limit = limit_fsize;
        else if (x->signal == SIGKILL && r->limit != NULL && strcmp(r->limit, "memory") == 0)
            x->limit = limit_memory; /* the cgroup's OOM killer (main.c) */
    } else {
        x->code = WEXITSTATUS(r->wait_status);
    }
    x->wall_us = r->wall_us;
    x->user_us = tv_usec(&ru->ru_utime);
    x->sys_us = tv_usec(&ru->ru_stime);
    x->max_rss_kb = (uint64_t)ru->ru_maxrss;
    x->backend = backend;
    x->overlay = overlay;
    memcpy(items, t->items, t->n * sizeof(items[0]));
    x->timings = items;
    x->timingc = t->n;
    return cps__msg_send(sock, &m, err);
}
