/*
 * error.h - struct cps_error, the error type of the helper, the common code and
 * the library, and filling it.
 */
#ifndef CPS_COMMON_ERROR_H
#define CPS_COMMON_ERROR_H

/*
 * The library's public header (parent/include/cachepot-sandbox.h) carries the
 * same definition under the same guard, because it is installed alone; the two
 * must stay identical (ABI), which tests/unit/test_error_layout.c checks.
 */
#ifndef CPS_ERROR_STRUCT_DEFINED
#define CPS_ERROR_STRUCT_DEFINED
#define CPS_ERROR_STAGE_MAX   32
#define CPS_ERROR_MESSAGE_MAX 1024
#define CPS_ERROR_HINT_MAX    512

/*
 * What went wrong, where, and what to do about it: stage is a name of the stage
 * table (stage.h), errnum a positive errno value (0 when none applies), message
 * what was attempted with which paths and facts, hint the knob to turn (may be
 * empty).
 */
struct cps_error {
    char stage[CPS_ERROR_STAGE_MAX];
    int errnum;
    char message[CPS_ERROR_MESSAGE_MAX];
    char hint[CPS_ERROR_HINT_MAX];
};
#endif /* CPS_ERROR_STRUCT_DEFINED */

#include "stage.h"

/*
 * Fill err (may be NULL) with the stage's name, errnum, hint (may be NULL or "")
 * and a printf-style message. Returns -errnum, or -EIO when errnum is 0, so
 * callers can write
 * `return cps__error_set(err, CPS_STAGE_OVERLAY, errno, hint, "mount %s", p);`.
 * Strings longer than the fields are truncated, never overflowed.
 */
int cps__error_set(struct cps_error *err, enum cps_stage stage, int errnum, const char *hint,
                   const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/*
 * cps__error_set with a stage given by name (borrowed; NULL means ""): for a
 * stage that came from elsewhere, such as the helper's error frame.
 */
int cps__error_set_named(struct cps_error *err, const char *stage, int errnum, const char *hint,
                         const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Reset err to "no error" (all strings empty, errnum 0). err may be NULL. */
void cps__error_clear(struct cps_error *err);

#endif
