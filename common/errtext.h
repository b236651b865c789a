/* errtext.h - errno text that is safe in any thread. */
#ifndef CPS_COMMON_ERRTEXT_H
#define CPS_COMMON_ERRTEXT_H

#include <string.h>

/*
 * strerror(3) is MT-Unsafe (it may format unknown numbers into a shared
 * buffer) and the parent library, with the common/ code linked into it, runs
 * in many threads at once. strerrordesc_np (glibc 2.32) returns constant
 * strings only.
 */
static inline const char *cps__errtext(int errnum)
{
    const char *s = strerrordesc_np(errnum);
    return s ? s : "unknown error";
}

#endif
