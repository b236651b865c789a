/* backend_userns.c - the helper's own backend: rootfs in I, then the compiler child. */
#include "backend.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "error.h"
#include "exec.h"
#include "rootfs.h"
#include "timings.h"

/* The child's stack while it shares I's memory; only touched pages cost. */
#define CHILD_STACK (1024u * 1024u)

struct child_args {
    struct cps_exec_args a;
    int report_rd;
};

static int child_main(void *arg)
{
    struct child_args *c = arg;

    close(c->report_rd);
    cps__exec_child(&c->a);
}

int cps__backend_userns_launch(struct cps_launch *l, pid_t *pid, struct cps_error *err)
{
    struct child_args ca;
    void *stack;
    uint64_t t0 = cps__now_usec();
    int report[2], rc;
    pid_t c;

    rc = cps__rootfs_enter(l->target, l->limits->tmp_bytes, l->prep, err);
    l->rootfs_usec = cps__now_usec() - t0;
    if (rc < 0)
        return rc;
    t0 = cps__now_usec();
    /* The child reports a failure before exec on this close-on-exec pipe; EOF
     * without data means execve succeeded. */
    if (pipe2(report, O_CLOEXEC) < 0)
        return cps__error_set(err, CPS_STAGE_EXEC, errno, NULL, "pipe2 for the exec report");
    ca.a.job = l->job;
    ca.a.limits = l->limits;
    ca.a.stdout_fd = l->stdout_fd;
    ca.a.stderr_fd = l->stderr_fd;
    ca.a.report_fd = report[1];
    ca.a.seccomp = l->seccomp;
    ca.report_rd = report[0];
    /*
     * CLONE_VM | CLONE_VFORK, as posix_spawn(3) does in glibc: the child runs
     * on its own stack in I's memory while I waits, until its execve replaces
     * the memory or it exits. No copy of I's page tables at the fork and no
     * teardown of that copy at the exec. The child gets its own fd table,
     * credentials, cwd and seccomp filter (no CLONE_FILES, CLONE_FS,
     * CLONE_THREAD), so the capabilities, rlimits and filter it sets are its
     * alone; what it writes to memory (libc's heap for argv and envp, errno)
     * stays in I, which is single-threaded and does not use it.
     */
    stack = mmap(NULL, CHILD_STACK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK,
                 -1, 0);
    if (stack == MAP_FAILED) {
        rc = errno;
        close(report[0]);
        close(report[1]);
        return cps__error_set(err, CPS_STAGE_EXEC, rc, NULL, "stack for the job's process");
    }
    c = clone(child_main, (char *)stack + CHILD_STACK, CLONE_VM | CLONE_VFORK | SIGCHLD, &ca);
    rc = errno;
    munmap(stack, CHILD_STACK);
    if (c < 0) {
        close(report[0]);
        close(report[1]);
        return cps__error_set(err, CPS_STAGE_EXEC, rc, NULL, "clone of the job's process");
    }
    close(report[1]);
    return cps__backend_await_exec(l, c, report[0], t0, CPS_STAGE_EXEC, pid, err);
}
