/*
 * variant_lib.c - variants that run the job through libcachepot-sandbox.
 * Built without the library (CPS_BENCH_HAVE_LIB undefined), no kind exists and
 * asking for one is an error.
 */
#include <errno.h>
#include <string.h>

#include "driver.h"

const char *bench_lib_kinds(void)
{
    return "(none: built without libcachepot-sandbox)";
}

int bench_variant_lib(struct bench_variant *v, const char *name, const char *kind)
{
    fprintf(stderr, "bench-driver: --lib %s %s: this driver was built without the library\n", name,
            kind);
    return -EINVAL;
}
