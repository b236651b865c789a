/* test_cgroup.c - the per-job cgroup (helper/cgroup.c). Runs as root; the
 * unprivileged case runs in a child as uid 65534. */
#include <check.h>
#include <errno.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cgroup.h"
#include "error.h"
#include "check_run.h"

/* Fork a child that waits for a byte on a pipe, then forks up to n children
 * and exits with the number it managed (each child waits for the pipe's EOF). */
static pid_t spawn_forker(int n, int *go)
{
    int p[2];
    pid_t pid;

    ck_assert_int_eq(pipe(p), 0);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        char c;
        int made = 0;

        close(p[1]);
        if (read(p[0], &c, 1) != 1)
            _exit(255);
        for (int i = 0; i < n; i++) {
            pid_t k = fork();

            if (k < 0)
                break;
            if (k == 0) {
                pause();
                _exit(0);
            }
            made++;
        }
        _exit(made);
    }
    close(p[0]);
    *go = p[1];
    return pid;
}

START_TEST(root_job_cgroup_bounds_processes)
{
    struct cps_job_limits l = {.processes = 5, .address_space = 256u << 20};
    struct cps_job_cgroup cg;
    struct cps_error err;
    struct stat st;
    char dirs[CPS_CGROUP_DIRS][4096];
    int go, status;
    pid_t pid;

    cps__cgroup_create(&cg);
    if (cg.version == 0) {
        /* Every CI host of this project runs the tests as root with a writable cgroup. */
        ck_abort_msg("no job cgroup as root: %s", cg.reason);
    }
    memcpy(dirs, cg.dir, sizeof(dirs));
    ck_assert_int_eq(stat(cg.dir[0], &st), 0);
    ck_assert(S_ISDIR(st.st_mode));
    pid = spawn_forker(20, &go);
    ck_assert_int_eq(cps__cgroup_set_limits(&cg, &l, &err), 0);
    ck_assert_int_eq(cps__cgroup_enter(&cg, pid, &err), 0);
    ck_assert_int_eq(write(go, "x", 1), 1);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status));
    /* The forker itself is one of the 5. */
    ck_assert_int_eq(WEXITSTATUS(status), 4);
    ck_assert(!cps__cgroup_oom_killed(&cg));
    /* The forker's children wait in pause(): end them through the cgroup's list. */
    close(go);
    {
        char procs[4200];
        FILE *f;
        int k;

        snprintf(procs, sizeof(procs), "%s/cgroup.procs", cg.dir[0]);
        f = fopen(procs, "re");
        ck_assert_ptr_nonnull(f);
        while (fscanf(f, "%d", &k) == 1) {
            kill(k, SIGKILL);
            waitpid(k, NULL, 0);
        }
        fclose(f);
    }
    cps__cgroup_remove(&cg);
    ck_assert_int_eq(cg.version, 0);
    for (int i = 0; i < CPS_CGROUP_DIRS; i++)
        if (dirs[i][0])
            ck_assert_int_eq(stat(dirs[i], &st) < 0 ? errno : 0, ENOENT);
}
END_TEST

START_TEST(off_with_reason_when_not_writable)
{
    int p[2], status;
    char reason[256] = "";
    pid_t pid;

    ck_assert_int_eq(pipe(p), 0);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        struct cps_job_cgroup cg;
        struct cps_job_limits l = {.processes = 5};
        struct cps_error err;

        close(p[0]);
        if (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 ||
            setresuid(65534, 65534, 65534) < 0)
            _exit(2);
        cps__cgroup_create(&cg);
        if (write(p[1], cg.reason, sizeof(cg.reason)) < 0)
            _exit(3);
        /* Off: applying is a no-op that succeeds. */
        _exit(cg.version == 0 && cps__cgroup_set_limits(&cg, &l, &err) == 0 &&
                      cps__cgroup_enter(&cg, 0, &err) == 0
                  ? 0
                  : 1);
    }
    close(p[1]);
    ck_assert_int_eq(read(p[0], reason, sizeof(reason)), (ssize_t)sizeof(reason));
    close(p[0]);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status));
    ck_assert_int_eq(WEXITSTATUS(status), 0);
    reason[sizeof(reason) - 1] = '\0';
    ck_assert_msg(strstr(reason, "not writable") != NULL || strstr(reason, "not available") ||
                      strstr(reason, "no v1"),
                  "reason: %s", reason);
}
END_TEST

/* A child that waits for a byte on a pipe, then locks its memory (so that no
 * swap can take it) and touches up to 512 MiB: the job cgroup's memory limit
 * makes the kernel's OOM killer end it. */
static pid_t spawn_hog(int *go)
{
    int p[2];
    pid_t pid;

    ck_assert_int_eq(pipe(p), 0);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        char c;

        close(p[1]);
        if (read(p[0], &c, 1) != 1 || mlockall(MCL_CURRENT | MCL_FUTURE) < 0)
            _exit(255);
        for (int i = 0; i < 512; i++) {
            char *m = malloc(1u << 20);

            if (m == NULL)
                _exit(254);
            memset(m, i, 1u << 20);
        }
        _exit(0);
    }
    close(p[0]);
    *go = p[1];
    return pid;
}

/*
 * A helper serving several jobs keeps one cgroup (docs/REUSE.md): a job's
 * OOM kill is counted from that job's start, so the next job is not reported
 * as killed by memory, and the cgroup says whether a process is still in it.
 */
START_TEST(root_cgroup_counts_per_job)
{
    struct cps_job_limits l = {.processes = 16, .address_space = 32u << 20};
    struct cps_job_cgroup cg;
    struct cps_error err;
    int go, status;
    pid_t pid;

    cps__cgroup_create(&cg);
    ck_assert_msg(cg.version != 0, "no job cgroup as root: %s", cg.reason);
    ck_assert_msg(
        cg.memory_fd >= 0 && cg.events_fd >= 0,
        "the job cgroup has no memory controller (every CI host of this project has one)");
    ck_assert(cps__cgroup_empty(&cg));

    /* Job 1: killed by the memory limit. */
    cps__cgroup_job_start(&cg);
    ck_assert_int_eq(cps__cgroup_set_limits(&cg, &l, &err), 0);
    ck_assert(!cps__cgroup_oom_killed(&cg));
    pid = spawn_hog(&go);
    ck_assert_int_eq(cps__cgroup_enter(&cg, pid, &err), 0);
    ck_assert_int_eq(write(go, "x", 1), 1);
    close(go);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "hog status 0x%x", status);
    ck_assert(cps__cgroup_oom_killed(&cg));
    ck_assert(cps__cgroup_empty(&cg));

    /* Job 2, same cgroup: no OOM kill of its own; a live process is seen. */
    cps__cgroup_job_start(&cg);
    ck_assert_int_eq(cps__cgroup_set_limits(&cg, &l, &err), 0);
    ck_assert(!cps__cgroup_oom_killed(&cg));
    pid = spawn_forker(0, &go);
    ck_assert_int_eq(cps__cgroup_enter(&cg, pid, &err), 0);
    ck_assert(!cps__cgroup_empty(&cg));
    ck_assert_int_eq(write(go, "x", 1), 1);
    close(go);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    ck_assert(cps__cgroup_empty(&cg));
    ck_assert(!cps__cgroup_oom_killed(&cg));
    cps__cgroup_remove(&cg);
    ck_assert_int_eq(cg.version, 0);
}
END_TEST

/* A cgroup left by a helper killed with SIGKILL is removed by the next one. */
START_TEST(stale_cgroup_swept)
{
    struct cps_job_cgroup cg;
    char parent[4096], stale[4200];
    struct stat st;
    pid_t dead;

    cps__cgroup_create(&cg);
    ck_assert_msg(cg.version != 0, "no job cgroup as root: %s", cg.reason);
    snprintf(parent, sizeof(parent), "%s", cg.dir[0]);
    *strrchr(parent, '/') = '\0';
    cps__cgroup_remove(&cg);
    dead = fork();
    ck_assert_int_ge(dead, 0);
    if (dead == 0)
        _exit(0);
    ck_assert_int_eq(waitpid(dead, NULL, 0), dead);
    snprintf(stale, sizeof(stale), "%s/cps-job-%ld", parent, (long)dead);
    ck_assert_int_eq(mkdir(stale, 0755), 0);
    cps__cgroup_create(&cg);
    ck_assert_int_eq(stat(stale, &st) < 0 ? errno : 0, ENOENT);
    cps__cgroup_remove(&cg);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cgroup");
    TCase *tc = tcase_create("cgroup");

    if (geteuid() != 0) {
        printf("SKIP: needs root (creates cgroups, runs a case as uid 65534)\n");
        return 77;
    }
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, root_job_cgroup_bounds_processes);
    tcase_add_test(tc, off_with_reason_when_not_writable);
    tcase_add_test(tc, stale_cgroup_swept);
    tcase_add_test(tc, root_cgroup_counts_per_job);
    suite_add_tcase(s, tc);
    return cps_test_run(s);
}
