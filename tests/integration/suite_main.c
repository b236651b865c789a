/* suite_main.c - the main() of the integration test programs. */
#include "suite_main.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int it_main(const char *name, const struct it_case *cases, size_t n, const struct it_fixtures *fx)
{
    const char *mode = getenv("CPS_IT_MODE");
    Suite *s;
    SRunner *sr;
    int ran, failed;

    if (geteuid() != 0 && (mode == NULL || strcmp(mode, "unpriv") != 0)) {
        printf("SKIP: the root variant needs uid 0\n");
        return 77;
    }
    s = suite_create(name);
    for (size_t i = 0; i < n; i++) {
        TCase *tc = tcase_create(cases[i].name);

        tcase_add_unchecked_fixture(tc, fx->make_dir, fx->remove_dir);
        tcase_add_checked_fixture(tc, fx->setup, fx->teardown);
        tcase_set_timeout(tc, 240);
        tcase_add_test(tc, cases[i].test);
        suite_add_tcase(s, tc);
    }
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    ran = srunner_ntests_run(sr);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    if (ran == 0) {
        /* ctest names the case in CK_RUN_CASE: a case renamed in the source
         * but not in the registration must not pass by running nothing. */
        const char *only = getenv("CK_RUN_CASE");

        printf("FAIL: no test ran (CK_RUN_CASE=%s)\n", only ? only : "unset");
        return 1;
    }
    return failed == 0 ? 0 : 1;
}
