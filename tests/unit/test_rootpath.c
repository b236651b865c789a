/* test_rootpath.c - symlink-free paths inside a root (helper/rootpath.c). */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rootpath.h"
#include "check_run.h"

static char dir[64], outside[64];
static int root_fd = -1;

static void setup(void)
{
    char path[PATH_MAX];

    snprintf(dir, sizeof(dir), "/tmp/cps-rootpath-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(outside, sizeof(outside), "/tmp/cps-rootpath-out-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(outside));
    snprintf(path, sizeof(path), "%s/abs", dir);
    ck_assert_int_eq(symlink(outside, path), 0);
    snprintf(path, sizeof(path), "%s/rel", dir);
    ck_assert_int_eq(symlink("..", path), 0);
    snprintf(path, sizeof(path), "%s/file", dir);
    ck_assert_int_eq(close(open(path, O_CREAT | O_WRONLY, 0644)), 0);
    root_fd = open(dir, O_PATH | O_DIRECTORY);
    ck_assert_int_ge(root_fd, 0);
}

static void teardown(void)
{
    char cmd[256];

    close(root_fd);
    snprintf(cmd, sizeof(cmd), "rm -rf %s %s", dir, outside);
    ck_assert_int_eq(system(cmd), 0);
}

static bool outside_empty(void)
{
    char cmd[128];

    snprintf(cmd, sizeof(cmd), "test -z \"$(ls -A %s)\"", outside);
    return system(cmd) == 0;
}

START_TEST(split)
{
    char parent[PATH_MAX];
    const char *name;

    ck_assert_int_eq(cps__path_split("/a/b/c", parent, &name), 0);
    ck_assert_str_eq(parent, "/a/b");
    ck_assert_str_eq(name, "c");
    ck_assert_int_eq(cps__path_split("/c", parent, &name), 0);
    ck_assert_str_eq(parent, "/");
    ck_assert_str_eq(name, "c");
    ck_assert_int_eq(cps__path_split("/", parent, &name), -EINVAL);
}
END_TEST

START_TEST(mkdirs_creates_and_reuses)
{
    struct cps_error e;
    struct stat st;
    char path[PATH_MAX];
    int fd;

    fd = cps__root_mkdirs(root_fd, "/x/y/z", CPS_STAGE_INPUTS, &e);
    ck_assert_int_ge(fd, 0);
    close(fd);
    snprintf(path, sizeof(path), "%s/x/y/z", dir);
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert(S_ISDIR(st.st_mode));
    fd = cps__root_mkdirs(root_fd, "/x/y", CPS_STAGE_INPUTS, &e);
    ck_assert_int_ge(fd, 0);
    close(fd);
    fd = cps__root_mkdirs(root_fd, "/", CPS_STAGE_INPUTS, &e);
    ck_assert_int_ge(fd, 0);
    close(fd);
}
END_TEST

START_TEST(mkdirs_never_follows)
{
    struct cps_error e;

    ck_assert_int_eq(cps__root_mkdirs(root_fd, "/abs/sub", CPS_STAGE_INPUTS, &e), -ELOOP);
    ck_assert_str_eq(e.stage, "inputs");
    ck_assert_ptr_nonnull(strstr(e.message, "symlink"));
    ck_assert_int_eq(cps__root_mkdirs(root_fd, "/rel/sub", CPS_STAGE_INPUTS, &e), -ELOOP);
    ck_assert_int_eq(cps__root_mkdirs(root_fd, "/file/sub", CPS_STAGE_INPUTS, &e), -ENOTDIR);
    ck_assert(outside_empty());
}
END_TEST

START_TEST(open_in_root)
{
    int fd;

    /* ".." and absolute links cannot leave the root; no link is followed. */
    ck_assert_int_eq(cps__root_open(root_fd, "/abs/f", O_WRONLY | O_CREAT, 0644), -ELOOP);
    ck_assert_int_eq(cps__root_open(root_fd, "/rel", O_RDONLY | O_NOFOLLOW, 0), -ELOOP);
    fd = cps__root_open(root_fd, "/../../file", O_RDONLY, 0);
    ck_assert_int_ge(fd, 0); /* ".." at the root stays at the root */
    close(fd);
    fd = cps__root_open(root_fd, "/", O_PATH | O_DIRECTORY, 0);
    ck_assert_int_ge(fd, 0);
    close(fd);
    ck_assert(outside_empty());
}
END_TEST

int main(void)
{
    Suite *s = suite_create("rootpath");
    TCase *tc = tcase_create("rootpath");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, split);
    tcase_add_test(tc, mkdirs_creates_and_reuses);
    tcase_add_test(tc, mkdirs_never_follows);
    tcase_add_test(tc, open_in_root);
    suite_add_tcase(s, tc);
    return cps_test_run(s);
}
