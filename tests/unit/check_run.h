/*
 * check_run.h - run a unit test's Check suite the way every unit test does:
 * each case in its own forked process (Check's default), the normal report,
 * exit status 0 only when every case passed.
 */
#ifndef CPS_TEST_CHECK_RUN_H
#define CPS_TEST_CHECK_RUN_H

#include <check.h>
#include <stdlib.h>

static inline int cps_test_run(Suite *s)
{
    SRunner *sr = srunner_create(s);
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

#endif
