/* probe.c - running a probe in a child, entering a user namespace, small file helpers. */
#include "probe.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "utf8.h"

void cps__probe_set(struct cps_probe_result *r, enum cps_probe_status status, int errnum,
                    const char *hint, const char *fmt, ...)
{
    va_list ap;

    r->status = (int)status;
    r->errnum = errnum;
    va_start(ap, fmt);
    vsnprintf(r->detail, sizeof(r->detail), fmt, ap);
    va_end(ap);
    snprintf(r->hint, sizeof(r->hint), "%s", hint ? hint : "");
    cps__utf8_sanitize(r->detail);
    cps__utf8_sanitize(r->hint);
}

void cps__probe_append(struct cps_probe_result *r, const char *fmt, ...)
{
    size_t used = strlen(r->detail);
    va_list ap;

    if (used + 1 >= sizeof(r->detail))
        return;
    va_start(ap, fmt);
    vsnprintf(r->detail + used, sizeof(r->detail) - used, fmt, ap);
    va_end(ap);
    cps__utf8_sanitize(r->detail);
}

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void cps__probe_in_child(cps_probe_fn fn, void *arg, int timeout_ms, struct cps_probe_result *r)
{
    struct cps_probe_result got;
    int64_t deadline = now_ms() + timeout_ms;
    size_t have = 0;
    int pipefd[2];
    pid_t parent = getpid();
    pid_t pid;
    int status;
    bool timed_out = false;

    memset(r, 0, sizeof(*r));
    if (pipe2(pipefd, O_CLOEXEC) < 0) {
        cps__probe_set(r, CPS_PROBE_FAILED, errno, NULL, "pipe for the probe process: %m");
        return;
    }
    /* Nothing buffered may be written twice (once by the child). */
    fflush(stdout);
    fflush(stderr);
    pid = fork();
    if (pid < 0) {
        cps__probe_set(r, CPS_PROBE_FAILED, errno, NULL, "fork the probe process: %m");
        close(pipefd[0]);
        close(pipefd[1]);
        return;
    }
    if (pid == 0) {
        struct cps_probe_result mine;
        ssize_t n;

        close(pipefd[0]);
        /* The death signal is racy (prctl(2)): check the parent after arming it. */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
            _exit(1);
        memset(&mine, 0, sizeof(mine));
        mine.status = CPS_PROBE_FAILED;
        fn(arg, &mine);
        n = write(pipefd[1], &mine, sizeof(mine));
        _exit(n == (ssize_t)sizeof(mine) ? 0 : 1);
    }
    close(pipefd[1]);
    while (have < sizeof(got)) {
        struct pollfd pfd = {.fd = pipefd[0], .events = POLLIN};
        int64_t left = deadline - now_ms();
        ssize_t n;
        int p;

        if (left <= 0) {
            timed_out = true;
            break;
        }
        p = poll(&pfd, 1, (int)left);
        if (p < 0 && errno == EINTR)
            continue;
        if (p <= 0) {
            timed_out = p == 0;
            break;
        }
        n = read(pipefd[0], (char *)&got + have, sizeof(got) - have);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        have += (size_t)n;
    }
    close(pipefd[0]);
    if (have < sizeof(got))
        kill(pid, SIGKILL);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (have == sizeof(got)) {
        got.detail[sizeof(got.detail) - 1] = '\0';
        got.hint[sizeof(got.hint) - 1] = '\0';
        *r = got;
    } else if (timed_out) {
        cps__probe_set(r, CPS_PROBE_FAILED, ETIMEDOUT, NULL,
                       "the probe did not finish within %d ms and was killed", timeout_ms);
    } else if (WIFSIGNALED(status)) {
        cps__probe_set(r, CPS_PROBE_FAILED, 0, NULL,
                       "the probe process was killed by signal %d (%s)", WTERMSIG(status),
                       strsignal(WTERMSIG(status)));
    } else {
        cps__probe_set(r, CPS_PROBE_FAILED, 0, NULL,
                       "the probe process exited with %d without a result",
                       WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    }
}

int cps__probe_write_file(const char *path, const char *text)
{
    size_t len = strlen(text);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    ssize_t n;
    int saved;

    if (fd < 0)
        return -errno;
    n = write(fd, text, len);
    saved = errno;
    close(fd);
    if (n < 0)
        return -saved;
    return (size_t)n == len ? 0 : -EIO;
}

int cps__probe_read_sysctl(const char *path, long *out)
{
    FILE *f = fopen(path, "re");
    int ok;

    if (!f)
        return -errno;
    ok = fscanf(f, "%ld", out) == 1;
    fclose(f);
    return ok ? 0 : -EINVAL;
}

int cps__probe_enter_userns(int extra_flags, struct cps_probe_result *r)
{
    /* Effective ids, read before unshare: afterwards they read as the
     * overflow id until the maps are written (user_namespaces(7)). */
    uid_t uid = geteuid();
    gid_t gid = getegid();
    char map[64];
    int ret;

    if (unshare(CLONE_NEWUSER) < 0) {
        ret = -errno;
        cps__probe_set(r, CPS_PROBE_FAILED, -ret, NULL, "unshare(CLONE_NEWUSER): %s",
                       strerror(-ret));
        return ret;
    }
    /* An unprivileged writer must deny setgroups before writing gid_map
     * (Linux 3.19, CVE-2014-8989). */
    ret = cps__probe_write_file("/proc/self/setgroups", "deny");
    if (ret < 0 && ret != -ENOENT) {
        cps__probe_set(r, CPS_PROBE_FAILED, -ret, NULL,
                       "write \"deny\" to /proc/self/setgroups: %s", strerror(-ret));
        return ret;
    }
    snprintf(map, sizeof(map), "0 %u 1", (unsigned)uid);
    ret = cps__probe_write_file("/proc/self/uid_map", map);
    if (ret < 0) {
        cps__probe_set(r, CPS_PROBE_FAILED, -ret, NULL, "write \"%s\" to /proc/self/uid_map: %s",
                       map, strerror(-ret));
        return ret;
    }
    snprintf(map, sizeof(map), "0 %u 1", (unsigned)gid);
    ret = cps__probe_write_file("/proc/self/gid_map", map);
    if (ret < 0) {
        cps__probe_set(r, CPS_PROBE_FAILED, -ret, NULL, "write \"%s\" to /proc/self/gid_map: %s",
                       map, strerror(-ret));
        return ret;
    }
    if (extra_flags && unshare(extra_flags) < 0) {
        ret = -errno;
        cps__probe_set(r, CPS_PROBE_FAILED, -ret, NULL,
                       "unshare(0x%x) inside the new user namespace: %s", (unsigned)extra_flags,
                       strerror(-ret));
        return ret;
    }
    if ((extra_flags & CLONE_NEWNS) && mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
        ret = -errno;
        cps__probe_set(r, CPS_PROBE_FAILED, -ret, NULL, "make / MS_REC|MS_PRIVATE: %s",
                       strerror(-ret));
        return ret;
    }
    return 0;
}

static int remove_at(int dirfd, const char *name, dev_t dev)
{
    struct stat st;
    DIR *dir;
    struct dirent *de;
    int fd;
    int ret = 0;

    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return errno == ENOENT ? 0 : -errno;
    if (!S_ISDIR(st.st_mode))
        return unlinkat(dirfd, name, 0) < 0 ? -errno : 0;
    if (st.st_dev != dev)
        return -EXDEV;
    /* overlayfs leaves work/work with mode 000: make it listable. */
    if ((st.st_mode & 0700) != 0700)
        fchmodat(dirfd, name, (st.st_mode & 07777) | 0700, 0);
    fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    dir = fdopendir(fd);
    if (!dir) {
        ret = -errno;
        close(fd);
        return ret;
    }
    while ((de = readdir(dir))) {
        int r;

        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        r = remove_at(fd, de->d_name, dev);
        if (r < 0 && ret == 0)
            ret = r;
    }
    closedir(dir);
    if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && ret == 0)
        ret = -errno;
    return ret;
}

int cps__probe_remove_tree(const char *path)
{
    struct stat st;

    if (lstat(path, &st) < 0)
        return errno == ENOENT ? 0 : -errno;
    return remove_at(AT_FDCWD, path, st.st_dev);
}
