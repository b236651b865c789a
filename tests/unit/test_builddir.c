/* test_builddir.c - BUILD/{upper,work,target} creation and removal (helper/builddir.c). */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "builddir.h"

static char dir[64], outside[64];

static void setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/cps-builddir-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(outside, sizeof(outside), "/tmp/cps-builddir-out-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(outside));
}

static void teardown(void)
{
    char cmd[256];

    snprintf(cmd, sizeof(cmd), "chmod -R u+rwx %s; rm -rf %s %s", dir, dir, outside);
    ck_assert_int_eq(system(cmd), 0);
}

static int count_entries(const char *path)
{
    char cmd[256];

    snprintf(cmd, sizeof(cmd), "exit $(ls -A %s | wc -l)", path);
    return WEXITSTATUS(system(cmd));
}

START_TEST(create_and_remove)
{
    struct cps_builddir b;
    struct cps_error e;
    char path[PATH_MAX + 64], keep[PATH_MAX + 64];

    ck_assert_int_eq(cps__builddir_check(dir, &b, &e), 0);
    ck_assert_int_eq(cps__builddir_create(&b, &e), 0);
    /* What overlayfs and a job leave: a mode 000 dir, a read-only tree, links
     * pointing out (never followed: the file outside must survive). */
    snprintf(keep, sizeof(keep), "%s/precious", outside);
    ck_assert_int_eq(close(open(keep, O_CREAT | O_WRONLY, 0644)), 0);
    snprintf(path, sizeof(path), "%s/work", b.work);
    ck_assert_int_eq(mkdir(path, 0), 0);
    snprintf(path, sizeof(path), "%s/ro", b.upper);
    ck_assert_int_eq(mkdir(path, 0755), 0);
    snprintf(path, sizeof(path), "%s/ro/f", b.upper);
    ck_assert_int_eq(close(open(path, O_CREAT | O_WRONLY, 0444)), 0);
    snprintf(path, sizeof(path), "%s/ro", b.upper);
    ck_assert_int_eq(chmod(path, 0555), 0);
    snprintf(path, sizeof(path), "%s/link", b.upper);
    ck_assert_int_eq(symlink(outside, path), 0);
    ck_assert_int_eq(cps__builddir_remove(&b, &e), 0);
    ck_assert_int_eq(count_entries(dir), 0);
    ck_assert_int_eq(access(keep, F_OK), 0);
}
END_TEST

START_TEST(not_clean)
{
    struct cps_builddir b;
    struct cps_error e;
    char path[PATH_MAX + 64];

    snprintf(path, sizeof(path), "%s/work", dir);
    ck_assert_int_eq(mkdir(path, 0755), 0);
    ck_assert_int_eq(cps__builddir_check(dir, &b, &e), 0);
    ck_assert_int_eq(cps__builddir_create(&b, &e), -EEXIST);
    ck_assert_str_eq(e.stage, "builddir");
    ck_assert_ptr_nonnull(strstr(e.message, "not clean"));
    /* Only what was created is removed: upper goes, the foreign work stays. */
    ck_assert_int_eq(cps__builddir_remove(&b, &e), 0);
    ck_assert_int_eq(count_entries(dir), 1);
    ck_assert_int_eq(access(path, F_OK), 0);
}
END_TEST

START_TEST(check_failures)
{
    struct cps_builddir b;
    struct cps_error e;
    char path[PATH_MAX + 64];

    snprintf(path, sizeof(path), "%s/missing", dir);
    ck_assert_int_eq(cps__builddir_check(path, &b, &e), -ENOENT);
    ck_assert_ptr_nonnull(strstr(e.message, path));
    snprintf(path, sizeof(path), "%s/file", dir);
    ck_assert_int_eq(close(open(path, O_CREAT | O_WRONLY, 0644)), 0);
    ck_assert_int_eq(cps__builddir_check(path, &b, &e), -ENOTDIR);
    ck_assert_int_eq(count_entries(dir), 1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("builddir");
    TCase *tc = tcase_create("builddir");
    SRunner *sr;
    int failed;

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, create_and_remove);
    tcase_add_test(tc, not_clean);
    tcase_add_test(tc, check_failures);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
