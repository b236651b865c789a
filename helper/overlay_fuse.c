/*
 * overlay_fuse.c - fuse-overlayfs inside the helper's user namespace.
 *
 * Where it runs: fuse-overlayfs is a child of O. O is not in the job's PID
 * namespace (only I, cloned with CLONE_NEWPID, is; namespaces.h), so I's
 * kill(-1, SIGKILL) at the end of the job and the kernel's kill of the
 * namespace when I exits do not reach it: the mount keeps being served while O
 * collects the outputs through it. It shares O's user and mount namespaces, so
 * the mount is O's (I's later copy of the mount namespace sees it too) and
 * never appears on the host. It runs in the foreground (-f) so that it stays
 * O's child: O knows its pid, reaps it, and it gets PR_SET_PDEATHSIG SIGKILL,
 * so it cannot outlive a helper that is killed. Cleanup unmounts target, which
 * ends the FUSE session and makes fuse-overlayfs exit; it is killed if it does
 * not.
 */
#include "overlay.h"

#include <cap-ng.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "error.h"
#include "hostcaps.h"
#include "log.h"
#include "host_facts.h"
#include "timings.h"

/* How long fuse-overlayfs may take to mount, and to exit after the unmount.
 * It mounts in a few milliseconds; the bounds only stop a broken binary from
 * hanging the helper. */
#define MOUNT_WAIT_MS 10000
#define EXIT_WAIT_MS  5000
/* Bytes of fuse-overlayfs's own output quoted in an error. */
#define SAID_MAX 400

int cps__fuse_overlayfs_find(char *path, size_t size, struct cps_error *err)
{
    const char *env = getenv(CPS_ENV_FUSE_OVERLAYFS);
    const char *search = getenv("PATH");
    int rc;

    if (env != NULL && env[0] != '\0') {
        rc = cps__find_executable(env, path, size);
        if (rc < 0)
            return cps__error_set(
                err, CPS_STAGE_OVERLAY, -rc,
                "point " CPS_ENV_FUSE_OVERLAYFS " at an executable "
                "fuse-overlayfs, or unset it to search PATH; else use overlay mode "
                "native or bind",
                "fuse overlay mode: %s=%s is not an executable file", CPS_ENV_FUSE_OVERLAYFS, env);
        return 0;
    }
    rc = cps__find_executable(CPS_FUSE_OVERLAYFS, path, size);
    if (rc < 0)
        return cps__error_set(err, CPS_STAGE_OVERLAY, -rc,
                              "install fuse-overlayfs (Debian/Ubuntu: apt-get install "
                              "fuse-overlayfs) or set " CPS_ENV_FUSE_OVERLAYFS
                              "; else use overlay mode native or bind",
                              "fuse overlay mode: no executable %s in PATH (%s)",
                              CPS_FUSE_OVERLAYFS, search ? search : "unset");
    return 0;
}

static int build_options(const struct cps_root_paths *p, char *buf, size_t size)
{
    int n =
        snprintf(buf, size, "lowerdir=%s,upperdir=%s,workdir=%s", p->toolchain, p->upper, p->work);

    return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

int cps__overlay_fuse_check(const struct cps_overlay_state *o, struct cps_error *err)
{
    char exe[PATH_MAX], opts[3 * PATH_MAX];
    struct stat st;

    if (cps__fuse_overlayfs_find(exe, sizeof(exe), err) < 0)
        return -err->errnum;
    if (stat(CPS_DEV_FUSE, &st) < 0 || !S_ISCHR(st.st_mode))
        return cps__error_set(err, CPS_STAGE_OVERLAY, ENODEV,
                              "load the fuse module (modprobe fuse) or, in a container, pass "
                              "/dev/fuse in; else use overlay mode native or bind",
                              "fuse overlay mode: %s is missing or not a character device",
                              CPS_DEV_FUSE);
    /* access(2) uses the real ids, which are O's in its user namespace: the
     * device's owner must map to O's uid there for mode 0600 to allow it. */
    if (access(CPS_DEV_FUSE, R_OK | W_OK) < 0)
        return cps__error_set(err, CPS_STAGE_OVERLAY, EACCES,
                              "let this user open /dev/fuse (chmod 0666 /dev/fuse or a udev "
                              "rule) or run the worker as root; else use overlay mode native "
                              "or bind",
                              "fuse overlay mode: %s is mode %04o owned by %s; this helper "
                              "cannot open it read-write",
                              CPS_DEV_FUSE, (unsigned)(st.st_mode & 07777),
                              /* Seen from inside the helper's user namespace, an
                               * unmapped host owner shows as the overflow uid
                               * (user_namespaces(7)): on most hosts that is root. */
                              st.st_uid == 65534 ? "a host uid not mapped into the helper's "
                                                   "user namespace (usually root)"
                                                 : "another uid");
    if (cps__overlay_refuse_option_chars(&o->paths, "fuse overlay mode: ", "fuse-overlayfs",
                                         "use paths without ',', ':' or '\\' for the toolchain "
                                         "and build dirs, or overlay mode bind",
                                         err) < 0)
        return -EINVAL;
    if (build_options(&o->paths, opts, sizeof(opts)) < 0)
        return cps__error_set(err, CPS_STAGE_OVERLAY, ENAMETOOLONG, NULL,
                              "fuse overlay mode: options too long");
    return 0;
}

/* What fuse-overlayfs printed (log is its stdout/stderr), made printable. */
static void said(int log, char *buf, size_t size)
{
    ssize_t n = pread(log, buf, size - 1, 0);

    if (n < 0)
        n = 0;
    buf[n] = '\0';
    for (ssize_t i = 0; i < n; i++)
        if ((unsigned char)buf[i] < 0x20 || buf[i] == 0x7f)
            buf[i] = ' ';
}

/* Wait up to ms for pid to exit; then SIGKILL it. Returns its wait status. */
static int reap(pid_t pid, int ms)
{
    uint64_t deadline = cps__now_usec() + (uint64_t)ms * 1000u;
    int st = 0;

    for (;;) {
        pid_t p = waitpid(pid, &st, WNOHANG);

        if (p == pid || (p < 0 && errno != EINTR))
            return st;
        if (cps__now_usec() >= deadline)
            break;
        usleep(1000);
    }
    kill(pid, SIGKILL);
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    return st;
}

/*
 * fuse-overlayfs mounts with O's capabilities in O's user namespace. When O is
 * uid 0 there, execve keeps them; when the helper maps itself to another uid
 * (--uid), execve would clear them (capabilities(7), "Capabilities and
 * execution of programs by root") and the mount would fail with EPERM. So
 * they are passed on as ambient capabilities (Linux 4.3). Best effort: if it
 * fails, fuse-overlayfs's own error says so.
 */
static void keep_caps_across_exec(void)
{
    if (geteuid() == 0 || capng_get_caps_process() < 0)
        return;
    for (unsigned c = 0; c <= CAP_LAST_CAP; c++)
        if (capng_have_capability(CAPNG_PERMITTED, c))
            capng_update(CAPNG_ADD, CAPNG_INHERITABLE, c);
    if (capng_apply(CAPNG_SELECT_CAPS) < 0)
        return;
    for (unsigned c = 0; c <= CAP_LAST_CAP; c++)
        if (capng_have_capability(CAPNG_PERMITTED, c))
            prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, (unsigned long)c, 0, 0);
}

static _Noreturn void child(char *exe, char *opts, char *target, int log, pid_t parent)
{
    /* writeback=0: with fuse-overlayfs's default write-back cache a write
     * past the scratch tmpfs's size succeeds into the page cache and fails
     * only at the flush, and the job reads back more than scratch_bytes ever
     * held (issue 12's scratch test: 15 MB seen in an 8 MiB scratch). */
    char *argv[] = {
        exe, (char[]){"-f"}, (char[]){"-o"}, (char[]){"writeback=0"}, (char[]){"-o"}, opts, target,
        NULL};
    char *envp[] = {NULL};
    sigset_t none;
    int null;

    /* O blocks its stop signals (they arrive on its signalfd); fuse-overlayfs
     * must not inherit that mask through execve. */
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    /* Dies with O; checked after arming because O may already be gone. */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || getppid() != parent)
        _exit(126);
    null = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (null < 0 || dup2(null, 0) < 0 || dup2(log, 1) < 0 || dup2(log, 2) < 0)
        _exit(126);
    /* Nothing of O (the worker's socket, the job's pipes) reaches it. */
    close_range(3, ~0U, 0);
    keep_caps_across_exec();
    execve(exe, argv, envp);
    _exit(127);
}

int cps__overlay_fuse_mount(struct cps_overlay_state *o, struct cps_error *err)
{
    char exe[PATH_MAX], opts[3 * PATH_MAX], text[SAID_MAX], target[PATH_MAX];
    struct stat before, now;
    uint64_t deadline;
    pid_t pid, self = getpid();
    int log, st;

    if (cps__fuse_overlayfs_find(exe, sizeof(exe), err) < 0)
        return -err->errnum;
    if (build_options(&o->paths, opts, sizeof(opts)) < 0)
        return cps__error_set(err, CPS_STAGE_OVERLAY, ENAMETOOLONG, NULL, "fuse-overlayfs options");
    snprintf(target, sizeof(target), "%s", o->paths.target);
    if (stat(target, &before) < 0)
        return cps__error_set(err, CPS_STAGE_OVERLAY, errno, NULL, "stat %s", target);
    /* Its output goes to a memfd, not a pipe: once it runs as the daemon
     * nobody reads, and a write to an unread pipe would block or kill it. */
    log = memfd_create("fuse-overlayfs-output", MFD_CLOEXEC);
    if (log < 0)
        return cps__error_set(err, CPS_STAGE_OVERLAY, errno, NULL, "memfd_create");
    pid = fork();
    if (pid < 0) {
        st = errno;
        close(log);
        return cps__error_set(err, CPS_STAGE_OVERLAY, st, NULL, "fork of fuse-overlayfs");
    }
    if (pid == 0)
        child(exe, opts, target, log, self);
    /* Mounted when target is on another device; failed when the process ended. */
    deadline = cps__now_usec() + MOUNT_WAIT_MS * 1000u;
    for (;;) {
        pid_t p = waitpid(pid, &st, WNOHANG);

        if (p == pid) {
            said(log, text, sizeof(text));
            close(log);
            return cps__error_set(
                err, CPS_STAGE_OVERLAY, EIO,
                "run cachepot-dist-sandbox --check; else use overlay mode native or bind",
                "fuse-overlayfs %s exited with %d before mounting %s: %s", exe,
                WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st), target,
                text[0] ? text : "(no output)");
        }
        if (stat(target, &now) == 0 && now.st_dev != before.st_dev)
            break;
        if (cps__now_usec() >= deadline) {
            umount2(target, MNT_DETACH);
            reap(pid, 0);
            said(log, text, sizeof(text));
            close(log);
            return cps__error_set(err, CPS_STAGE_OVERLAY, ETIMEDOUT, NULL,
                                  "fuse-overlayfs %s did not mount %s within %d ms: %s", exe,
                                  target, MOUNT_WAIT_MS, text[0] ? text : "(no output)");
        }
        usleep(500);
    }
    close(log);
    o->fuse_pid = pid;
    return 0;
}

int cps__overlay_fuse_unmount(struct cps_overlay_state *o, struct cps_error *err)
{
    int rc = 0, st;

    /* Unmounting ends the FUSE session, and fuse-overlayfs exits. Lazily if
     * busy: nothing of the job is left to use it, and the daemon is killed
     * below anyway. */
    if (umount2(o->paths.target, 0) < 0 && errno != EINVAL && errno != ENOENT &&
        umount2(o->paths.target, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
        rc = cps__error_set(err, CPS_STAGE_CLEANUP, errno, NULL, "umount %s", o->paths.target);
    if (o->fuse_pid > 0) {
        st = reap(o->fuse_pid, EXIT_WAIT_MS);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
            cps__log_info("fuse-overlayfs (pid %d) ended with wait status 0x%x", (int)o->fuse_pid,
                          (unsigned)st);
        o->fuse_pid = 0;
    }
    return rc;
}
