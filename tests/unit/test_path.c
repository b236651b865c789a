/* test_path.c - the protocol's path rule (cps__path_is_normal). */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "cps_limits.h"
#include "proto.h"
#include "check_run.h"

static bool normal(const char *p)
{
    return cps__path_is_normal(p, strlen(p));
}

START_TEST(accepted)
{
    ck_assert(normal("/"));
    ck_assert(normal("/a"));
    ck_assert(normal("/usr/lib/gcc/x86_64-linux-gnu/12/cc1"));
    ck_assert(normal("/a/.b/..c/c../...")); /* dots inside names are names */
    ck_assert(normal("/caf\xc3\xa9"));
    ck_assert(normal("/ a/b c"));
}
END_TEST

START_TEST(refused_with_a_reason)
{
    static const struct {
        const char *path;
        const char *problem;
    } cases[] = {
        {"", "path is empty"},
        {"a", "path is not absolute"},
        {"./a", "path is not absolute"},
        {"../a", "path is not absolute"},
        {"/a/", "path ends with '/'"},
        {"//", "path ends with '/'"},
        {"//a", "path has an empty component"},
        {"/a//b", "path has an empty component"},
        {"/.", "path has a \".\" component"},
        {"/a/./b", "path has a \".\" component"},
        {"/..", "path has a \"..\" component"},
        {"/a/..", "path has a \"..\" component"},
        {"/a/../b", "path has a \"..\" component"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *problem = cps__path_problem(cases[i].path, strlen(cases[i].path));
        ck_assert_msg(problem && strstr(problem, cases[i].problem) == problem, "%s: got %s",
                      cases[i].path, problem ? problem : "(accepted)");
        ck_assert(!normal(cases[i].path));
    }
}
END_TEST

START_TEST(nul_and_length)
{
    char *p = malloc(CPS_MAX_PATH + 2);

    ck_assert(!cps__path_is_normal("/a\0b", 4));
    ck_assert_str_eq(cps__path_problem("/a\0b", 4), "path contains NUL");
    ck_assert(cps__path_is_normal("/a\0b", 2)); /* only len bytes count */
    ck_assert(!cps__path_is_normal(NULL, 0));
    p[0] = '/';
    memset(p + 1, 'x', CPS_MAX_PATH);
    ck_assert(cps__path_is_normal(p, CPS_MAX_PATH));
    ck_assert(!cps__path_is_normal(p, CPS_MAX_PATH + 1));
    ck_assert_str_eq(cps__path_problem(p, CPS_MAX_PATH + 1), "path is longer than 4095 bytes");
    free(p);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("path");
    TCase *tc = tcase_create("path");

    /* A hang guard, not a timing requirement: the machine may be shared. */
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, accepted);
    tcase_add_test(tc, refused_with_a_reason);
    tcase_add_test(tc, nul_and_length);
    suite_add_tcase(s, tc);
    return cps_test_run(s);
}
