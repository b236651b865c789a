/*
 * stage.h - the stages an error can name, as an enum with one name table.
 *
 * The name is what travels in an error frame and what struct cps_error.stage
 * holds (the public struct keeps the string); the enum is what the code uses,
 * so that a test can hold the table against the documentation
 * (tests/unit/test_stage.c) and a misspelt stage does not compile.
 */
#ifndef CPS_COMMON_STAGE_H
#define CPS_COMMON_STAGE_H

#include <stdbool.h>

struct cps_error;

enum cps_stage {
    /* The helper's (docs/HELPER.md, Error stages). */
    CPS_STAGE_USAGE,
    CPS_STAGE_PARENT,
    CPS_STAGE_SIGNALS,
    CPS_STAGE_UNSHARE,
    CPS_STAGE_SETGROUPS,
    CPS_STAGE_UID_MAP,
    CPS_STAGE_GID_MAP,
    CPS_STAGE_HOSTNAME,
    CPS_STAGE_MOUNT,
    CPS_STAGE_SECCOMP,
    CPS_STAGE_FORK_INIT,
    CPS_STAGE_FRAME,
    CPS_STAGE_DECODE,
    CPS_STAGE_ENCODE,
    CPS_STAGE_PROTOCOL,
    CPS_STAGE_JOB,
    CPS_STAGE_BACKEND,
    CPS_STAGE_CGROUP,
    CPS_STAGE_BUBBLEWRAP,
    CPS_STAGE_BUILDDIR,
    CPS_STAGE_OVERLAY,
    CPS_STAGE_INPUTS,
    CPS_STAGE_CANCEL,
    CPS_STAGE_RUN,
    CPS_STAGE_CONTROL,
    CPS_STAGE_INIT,
    CPS_STAGE_PROC,
    CPS_STAGE_DEV,
    CPS_STAGE_TMP,
    CPS_STAGE_PIVOT_ROOT,
    CPS_STAGE_EXEC,
    CPS_STAGE_RLIMITS,
    CPS_STAGE_CAPS,
    CPS_STAGE_OUTPUTS,
    CPS_STAGE_CLEANUP,
    /* The library's own (cachepot-sandbox.h); it also reports some above. */
    CPS_STAGE_SPAWN,
    CPS_STAGE_HELLO,
    CPS_STAGE_INPUT,
    CPS_STAGE_OUTPUT,
    CPS_STAGE_CALLBACK,
    CPS_STAGE_TIMEOUT,
    CPS_STAGE_HELPER,
    CPS_STAGE_POOL,
    CPS_STAGE_POLL,
    CPS_STAGE_COUNT
};

/* Who reports a stage, and how (the documentation lists follow these). */
enum {
    CPS_STAGE_BY_HELPER = 1u << 0,  /* the helper reports it (frame, stderr or log) */
    CPS_STAGE_IN_FRAME = 1u << 1,   /* ... in an error frame to the parent */
    CPS_STAGE_BY_LIBRARY = 1u << 2, /* the library reports it on its own */
};

/* The stage's name (static string); "" for a value out of range. */
const char *cps__stage_name(enum cps_stage stage);

/* The stage's CPS_STAGE_BY_* and CPS_STAGE_IN_FRAME bits; 0 out of range. */
unsigned cps__stage_flags(enum cps_stage stage);

/* The stage called name, or -1 when no stage is. */
int cps__stage_from_name(const char *name);

/* Whether err (borrowed) names stage. */
bool cps__error_is(const struct cps_error *err, enum cps_stage stage);

#endif
