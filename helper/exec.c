/* exec.c - the compiler child. */
#include "exec.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "caps.h"
#include "error.h"
#include "path_search.h"
#include "rlimits.h"

/* The child keeps these high until they are moved to 0..3, so that dup2 onto
 * 0..3 never clobbers a source fd that happens to be there. */
#define FD_PARK   10
#define REPORT_FD 3

static _Noreturn void fail(const struct cps_error *e)
{
    ssize_t n;

    do {
        n = write(REPORT_FD, e, sizeof(*e));
    } while (n < 0 && errno == EINTR);
    _exit(127);
}

/* Early failures, before the report pipe sits at REPORT_FD. */
static _Noreturn void fail_at(int fd, const struct cps_error *e)
{
    if (write(fd, e, sizeof(*e)) < 0)
        _exit(126);
    _exit(127);
}

static int setup_fds(const struct cps_exec_args *a, struct cps_error *err)
{
    int null, out, errfd, rep;

    null = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (null < 0)
        return cps__error_set(err, CPS_STAGE_EXEC, errno, NULL, "open /dev/null in the sandbox");
    out = fcntl(a->stdout_fd, F_DUPFD_CLOEXEC, FD_PARK);
    errfd = fcntl(a->stderr_fd, F_DUPFD_CLOEXEC, FD_PARK);
    rep = fcntl(a->report_fd, F_DUPFD_CLOEXEC, FD_PARK);
    if (out < 0 || errfd < 0 || rep < 0)
        return cps__error_set(err, CPS_STAGE_EXEC, errno, NULL, "fcntl(F_DUPFD_CLOEXEC)");
    if (dup2(null, 0) < 0 || dup2(out, 1) < 0 || dup2(errfd, 2) < 0 ||
        dup3(rep, REPORT_FD, O_CLOEXEC) < 0)
        return cps__error_set(err, CPS_STAGE_EXEC, errno, NULL, "dup2 onto fds 0-3");
    /* Nothing of the worker or the helper reaches the job: only 0-2 survive
     * execve (REPORT_FD is close-on-exec). close_range(2): Linux 5.9. */
    if (close_range(REPORT_FD + 1, ~0U, 0) < 0)
        return cps__error_set(err, CPS_STAGE_EXEC, errno, NULL, "close_range(4, ~0U)");
    return 0;
}

/* The decoded job's argv has argc entries; execve wants a NULL after them. */
static char **build_argv(const struct cps_job *job)
{
    char **argv = calloc(job->argc + 1, sizeof(*argv));

    if (argv != NULL)
        memcpy(argv, job->argv, job->argc * sizeof(*argv));
    return argv;
}

static char **build_env(const struct cps_job *job)
{
    char **envp = calloc(job->envc + 1, sizeof(*envp));

    if (envp == NULL)
        return NULL;
    for (size_t i = 0; i < job->envc; i++)
        if (asprintf(&envp[i], "%s=%s", job->env[i].name, job->env[i].value) < 0)
            return NULL;
    return envp;
}

struct exec_with {
    char **argv, **envp;
};

/* A path search candidate (path_search.h): execve only returns on failure. */
static int try_execve(const char *path, void *arg)
{
    const struct exec_with *w = arg;

    execve(path, w->argv, w->envp);
    return -errno;
}

_Noreturn void cps__exec_child(const struct cps_exec_args *a)
{
    struct exec_with w;
    struct cps_error e;
    sigset_t none;

    cps__error_clear(&e);
    /* Signal masks survive execve; the job starts with none blocked. */
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    if (setup_fds(a, &e) < 0)
        fail_at(a->report_fd, &e);
    if (chdir(a->job->cwd) < 0) {
        cps__error_set(&e, CPS_STAGE_EXEC, errno, NULL, "chdir %s in the sandbox", a->job->cwd);
        fail(&e);
    }
    if (cps__rlimits_apply(a->limits, &e) < 0)
        fail(&e);
    if (cps__caps_drop_all(&e) < 0)
        fail(&e);
    /* no_new_privs: a setuid or file-capability binary in the toolchain grants
     * nothing (prctl(2)); also the precondition of an unprivileged seccomp filter. */
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
        cps__error_set(&e, CPS_STAGE_CAPS, errno, NULL, "prctl(PR_SET_NO_NEW_PRIVS)");
        fail(&e);
    }
    if (a->seccomp != NULL && cps__seccomp_load(a->seccomp, &e) < 0)
        fail(&e);
    w.envp = build_env(a->job);
    w.argv = build_argv(a->job);
    if (w.envp == NULL || w.argv == NULL) {
        cps__error_set(&e, CPS_STAGE_EXEC, ENOMEM, NULL, "building argv and the environment");
        fail(&e);
    }
    cps__path_search(a->job, try_execve, &w, &e);
    fail(&e);
}
