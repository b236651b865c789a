/* package.c - one run of cachepot-dist-toolchain. */
#include "package.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "error.h"

static const char *const package_hint =
    "package it by hand (cachepot-dist-toolchain --out DIR COMPILER) and link DIR as "
    "CACHEPOT_DISTCC_TOOLCHAINS/NAME (docs/DISTCC.md)";

/* The last line-ish part of the packager's stderr, for the message. */
static void log_tail(const char *log_path, char *buf, size_t size)
{
    int fd = open(log_path, O_RDONLY | O_CLOEXEC);
    off_t end;
    ssize_t n = 0;

    buf[0] = '\0';
    if (fd < 0)
        return;
    end = lseek(fd, 0, SEEK_END);
    if (end > (off_t)size - 1)
        lseek(fd, end - (off_t)size + 1, SEEK_SET);
    else
        lseek(fd, 0, SEEK_SET);
    n = read(fd, buf, size - 1);
    close(fd);
    buf[n > 0 ? n : 0] = '\0';
    for (char *p = buf; *p; p++)
        if (*p == '\n')
            *p = ' ';
}

static int read_id(int fd, char id[65])
{
    char buf[256];
    size_t len = 0;
    ssize_t n;

    while ((n = read(fd, buf + len, sizeof buf - 1 - len)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        len += (size_t)n;
        if (len == sizeof buf - 1)
            break;
    }
    buf[len] = '\0';
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == ' '))
        buf[--len] = '\0';
    if (len != 64 || strspn(buf, "0123456789abcdef") != 64)
        return -EPROTO;
    memcpy(id, buf, 65);
    return 0;
}

int cpd_package(const char *packager, const char *compiler, const char *out_dir,
                const char *tmp_dir, const char *log_path, char id[65], struct cps_error *err)
{
    /* posix_spawn takes char *const[]: give it writable copies. */
    char name[] = "cachepot-dist-toolchain", out_opt[] = "--out";
    char path_env[] = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    char lc_env[] = "LC_ALL=C", tmp_env[4200], out_arg[4096], cc_arg[4096];
    char *const argv[] = {name, out_opt, out_arg, cc_arg, NULL};
    char *const envp[] = {path_env, lc_env, tmp_env, NULL};
    posix_spawn_file_actions_t fa;
    int pipefd[2], status = 0, r, id_r;
    char tail[600];
    pid_t pid;

    snprintf(tmp_env, sizeof tmp_env, "TMPDIR=%s", tmp_dir);
    if (snprintf(out_arg, sizeof out_arg, "%s", out_dir) >= (int)sizeof out_arg ||
        snprintf(cc_arg, sizeof cc_arg, "%s", compiler) >= (int)sizeof cc_arg)
        return cpd_fail(err, "toolchain", ENAMETOOLONG, NULL, "packaging %s", compiler);
    if (pipe2(pipefd, O_CLOEXEC) < 0)
        return cpd_fail(err, "toolchain", errno, NULL, "pipe for the packager");
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
    posix_spawn_file_actions_addopen(&fa, 2, log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    r = posix_spawn(&pid, packager, &fa, NULL, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    close(pipefd[1]);
    if (r != 0) {
        close(pipefd[0]);
        return cpd_fail(err, "toolchain", r,
                        "install cachepot-dist-toolchain or set CACHEPOT_DISTCC_PACKAGER",
                        "starting the packager %s", packager);
    }
    id_r = read_id(pipefd[0], id);
    close(pipefd[0]);
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return cpd_fail(err, "toolchain", errno, NULL, "waiting for the packager");
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        log_tail(log_path, tail, sizeof tail);
        return cpd_fail(err, "toolchain", EIO, package_hint,
                        "packaging %s into %s failed (%s %d): %s", compiler, out_dir,
                        WIFEXITED(status) ? "exit status" : "signal",
                        WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), tail);
    }
    if (id_r < 0)
        return cpd_fail(err, "toolchain", -id_r, package_hint,
                        "the packager %s did not print a toolchain id for %s", packager, compiler);
    return 0;
}
