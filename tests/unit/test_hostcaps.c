/* test_hostcaps.c - kernel version parsing, PATH lookup and the hello capability sets. */
#include <check.h>
#include <errno.h>
#include <grp.h>
#include <linux/limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "hostcaps.h"
#include "host_facts.h"
#include "proto.h"
#include "check_run.h"

START_TEST(kernel_release)
{
    struct cps_kernel_version v;

    ck_assert_int_eq(cps__kernel_release_parse("6.18.44-fc-v595", &v), 0);
    ck_assert_uint_eq(v.major, 6);
    ck_assert_uint_eq(v.minor, 18);
    ck_assert_uint_eq(v.patch, 44);
    ck_assert_str_eq(v.release, "6.18.44-fc-v595");
    ck_assert_int_eq(cps__kernel_release_parse("5.10.0-28-amd64", &v), 0);
    ck_assert(!cps__kernel_at_least(&v, 5, 11));
    ck_assert(cps__kernel_at_least(&v, 5, 10));
    ck_assert(cps__kernel_at_least(&v, 4, 18));
    ck_assert_int_eq(cps__kernel_release_parse("6.1", &v), 0);
    ck_assert_uint_eq(v.patch, 0);
    ck_assert(cps__kernel_at_least(&v, 5, 11));
    ck_assert_int_eq(cps__kernel_release_parse("4.19-rc1", &v), 0);
    ck_assert_uint_eq(v.minor, 19);
    ck_assert_int_eq(cps__kernel_release_parse("", &v), -EINVAL);
    ck_assert_int_eq(cps__kernel_release_parse("6", &v), -EINVAL);
    ck_assert_int_eq(cps__kernel_release_parse("6.", &v), -EINVAL);
    ck_assert_int_eq(cps__kernel_release_parse("linux-6.1", &v), -EINVAL);
}
END_TEST

START_TEST(kernel_this_host)
{
    struct cps_kernel_version v;
    struct utsname u;
    char text[80];

    ck_assert_int_eq(uname(&u), 0);
    ck_assert_int_eq(cps__kernel_version(&v), 0);
    ck_assert_str_eq(v.release, u.release);
    snprintf(text, sizeof(text), "%u.%u", v.major, v.minor);
    ck_assert_int_eq(strncmp(u.release, text, strlen(text)), 0);
}
END_TEST

static char *make_tempdir(void)
{
    char *dir = strdup("/tmp/cps-test-hostcaps-XXXXXX");

    ck_assert_ptr_nonnull(mkdtemp(dir));
    ck_assert_int_eq(chmod(dir, 0755), 0);
    return dir;
}

static char *make_file(const char *dir, const char *name, mode_t mode)
{
    char *path;
    FILE *f;

    ck_assert_int_ge(asprintf(&path, "%s/%s", dir, name), 0);
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("#!/bin/sh\nexit 0\n", f);
    ck_assert_int_eq(fclose(f), 0);
    ck_assert_int_eq(chmod(path, mode), 0);
    return path;
}

START_TEST(find_executable)
{
    char *dir = make_tempdir();
    char *plain = make_file(dir, "tool", 0644);
    char *exe = make_file(dir, "tool2", 0755);
    char *sub;
    char *search;
    char out[PATH_MAX];

    ck_assert_int_ge(asprintf(&sub, "%s/tool3", dir), 0);
    ck_assert_int_eq(mkdir(sub, 0755), 0);
    ck_assert_int_ge(asprintf(&search, ":/nonexistent:%s", dir), 0);
    setenv("PATH", search, 1);
    /* Not executable, a directory, absent: not found. */
    ck_assert_int_eq(cps__find_executable("tool", out, sizeof(out)), -ENOENT);
    ck_assert_int_eq(cps__find_executable("tool3", out, sizeof(out)), -ENOENT);
    ck_assert_int_eq(cps__find_executable("nope", out, sizeof(out)), -ENOENT);
    ck_assert_int_eq(cps__find_executable("", out, sizeof(out)), -ENOENT);
    ck_assert_int_eq(cps__find_executable("tool2", out, sizeof(out)), 0);
    ck_assert_str_eq(out, exe);
    /* A name with a slash is taken as it is. */
    ck_assert_int_eq(cps__find_executable(exe, out, sizeof(out)), 0);
    ck_assert_str_eq(out, exe);
    ck_assert_int_eq(cps__find_executable(plain, out, sizeof(out)), -ENOENT);
    ck_assert_int_eq(cps__find_executable("tool2", out, 8), -ENOENT);
    /* PATH unset: the default directories. */
    unsetenv("PATH");
    ck_assert_int_eq(cps__find_executable("sh", out, sizeof(out)), 0);
    ck_assert_int_eq(cps__find_executable("tool2", out, sizeof(out)), -ENOENT);

    ck_assert_int_eq(unlink(plain), 0);
    ck_assert_int_eq(unlink(exe), 0);
    ck_assert_int_eq(rmdir(sub), 0);
    ck_assert_int_eq(rmdir(dir), 0);
    free(plain);
    free(exe);
    free(sub);
    free(search);
    free(dir);
}
END_TEST

START_TEST(filesystems)
{
    ck_assert_int_eq(cps__filesystem_listed("proc"), 1);
    ck_assert_int_eq(cps__filesystem_listed("tmpfs"), 1);
    ck_assert_int_eq(cps__filesystem_listed("no-such-fs"), 0);
    ck_assert_int_eq(cps__filesystem_listed("pro"), 0);
}
END_TEST

/* This kind of machine: kernel >= 5.11 with overlay, bwrap and
 * fuse-overlayfs installed, /dev/fuse mode 0600 owned by root. */
START_TEST(caps_as_root)
{
    uint32_t backends = 0, overlays = 0;

    ck_assert_uint_eq(geteuid(), 0);
    unsetenv("CACHEPOT_BWRAP");
    setenv("PATH", "/usr/local/bin:/usr/bin:/bin", 1);
    ck_assert_int_eq(cps__host_caps(&backends, &overlays), 0);
    ck_assert_uint_eq(backends, CPS_BACKEND_USERNS | CPS_BACKEND_BUBBLEWRAP);
    ck_assert_uint_eq(overlays, CPS_OVERLAY_NATIVE | CPS_OVERLAY_FUSE | CPS_OVERLAY_BIND);
}
END_TEST

START_TEST(caps_as_nobody)
{
    uint32_t backends = 0, overlays = 0;

    /* This test runs in its own forked process (CK_FORK): drop to 65534 for
     * good, as setpriv would; no namespace is involved, so staying in the
     * same executable is equivalent. */
    ck_assert_int_eq(setgroups(0, NULL), 0);
    ck_assert_int_eq(setresgid(65534, 65534, 65534), 0);
    ck_assert_int_eq(setresuid(65534, 65534, 65534), 0);
    unsetenv("CACHEPOT_BWRAP");
    setenv("PATH", "/usr/local/bin:/usr/bin:/bin", 1);
    ck_assert_int_eq(cps__host_caps(&backends, &overlays), 0);
    ck_assert_uint_eq(backends, CPS_BACKEND_USERNS | CPS_BACKEND_BUBBLEWRAP);
    /* /dev/fuse is 0600 root here: no fuse for uid 65534. */
    ck_assert_uint_eq(overlays, CPS_OVERLAY_NATIVE | CPS_OVERLAY_BIND);
}
END_TEST

START_TEST(caps_without_tools)
{
    char *dir = make_tempdir();
    uint32_t backends = 0, overlays = 0;

    setenv("CACHEPOT_BWRAP", "/nonexistent/bwrap", 1);
    setenv("PATH", dir, 1);
    ck_assert_int_eq(cps__host_caps(&backends, &overlays), 0);
    ck_assert_uint_eq(backends, CPS_BACKEND_USERNS);
    ck_assert_uint_eq(overlays & (CPS_OVERLAY_FUSE | CPS_OVERLAY_BIND), CPS_OVERLAY_BIND);
    /* CACHEPOT_BWRAP names a bwrap outside PATH. */
    setenv("CACHEPOT_BWRAP", "/usr/bin/bwrap", 1);
    ck_assert_int_eq(cps__host_caps(&backends, &overlays), 0);
    ck_assert_uint_eq(backends, CPS_BACKEND_USERNS | CPS_BACKEND_BUBBLEWRAP);
    /* So does CACHEPOT_FUSE_OVERLAYFS for fuse-overlayfs (root: /dev/fuse opens). */
    setenv("CACHEPOT_FUSE_OVERLAYFS", "/usr/bin/fuse-overlayfs", 1);
    ck_assert_int_eq(cps__host_caps(&backends, &overlays), 0);
    ck_assert_uint_eq(overlays & CPS_OVERLAY_FUSE,
                      access("/dev/fuse", R_OK | W_OK) == 0 ? CPS_OVERLAY_FUSE : 0);
    unsetenv("CACHEPOT_FUSE_OVERLAYFS");
    ck_assert_int_eq(rmdir(dir), 0);
    free(dir);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("hostcaps");
    TCase *tc = tcase_create("host_facts");
    TCase *caps = tcase_create("caps");
    const char *skip = NULL;

    tcase_add_test(tc, kernel_release);
    tcase_add_test(tc, kernel_this_host);
    tcase_add_test(tc, find_executable);
    tcase_add_test(tc, filesystems);
    suite_add_tcase(s, tc);
    if (geteuid() == 0) {
        tcase_add_test(caps, caps_as_root);
        tcase_add_test(caps, caps_as_nobody);
    } else {
        skip = "the root and uid 65534 capability checks need root";
    }
    tcase_add_test(caps, caps_without_tools);
    suite_add_tcase(s, caps);

    return cps_test_run_skipping(s, skip);
}
