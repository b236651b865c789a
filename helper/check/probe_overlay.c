/* probe_overlay.c - kernel overlayfs and fuse-overlayfs, each mounted for real in a user namespace.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "hostcaps.h"
#include "options.h"
#include "overlay.h"
#include "probe.h"

#define PROBE_TEXT "cachepot-check\n"

struct layers {
    char lower[PATH_MAX];
    char upper[PATH_MAX];
    char work[PATH_MAX];
    char merged[PATH_MAX];
};

/* Make base/{lower,upper,work,merged} and lower/file. Fills r on failure. */
static int make_layers(const char *base, struct layers *l, struct cps_probe_result *r)
{
    char file[PATH_MAX + 8];
    int fd;

    snprintf(l->lower, sizeof(l->lower), "%s/lower", base);
    snprintf(l->upper, sizeof(l->upper), "%s/upper", base);
    snprintf(l->work, sizeof(l->work), "%s/work", base);
    snprintf(l->merged, sizeof(l->merged), "%s/merged", base);
    if (mkdir(l->lower, 0755) < 0 || mkdir(l->upper, 0755) < 0 || mkdir(l->work, 0755) < 0 ||
        mkdir(l->merged, 0755) < 0) {
        cps__probe_set(r, CPS_PROBE_FAILED, errno, NULL, "create layer directories under %s: %m",
                       base);
        return -1;
    }
    snprintf(file, sizeof(file), "%s/file", l->lower);
    fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0 || write(fd, PROBE_TEXT, strlen(PROBE_TEXT)) != (ssize_t)strlen(PROBE_TEXT)) {
        cps__probe_set(r, CPS_PROBE_FAILED, errno, NULL, "write %s: %m", file);
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    return 0;
}

/* Through the mounted overlay: read lower's file, write a new one, and see it
 * land in upper. Fills r on failure. */
static int exercise(const struct layers *l, const char *what, struct cps_probe_result *r)
{
    char path[PATH_MAX + 16];
    char buf[64];
    ssize_t n;
    int fd;
    struct stat st;

    snprintf(path, sizeof(path), "%s/file", l->merged);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    n = fd >= 0 ? read(fd, buf, sizeof(buf)) : -1;
    if (fd >= 0)
        close(fd);
    if (n != (ssize_t)strlen(PROBE_TEXT) || memcmp(buf, PROBE_TEXT, (size_t)n) != 0) {
        cps__probe_set(r, CPS_PROBE_FAILED, n < 0 ? errno : EIO, NULL,
                       "%s mounted, but reading the lower layer's file through it failed", what);
        return -1;
    }
    snprintf(path, sizeof(path), "%s/written", l->merged);
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    n = fd >= 0 ? write(fd, buf, (size_t)n) : -1;
    if (fd >= 0)
        close(fd);
    snprintf(path, sizeof(path), "%s/written", l->upper);
    if (n < 0 || stat(path, &st) < 0) {
        cps__probe_set(r, CPS_PROBE_FAILED, errno, NULL,
                       "%s mounted, but a file written through it did not reach the upper "
                       "layer: %m",
                       what);
        return -1;
    }
    return 0;
}

static const char *fs_name(const char *path)
{
    struct statfs s;

    if (statfs(path, &s) < 0)
        return "unknown";
    switch ((unsigned long)s.f_type) {
    case 0x01021994ul:
        return "tmpfs";
    case 0xef53ul:
        return "ext2/3/4";
    case 0x58465342ul:
        return "xfs";
    case 0x9123683eul:
        return "btrfs";
    case 0x794c7630ul:
        return "overlayfs";
    case 0x65735546ul:
        return "fuse";
    case 0x6969ul:
        return "nfs";
    case 0x2fc12fc1ul:
        return "zfs";
    default:
        return "other";
    }
}

/*
 * Put upper and work where a job's would be (scratch_dirs.c): on a tmpfs, unless
 * CACHEPOT_SCRATCH=disk or this kernel's tmpfs has no user xattrs (< 6.6),
 * where the helper too keeps them on the build dir's filesystem. Runs in the
 * probe's own mount namespace. Returns the name of the upper layer's
 * filesystem and why, for the report.
 */
static const char *scratch_layers(const char *base, struct layers *l)
{
    const char *env = getenv(CPS_ENV_SCRATCH);
    char dir[PATH_MAX];

    if (env != NULL && strcmp(env, "disk") == 0)
        return "the --tmpdir filesystem (CACHEPOT_SCRATCH=disk)";
    snprintf(dir, sizeof(dir), "%s/scratch", base);
    if (mkdir(dir, 0700) < 0 ||
        mount("tmpfs", dir, "tmpfs", MS_NOSUID | MS_NODEV, "size=1048576,mode=0700") < 0)
        return "the --tmpdir filesystem (no tmpfs could be mounted)";
    if (setxattr(dir, "user.cachepot", "1", 1, 0) < 0) {
        umount2(dir, MNT_DETACH);
        return "the --tmpdir filesystem (tmpfs has no user xattrs before Linux 6.6)";
    }
    snprintf(l->upper, sizeof(l->upper), "%s/upper", dir);
    snprintf(l->work, sizeof(l->work), "%s/work", dir);
    if (mkdir(l->upper, 0755) < 0 || mkdir(l->work, 0755) < 0)
        return "tmpfs (mkdir failed)";
    return "a tmpfs (the default scratch)";
}

struct native_arg {
    const char *base;
    const struct cps_kernel_version *kv;
};

static void native_child(void *arg, struct cps_probe_result *r)
{
    const struct native_arg *a = arg;
    struct layers l;
    char options[4 * PATH_MAX];
    const char *scratch;
    int e;

    if (make_layers(a->base, &l, r) < 0)
        return;
    if (cps__probe_enter_userns(CLONE_NEWNS, r) < 0)
        return;
    scratch = scratch_layers(a->base, &l);
    /* The helper's options (overlay_native.c): metadata in user.overlay.*
     * xattrs, the only ones writable in a user namespace, and no inodes
     * index, which needs trusted xattrs. */
    snprintf(options, sizeof(options), "lowerdir=%s,upperdir=%s,workdir=%s,userxattr,index=off",
             l.lower, l.upper, l.work);
    if (mount("overlay", l.merged, "overlay", 0, options) < 0) {
        e = errno;
        if (!cps__kernel_at_least(a->kv, CPS_OVERLAY_USERNS_MIN_MAJOR,
                                  CPS_OVERLAY_USERNS_MIN_MINOR))
            cps__probe_set(r, CPS_PROBE_FAILED, e,
                           "overlayfs in a user namespace needs Linux 5.11 (5.13 with SELinux): "
                           "upgrade the kernel, or use overlay mode fuse or bind",
                           "mount overlayfs in a user namespace on %s (kernel %s): %s",
                           fs_name(a->base), a->kv->release, strerror(e));
        else
            cps__probe_set(r, CPS_PROBE_FAILED, e,
                           "the upper and work directories must be on a filesystem with user "
                           "xattrs (ext4, xfs, btrfs, tmpfs since 6.6); pass the worker's build "
                           "directory with --tmpdir to test it, or use overlay mode fuse or bind",
                           "mount overlayfs (userxattr) in a user namespace, lower on %s, upper "
                           "on %s: %s",
                           fs_name(a->base), scratch, strerror(e));
        return;
    }
    if (exercise(&l, "overlayfs", r) < 0)
        return;
    if (umount2(l.merged, 0) < 0) {
        cps__probe_set(r, CPS_PROBE_FAILED, errno, NULL, "unmount the overlay: %m");
        return;
    }
    cps__probe_set(r, CPS_PROBE_OK, 0, NULL,
                   "mounted overlayfs (userxattr) in a user namespace, lower on %s, upper on %s, "
                   "read and wrote through it",
                   fs_name(a->base), scratch);
}

void cps__probe_overlay_native(const char *base, const struct cps_kernel_version *kv,
                               struct cps_probe_result *r)
{
    struct native_arg a = {base, kv};

    cps__probe_in_child(native_child, &a, CPS_PROBE_TIMEOUT_MS, r);
}

/* How long the fuse probe waits for fuse-overlayfs to mount. */
#define FUSE_MOUNT_WAIT_MS 10000

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* fuse-overlayfs's own words on failure: what it wrote to the pipe. */
static void append_output(int fd, struct cps_probe_result *r)
{
    char buf[256];
    ssize_t n = read(fd, buf, sizeof(buf) - 1);

    if (n <= 0)
        return;
    buf[n] = '\0';
    for (ssize_t i = 0; i < n; i++)
        if (buf[i] == '\n' || (unsigned char)buf[i] < 0x20)
            buf[i] = ' ';
    cps__probe_append(r, " (fuse-overlayfs said: %s)", buf);
}

static int wait_exit(pid_t pid, int timeout_ms)
{
    int64_t deadline = now_ms() + timeout_ms;
    int status;

    for (;;) {
        pid_t p = waitpid(pid, &status, WNOHANG);

        if (p == pid)
            return status;
        if (p < 0 && errno != EINTR)
            return -1;
        if (now_ms() >= deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            return status;
        }
        usleep(5000);
    }
}

static void fuse_child(void *arg, struct cps_probe_result *r)
{
    const struct cps_fuse_facts *f = ((const void *const *)arg)[0];
    const char *base = ((const void *const *)arg)[1];
    struct layers l;
    char options[4 * PATH_MAX];
    struct stat before, now;
    int out[2];
    pid_t pid;
    int64_t deadline;
    int status;

    if (make_layers(base, &l, r) < 0)
        return;
    if (cps__probe_enter_userns(CLONE_NEWNS, r) < 0)
        return;
    if (stat(l.merged, &before) < 0 || pipe2(out, O_CLOEXEC) < 0) {
        cps__probe_set(r, CPS_PROBE_FAILED, errno, NULL, "prepare %s: %m", l.merged);
        return;
    }
    snprintf(options, sizeof(options), "lowerdir=%s,upperdir=%s,workdir=%s", l.lower, l.upper,
             l.work);
    /* fork + exec rather than posix_spawn: the mounter must die with this
     * probe (PR_SET_PDEATHSIG), and -f keeps it our child so it is reaped. */
    pid = fork();
    if (pid < 0) {
        cps__probe_set(r, CPS_PROBE_FAILED, errno, NULL, "fork: %m");
        return;
    }
    if (pid == 0) {
        char *argv[] = {
            (char *)(uintptr_t)f->path, (char[]){"-f"}, (char[]){"-o"}, options, l.merged, NULL};
        char *envp[] = {NULL};
        int null = open("/dev/null", O_RDONLY | O_CLOEXEC);

        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (null < 0 || dup2(null, 0) < 0 || dup2(out[1], 1) < 0 || dup2(out[1], 2) < 0)
            _exit(127);
        execve(f->path, argv, envp);
        _exit(127);
    }
    close(out[1]);
    fcntl(out[0], F_SETFL, O_NONBLOCK);
    /* Wait until merged is a different filesystem (the mount happened) or
     * fuse-overlayfs exits (it failed). */
    deadline = now_ms() + FUSE_MOUNT_WAIT_MS;
    for (;;) {
        pid_t p = waitpid(pid, &status, WNOHANG);

        if (p == pid) {
            cps__probe_set(r, CPS_PROBE_FAILED, 0, NULL,
                           "fuse-overlayfs exited with %d before mounting",
                           WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
            append_output(out[0], r);
            close(out[0]);
            return;
        }
        if (stat(l.merged, &now) == 0 && now.st_dev != before.st_dev)
            break;
        if (now_ms() >= deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            cps__probe_set(r, CPS_PROBE_FAILED, ETIMEDOUT, NULL,
                           "fuse-overlayfs did not mount within %d ms", FUSE_MOUNT_WAIT_MS);
            append_output(out[0], r);
            close(out[0]);
            return;
        }
        usleep(2000);
    }
    if (exercise(&l, "fuse-overlayfs", r) < 0) {
        umount2(l.merged, MNT_DETACH);
        wait_exit(pid, FUSE_MOUNT_WAIT_MS);
        close(out[0]);
        return;
    }
    /* Unmounting ends the FUSE session; fuse-overlayfs then exits. */
    if (umount2(l.merged, 0) < 0) {
        cps__probe_set(r, CPS_PROBE_FAILED, errno, NULL, "unmount the fuse-overlayfs mount: %m");
        umount2(l.merged, MNT_DETACH);
        wait_exit(pid, FUSE_MOUNT_WAIT_MS);
        close(out[0]);
        return;
    }
    status = wait_exit(pid, FUSE_MOUNT_WAIT_MS);
    close(out[0]);
    cps__probe_set(r, CPS_PROBE_OK, 0, NULL,
                   "mounted fuse-overlayfs (%s) in a user namespace, read and wrote through it, "
                   "unmounted it; it exited with %d",
                   f->path, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

void cps__probe_fuse(const char *base, struct cps_fuse_facts *f, struct cps_probe_result *r)
{
    struct cps_error find_err;
    struct stat st;
    const void *arg[2] = {f, base};

    memset(f, 0, sizeof(*f));
    /* The fuse mode's own lookup: $CACHEPOT_FUSE_OVERLAYFS, else PATH. */
    f->found = cps__fuse_overlayfs_find(f->path, sizeof(f->path), &find_err) == 0;
    if (stat(CPS_DEV_FUSE, &st) == 0 && S_ISCHR(st.st_mode)) {
        f->dev_exists = true;
        f->dev_mode = st.st_mode & 07777;
        f->dev_uid = st.st_uid;
        f->dev_gid = st.st_gid;
    }
    f->dev_usable = f->dev_exists && access(CPS_DEV_FUSE, R_OK | W_OK) == 0;

    if (!f->found) {
        cps__probe_set(r, CPS_PROBE_FAILED, ENOENT, find_err.hint, "%s", find_err.message);
        return;
    }
    if (!f->dev_exists) {
        cps__probe_set(r, CPS_PROBE_FAILED, ENOENT,
                       "load the fuse module (modprobe fuse) or, in a container, pass the device "
                       "in (docker: --device /dev/fuse)",
                       "%s does not exist or is not a character device", CPS_DEV_FUSE);
        return;
    }
    if (!f->dev_usable) {
        struct passwd *owner = getpwuid(f->dev_uid);

        cps__probe_set(r, CPS_PROBE_FAILED, EACCES,
                       "let this user open /dev/fuse (mode 0666 is the usual default: chmod 0666 "
                       "/dev/fuse, or a udev rule), or run the worker as root; else use overlay "
                       "mode native or bind",
                       "%s is mode %04o owned by %s (uid %u, gid %u): uid %u cannot open it "
                       "read-write",
                       CPS_DEV_FUSE, f->dev_mode, owner ? owner->pw_name : "an unknown user",
                       f->dev_uid, f->dev_gid, (unsigned)geteuid());
        return;
    }
    cps__probe_in_child(fuse_child, arg, CPS_PROBE_TIMEOUT_MS, r);
}
