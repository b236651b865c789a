/* helper_proc.c - starting the helper with posix_spawn, ending it, reaping it. */
#include "helper_proc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "errtext.h"
#include "error.h"
#include "helper_session.h"
#include "job_features.h"

#define HELPER_FD 3

/* The only variables the helper sees: its own knobs, and PATH to find
 * bwrap and fuse-overlayfs. Everything else of the worker stays out. */
static const char *const passed_env[] = {"PATH", "CACHEPOT_LOG", "CACHEPOT_SANDBOX",
                                         "CACHEPOT_BWRAP", "CACHEPOT_SCRATCH"};
#define N_PASSED (sizeof(passed_env) / sizeof(passed_env[0]))

void cps__helper_hello_take(struct cps_helper_hello *out, const struct cps_hello *hello)
{
    out->seen = true;
    snprintf(out->version, sizeof(out->version), "%s",
             hello->helper_version ? hello->helper_version : "");
    out->max_frame = hello->max_frame;
    out->max_chunk = hello->max_chunk;
    out->features = hello->has_features ? hello->features : CPS_FEATURES_0_1_0;
    out->reuse = hello->reuse;
}

const char *cps__helper_path(const struct cps_run_options *opts)
{
    const char *env;

    if (opts && opts->helper_path && opts->helper_path[0])
        return opts->helper_path;
    env = secure_getenv("CACHEPOT_SANDBOX_HELPER");
    if (env && env[0])
        return env;
    return CPS_HELPER_INSTALL_PATH;
}

/* Build the helper's environment from ours, read-only. Entries are borrowed
 * from environ. The library reads hello.features, so it always asks for it. */
static void helper_env(const char **envp)
{
    size_t n = 0;

    envp[n++] = CPS_HELLO_FEATURES_ENV "=1";
    for (size_t i = 0; i < N_PASSED; i++) {
        size_t len = strlen(passed_env[i]);
        for (char **e = environ; e && *e; e++) {
            if (strncmp(*e, passed_env[i], len) == 0 && (*e)[len] == '=') {
                envp[n++] = *e;
                break;
            }
        }
    }
    envp[n] = NULL;
}

struct helper_argv {
    char uid[16], gid[16], jobs[16];
    const char *argv[12];
};

static void helper_argv(struct helper_argv *a, const char *path, const struct cps_job *job,
                        unsigned jobs_per_helper)
{
    size_t n = 0;

    a->argv[n++] = path;
    if (job->has_uid) {
        snprintf(a->uid, sizeof(a->uid), "%u", job->uid);
        a->argv[n++] = "--uid";
        a->argv[n++] = a->uid;
    }
    if (job->has_gid) {
        snprintf(a->gid, sizeof(a->gid), "%u", job->gid);
        a->argv[n++] = "--gid";
        a->argv[n++] = a->gid;
    }
    if (job->backend) {
        a->argv[n++] = "--backend";
        a->argv[n++] = cps__backend_name((enum cps_backend)job->backend);
    }
    if (job->has_seccomp && !job->seccomp)
        a->argv[n++] = "--no-seccomp";
    /* Only when asked for: a helper of 0.2.0 or older refuses the option, and
     * one-job helpers keep the hello of those releases. */
    if (jobs_per_helper > 1) {
        snprintf(a->jobs, sizeof(a->jobs), "%u", jobs_per_helper);
        a->argv[n++] = "--jobs-per-helper";
        a->argv[n++] = a->jobs;
    }
    a->argv[n] = NULL;
}

/*
 * Place the helper's end where the file actions can dup2() it to fd 3. dup2()
 * onto the same number leaves FD_CLOEXEC set (dup2(2)), so an end that already
 * is fd 3 would be closed at exec; an end at 0-2 would stay behind as the
 * helper's stdin/stdout/stderr. Move it above 3, keeping O_CLOEXEC so no other
 * thread's spawn inherits it.
 */
static int move_above_3(int *fd)
{
    int moved;

    if (*fd > HELPER_FD)
        return 0;
    moved = fcntl(*fd, F_DUPFD_CLOEXEC, HELPER_FD + 1);
    if (moved < 0)
        return -errno;
    close(*fd);
    *fd = moved;
    return 0;
}

static int setup_actions(posix_spawn_file_actions_t *fa, int helper_end)
{
    int r;

    if ((r = posix_spawn_file_actions_adddup2(fa, helper_end, HELPER_FD)) ||
        (r = posix_spawn_file_actions_addopen(fa, 0, "/dev/null", O_RDONLY, 0)) ||
        (r = posix_spawn_file_actions_addopen(fa, 1, "/dev/null", O_WRONLY, 0)) ||
        /* glibc 2.34+: close_range(2) in the child, so no fd the worker opened
         * without O_CLOEXEC (in any thread) leaks into the sandbox helper. */
        (r = posix_spawn_file_actions_addclosefrom_np(fa, HELPER_FD + 1)))
        return -r;
    return 0;
}

static int setup_attr(posix_spawnattr_t *attr)
{
    sigset_t none, all;
    int r;

    /* The worker may block or handle signals in the spawning thread; the
     * helper must start with nothing blocked and every signal at its default,
     * or a SIGTERM/SIGPIPE it relies on would be lost. */
    sigemptyset(&none);
    sigfillset(&all);
    if ((r = posix_spawnattr_setflags(attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF)) ||
        (r = posix_spawnattr_setsigmask(attr, &none)) ||
        (r = posix_spawnattr_setsigdefault(attr, &all)))
        return -r;
    return 0;
}

int cps__helper_spawn(const char *path, const struct cps_job *job, struct cps_helper_proc *p,
                      struct cps_error *err)
{
    return cps__helper_spawn_reusing(path, job, 1, p, err);
}

int cps__helper_spawn_reusing(const char *path, const struct cps_job *job, unsigned jobs_per_helper,
                              struct cps_helper_proc *p, struct cps_error *err)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    struct helper_argv a;
    const char *envp[N_PASSED + 2];
    int sv[2], r;
    pid_t pid;

    memset(p, 0, sizeof(*p));
    p->path = path;
    p->pidfd = -1;
    p->sock = -1;
    p->jobs_per_helper = jobs_per_helper > 1 ? jobs_per_helper : 1;
    /* SOCK_CLOEXEC: another thread's spawn or exec must never inherit either end. */
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return cps__error_set(err, CPS_STAGE_SPAWN, errno, "raise the open file limit (ulimit -n)",
                              "socketpair: %s", cps__errtext(errno));
    r = move_above_3(&sv[1]);
    if (r < 0) {
        close(sv[0]);
        close(sv[1]);
        return cps__error_set(err, CPS_STAGE_SPAWN, -r, NULL, "fcntl(F_DUPFD_CLOEXEC): %s",
                              cps__errtext(-r));
    }
    helper_argv(&a, path, job, p->jobs_per_helper);
    helper_env(envp);

    r = posix_spawn_file_actions_init(&fa);
    if (r == 0) {
        r = -setup_actions(&fa, sv[1]);
        if (r == 0) {
            r = posix_spawnattr_init(&attr);
            if (r == 0) {
                r = -setup_attr(&attr);
                if (r == 0)
                    r = posix_spawn(&pid, path, &fa, &attr, (char *const *)(uintptr_t)a.argv,
                                    (char *const *)(uintptr_t)envp);
                posix_spawnattr_destroy(&attr);
            }
        }
        posix_spawn_file_actions_destroy(&fa);
    }
    close(sv[1]);
    if (r != 0) {
        close(sv[0]);
        return cps__error_set(err, CPS_STAGE_SPAWN, r,
                              "install cachepot-dist-sandbox, or point CACHEPOT_SANDBOX_HELPER "
                              "(or the helper option) at it",
                              "cannot run the helper %s: %s", path, cps__errtext(r));
    }
    p->pid = pid;
    p->sock = sv[0];
    p->spawned_at = cps__now_us();
    /* Our end is polled; O_NONBLOCK belongs to this open file description only. */
    fcntl(p->sock, F_SETFL, fcntl(p->sock, F_GETFL) | O_NONBLOCK);
    /* A pidfd tells us the helper died even if a process it started still holds
     * the socket open (pidfd_open(2), Linux 5.3; the fd is close-on-exec).
     * Without one, EOF must do. */
    p->pidfd = pidfd_open(pid, 0);
    return 0;
}

void cps__helper_kill(struct cps_helper_proc *p)
{
    if (p->pid <= 0 || p->reaped)
        return;
    /* Not reaped yet, so the pid cannot have been reused; the pidfd avoids even
     * that question when another part of the worker reaps children. */
    if (p->pidfd < 0 || pidfd_send_signal(p->pidfd, SIGKILL, NULL, 0) < 0)
        kill(p->pid, SIGKILL);
}

static bool reap(struct cps_helper_proc *p, int flags)
{
    int st;

    if (p->reaped || p->pid <= 0)
        return true;
    for (;;) {
        pid_t r = waitpid(p->pid, &st, flags);
        if (r == p->pid) {
            p->status = st;
            p->reaped = true;
            return true;
        }
        if (r == 0)
            return false;
        if (errno == EINTR)
            continue;
        /* ECHILD: the worker reaps children itself (or ignores SIGCHLD). */
        p->status = -1;
        p->reaped = true;
        return true;
    }
}

bool cps__helper_try_reap(struct cps_helper_proc *p)
{
    return reap(p, WNOHANG);
}

void cps__helper_finish(struct cps_helper_proc *p, int timeout_ms)
{
    if (p->pid > 0 && !p->reaped && p->pidfd >= 0 && timeout_ms >= 0) {
        struct pollfd pfd = {.fd = p->pidfd, .events = POLLIN};
        int r;
        while ((r = poll(&pfd, 1, timeout_ms)) < 0 && errno == EINTR)
            ;
        if (r == 0)
            cps__helper_kill(p);
    } else if (p->pid > 0 && !p->reaped && timeout_ms >= 0) {
        /* No pidfd: EOF on the socket is the helper closing its end at exit. */
        struct pollfd pfd = {.fd = p->sock, .events = POLLIN};
        char buf[256];
        for (;;) {
            int r = poll(&pfd, 1, timeout_ms);
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0) {
                cps__helper_kill(p);
                break;
            }
            ssize_t n = read(p->sock, buf, sizeof(buf));
            if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
                break;
        }
    }
    reap(p, 0);
    if (p->pidfd >= 0)
        close(p->pidfd);
    if (p->sock >= 0)
        close(p->sock);
    p->pidfd = -1;
    p->sock = -1;
}

void cps__describe_status(int status, char *buf, size_t size)
{
    if (status == -1)
        snprintf(buf, size, "ended (its status was collected elsewhere)");
    else if (WIFSIGNALED(status)) {
        /* sigdescr_np (glibc 2.32) is thread safe, unlike strsignal(3). */
        const char *d = sigdescr_np(WTERMSIG(status));
        snprintf(buf, size, "was killed by signal %d (%s)", WTERMSIG(status), d ? d : "unknown");
    } else
        snprintf(buf, size, "exited with status %d", WEXITSTATUS(status));
}
