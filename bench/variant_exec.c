/*
 * variant_exec.c - a variant that spawns a command line: bare exec, unshare,
 * bubblewrap, the cachepot-dist-run CLI. posix_spawn (vfork-like in glibc) so
 * the driver's own size does not leak into the measurement, stdin from
 * /dev/null, stdout to /dev/null or counted, stderr kept (its tail) for the
 * failure message.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "driver.h"

/* Keep the last BENCH_ERR_MAX-1 bytes of stderr in res->err. */
static void keep_tail(struct bench_result *res, size_t *have, const char *buf, size_t n)
{
    size_t cap = sizeof(res->err) - 1;
    if (n >= cap) {
        memcpy(res->err, buf + n - cap, cap);
        *have = cap;
    } else {
        if (*have + n > cap) {
            size_t drop = *have + n - cap;
            memmove(res->err, res->err + drop, *have - drop);
            *have -= drop;
        }
        memcpy(res->err + *have, buf, n);
        *have += n;
    }
    res->err[*have] = '\0';
}

/* Read stdout (counted) and stderr (tail kept) until both are at EOF. */
static void pump(int out, int errfd, struct bench_result *res)
{
    static __thread char buf[1 << 16];
    size_t have = 0;
    struct pollfd p[2] = {{.fd = out, .events = POLLIN}, {.fd = errfd, .events = POLLIN}};
    while (p[0].fd >= 0 || p[1].fd >= 0) {
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        for (int i = 0; i < 2; i++) {
            if (p[i].fd < 0 || !p[i].revents)
                continue;
            ssize_t n = read(p[i].fd, buf, sizeof(buf));
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                close(p[i].fd);
                p[i].fd = -1;
                continue;
            }
            if (i == 0)
                res->stdout_bytes += (uint64_t)n;
            else
                keep_tail(res, &have, buf, (size_t)n);
        }
    }
}

static int run_exec(struct bench_variant *v, const struct bench_job *job, struct bench_result *res)
{
    int outp[2] = {-1, -1}, errp[2] = {-1, -1}, rc = -1, status;
    posix_spawn_file_actions_t fa;
    pid_t pid;
    char **argv = bench_expand(v->tpl, job);
    if (!argv) {
        snprintf(res->err, sizeof(res->err), "cannot expand template");
        return -ENOMEM;
    }
    if (pipe2(errp, O_CLOEXEC) < 0 || (job->count_stdout && pipe2(outp, O_CLOEXEC) < 0)) {
        rc = -errno;
        snprintf(res->err, sizeof(res->err), "pipe: %s", strerror(errno));
        goto out;
    }
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    if (job->count_stdout)
        posix_spawn_file_actions_adddup2(&fa, outp[1], 1);
    else
        posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, errp[1], 2);
    if (job->dir && access(job->dir, X_OK) == 0)
        posix_spawn_file_actions_addchdir_np(&fa, job->dir);

    uint64_t t0 = bench_now_us();
    int e = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(errp[1]);
    errp[1] = -1;
    if (outp[1] >= 0) {
        close(outp[1]);
        outp[1] = -1;
    }
    if (e) {
        rc = -e;
        snprintf(res->err, sizeof(res->err), "spawn %s: %s", argv[0], strerror(e));
        goto out;
    }
    pump(outp[0], errp[0], res);
    outp[0] = errp[0] = -1;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    res->wall_us = bench_now_us() - t0;
    res->ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (!res->ok) {
        char tail[BENCH_ERR_MAX];
        snprintf(tail, sizeof(tail), "%s", res->err);
        snprintf(res->err, sizeof(res->err), "%s %s %d: %.400s", argv[0],
                 WIFEXITED(status) ? "exit" : "signal",
                 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), tail);
    }
    rc = 0;
out:
    for (int i = 0; i < 2; i++) {
        if (outp[i] >= 0)
            close(outp[i]);
        if (errp[i] >= 0)
            close(errp[i]);
    }
    bench_argv_free(argv);
    return rc;
}

void bench_variant_exec(struct bench_variant *v, const char *name, const char *tpl)
{
    memset(v, 0, sizeof(*v));
    snprintf(v->name, sizeof(v->name), "%s", name);
    v->tpl = tpl;
    v->run = run_exec;
}
