/*
 * private_mounts.h - a private mount namespace for the calling test process
 * (Check forks each case): as root directly, otherwise inside a user
 * namespace that maps our own ids (setgroups "deny" first, as an unprivileged
 * gid_map writer must: user_namespaces(7)). "/" is made MS_REC|MS_PRIVATE so
 * that nothing the case mounts reaches the host.
 */
#ifndef CPS_TEST_PRIVATE_MOUNTS_H
#define CPS_TEST_PRIVATE_MOUNTS_H

#include <check.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

static inline void cps_test_write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    ck_assert_msg(f != NULL, "open %s: %s", path, strerror(errno));
    fputs(text, f);
    ck_assert_int_eq(fclose(f), 0);
}

static inline void private_mounts(void)
{
    char map[64];
    uid_t uid = geteuid();
    gid_t gid = getegid();

    if (uid != 0) {
        ck_assert_msg(unshare(CLONE_NEWUSER) == 0, "unshare(CLONE_NEWUSER): %s", strerror(errno));
        cps_test_write_file("/proc/self/setgroups", "deny");
        snprintf(map, sizeof(map), "0 %u 1", (unsigned)uid);
        cps_test_write_file("/proc/self/uid_map", map);
        snprintf(map, sizeof(map), "0 %u 1", (unsigned)gid);
        cps_test_write_file("/proc/self/gid_map", map);
    }
    ck_assert_msg(unshare(CLONE_NEWNS) == 0, "unshare(CLONE_NEWNS): %s", strerror(errno));
    ck_assert_int_eq(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), 0);
}

#endif
