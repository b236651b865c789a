/* error_layout_public.c - struct cps_error as the installed header alone defines it. */
#include "cachepot-sandbox.h"

#include "error_layout.h"

#ifdef CPS_COMMON_ERROR_H
#error "this file must see the public header's definition, not common/error.h's"
#endif

struct cps_test_error_layout cps_test_error_layout_public(void)
{
    struct cps_test_error_layout l;

    CPS_TEST_ERROR_LAYOUT(l);
    return l;
}
