/* suite_main.h - the main() of the integration test programs. */
#ifndef CPS_TESTS_SUITE_MAIN_H
#define CPS_TESTS_SUITE_MAIN_H

#include <check.h>
#include <stddef.h>

struct it_case {
    const char *name;
    const TTest *test;
};

struct it_fixtures {
    SFun make_dir, remove_dir; /* unchecked: around each case, outside its fork */
    SFun setup, teardown;      /* checked: inside each case's fork */
};

/*
 * Run every case as its own TCase (240 s each) of a suite named name. The
 * root variant (CPS_IT_MODE unset or "root") needs uid 0: otherwise it prints
 * SKIP and returns 77; the unprivileged variant ("unpriv") runs the helper as
 * uid 65534, or as the current user when the test is not root. Returns the
 * process exit status: 0 when every case passed, 1 when one failed or when no
 * case ran (CK_RUN_CASE named none of them).
 */
int it_main(const char *name, const struct it_case *cases, size_t n, const struct it_fixtures *fx);

#endif
