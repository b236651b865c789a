/* test_log.c - logging, error filling and the UTF-8 helpers under them. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "log.h"
#include "utf8.h"
#include "check_run.h"

/* Run fn with stderr captured into buf; returns the bytes captured. */
static size_t capture_stderr(void (*fn)(void), char *buf, size_t size)
{
    int pfd[2], saved;
    ssize_t n;
    size_t got = 0;

    ck_assert_int_eq(pipe(pfd), 0);
    saved = dup(STDERR_FILENO);
    dup2(pfd[1], STDERR_FILENO);
    close(pfd[1]);
    fn();
    dup2(saved, STDERR_FILENO);
    close(saved);
    while (got + 1 < size && (n = read(pfd[0], buf + got, size - 1 - got)) > 0)
        got += (size_t)n;
    buf[got] = '\0';
    close(pfd[0]);
    return got;
}

static void log_some(void)
{
    errno = EACCES;
    cps__log_error("mount %s: %m", "/x");
    cps__log_warn("warned");
    cps__log_info("informed");
    cps__log_debug("debugged");
    /* Logging leaves errno alone. */
    ck_assert_int_eq(errno, EACCES);
}

START_TEST(default_level_is_warn)
{
    char buf[4096];

    unsetenv("CACHEPOT_LOG");
    cps__log_init("helper");
    ck_assert_int_eq(cps__log_level(), CPS_LOG_WARN);
    capture_stderr(log_some, buf, sizeof(buf));
    ck_assert_ptr_nonnull(strstr(buf, " error ["));
    ck_assert_ptr_nonnull(strstr(buf, "] helper: mount /x: Permission denied\n"));
    ck_assert_ptr_nonnull(strstr(buf, " warn ["));
    ck_assert_ptr_null(strstr(buf, "informed"));
    ck_assert_ptr_null(strstr(buf, "debugged"));
}
END_TEST

START_TEST(line_format)
{
    char buf[4096], want[64];
    int y, mo, d, h, mi, s, ms;
    long pid;
    char level[16], rest[128];

    setenv("CACHEPOT_LOG", "info", 1);
    cps__log_init("parent");
    capture_stderr(log_some, buf, sizeof(buf));
    /* 2026-11-29T12:00:00.123Z error [4242] parent: mount /x: Permission denied */
    ck_assert_int_eq(sscanf(buf, "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ %15s [%ld] %127[^\n]", &y, &mo, &d,
                            &h, &mi, &s, &ms, level, &pid, rest),
                     10);
    ck_assert_str_eq(level, "error");
    ck_assert_int_eq(pid, getpid());
    ck_assert_str_eq(rest, "parent: mount /x: Permission denied");
    ck_assert_ptr_nonnull(strstr(buf, "parent: informed\n"));
    ck_assert_ptr_null(strstr(buf, "debugged"));
    snprintf(want, sizeof(want), "%04d-", y);
    ck_assert_int_ge(y, 2024);
}
END_TEST

START_TEST(levels_by_name_any_case)
{
    setenv("CACHEPOT_LOG", "TRACE", 1);
    cps__log_init("x");
    ck_assert_int_eq(cps__log_level(), CPS_LOG_TRACE);
    setenv("CACHEPOT_LOG", "error", 1);
    cps__log_init("x");
    ck_assert_int_eq(cps__log_level(), CPS_LOG_ERROR);
    setenv("CACHEPOT_LOG", "debug", 1);
    cps__log_init("x");
    ck_assert_int_eq(cps__log_level(), CPS_LOG_DEBUG);
}
END_TEST

static void init_bad_level(void)
{
    setenv("CACHEPOT_LOG", "loud", 1);
    cps__log_init("helper");
}

START_TEST(unknown_level_warns_and_uses_warn)
{
    char buf[4096];

    capture_stderr(init_bad_level, buf, sizeof(buf));
    ck_assert_int_eq(cps__log_level(), CPS_LOG_WARN);
    ck_assert_ptr_nonnull(strstr(buf, "CACHEPOT_LOG=loud is not one of"));
}
END_TEST

static void log_long(void)
{
    char big[10000];

    memset(big, 'q', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    cps__log_error("%s", big);
}

START_TEST(long_lines_are_cut_visibly_in_one_line)
{
    char buf[16384];
    size_t n;

    unsetenv("CACHEPOT_LOG");
    cps__log_init("helper");
    n = capture_stderr(log_long, buf, sizeof(buf));
    ck_assert_uint_eq(n, 4096);
    ck_assert(buf[n - 1] == '\n');
    ck_assert(memcmp(buf + n - 4, "...", 3) == 0);
    ck_assert_ptr_eq(strchr(buf, '\n'), buf + n - 1);
}
END_TEST

START_TEST(error_set_fills_and_returns)
{
    struct cps_error err;

    errno = ENOENT;
    ck_assert_int_eq(cps__error_set(&err, CPS_STAGE_OVERLAY, EPERM, "set knob", "mount %s", "/m"),
                     -EPERM);
    ck_assert_int_eq(errno, ENOENT);
    ck_assert_str_eq(err.stage, "overlay");
    ck_assert_int_eq(err.errnum, EPERM);
    ck_assert_str_eq(err.message, "mount /m");
    ck_assert_str_eq(err.hint, "set knob");
    ck_assert_int_eq(cps__error_set_named(&err, "x", 0, NULL, "no errno"), -EIO);
    ck_assert_int_eq(err.errnum, 0);
    ck_assert_str_eq(err.hint, "");
    ck_assert_int_eq(cps__error_set_named(NULL, "x", EINVAL, NULL, "nowhere"), -EINVAL);
    cps__error_clear(&err);
    ck_assert_str_eq(err.message, "");
    ck_assert_int_eq(err.errnum, 0);
    cps__error_clear(NULL);
}
END_TEST

START_TEST(error_set_may_reuse_its_own_fields)
{
    struct cps_error err;

    cps__error_set_named(&err, "idmap", EPERM, "turn the knob", "write uid_map");
    cps__error_set_named(&err, err.stage, err.errnum, err.hint, "spawn: %s", err.message);
    ck_assert_str_eq(err.message, "spawn: write uid_map");
    ck_assert_str_eq(err.hint, "turn the knob");
    ck_assert_str_eq(err.stage, "idmap");
}
END_TEST

START_TEST(error_set_truncates_on_character_boundaries)
{
    struct cps_error err;
    char big[2000];
    size_t n;

    /* 1021 ASCII bytes and then euro signs: the 1023-byte field ends
     * after 1021 bytes, not inside a character. */
    memset(big, 'a', 1021);
    big[1021] = '\0';
    for (int i = 0; i < 100; i++)
        strcat(big, "\xe2\x82\xac");
    cps__error_set_named(&err, "a_stage_name_that_is_much_longer_than_thirty_one", EIO, big, "%s",
                         big);
    n = strlen(err.message);
    ck_assert_uint_eq(n, 1021);
    ck_assert(cps__utf8_valid(err.message, n));
    ck_assert(cps__utf8_valid(err.hint, strlen(err.hint)));
    ck_assert_uint_le(strlen(err.hint), sizeof(err.hint) - 1);
    ck_assert_uint_eq(strlen(err.stage), sizeof(err.stage) - 1);
}
END_TEST

START_TEST(utf8_rules)
{
    static const struct {
        const char *s;
        bool ok;
    } cases[] = {
        {"", true},
        {"plain", true},
        {"\xc2\x80", true},
        {"\xdf\xbf", true},
        {"\xe0\xa0\x80", true},
        {"\xef\xbf\xbf", true},
        {"\xf0\x90\x80\x80", true},
        {"\xf4\x8f\xbf\xbf", true},
        {"\x80", false},             /* lone continuation */
        {"\xc0\x80", false},         /* overlong NUL */
        {"\xc1\xbf", false},         /* overlong */
        {"\xe0\x9f\xbf", false},     /* overlong 3-byte */
        {"\xed\xa0\x80", false},     /* surrogate U+D800 */
        {"\xf0\x8f\xbf\xbf", false}, /* overlong 4-byte */
        {"\xf4\x90\x80\x80", false}, /* above U+10FFFF */
        {"\xf5\x80\x80\x80", false},
        {"\xff", false},
        {"\xe2\x82", false}, /* truncated */
        {"a\xc3", false},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        ck_assert_msg(cps__utf8_valid(cases[i].s, strlen(cases[i].s)) == cases[i].ok, "case %zu",
                      i);
}
END_TEST

START_TEST(utf8_truncate_and_sanitize)
{
    char s[] = "ab\xe2\x82\xac"
               "cd\xff"
               "e\xc3";

    ck_assert_uint_eq(cps__utf8_truncate("ab\xe2\x82\xac", 5, 4), 2);
    ck_assert_uint_eq(cps__utf8_truncate("ab\xe2\x82\xac", 5, 5), 5);
    ck_assert_uint_eq(cps__utf8_truncate("ab\xe2\x82\xac", 5, 2), 2);
    ck_assert_uint_eq(cps__utf8_truncate("ab\xe2\x82", 4, 3), 2);
    ck_assert_uint_eq(cps__utf8_truncate("a\xff\xff", 3, 2), 2);
    cps__utf8_sanitize(s);
    ck_assert_str_eq(s, "ab\xe2\x82\xac"
                        "cd?e?");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("log");
    TCase *tc = tcase_create("log");

    /* A hang guard, not a timing requirement: the machine may be shared. */
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, default_level_is_warn);
    tcase_add_test(tc, line_format);
    tcase_add_test(tc, levels_by_name_any_case);
    tcase_add_test(tc, unknown_level_warns_and_uses_warn);
    tcase_add_test(tc, long_lines_are_cut_visibly_in_one_line);
    tcase_add_test(tc, error_set_fills_and_returns);
    tcase_add_test(tc, error_set_may_reuse_its_own_fields);
    tcase_add_test(tc, error_set_truncates_on_character_boundaries);
    tcase_add_test(tc, utf8_rules);
    tcase_add_test(tc, utf8_truncate_and_sanitize);
    suite_add_tcase(s, tc);
    return cps_test_run(s);
}
