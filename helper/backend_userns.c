/* backend_userns.c - the helper's own backend: rootfs in I, then the compiler child. */
#include "backend.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "error.h"
#include "exec.h"
#include "rootfs.h"
#include "timings.h"

int cps__backend_userns_launch(struct cps_launch *l, pid_t *pid, struct cps_error *err)
{
    struct cps_exec_args a;
    struct cps_error child_err;
    uint64_t t0 = cps__now_usec();
    int report[2], rc;
    ssize_t n;
    pid_t c;

    rc = cps__rootfs_enter(l->target, l->limits->tmp_bytes, l->prep, err);
    l->rootfs_usec = cps__now_usec() - t0;
    if (rc < 0)
        return rc;
    t0 = cps__now_usec();
    /* The child reports a failure before exec on this close-on-exec pipe; EOF
     * without data means execve succeeded. */
    if (pipe2(report, O_CLOEXEC) < 0)
        return cps__error_set(err, "exec", errno, NULL, "pipe2 for the exec report");
    c = fork();
    if (c < 0) {
        rc = errno;
        close(report[0]);
        close(report[1]);
        return cps__error_set(err, "exec", rc, NULL, "fork of the job's process");
    }
    if (c == 0) {
        close(report[0]);
        a.job = l->job;
        a.limits = l->limits;
        a.stdout_fd = l->stdout_fd;
        a.stderr_fd = l->stderr_fd;
        a.report_fd = report[1];
        a.seccomp = l->seccomp;
        cps__exec_child(&a);
    }
    close(report[1]);
    /* Only the job holds the pipes now: O sees EOF when its last process is gone. */
    close(l->stdout_fd);
    close(l->stderr_fd);
    l->stdout_fd = l->stderr_fd = -1;
    do {
        n = read(report[0], &child_err, sizeof(child_err));
    } while (n < 0 && errno == EINTR);
    close(report[0]);
    l->exec_usec = cps__now_usec() - t0;
    if (n == 0) {
        *pid = c;
        return 0;
    }
    while (waitpid(c, NULL, 0) < 0 && errno == EINTR)
        ;
    if (n != (ssize_t)sizeof(child_err))
        return cps__error_set(err, "exec", EIO, NULL,
                              "the job's process died before exec without a report");
    *err = child_err;
    return -(child_err.errnum ? child_err.errnum : EIO);
}
