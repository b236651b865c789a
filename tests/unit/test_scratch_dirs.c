/* test_scratch_dirs.c - BUILD/{upper,work,target} creation and removal (helper/scratch_dirs.c). */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <linux/limits.h>
#include <linux/magic.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "scratch_dirs.h"
#include "check_run.h"
#include "private_mounts.h"

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
    ck_assert_int_eq(cps__builddir_create(&b, true, 0, &e), 0);
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

/* A tree deeper than the descriptors the helper may open, as a job on disk
 * scratch makes it with mkdir + chdir (issue 12: a recursive removal ran out
 * of descriptors and left it). */
START_TEST(remove_deep_tree)
{
    struct rlimit rl = {32, 32};
    struct cps_builddir b;
    struct cps_error e;
    int fd, next;

    ck_assert_int_eq(cps__builddir_check(dir, &b, &e), 0);
    ck_assert_int_eq(cps__builddir_create(&b, true, 0, &e), 0);
    fd = open(b.upper, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    ck_assert_int_ge(fd, 0);
    for (int i = 0; i < 1500; i++) {
        ck_assert_int_eq(mkdirat(fd, "d", 0755), 0);
        next = openat(fd, "d", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        ck_assert_int_ge(next, 0);
        close(fd);
        fd = next;
    }
    close(fd);
    ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
    ck_assert_int_eq(cps__builddir_remove(&b, &e), 0);
    ck_assert_int_eq(count_entries(dir), 0);
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
    ck_assert_int_eq(cps__builddir_create(&b, true, 0, &e), -EEXIST);
    ck_assert_str_eq(e.stage, "builddir");
    ck_assert_ptr_nonnull(strstr(e.message, "not clean"));
    /* Only what was created is removed: upper goes, the foreign work stays. */
    ck_assert_int_eq(cps__builddir_remove(&b, &e), 0);
    ck_assert_int_eq(count_entries(dir), 1);
    ck_assert_int_eq(access(path, F_OK), 0);
}
END_TEST

static int entries_at(int fd)
{
    int n = 0, d = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *dp = fdopendir(d);
    struct dirent *e;

    ck_assert_ptr_nonnull(dp);
    while ((e = readdir(dp)) != NULL)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(dp);
    return n;
}

/* The default: a tmpfs of scratch_bytes on the build dir, seen only in the
 * helper's mount namespace; the host directory underneath is never written. */
START_TEST(tmpfs_scratch)
{
    struct cps_builddir b;
    struct cps_error e;
    struct statfs sf;
    struct stat before, st;
    char path[PATH_MAX + 64], big[64 * 1024];
    int under, fd;
    ssize_t n = 0, w;

    private_mounts();
    ck_assert_int_eq(stat(dir, &before), 0);
    under = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    ck_assert_int_ge(under, 0);
    ck_assert_int_eq(cps__builddir_check(dir, &b, &e), 0);
    ck_assert_int_eq(cps__builddir_create(&b, false, 1u << 20, &e), 0);
    ck_assert_msg(b.tmpfs, "this kernel's tmpfs has user xattrs (>= 6.6): a tmpfs is expected");
    ck_assert_int_eq(statfs(b.upper, &sf), 0);
    ck_assert_uint_eq((unsigned long)sf.f_type, TMPFS_MAGIC);
    ck_assert_int_eq(stat(dir, &st), 0);
    ck_assert_uint_ne(st.st_dev, before.st_dev);
    /* scratch_bytes bounds what the job may write. */
    snprintf(path, sizeof(path), "%s/fill", b.upper);
    fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
    ck_assert_int_ge(fd, 0);
    memset(big, 'x', sizeof(big));
    while ((w = write(fd, big, sizeof(big))) > 0)
        n += w;
    ck_assert_int_eq(errno, ENOSPC);
    ck_assert_int_le(n, 1 << 20);
    close(fd);
    ck_assert_int_eq(entries_at(under), 0);
    ck_assert_int_eq(cps__builddir_remove(&b, &e), 0);
    ck_assert(!b.tmpfs);
    ck_assert_int_eq(stat(dir, &st), 0);
    ck_assert_uint_eq(st.st_dev, before.st_dev);
    ck_assert_int_eq(count_entries(dir), 0);
    close(under);
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

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, create_and_remove);
    tcase_add_test(tc, remove_deep_tree);
    tcase_add_test(tc, not_clean);
    tcase_add_test(tc, check_failures);
    tcase_add_test(tc, tmpfs_scratch);
    suite_add_tcase(s, tc);
    return cps_test_run(s);
}
