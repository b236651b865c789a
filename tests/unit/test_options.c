/* test_options.c - the helper's command line and environment (helper/options.c). */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cps_limits.h"
#include "options.h"
#include "check_run.h"

/* A writable copy of a string literal (argv entries are char *). */
#define S(text) ((char[]){text})

static int parse(struct cps_helper_options *o, struct cps_error *e, char **argv)
{
    int argc = 0;

    while (argv[argc] != NULL)
        argc++;
    return cps__options_parse(argc, argv, o, e);
}

START_TEST(defaults)
{
    char *argv[] = {S("helper"), NULL};
    struct cps_helper_options o;
    struct cps_error e;

    unsetenv(CPS_ENV_SANDBOX);
    ck_assert_int_eq(parse(&o, &e, argv), 0);
    ck_assert_int_eq(o.mode, CPS_MODE_RUN);
    ck_assert_uint_eq(o.uid, geteuid());
    ck_assert_uint_eq(o.gid, getegid());
    ck_assert_uint_eq(o.backend, CPS_BACKEND_USERNS);
    ck_assert(o.seccomp);
    ck_assert_uint_eq(o.jobs_per_helper, 1);
}
END_TEST

/* --jobs-per-helper: 1..CPS_MAX_JOBS_PER_HELPER, and never with --no-seccomp
 * (the jobs would share the uid's keyrings with keyctl allowed). */
START_TEST(jobs_per_helper)
{
    char *one[] = {S("helper"), S("--jobs-per-helper"), S("1"), NULL};
    char *max[] = {S("helper"), S("--jobs-per-helper=1000"), NULL};
    char *one_no_seccomp[] = {S("helper"), S("--no-seccomp"), S("--jobs-per-helper"), S("1"), NULL};
    char *bad[][5] = {
        {S("helper"), S("--jobs-per-helper"), S("0"), NULL, NULL},
        {S("helper"), S("--jobs-per-helper"), S("1001"), NULL, NULL},
        {S("helper"), S("--jobs-per-helper"), S("-1"), NULL, NULL},
        {S("helper"), S("--jobs-per-helper"), S(""), NULL, NULL},
        {S("helper"), S("--jobs-per-helper"), S("3x"), NULL, NULL},
        {S("helper"), S("--jobs-per-helper"), S("18446744073709551617"), NULL, NULL},
        {S("helper"), S("--jobs-per-helper"), NULL, NULL, NULL},
    };
    char *no_seccomp[][5] = {
        {S("helper"), S("--no-seccomp"), S("--jobs-per-helper"), S("2"), NULL},
        {S("helper"), S("--jobs-per-helper"), S("1000"), S("--no-seccomp"), NULL},
    };
    struct cps_helper_options o;
    struct cps_error e;

    unsetenv(CPS_ENV_SANDBOX);
    ck_assert_int_eq(parse(&o, &e, one), 0);
    ck_assert_uint_eq(o.jobs_per_helper, 1);
    ck_assert_int_eq(parse(&o, &e, max), 0);
    ck_assert_uint_eq(o.jobs_per_helper, CPS_MAX_JOBS_PER_HELPER);
    ck_assert_int_eq(parse(&o, &e, one_no_seccomp), 0);
    ck_assert(!o.seccomp);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(parse(&o, &e, bad[i]) == -EINVAL, "accepted case %zu", i);
        ck_assert_str_eq(e.stage, "usage");
        if (bad[i][2] != NULL)
            ck_assert_msg(strstr(e.message, "between 1 and 1000") != NULL, "%s", e.message);
    }
    for (size_t i = 0; i < sizeof(no_seccomp) / sizeof(no_seccomp[0]); i++) {
        ck_assert_msg(parse(&o, &e, no_seccomp[i]) == -EINVAL, "accepted case %zu", i);
        ck_assert_str_eq(e.stage, "usage");
        ck_assert_msg(strstr(e.message, "keyrings") != NULL && strstr(e.message, "--no-seccomp"),
                      "%s", e.message);
    }
}
END_TEST

START_TEST(flags)
{
    char *argv[] = {S("helper"),    S("--uid"),      S("1000"),         S("--gid=2000"),
                    S("--backend"), S("bubblewrap"), S("--no-seccomp"), NULL};
    struct cps_helper_options o;
    struct cps_error e;

    unsetenv(CPS_ENV_SANDBOX);
    ck_assert_int_eq(parse(&o, &e, argv), 0);
    ck_assert_uint_eq(o.uid, 1000);
    ck_assert_uint_eq(o.gid, 2000);
    ck_assert_uint_eq(o.backend, CPS_BACKEND_BUBBLEWRAP);
    ck_assert(!o.seccomp);
}
END_TEST

START_TEST(env_backend)
{
    char *argv[] = {S("helper"), NULL};
    char *argv_flag[] = {S("helper"), S("--backend"), S("userns"), NULL};
    struct cps_helper_options o;
    struct cps_error e;

    setenv(CPS_ENV_SANDBOX, "bubblewrap", 1);
    ck_assert_int_eq(parse(&o, &e, argv), 0);
    ck_assert_uint_eq(o.backend, CPS_BACKEND_BUBBLEWRAP);
    /* The flag wins over the environment. */
    ck_assert_int_eq(parse(&o, &e, argv_flag), 0);
    ck_assert_uint_eq(o.backend, CPS_BACKEND_USERNS);
    /* An unknown value is an error listing the valid ones, never a fallback. */
    setenv(CPS_ENV_SANDBOX, "docker", 1);
    ck_assert_int_eq(parse(&o, &e, argv), -EINVAL);
    ck_assert_str_eq(e.stage, "usage");
    ck_assert_ptr_nonnull(strstr(e.message, "docker"));
    ck_assert_ptr_nonnull(strstr(e.message, "userns, bubblewrap"));
    unsetenv(CPS_ENV_SANDBOX);
}
END_TEST

START_TEST(bad_values)
{
    char *bad[][4] = {
        {S("helper"), S("--uid"), S("-1"), NULL},
        {S("helper"), S("--uid"), S("abc"), NULL},
        {S("helper"), S("--gid"), S("4294967295"), NULL},
        {S("helper"), S("--uid"), S(""), NULL},
        {S("helper"), S("--backend"), S("x"), NULL},
        {S("helper"), S("--frobnicate"), NULL, NULL},
        {S("helper"), S("extra"), NULL, NULL},
        {S("helper"), S("--uid"), NULL, NULL},
    };
    struct cps_helper_options o;
    struct cps_error e;

    unsetenv(CPS_ENV_SANDBOX);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(parse(&o, &e, bad[i]) == -EINVAL, "accepted case %zu", i);
        ck_assert_str_eq(e.stage, "usage");
    }
}
END_TEST

START_TEST(modes)
{
    char *version[] = {S("helper"), S("--version"), NULL};
    char *help[] = {S("helper"), S("--help"), NULL};
    char *check[] = {S("helper"), S("--check"), S("--json"), NULL};
    char *check_late[] = {S("helper"), S("--uid"), S("1"), S("--check"), NULL};
    struct cps_helper_options o;
    struct cps_error e;

    ck_assert_int_eq(parse(&o, &e, version), 0);
    ck_assert_int_eq(o.mode, CPS_MODE_VERSION);
    ck_assert_int_eq(parse(&o, &e, help), 0);
    ck_assert_int_eq(o.mode, CPS_MODE_HELP);
    ck_assert_int_eq(parse(&o, &e, check), 0);
    ck_assert_int_eq(o.mode, CPS_MODE_CHECK);
    ck_assert_int_eq(o.check_argc, 2);
    ck_assert_str_eq(o.check_argv[0], "--check");
    ck_assert_str_eq(o.check_argv[1], "--json");
    ck_assert_int_eq(parse(&o, &e, check_late), -EINVAL);
}
END_TEST

START_TEST(usage_mentions_everything)
{
    static const char *const words[] = {
        "--uid",        "--gid",          "--backend", "--no-seccomp", "--jobs-per-helper",
        "--check",      "--json",         "--version", "--help",       "CACHEPOT_SANDBOX",
        "CACHEPOT_LOG", "CACHEPOT_BWRAP", "exit codes"};
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);

    cps__options_usage(f);
    fclose(f);
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        ck_assert_msg(strstr(text, words[i]) != NULL, "usage lacks %s", words[i]);
    free(text);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("options");
    TCase *tc = tcase_create("options");

    tcase_add_test(tc, defaults);
    tcase_add_test(tc, jobs_per_helper);
    tcase_add_test(tc, flags);
    tcase_add_test(tc, env_backend);
    tcase_add_test(tc, bad_values);
    tcase_add_test(tc, modes);
    tcase_add_test(tc, usage_mentions_everything);
    suite_add_tcase(s, tc);
    return cps_test_run(s);
}
