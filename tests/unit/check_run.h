/*
 * check_run.h - run a unit test's Check suite the way every unit test does:
 * each case in its own forked process (Check's default), the normal report,
 * exit status 0 only when every case passed.
 *
 * A case this host cannot run is left out of the suite before the run (never
 * skipped from inside its forked process: Check counts an early exit(77) as an
 * error). The program then exits 77 so that ctest shows it as skipped, never
 * as passed; the cases that did run must still pass (1 otherwise). A run in
 * which no case ran at all fails.
 */
#ifndef CPS_TEST_CHECK_RUN_H
#define CPS_TEST_CHECK_RUN_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>

static inline int cps_test_run(Suite *s)
{
    SRunner *sr = srunner_create(s);
    int ran, failed;

    srunner_run_all(sr, CK_NORMAL);
    ran = srunner_ntests_run(sr);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    if (ran == 0) {
        /* CK_RUN_CASE or CK_RUN_SUITE named nothing in this suite. */
        printf("FAIL: no test ran\n");
        return EXIT_FAILURE;
    }
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* The skip exit status ctest is told about (SKIP_RETURN_CODE in tests/CMakeLists.txt). */
#define CPS_TEST_SKIPPED 77

/*
 * cps_test_run for a suite that left cases out: skip_reason (borrowed) says
 * why, or is NULL when nothing was left out. Prints "SKIP: <reason>" after the
 * run and returns CPS_TEST_SKIPPED when the other cases passed.
 */
static inline int cps_test_run_skipping(Suite *s, const char *skip_reason)
{
    int rc = cps_test_run(s);

    if (rc != EXIT_SUCCESS || skip_reason == NULL)
        return rc;
    printf("SKIP: %s (the other cases passed)\n", skip_reason);
    return CPS_TEST_SKIPPED;
}

#endif
