/* error.c - filling and printing the shim's errors. */
#include "error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int cpd_fail(struct cps_error *err, const char *stage, int errnum, const char *hint,
             const char *fmt, ...)
{
    va_list ap;

    snprintf(err->stage, sizeof err->stage, "%s", stage);
    err->errnum = errnum;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    if (errnum > 0) {
        size_t n = strlen(err->message);
        snprintf(err->message + n, sizeof err->message - n, ": %s", strerror(errnum));
    }
    snprintf(err->hint, sizeof err->hint, "%s", hint ? hint : "");
    return errnum > 0 ? -errnum : -EINVAL;
}

void cpd_print_error(const struct cps_error *err)
{
    fprintf(stderr, "cachepot-distcc-compiler: %s: %s\n", err->stage, err->message);
    if (err->hint[0])
        fprintf(stderr, "cachepot-distcc-compiler: hint: %s\n", err->hint);
}
