/* backend_bwrap.c - the bubblewrap backend: I runs bwrap on the prepared root. */
#include "backend.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/limits.h>
#include <linux/openat2.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "error.h"
#include "path_search.h"
#include "rlimits.h"
#include "rootfs.h"
#include "timings.h"

/* Where the child puts what bwrap gets; everything is parked above FD_PARK
 * first so that moving one fd never clobbers another. */
#define FD_PARK    10
#define SECCOMP_FD 3
#define REPORT_FD  4
#define ARGS_FD    5

/* Is path (relative to the root, symlinks followed inside it) an executable
 * regular file? 0 or -errno. */
static int executable_in_root(int root_fd, const char *path)
{
    struct open_how how = {
        .flags = O_PATH | O_CLOEXEC,
        .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
    };
    struct stat st;
    long fd;
    int rc = 0;

    do {
        fd = syscall(SYS_openat2, root_fd, path, &how, sizeof(how));
    } while (fd < 0 && (errno == EINTR || errno == EAGAIN));
    if (fd < 0)
        return -errno;
    if (fstat((int)fd, &st) < 0)
        rc = -errno;
    else if (!S_ISREG(st.st_mode) || (st.st_mode & 0111) == 0)
        rc = -EACCES;
    close((int)fd);
    return rc;
}

struct in_root {
    int root_fd;
    const char *cwd; /* the job's */
};

/* A path search candidate (path_search.h), relative ones from the job's cwd:
 * is it an executable regular file in the prepared root? 0 or -errno. */
static int try_in_root(const char *candidate, void *arg)
{
    const struct in_root *r = arg;
    const char *sep = strcmp(r->cwd, "/") == 0 ? "" : "/";
    char full[PATH_MAX];

    if (candidate[0] == '/')
        snprintf(full, sizeof(full), "%s", candidate);
    else
        snprintf(full, sizeof(full), "%s%s%s", r->cwd, sep, candidate);
    return executable_in_root(r->root_fd, full);
}

/*
 * bwrap reports a failed exec of the job the way a failing job looks (a
 * message on stderr, exit code 1), so the lookup the userns backend's execve
 * does is repeated here first, with the same message.
 */
static int find_program(const char *target, const struct cps_job *job, struct cps_error *err)
{
    struct in_root r = {.cwd = job->cwd};
    int rc;

    r.root_fd = open(target, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (r.root_fd < 0)
        return cps__error_set(err, CPS_STAGE_EXEC, errno, NULL, "open %s", target);
    rc = cps__path_search(job, try_in_root, &r, err);
    close(r.root_fd);
    return rc;
}

/*
 * The job's /dev and /tmp, bounded like the userns backend's (rootfs.h), in
 * a mount namespace of I's own: O's view of the build dir stays as it was,
 * and the mounts go away with I.
 */
static int mount_dev_tmp(const char *target, uint64_t tmp_bytes, struct cps_error *err)
{
    int root_fd, rc;

    if (unshare(CLONE_NEWNS) < 0)
        return cps__error_set(err, CPS_STAGE_MOUNT, errno, NULL, "unshare(CLONE_NEWNS) in PID 1");
    root_fd = open(target, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (root_fd < 0)
        return cps__error_set(err, CPS_STAGE_MOUNT, errno, NULL, "open %s", target);
    rc = cps__rootfs_mount_dev_tmp(root_fd, tmp_bytes, err);
    close(root_fd);
    return rc;
}

/* argv with "--seccomp FD" inserted after bwrap's path. New array, same strings. */
static char **with_seccomp(char **argv)
{
    static char flag[] = "--seccomp", fd[] = CPS_STRINGIFY(SECCOMP_FD);
    size_t n = 0;
    char **v;

    while (argv[n] != NULL)
        n++;
    v = calloc(n + 3, sizeof(*v));
    if (v == NULL)
        return NULL;
    v[0] = argv[0];
    v[1] = flag;
    v[2] = fd;
    memcpy(v + 3, argv + 1, n * sizeof(*v)); /* n - 1 entries and the NULL */
    return v;
}

/*
 * bwrap's options (argv[1..nopts), with the root's host path and the job's
 * environment) in a memfd for `bwrap --args FD`, NUL-separated. bwrap's init
 * is PID 1 of the job's PID namespace and keeps bwrap's argv: the job reads
 * it in /proc/1/cmdline, which then says "bwrap --args 5 -- ARGV..." (the
 * job's own argv: bwrap takes the command only from its real argv) and no
 * host path. Returns the fd (close-on-exec, at offset 0) or -errno with err.
 */
static int args_to_memfd(char **argv, size_t nopts, struct cps_error *err)
{
    cps_cleanup_close int fd = memfd_create("bwrap-args", MFD_CLOEXEC);

    if (fd < 0)
        return cps__error_set(err, CPS_STAGE_BUBBLEWRAP, errno, NULL,
                              "memfd_create for bwrap --args");
    for (size_t i = 1; i < nopts; i++) {
        const char *p = argv[i];
        size_t left = strlen(p) + 1; /* with its NUL */

        while (left > 0) {
            ssize_t n = write(fd, p, left);

            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0)
                return cps__error_set(err, CPS_STAGE_BUBBLEWRAP, errno, NULL,
                                      "writing bwrap's arguments to a memfd");
            p += n;
            left -= (size_t)n;
        }
    }
    if (lseek(fd, 0, SEEK_SET) < 0)
        return cps__error_set(err, CPS_STAGE_BUBBLEWRAP, errno, NULL, "lseek on bwrap's arguments");
    return cps_steal_fd(&fd);
}

/* The argv bwrap is exec'd with: "bwrap --args ARGS_FD" and run's "--" with
 * the job's argv (the last argc + 1 entries, as cps__bwrap_argv builds it).
 * New array, same strings; NULL when out of memory. *nopts: where "--" is. */
static char **exec_argv(char **run, size_t argc, size_t *nopts)
{
    static char name[] = "bwrap", flag[] = "--args", fd_text[] = CPS_STRINGIFY(ARGS_FD);
    size_t n = 0;
    char **v;

    while (run[n] != NULL)
        n++;
    *nopts = n - argc - 1;
    v = calloc(3 + argc + 2, sizeof(*v));
    if (v == NULL)
        return NULL;
    v[0] = name;
    v[1] = flag;
    v[2] = fd_text;
    memcpy(v + 3, run + *nopts, (argc + 2) * sizeof(*v)); /* "--", argv, NULL */
    return v;
}

static _Noreturn void child_fail(int fd, const struct cps_error *e)
{
    if (write(fd, e, sizeof(*e)) < 0)
        _exit(126);
    _exit(127);
}

static _Noreturn void child(struct cps_launch *l, const char *path, char **argv, int args_fd,
                            int sc_fd, int report)
{
    char *envp[] = {NULL};
    struct cps_error e;
    sigset_t none;
    int null, out, errfd, rep, args, sc = -1;

    cps__error_clear(&e);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    null = open("/dev/null", O_RDONLY | O_CLOEXEC);
    out = fcntl(l->stdout_fd, F_DUPFD_CLOEXEC, FD_PARK);
    errfd = fcntl(l->stderr_fd, F_DUPFD_CLOEXEC, FD_PARK);
    rep = fcntl(report, F_DUPFD_CLOEXEC, FD_PARK);
    args = fcntl(args_fd, F_DUPFD_CLOEXEC, FD_PARK);
    if (sc_fd >= 0)
        sc = fcntl(sc_fd, F_DUPFD_CLOEXEC, FD_PARK);
    if (null < 0 || out < 0 || errfd < 0 || rep < 0 || args < 0 || (sc_fd >= 0 && sc < 0)) {
        cps__error_set(&e, CPS_STAGE_BUBBLEWRAP, errno, NULL, "preparing bwrap's fds");
        child_fail(report, &e);
    }
    /* dup2 clears close-on-exec on the new fd: 0-2, the filter and the
     * arguments reach bwrap. */
    if (dup2(null, 0) < 0 || dup2(out, 1) < 0 || dup2(errfd, 2) < 0 ||
        (sc >= 0 && dup2(sc, SECCOMP_FD) < 0) || dup3(rep, REPORT_FD, O_CLOEXEC) < 0 ||
        dup2(args, ARGS_FD) < 0) {
        cps__error_set(&e, CPS_STAGE_BUBBLEWRAP, errno, NULL, "dup2 of bwrap's fds");
        child_fail(rep, &e);
    }
    close_range(ARGS_FD + 1, ~0U, 0);
    if (sc < 0)
        close(SECCOMP_FD);
    /* Inherited by bwrap and through it by the job. */
    if (cps__rlimits_apply(l->limits, &e) < 0)
        child_fail(REPORT_FD, &e);
    /* An empty environment: nothing of the helper's (LD_PRELOAD, ...) reaches
     * bwrap; the job's environment is passed with --setenv. */
    execve(path, argv, envp);
    cps__error_set(&e, CPS_STAGE_BUBBLEWRAP, errno,
                   "install bubblewrap or point CACHEPOT_BWRAP at a working bwrap",
                   "exec of %s failed", path);
    child_fail(REPORT_FD, &e);
}

int cps__backend_bwrap_launch(const struct cps_bwrap *bw, struct cps_launch *l, pid_t *pid,
                              struct cps_error *err)
{
    char **argv = NULL, **run, **exec_v = NULL;
    size_t nopts;
    uint64_t t0 = cps__now_usec(), t_mount;
    int report[2], sc_fd = -1, args_fd = -1, rc;
    pid_t c;

    l->rootfs_usec = 0;
    rc = find_program(l->target, l->job, err);
    if (rc < 0)
        return rc;
    t_mount = cps__now_usec();
    rc = mount_dev_tmp(l->target, l->limits->tmp_bytes, err);
    l->rootfs_usec = cps__now_usec() - t_mount;
    if (rc < 0)
        return rc;
    /* exec_usec (from t0) leaves the mounts out: they are rootfs_usec. */
    t0 += l->rootfs_usec;
    rc = cps__bwrap_argv(l->job, bw, l->target, &argv, err);
    if (rc < 0)
        return rc;
    run = argv;
    if (l->seccomp != NULL) {
        sc_fd = cps__seccomp_to_memfd(l->seccomp, err);
        run = sc_fd >= 0 ? with_seccomp(argv) : NULL;
        if (run == NULL) {
            rc =
                sc_fd < 0 ? sc_fd : cps__error_set(err, CPS_STAGE_BUBBLEWRAP, ENOMEM, NULL, "argv");
            goto out;
        }
    }
    exec_v = exec_argv(run, l->job->argc, &nopts);
    if (exec_v == NULL) {
        rc = cps__error_set(err, CPS_STAGE_BUBBLEWRAP, ENOMEM, NULL, "argv");
        goto out;
    }
    args_fd = args_to_memfd(run, nopts, err);
    if (args_fd < 0) {
        rc = args_fd;
        goto out;
    }
    if (pipe2(report, O_CLOEXEC) < 0) {
        rc = cps__error_set(err, CPS_STAGE_BUBBLEWRAP, errno, NULL, "pipe2 for the exec report");
        goto out;
    }
    c = fork();
    if (c < 0) {
        rc = cps__error_set(err, CPS_STAGE_BUBBLEWRAP, errno, NULL, "fork of bwrap");
        close(report[0]);
        close(report[1]);
        goto out;
    }
    if (c == 0) {
        close(report[0]);
        child(l, run[0], exec_v, args_fd, sc_fd, report[1]);
    }
    close(report[1]);
    rc = cps__backend_await_exec(l, c, report[0], t0, CPS_STAGE_BUBBLEWRAP, pid, err);
out:
    if (args_fd >= 0)
        close(args_fd);
    if (sc_fd >= 0)
        close(sc_fd);
    free(exec_v);
    if (run != argv)
        free(run);
    cps__bwrap_argv_free(argv);
    return rc;
}
