/* test_rmtree.c - iterative tree removal (common/rmtree.c). */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check_run.h"
#include "private_mounts.h"
#include "rmtree.h"

static char dir[64];
static int dir_fd = -1;

static void setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/cps-rmtree-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    ck_assert_int_ge(dir_fd, 0);
}

static void teardown(void)
{
    char cmd[128];

    close(dir_fd);
    /* The tmpfs of on_tmpfs(), if any (EINVAL otherwise). */
    umount2(dir, MNT_DETACH);
    snprintf(cmd, sizeof(cmd), "chmod -R u+rwx %s 2>/dev/null; rm -rf %s", dir, dir);
    ck_assert_int_eq(system(cmd), 0);
}

static int entries(int fd)
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

/* The test dir as a tmpfs (private to this test process): building a deep
 * tree on a loaded disk costs a millisecond per level. */
static void on_tmpfs(void)
{
    private_mounts();
    ck_assert_int_eq(mount("tmpfs", dir, "tmpfs", 0, "size=256m"), 0);
    close(dir_fd);
    dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    ck_assert_int_ge(dir_fd, 0);
}

/* name/x/x/... depth levels below at, each level's dir named by a name of
 * len characters, with a file in every level; one fd open at a time, as a job
 * does it with mkdir + chdir. */
static void make_deep(int at, const char *name, int depth, size_t len)
{
    char level[NAME_MAX + 1];
    int fd, next;

    memset(level, 'd', len);
    level[len] = '\0';
    ck_assert_int_eq(mkdirat(at, name, 0755), 0);
    fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    ck_assert_int_ge(fd, 0);
    for (int i = 0; i < depth; i++) {
        ck_assert_int_eq(close(openat(fd, "f", O_CREAT | O_WRONLY | O_CLOEXEC, 0644)), 0);
        ck_assert_int_eq(mkdirat(fd, level, 0755), 0);
        next = openat(fd, level, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        ck_assert_int_ge(next, 0);
        close(fd);
        fd = next;
    }
    close(fd);
}

/* Far deeper than the descriptors this process may open (a recursive removal
 * holding one per level fails with EMFILE) and than any recursion limit. */
START_TEST(deep_tree_few_fds)
{
    struct rlimit rl = {32, 32};

    on_tmpfs();
    make_deep(dir_fd, "deep", 3000, 1);
    ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
    ck_assert_int_eq(cps__rmtree_at(dir_fd, "deep"), 0);
    ck_assert_int_eq(entries(dir_fd), 0);
}
END_TEST

/* NAME_MAX names at every level: the path is far beyond PATH_MAX. */
START_TEST(long_names)
{
    on_tmpfs();
    make_deep(dir_fd, "long", 200, NAME_MAX);
    ck_assert_int_eq(cps__rmtree_at(dir_fd, "long"), 0);
    ck_assert_int_eq(entries(dir_fd), 0);
}
END_TEST

/* Many subdirectories in one directory, each non-empty: every climb back
 * finds its place in the parent's listing again. */
START_TEST(wide_tree)
{
    char name[32];
    int top, sub;

    on_tmpfs();
    ck_assert_int_eq(mkdirat(dir_fd, "wide", 0755), 0);
    top = openat(dir_fd, "wide", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    for (int i = 0; i < 1000; i++) {
        snprintf(name, sizeof(name), "s%d", i);
        ck_assert_int_eq(mkdirat(top, name, 0755), 0);
        sub = openat(top, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        ck_assert_int_eq(close(openat(sub, "f", O_CREAT | O_WRONLY | O_CLOEXEC, 0644)), 0);
        ck_assert_int_eq(mkdirat(sub, "d", 0755), 0);
        close(sub);
        snprintf(name, sizeof(name), "f%d", i);
        ck_assert_int_eq(close(openat(top, name, O_CREAT | O_WRONLY | O_CLOEXEC, 0644)), 0);
    }
    close(top);
    ck_assert_int_eq(cps__rmtree_at(dir_fd, "wide"), 0);
    ck_assert_int_eq(entries(dir_fd), 0);
}
END_TEST

/* Links are removed, not followed; directories without permissions (mode
 * 000, read-only) are opened up first; a file or a link as the top goes too. */
START_TEST(links_and_modes)
{
    char outside[128];
    int fd;

    snprintf(outside, sizeof(outside), "%s/outside", dir);
    ck_assert_int_eq(mkdirat(dir_fd, "outside", 0755), 0);
    ck_assert_int_eq(close(openat(dir_fd, "outside/keep", O_CREAT | O_WRONLY, 0644)), 0);
    ck_assert_int_eq(mkdirat(dir_fd, "t", 0755), 0);
    ck_assert_int_eq(symlinkat(outside, dir_fd, "t/link"), 0);
    ck_assert_int_eq(symlinkat("../outside", dir_fd, "t/rel"), 0);
    ck_assert_int_eq(mkdirat(dir_fd, "t/ro", 0755), 0);
    ck_assert_int_eq(close(openat(dir_fd, "t/ro/f", O_CREAT | O_WRONLY, 0444)), 0);
    ck_assert_int_eq(mkdirat(dir_fd, "t/ro/none", 0755), 0);
    ck_assert_int_eq(mkdirat(dir_fd, "t/ro/none/inner", 0755), 0);
    ck_assert_int_eq(fchmodat(dir_fd, "t/ro/none", 0, 0), 0);
    ck_assert_int_eq(fchmodat(dir_fd, "t/ro", 0555, 0), 0);
    ck_assert_int_eq(symlinkat(outside, dir_fd, "toplink"), 0);
    fd = openat(dir_fd, "topfile", O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
    close(fd);
    ck_assert_int_eq(cps__rmtree_at(dir_fd, "t"), 0);
    ck_assert_int_eq(cps__rmtree_at(dir_fd, "toplink"), 0);
    ck_assert_int_eq(cps__rmtree_at(dir_fd, "topfile"), 0);
    ck_assert_int_eq(cps__rmtree_at(dir_fd, "missing"), 0);
    ck_assert_int_eq(faccessat(dir_fd, "outside/keep", F_OK, 0), 0);
    ck_assert_int_eq(entries(dir_fd), 1);
}
END_TEST

/* A mount point below is another filesystem: left, with EBUSY, and nothing
 * in it removed; everything else goes. */
START_TEST(stays_on_one_filesystem)
{
    private_mounts();
    ck_assert_int_eq(mkdirat(dir_fd, "m", 0755), 0);
    ck_assert_int_eq(mkdirat(dir_fd, "m/mnt", 0755), 0);
    ck_assert_int_eq(close(openat(dir_fd, "m/file", O_CREAT | O_WRONLY, 0644)), 0);
    {
        char path[128];

        snprintf(path, sizeof(path), "%s/m/mnt", dir);
        ck_assert_int_eq(mount("tmpfs", path, "tmpfs", 0, "size=64k"), 0);
        ck_assert_int_eq(close(openat(dir_fd, "m/mnt/inside", O_CREAT | O_WRONLY, 0644)), 0);
        ck_assert_int_eq(cps__rmtree_at(dir_fd, "m"), -EBUSY);
        ck_assert_int_eq(faccessat(dir_fd, "m/mnt/inside", F_OK, 0), 0);
        ck_assert_int_ne(faccessat(dir_fd, "m/file", F_OK, 0), 0);
        ck_assert_int_eq(umount2(path, MNT_DETACH), 0);
    }
    ck_assert_int_eq(cps__rmtree_at(dir_fd, "m"), 0);
    ck_assert_int_eq(entries(dir_fd), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("rmtree");
    TCase *tc = tcase_create("rmtree");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, deep_tree_few_fds);
    tcase_add_test(tc, long_names);
    tcase_add_test(tc, wide_tree);
    tcase_add_test(tc, links_and_modes);
    tcase_add_test(tc, stays_on_one_filesystem);
    suite_add_tcase(s, tc);
    return cps_test_run(s);
}
