/* test_parent_paths.c - the parent's path rules and its leftover removal. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

/* The parent's private headers (helper/ has a builddir.h of its own). */
#include "../../parent/lib/host_builddir.h"
#include "../../parent/lib/paths.h"
#include "check_run.h"

static void resolves(const char *base, const char *path, const char *want)
{
    struct cps_error err;
    char *out;

    ck_assert_msg(cps__path_resolve(base, path, &out, &err) == 0, "%s + %s: %s", base, path,
                  err.message);
    ck_assert_str_eq(out, want);
    free(out);
}

START_TEST(resolve_against_cwd)
{
    resolves("/build", "a.o", "/build/a.o");
    resolves("/build", "./sub//a.o", "/build/sub/a.o");
    resolves("/build", "/abs/./x", "/abs/x");
    resolves("/", "x", "/x");
    resolves("/build", "/", "/");
    resolves("/build", ".", "/build");
}
END_TEST

START_TEST(resolve_refuses_dotdot_and_empty)
{
    struct cps_error err;
    char *out;

    ck_assert_int_eq(cps__path_resolve("/build", "../etc/passwd", &out, &err), -EINVAL);
    ck_assert_ptr_null(out);
    ck_assert_str_eq(err.stage, "job");
    ck_assert_int_eq(cps__path_resolve("/build", "a/../../b", &out, &err), -EINVAL);
    ck_assert_int_eq(cps__path_resolve("/build", "", &out, &err), -EINVAL);
}
END_TEST

START_TEST(output_names_stay_relative)
{
    struct cps_error err;
    char *out;

    ck_assert_int_eq(cps__path_output_name("/abs/dir/x.o", &out, &err), 0);
    ck_assert_str_eq(out, "abs/dir/x.o");
    free(out);
    ck_assert_int_eq(cps__path_output_name("./a//b.o", &out, &err), 0);
    ck_assert_str_eq(out, "a/b.o");
    free(out);
    ck_assert_int_eq(cps__path_output_name("a/../../b", &out, &err), -EINVAL);
    ck_assert_int_eq(cps__path_output_name("/", &out, &err), -EINVAL);
    ck_assert_int_eq(cps__path_output_name("./.", &out, &err), -EINVAL);
}
END_TEST

/* Leftovers go, including a mode-000 dir, without following a symlink out. */
START_TEST(clean_does_not_follow_symlinks)
{
    char dir[] = "/tmp/cps-unit-XXXXXX", p[256], keep[256];

    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(keep, sizeof(keep), "%s/keep", dir);
    mkdir(keep, 0755);
    snprintf(p, sizeof(p), "%s/keep/file", dir);
    close(open(p, O_WRONLY | O_CREAT, 0644));
    snprintf(p, sizeof(p), "%s/upper", dir);
    mkdir(p, 0755);
    snprintf(p, sizeof(p), "%s/upper/link", dir);
    ck_assert_int_eq(symlink(keep, p), 0);
    snprintf(p, sizeof(p), "%s/work", dir);
    mkdir(p, 0755);
    snprintf(p, sizeof(p), "%s/work/work", dir);
    mkdir(p, 0);
    snprintf(p, sizeof(p), "%s/target", dir);
    ck_assert_int_eq(symlink(keep, p), 0);

    cps__build_dir_clean(dir);
    snprintf(p, sizeof(p), "%s/upper", dir);
    ck_assert_int_ne(access(p, F_OK), 0);
    snprintf(p, sizeof(p), "%s/work", dir);
    ck_assert_int_ne(access(p, F_OK), 0);
    snprintf(p, sizeof(p), "%s/target", dir);
    ck_assert_int_ne(access(p, F_OK), 0);
    snprintf(p, sizeof(p), "%s/keep/file", dir);
    ck_assert_int_eq(access(p, F_OK), 0);
    ck_assert_int_eq(cps__remove_tree(dir), 0);
    ck_assert_int_ne(access(dir, F_OK), 0);
}
END_TEST

/* What a job on disk scratch may leave: deeper than any recursion limit and
 * than the descriptors the worker may have free (issue 12: the cleanup gave
 * up below depth 128). */
START_TEST(clean_deep_tree)
{
    char dir[] = "/tmp/cps-unit-XXXXXX", p[256];
    struct rlimit rl = {32, 32};
    int fd, next;

    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(p, sizeof(p), "%s/upper", dir);
    ck_assert_int_eq(mkdir(p, 0755), 0);
    fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    for (int i = 0; i < 1500; i++) {
        ck_assert_int_eq(mkdirat(fd, "d", 0755), 0);
        next = openat(fd, "d", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        ck_assert_int_ge(next, 0);
        close(fd);
        fd = next;
    }
    close(fd);
    ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
    cps__build_dir_clean(dir);
    ck_assert_int_ne(access(p, F_OK), 0);
    ck_assert_int_eq(cps__remove_tree(dir), 0);
    ck_assert_int_ne(access(dir, F_OK), 0);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("parent_paths");
    TCase *tc = tcase_create("paths");

    tcase_add_test(tc, resolve_against_cwd);
    tcase_add_test(tc, resolve_refuses_dotdot_and_empty);
    tcase_add_test(tc, output_names_stay_relative);
    tcase_add_test(tc, clean_does_not_follow_symlinks);
    tcase_add_test(tc, clean_deep_tree);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return cps_test_run(suite());
}
