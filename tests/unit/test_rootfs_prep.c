/* test_rootfs_prep.c - /proc, /dev, /tmp as detached trees (helper/rootfs_prep.c). */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "error.h"
#include "rootfs_prep.h"
#include "check_run.h"

static char dir[64];

static void setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/cps-rootfs-prep-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    ck_assert_int_eq(chmod(dir, 0755), 0);
}

static void teardown(void)
{
    char cmd[128];

    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
}

static int write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    ssize_t n;

    if (fd < 0)
        return -1;
    n = write(fd, text, strlen(text));
    close(fd);
    return n == (ssize_t)strlen(text) ? 0 : -1;
}

/* A user namespace mapping our ids to root, so that the same code runs as
 * root and as an unprivileged user, as the helper's O does. */
static int enter_userns(void)
{
    char map[64];
    uid_t uid = geteuid();
    gid_t gid = getegid();

    if (unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID) < 0)
        return -1;
    snprintf(map, sizeof(map), "0 %u 1\n", (unsigned)uid);
    if (write_file("/proc/self/setgroups", "deny") < 0 || write_file("/proc/self/uid_map", map) < 0)
        return -1;
    snprintf(map, sizeof(map), "0 %u 1\n", (unsigned)gid);
    if (write_file("/proc/self/gid_map", map) < 0)
        return -1;
    return mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL);
}

/*
 * In PID 1 of a new PID namespace, as I: prepare, then attach into dir with
 * another /tmp size. Each failed check exits with its own code.
 */
static int prepare_and_attach(void)
{
    struct cps_rootfs_prep p;
    struct cps_error e;
    char path[PATH_MAX], link[64];
    struct statvfs sv;
    struct statfs sf;
    struct stat st;
    ssize_t n;
    int root_fd;

    if (cps__rootfs_prepare(&p, 4u << 20, &e) < 0) {
        fprintf(stderr, "prepare: %s: %s\n", e.stage, e.message);
        return 10;
    }
    if (!cps__rootfs_prep_ready(&p) || p.tmp_bytes != 4u << 20)
        return 11;
    if (unshare(CLONE_NEWNS) < 0)
        return 12;
    root_fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (root_fd < 0)
        return 13;
    if (cps__rootfs_attach(&p, root_fd, 1u << 20, &e) < 0) {
        fprintf(stderr, "attach: %s: %s\n", e.stage, e.message);
        return 14;
    }
    close(root_fd);
    if (p.proc_fd != -1 || p.dev_fd != -1 || p.tmp_fd != -1)
        return 15;
    /* /tmp was resized from the prepared 4 MiB. */
    snprintf(path, sizeof(path), "%s/tmp", dir);
    if (statfs(path, &sf) < 0 || (uint64_t)sf.f_blocks * (uint64_t)sf.f_bsize != 1u << 20)
        return 16;
    /* This PID namespace's /proc, with /proc/sys read-only. */
    snprintf(path, sizeof(path), "%s/proc/self", dir);
    n = readlink(path, link, sizeof(link) - 1);
    if (n < 0 || (link[n] = '\0', strcmp(link, "1") != 0))
        return 17;
    snprintf(path, sizeof(path), "%s/proc/sys", dir);
    if (statvfs(path, &sv) < 0 || !(sv.f_flag & ST_RDONLY))
        return 18;
    snprintf(path, sizeof(path), "%s/dev/null", dir);
    if (stat(path, &st) < 0 || !S_ISCHR(st.st_mode) || write_file(path, "x") < 0)
        return 19;
    snprintf(path, sizeof(path), "%s/dev/fd", dir);
    n = readlink(path, link, sizeof(link) - 1);
    if (n < 0 || (link[n] = '\0', strcmp(link, "/proc/self/fd") != 0))
        return 20;
    snprintf(path, sizeof(path), "%s/dev/shm", dir);
    if (stat(path, &st) < 0 || (st.st_mode & 07777) != 01777)
        return 21;
    return 0;
}

START_TEST(prepare_attach_resize)
{
    int st;
    pid_t c = fork();

    ck_assert_int_ge(c, 0);
    if (c == 0) {
        pid_t i;
        int ist;

        if (enter_userns() < 0)
            _exit(2);
        i = fork();
        if (i < 0)
            _exit(3);
        if (i == 0)
            _exit(prepare_and_attach());
        if (waitpid(i, &ist, 0) < 0 || !WIFEXITED(ist))
            _exit(4);
        _exit(WEXITSTATUS(ist));
    }
    ck_assert_int_eq(waitpid(c, &st, 0), c);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "check %d failed (status 0x%x)",
                  WIFEXITED(st) ? WEXITSTATUS(st) : -1, st);
}
END_TEST

START_TEST(forced_classic)
{
    struct cps_rootfs_prep p;
    struct cps_error e;

    ck_assert_int_eq(setenv("CACHEPOT_TEST_CLASSIC_MOUNTS", "1", 1), 0);
    ck_assert_int_eq(cps__rootfs_prepare(&p, 1u << 20, &e), -ECANCELED);
    unsetenv("CACHEPOT_TEST_CLASSIC_MOUNTS");
    ck_assert(!cps__rootfs_prep_ready(&p));
    ck_assert_int_eq(p.proc_fd, -1);
    ck_assert_int_eq(p.dev_fd, -1);
    ck_assert_int_eq(p.tmp_fd, -1);
    cps__rootfs_prep_close(&p);
    ck_assert_int_eq(p.tmp_fd, -1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("rootfs_prep");
    TCase *tc = tcase_create("rootfs_prep");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, prepare_attach_resize);
    tcase_add_test(tc, forced_classic);
    suite_add_tcase(s, tc);
    return cps_test_run(s);
}
