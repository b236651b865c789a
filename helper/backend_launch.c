/* backend_launch.c - I waits for the job's exec, for either backend. */
#include "backend_launch.h"

#include <errno.h>
#include <sys/wait.h>
#include <unistd.h>

#include "error.h"
#include "timings.h"

int cps__backend_await_exec(struct cps_launch *l, pid_t c, int report_rd, uint64_t t0,
                            enum cps_stage stage, pid_t *pid, struct cps_error *err)
{
    struct cps_error child_err;
    ssize_t n;

    close(l->stdout_fd);
    close(l->stderr_fd);
    l->stdout_fd = l->stderr_fd = -1;
    do {
        n = read(report_rd, &child_err, sizeof(child_err));
    } while (n < 0 && errno == EINTR);
    close(report_rd);
    l->exec_usec = cps__now_usec() - t0;
    if (n == 0) {
        *pid = c;
        return 0;
    }
    while (waitpid(c, NULL, 0) < 0 && errno == EINTR)
        ;
    if (n != (ssize_t)sizeof(child_err))
        return cps__error_set(err, stage, EIO, NULL,
                              "the job's process died before exec without a report");
    *err = child_err;
    return -(child_err.errnum ? child_err.errnum : EIO);
}
