/*
 * error.h - how the distcc compiler shim reports a failure.
 *
 * The shim fills the library's struct cps_error (stage, errno, message, hint)
 * for its own steps too, so that one function prints every failure the same
 * way. distccd sends the shim's stderr to the client, so the message is what a
 * developer sees on their terminal.
 */
#ifndef CPD_ERROR_H
#define CPD_ERROR_H

#include "cachepot-sandbox.h"

/* Fill err and return -errnum (or -EINVAL when errnum is 0). hint may be NULL. */
int cpd_fail(struct cps_error *err, const char *stage, int errnum, const char *hint,
             const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Print err as "cachepot-distcc-compiler: STAGE: MESSAGE" and a hint line. */
void cpd_print_error(const struct cps_error *err);

#endif
