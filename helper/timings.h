/*
 * timings.h - the per-stage clock reported in exit.timings: each lap is the
 * time since the previous lap (CLOCK_MONOTONIC), named by the stage it ends.
 */
#ifndef CPS_HELPER_TIMINGS_H
#define CPS_HELPER_TIMINGS_H

#include <stddef.h>
#include <stdint.h>

#include "cps_limits.h"
#include "proto.h"

#define CPS_TIMING_NAME_MAX 24

struct cps_timings {
    uint64_t mark; /* time of the last lap, usec */
    size_t n;
    char names[CPS_MAX_TIMINGS][CPS_TIMING_NAME_MAX];
    struct cps_timing items[CPS_MAX_TIMINGS]; /* items[i].stage points into names[i] */
};

/* CLOCK_MONOTONIC in microseconds. */
uint64_t cps__now_usec(void);

/* Start the clock. */
void cps__timings_init(struct cps_timings *t);

/* Record stage (borrowed, copied) = now - last mark, and move the mark. */
void cps__timings_lap(struct cps_timings *t, const char *stage);

/* Record stage with a duration measured elsewhere (e.g. by I); the mark stays. */
void cps__timings_add(struct cps_timings *t, const char *stage, uint64_t usec);

#endif
