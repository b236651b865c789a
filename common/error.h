/* error.h - filling struct cps_error (defined in the public header). */
#ifndef CPS_COMMON_ERROR_H
#define CPS_COMMON_ERROR_H

#include "cachepot-sandbox.h"

/*
 * Fill err (may be NULL) with stage, errnum, hint (may be NULL or "") and a
 * printf-style message. Returns -errnum, or -EIO when errnum is 0, so callers can
 * write `return cps__error_set(err, "overlay", errno, hint, "mount %s", p);`.
 * Strings longer than the fields are truncated, never overflowed.
 */
int cps__error_set(struct cps_error *err, const char *stage, int errnum, const char *hint,
                   const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Reset err to "no error" (all strings empty, errnum 0). err may be NULL. */
void cps__error_clear(struct cps_error *err);

#endif
