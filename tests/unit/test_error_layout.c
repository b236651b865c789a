/*
 * test_error_layout.c - struct cps_error is defined in common/error.h (for the
 * helper and the common code) and in the installed public header (which must
 * compile alone); the two definitions must agree in every constant, field and
 * offset, since the struct's layout is part of the library's ABI.
 */
#include <check.h>
#include <stddef.h>

#include "error.h"
#include "error_layout.h"
#include "check_run.h"

#ifdef CACHEPOT_SANDBOX_H
#error "this file must see common/error.h's definition, not the public header's"
#endif

START_TEST(common_and_public_definitions_agree)
{
    struct cps_test_error_layout c, p = cps_test_error_layout_public();

    CPS_TEST_ERROR_LAYOUT(c);
    ck_assert_uint_eq(c.stage_max, p.stage_max);
    ck_assert_uint_eq(c.message_max, p.message_max);
    ck_assert_uint_eq(c.hint_max, p.hint_max);
    ck_assert_uint_eq(c.size, p.size);
    ck_assert_uint_eq(c.align, p.align);
    ck_assert_uint_eq(c.stage_off, p.stage_off);
    ck_assert_uint_eq(c.stage_size, p.stage_size);
    ck_assert_uint_eq(c.errnum_off, p.errnum_off);
    ck_assert_uint_eq(c.errnum_size, p.errnum_size);
    ck_assert_uint_eq(c.message_off, p.message_off);
    ck_assert_uint_eq(c.message_size, p.message_size);
    ck_assert_uint_eq(c.hint_off, p.hint_off);
    ck_assert_uint_eq(c.hint_size, p.hint_size);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("error_layout");
    TCase *tc = tcase_create("error_layout");

    tcase_add_test(tc, common_and_public_definitions_agree);
    suite_add_tcase(s, tc);
    return cps_test_run(s);
}
