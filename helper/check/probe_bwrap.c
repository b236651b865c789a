/* probe_bwrap.c - bwrap found, new enough, and able to run a command from inside the helper's
 * namespaces. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "error.h"
#include "probe.h"

static void run_child(void *arg, struct cps_probe_result *r)
{
    const struct cps_bwrap *b = arg;
    char true_path[PATH_MAX];
    const char *job_argv[1] = {true_path};
    struct cps_env_pair env[] = {{"PATH", "/usr/bin:/bin"}};
    struct cps_job job = {0};
    struct cps_error err = {0};
    posix_spawn_file_actions_t fa;
    char *envp[] = {NULL};
    char **argv;
    char out[512];
    ssize_t n;
    int pipefd[2];
    pid_t pid;
    int status;
    int ret;

    if (cps__find_executable("true", true_path, sizeof(true_path)) < 0) {
        cps__probe_set(r, CPS_PROBE_FAILED, ENOENT, NULL,
                       "no `true` executable in PATH to run under bwrap");
        return;
    }
    /* The backend runs bwrap inside the helper's user + mount namespace,
     * so bwrap's own namespaces are nested ones: probe exactly that. */
    if (cps__probe_enter_userns(CLONE_NEWNS, r) < 0)
        return;
    /* The host's / as the root (nothing runs but `true`), with the very argv
     * a job gets. */
    job.argv = job_argv;
    job.argc = 1;
    job.env = env;
    job.envc = 1;
    job.cwd = "/";
    job.limits.tmp_bytes = 1 << 20;
    if (cps__bwrap_argv(&job, b, "/", &argv, &err) < 0) {
        cps__probe_set(r, CPS_PROBE_FAILED, err.errnum, NULL, "%s", err.message);
        return;
    }
    if (pipe2(pipefd, O_CLOEXEC) < 0) {
        cps__probe_set(r, CPS_PROBE_FAILED, errno, NULL, "pipe: %m");
        cps__bwrap_argv_free(argv);
        return;
    }
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
    posix_spawn_file_actions_adddup2(&fa, pipefd[1], 2);
    ret = posix_spawn(&pid, argv[0], &fa, NULL, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    cps__bwrap_argv_free(argv);
    close(pipefd[1]);
    if (ret != 0) {
        close(pipefd[0]);
        cps__probe_set(r, CPS_PROBE_FAILED, ret, NULL, "spawn %s: %s", b->path, strerror(ret));
        return;
    }
    n = read(pipefd[0], out, sizeof(out) - 1);
    close(pipefd[0]);
    out[n > 0 ? n : 0] = '\0';
    out[strcspn(out, "\n")] = '\0';
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        cps__probe_set(r, CPS_PROBE_FAILED, 0,
                       "bwrap must be able to create its namespaces inside the helper's user "
                       "namespace; see its message",
                       "bwrap %u.%u.%u (%s) running `true` inside a user namespace failed (%s %d): "
                       "%s",
                       b->version.major, b->version.minor, b->version.micro, b->path,
                       WIFEXITED(status) ? "exit" : "signal",
                       WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), out);
        return;
    }
    cps__probe_set(r, CPS_PROBE_OK, 0, NULL,
                   "bubblewrap %u.%u.%u at %s ran `true` with the backend's flags inside a user "
                   "namespace",
                   b->version.major, b->version.minor, b->version.micro, b->path);
}

void cps__probe_bwrap(struct cps_bwrap *b, struct cps_probe_result *r)
{
    struct cps_error err = {0};

    if (cps__bwrap_probe(b, &err) < 0) {
        cps__probe_set(r, CPS_PROBE_FAILED, err.errnum, err.hint, "%s", err.message);
        return;
    }
    cps__probe_in_child(run_child, b, CPS_PROBE_TIMEOUT_MS, r);
}
