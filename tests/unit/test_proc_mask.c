/* test_proc_mask.c - which /proc files the job's /proc covers (helper/proc_mask.c). */
#include <check.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "proc_mask.h"
#include "check_run.h"

static bool has(const struct cps_proc_masks *m, const char *name)
{
    for (size_t i = 0; i < m->count; i++)
        if (strcmp(m->names[i], name) == 0)
            return true;
    return false;
}

/* On this kernel's /proc: exactly the top-level regular files others cannot
 * read, plus keys and key-users; listed the slow way (every entry, the
 * processes too) to compare. */
START_TEST(real_proc)
{
    struct cps_proc_masks m;
    struct cps_error err = {0};
    size_t want = 0;
    struct dirent *e;
    struct stat st;
    DIR *d;
    int fd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(cps__proc_masks_find(fd, &m, CPS_STAGE_PROC, &err), 0);
    d = opendir("/proc");
    ck_assert_ptr_nonnull(d);
    while ((e = readdir(d)) != NULL) {
        static const char *const named[] = {"keys",        "key-users",   "timer_list",
                                            "sched_debug", "timer_stats", "latency_stats"};
        bool is_named = false;

        for (size_t i = 0; i < sizeof(named) / sizeof(named[0]); i++)
            is_named |= strcmp(e->d_name, named[i]) == 0;
        if (isdigit((unsigned char)e->d_name[0]) ||
            fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
            continue;
        if (!(st.st_mode & S_IROTH) || is_named) {
            ck_assert_msg(has(&m, e->d_name), "/proc/%s (mode %o) is not in the list", e->d_name,
                          st.st_mode & 07777);
            want++;
        }
    }
    closedir(d);
    /* Nothing else is in the list. */
    ck_assert_uint_eq(m.count, want);
    ck_assert(has(&m, "keys"));
    /* Linux 6.x: these are 0400. */
    ck_assert(has(&m, "slabinfo"));
    ck_assert(has(&m, "kpageflags"));
    ck_assert(!has(&m, "cpuinfo"));
    ck_assert(!has(&m, "self"));
    close(fd);
}
END_TEST

static char dir[64];

static void make(const char *name, mode_t mode)
{
    char path[128];
    int fd;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    ck_assert_int_ge(fd, 0);
    close(fd);
    ck_assert_int_eq(chmod(path, mode), 0);
}

static void setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/cps-proc-mask-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
    char cmd[128];

    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* The rule on a directory of our own (no "self", so every entry is read):
 * owner-only files, the named ones and covers, never directories or
 * symlinks. */
START_TEST(rule)
{
    struct cps_proc_masks m;
    struct cps_error err = {0};
    char path[128];
    int fd;

    make("secret", 0400);
    make("secret_rw", 0600);
    make("public", 0444);
    make("keys", 0444);
    make("key-users", 0444);
    snprintf(path, sizeof(path), "%s/private_dir", dir);
    ck_assert_int_eq(mkdir(path, 0700), 0);
    snprintf(path, sizeof(path), "%s/link", dir);
    ck_assert_int_eq(symlink("secret", path), 0);
    /* Not a file procfs makes: a cover on the host's /proc. */
    snprintf(path, sizeof(path), "%s/covered", dir);
    ck_assert_int_eq(mkfifo(path, 0666), 0);
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(cps__proc_masks_find(fd, &m, CPS_STAGE_PROC, &err), 0);
    close(fd);
    ck_assert_uint_eq(m.count, 5);
    ck_assert(has(&m, "secret") && has(&m, "secret_rw") && has(&m, "keys") &&
              has(&m, "key-users") && has(&m, "covered"));
}
END_TEST

/* More than CPS_PROC_MASK_MAX: an error naming the stage, never a list that
 * leaves files uncovered. */
START_TEST(too_many)
{
    struct cps_proc_masks m;
    struct cps_error err = {0};
    char name[32];
    int fd;

    for (int i = 0; i <= CPS_PROC_MASK_MAX; i++) {
        snprintf(name, sizeof(name), "f%d", i);
        make(name, 0400);
    }
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(cps__proc_masks_find(fd, &m, CPS_STAGE_BUBBLEWRAP, &err), -E2BIG);
    close(fd);
    ck_assert_str_eq(err.stage, "bubblewrap");
    ck_assert_ptr_nonnull(strstr(err.message, "CPS_PROC_MASK_MAX"));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("proc_mask");
    TCase *proc_tc = tcase_create("proc");
    TCase *dir_tc = tcase_create("dir");

    tcase_add_test(proc_tc, real_proc);
    suite_add_tcase(s, proc_tc);
    tcase_add_checked_fixture(dir_tc, setup, teardown);
    tcase_add_test(dir_tc, rule);
    tcase_add_test(dir_tc, too_many);
    suite_add_tcase(s, dir_tc);
    return cps_test_run(s);
}
