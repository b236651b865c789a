/* error.c - filling struct cps_error. */
#include "error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "utf8.h"

/*
 * Copy src into dst (size bytes) truncating on a UTF-8 character boundary:
 * messages travel in error frames whose text must be valid UTF-8, and a
 * truncation in the middle of a multi-byte character would make the frame
 * undecodable. The source may overlap dst (callers prefix their own message).
 */
static void copy_field(char *dst, size_t size, const char *src)
{
    size_t n = strlen(src);

    if (n >= size)
        n = cps__utf8_truncate(src, n, size - 1);
    memmove(dst, src, n);
    dst[n] = '\0';
}

/* fmt is the caller's format, checked where cps__error_set* is called. */
static int error_vset(struct cps_error *err, const char *stage, int errnum, const char *hint,
                      const char *fmt, va_list ap) __attribute__((format(printf, 5, 0)));

static int error_vset(struct cps_error *err, const char *stage, int errnum, const char *hint,
                      const char *fmt, va_list ap)
{
    int saved_errno = errno;
    int ret = errnum > 0 ? -errnum : -EIO;

    if (err) {
        /* Format into a temporary first: the arguments may point into err
         * itself (`"load %s: %s", path, err->message`). Formatting %m reads
         * errno, which is still the caller's here. */
        char message[CPS_ERROR_MESSAGE_MAX + 8];
        char hint_copy[CPS_ERROR_HINT_MAX];

        vsnprintf(message, sizeof(message), fmt, ap);
        copy_field(hint_copy, sizeof(hint_copy), hint ? hint : "");

        copy_field(err->stage, sizeof(err->stage), stage ? stage : "");
        err->errnum = errnum > 0 ? errnum : 0;
        copy_field(err->message, sizeof(err->message), message);
        copy_field(err->hint, sizeof(err->hint), hint_copy);
    }
    errno = saved_errno;
    return ret;
}

int cps__error_set(struct cps_error *err, enum cps_stage stage, int errnum, const char *hint,
                   const char *fmt, ...)
{
    va_list ap;
    int ret;

    va_start(ap, fmt);
    ret = error_vset(err, cps__stage_name(stage), errnum, hint, fmt, ap);
    va_end(ap);
    return ret;
}

int cps__error_set_named(struct cps_error *err, const char *stage, int errnum, const char *hint,
                         const char *fmt, ...)
{
    va_list ap;
    int ret;

    va_start(ap, fmt);
    ret = error_vset(err, stage, errnum, hint, fmt, ap);
    va_end(ap);
    return ret;
}

void cps__error_clear(struct cps_error *err)
{
    if (err)
        memset(err, 0, sizeof(*err));
}
