/* timings.c - per-stage clock. */
#include "timings.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "log.h"

uint64_t cps__now_usec(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

void cps__timings_init(struct cps_timings *t)
{
    memset(t, 0, sizeof(*t));
    t->mark = cps__now_usec();
}

void cps__timings_add(struct cps_timings *t, const char *stage, uint64_t usec)
{
    /* Past CPS_MAX_TIMINGS entries the protocol has no room: later stages are dropped. */
    if (t->n >= CPS_MAX_TIMINGS)
        return;
    snprintf(t->names[t->n], sizeof(t->names[t->n]), "%s", stage);
    t->items[t->n].stage = t->names[t->n];
    t->items[t->n].usec = usec;
    t->n++;
}

void cps__timings_lap(struct cps_timings *t, const char *stage)
{
    uint64_t now = cps__now_usec();

    cps__timings_add(t, stage, now - t->mark);
    cps__log_debug("stage %s: %" PRIu64 " us", stage, now - t->mark);
    t->mark = now;
}
