/*
 * probe.c - the escape probe: run inside the sandbox, it tries each way out
 * and prints one line per attempt:
 *
 *     <name> <blocked|ESCAPED|skipped|n/a> <detail>
 *
 * "blocked": the promise held. "ESCAPED": it did not. "skipped": the host
 * test did not provide what the check needs (an environment variable, a
 * planted file). "n/a": the check does not apply (a seccomp-only promise in a
 * job run with seccomp off). Exit status: 0 when everything ran was blocked,
 * 1 when anything escaped, 3 when nothing escaped but something was skipped,
 * 2 on a usage error. Other modes (forkbomb, alloc, fsize, ...) test one
 * limit each and print one line in the same format.
 *
 * The program is linked statically so that it runs in a toolchain that holds
 * nothing else. Each check runs in its own forked child, so a check that
 * wrongly succeeds (a new user namespace, a chroot) cannot disturb the next
 * one, and a check killed by the filter (SIGSYS) is reported, not fatal.
 * Results come back through a shared anonymous mapping, not a pipe, so the
 * probe opens no file descriptor of its own that fd_leak would have to
 * excuse. Checks never do damage when they succeed: they pick arguments that
 * pass the permission check and then fail (a missing filesystem type, an
 * expiry mark instead of an unmount), or undo what they did.
 *
 * What the checks need from the host test comes from the environment; see
 * README.md beside this file.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/bpf.h>
#include <linux/keyctl.h>
#include <linux/perf_event.h>
#include <linux/sched.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/klog.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/msg.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define DETAIL_MAX 480

/* Seconds one check may take before it is reported as hung. Not a test
 * threshold: a hung check is a bug in the probe or the sandbox, and this
 * keeps it from hanging the suite. */
#define CHECK_TIMEOUT 30

enum verdict { V_NONE, V_BLOCKED, V_ESCAPED, V_SKIPPED, V_NA };

struct result {
    enum verdict verdict;
    char detail[DETAIL_MAX];
};

/* Check flags. */
#define NEEDS_SECCOMP 1 /* only the seccomp filter enforces this */

struct check {
    const char *name;
    void (*run)(struct result *r);
    int flags;
    const char *what;
};

/* File descriptors open when main() started (fd_leak reports them). */
static int start_fds[64];
static char start_fd_targets[64][96];
static int n_start_fds;

/* ---- reporting ---------------------------------------------------------- */

static void vset(struct result *r, enum verdict v, const char *fmt, va_list ap)
{
    /* The first verdict that says "escaped" wins over later "blocked". */
    if (r->verdict == V_ESCAPED && v != V_ESCAPED)
        return;
    r->verdict = v;
    vsnprintf(r->detail, sizeof(r->detail), fmt, ap);
}

#define VERDICT_FN(fn, v)                                                                          \
    static void fn(struct result *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));  \
    static void fn(struct result *r, const char *fmt, ...)                                         \
    {                                                                                              \
        va_list ap;                                                                                \
        va_start(ap, fmt);                                                                         \
        vset(r, v, fmt, ap);                                                                       \
        va_end(ap);                                                                                \
    }
VERDICT_FN(blocked, V_BLOCKED)
VERDICT_FN(escaped, V_ESCAPED)
VERDICT_FN(skipped, V_SKIPPED)

/* Conclude a check whose notes already say what happened. */
static void conclude(struct result *r, bool escape)
{
    if (r->verdict != V_ESCAPED)
        r->verdict = escape ? V_ESCAPED : V_BLOCKED;
}

static const char *errname(int e)
{
    const char *n = strerrorname_np(e);
    return n ? n : "E?";
}

/* Append to the detail (used by checks that try several things). */
static void note(struct result *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(struct result *r, const char *fmt, ...)
{
    size_t len = strlen(r->detail);
    if (len + 2 >= sizeof(r->detail))
        return;
    if (len > 0)
        r->detail[len++] = ' ';
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->detail + len, sizeof(r->detail) - len, fmt, ap);
    va_end(ap);
}

/* ---- configuration from the environment --------------------------------- */

static const char *env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

static bool env_long(const char *name, long *out)
{
    const char *v = env(name);
    if (!v)
        return false;
    char *end;
    errno = 0;
    long n = strtol(v, &end, 0);
    if (errno || *end)
        return false;
    *out = n;
    return true;
}

static bool seccomp_expected(void)
{
    long v;
    return !env_long("PROBE_SECCOMP", &v) || v != 0;
}

/* Is path under one of the colon-separated prefixes of PROBE_SCRATCH_DIRS
 * (default /tmp)? Those are the places the job may write. */
static bool in_scratch(const char *path)
{
    const char *list = env("PROBE_SCRATCH_DIRS");
    if (!list)
        list = "/tmp";
    const char *p = list;
    while (*p) {
        size_t n = strcspn(p, ":");
        if (n > 0) {
            /* "/" covers everything; otherwise match whole components. */
            if (n == 1 && p[0] == '/')
                return true;
            if (strncmp(path, p, n) == 0 && (path[n] == '\0' || path[n] == '/'))
                return true;
        }
        p += n;
        if (*p == ':')
            p++;
    }
    return false;
}

static const char *token(void)
{
    static char buf[64];
    const char *t = env("PROBE_WRITE_TOKEN");
    if (t)
        return t;
    snprintf(buf, sizeof(buf), "probe-%d", (int)getpid());
    return buf;
}

/* Read /proc/self/status field "Name:" into out (trimmed). */
static bool status_field(const char *file, const char *name, char *out, size_t size)
{
    FILE *f = fopen(file, "re");
    if (!f)
        return false;
    char line[256];
    size_t nlen = strlen(name);
    bool found = false;
    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, name, nlen) == 0 && line[nlen] == ':') {
            const char *v = line + nlen + 1;
            while (*v == ' ' || *v == '\t')
                v++;
            snprintf(out, size, "%s", v);
            out[strcspn(out, "\n")] = '\0';
            found = true;
            break;
        }
    }
    fclose(f);
    return found;
}

/* ---- filesystem ---------------------------------------------------------- */

static void check_fd_leak(struct result *r)
{
    if (n_start_fds == 0) {
        blocked(r, "only 0-2 open at start");
        return;
    }
    escaped(r, "open at start:");
    for (int i = 0; i < n_start_fds; i++)
        note(r, "%d->%s", start_fds[i], start_fd_targets[i]);
}

static void check_host_file(struct result *r)
{
    const char *path = env("PROBE_HOST_FILE");
    if (!path) {
        skipped(r, "PROBE_HOST_FILE not set");
        return;
    }
    struct stat st;
    if (stat(path, &st) < 0) {
        if (errno == ENOENT)
            blocked(r, "%s: ENOENT", path);
        else
            escaped(r, "%s: exists (stat %s)", path, errname(errno));
        return;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    escaped(r, "%s: visible, %s", path, fd >= 0 ? "readable" : errname(errno));
    if (fd >= 0)
        close(fd);
}

static void check_unreadable_file(struct result *r)
{
    /* bubblewrap's test: a file the host made unreadable stays unreadable
     * inside, also through a bind mount. */
    const char *path = env("PROBE_UNREADABLE_FILE");
    if (!path) {
        skipped(r, "PROBE_UNREADABLE_FILE not set");
        return;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        char c;
        ssize_t n = read(fd, &c, 1);
        close(fd);
        escaped(r, "%s: opened for reading (read returned %zd)", path, n);
    } else if (errno == ENOENT) {
        skipped(r, "%s: not present in the sandbox", path);
    } else {
        blocked(r, "%s: %s", path, errname(errno));
    }
}

/* Create <dir>/<token>; report where it worked. */
static void try_create_in(struct result *r, const char *dir, int *written_outside)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s%s%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/", token());
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0) {
        note(r, "%s:%s", dir, errname(errno));
        return;
    }
    close(fd);
    /* A file in scratch stays, so that the host test can check it landed in
     * the job's scratch space and nowhere else; one outside is removed. */
    if (in_scratch(path)) {
        note(r, "%s:written(scratch)", dir);
    } else {
        unlink(path);
        note(r, "%s:WRITTEN", dir);
        (*written_outside)++;
    }
}

static void exe_dir(char *out, size_t size)
{
    ssize_t n = readlink("/proc/self/exe", out, size - 1);
    if (n <= 0) {
        snprintf(out, size, "/");
        return;
    }
    out[n] = '\0';
    char *slash = strrchr(out, '/');
    if (slash == out)
        out[1] = '\0';
    else if (slash)
        *slash = '\0';
}

static void check_write_outside(struct result *r)
{
    /* Default: the usual system directories and the toolchain directory this
     * program was started from. PROBE_WRITE_DIRS replaces the list. */
    char dirs[PATH_MAX + 64];
    const char *list = env("PROBE_WRITE_DIRS");
    if (list) {
        snprintf(dirs, sizeof(dirs), "%s", list);
    } else {
        char self[PATH_MAX];
        exe_dir(self, sizeof(self));
        snprintf(dirs, sizeof(dirs), "/:/usr:/etc:/bin:/lib:/var:%s", self);
    }
    int outside = 0;
    for (char *save = NULL, *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save))
        try_create_in(r, d, &outside);
    conclude(r, outside > 0);
}

static void check_write_toolchain_file(struct result *r)
{
    const char *path = env("PROBE_TOOLCHAIN_FILE");
    if (!path) {
        skipped(r, "PROBE_TOOLCHAIN_FILE not set");
        return;
    }
    int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        if (errno == ENOENT)
            skipped(r, "%s: not present in the sandbox", path);
        else
            blocked(r, "%s: %s", path, errname(errno));
        return;
    }
    /* Leave the token: the host test checks that its copy is unchanged. */
    ssize_t n = write(fd, token(), strlen(token()));
    int e = errno;
    close(fd);
    if (n < 0)
        blocked(r, "%s: opened, write %s", path, errname(e));
    else if (in_scratch(path))
        blocked(r, "%s: appended to the scratch copy (the host must see its file unchanged)", path);
    else
        escaped(r, "%s: appended %zd bytes", path, n);
}

static void check_write_kernel(struct result *r)
{
    /* Opening for writing is enough to prove the point; nothing is written. */
    static const char *const paths[] = {
        "/proc/sysrq-trigger",
        "/proc/sys/kernel/core_pattern",
        "/proc/sys/vm/drop_caches",
        "/proc/sys/kernel/modprobe",
        "/sys/kernel/uevent_helper",
        "/proc/sys/kernel/hostname",
        "/proc/sys/fs/binfmt_misc/register",
    };
    int opened = 0;
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        int fd = open(paths[i], O_WRONLY | O_CLOEXEC);
        if (fd >= 0) {
            close(fd);
            note(r, "%s:OPENED", paths[i]);
            opened++;
        } else {
            note(r, "%s:%s", paths[i], errname(errno));
        }
    }
    conclude(r, opened > 0);
}

static void check_mknod(struct result *r)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "/tmp/%s-null", token());
    if (mknod(path, S_IFCHR | 0666, makedev(1, 3)) < 0) {
        blocked(r, "mknod %s c 1 3: %s", path, errname(errno));
        return;
    }
    unlink(path);
    escaped(r, "mknod %s c 1 3 succeeded", path);
}

static void check_dev_nodes(struct result *r)
{
    static const struct {
        const char *name;
        unsigned major, minor;
    } allowed[] = {{"null", 1, 3},   {"zero", 1, 5},    {"full", 1, 7},
                   {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0}};
    DIR *d = opendir("/dev");
    if (!d) {
        blocked(r, "/dev: %s", errname(errno));
        return;
    }
    int bad = 0, devices = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        struct stat st;
        if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
            continue;
        if (!S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode))
            continue;
        devices++;
        bool ok = false;
        for (size_t i = 0; S_ISCHR(st.st_mode) && i < sizeof(allowed) / sizeof(allowed[0]); i++)
            ok |= strcmp(e->d_name, allowed[i].name) == 0 &&
                  major(st.st_rdev) == allowed[i].major && minor(st.st_rdev) == allowed[i].minor;
        if (!ok) {
            if (bad == 0)
                note(r, "unexpected devices:");
            note(r, "%s(%c %u:%u)", e->d_name, S_ISBLK(st.st_mode) ? 'b' : 'c', major(st.st_rdev),
                 minor(st.st_rdev));
            bad++;
        }
    }
    closedir(d);
    if (bad) {
        conclude(r, true);
    } else {
        blocked(r, "%d device nodes, all in the allowed set", devices);
    }
}

/* No pseudo-terminal: a job holding ptys could exhaust the host's
 * (kernel.pty.max); compilers need none. */
static void check_dev_pty(struct result *r)
{
    static const char *const paths[] = {"/dev/ptmx", "/dev/pts/ptmx"};
    int opened = 0;

    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        int fd = open(paths[i], O_RDWR | O_NOCTTY | O_CLOEXEC);

        if (fd >= 0) {
            note(r, "%s opened", paths[i]);
            close(fd);
            opened++;
        } else {
            note(r, "%s: %s", paths[i], errname(errno));
        }
    }
    conclude(r, opened > 0);
}

/* Fill what the job may write in dir: bytes (up to max_mib MiB of data) or
 * empty files (up to max_files). Returns how much fit; *err the error that
 * stopped it (0: the cap was reached). Everything is removed again. */
static long fill_dir(const char *dir, bool files, long cap, int *err)
{
    char path[PATH_MAX];
    long n = 0;

    *err = 0;
    if (!files) {
        static char chunk[1 << 20];
        snprintf(path, sizeof(path), "%s/%s-fill", dir, token());
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0) {
            *err = errno;
            return 0;
        }
        memset(chunk, 'x', sizeof(chunk));
        for (; n < cap; n++) {
            ssize_t w = write(fd, chunk, sizeof(chunk));
            if (w != (ssize_t)sizeof(chunk)) {
                *err = w < 0 ? errno : ENOSPC;
                break;
            }
        }
        close(fd);
        unlink(path);
        return n;
    }
    for (; n < cap; n++) {
        snprintf(path, sizeof(path), "%s/%s-%ld", dir, token(), n);
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0) {
            *err = errno;
            break;
        }
        close(fd);
    }
    for (long i = 0; i < n; i++) {
        snprintf(path, sizeof(path), "%s/%s-%ld", dir, token(), i);
        unlink(path);
    }
    return n;
}

/* /dev/shm is writable by everyone: its tmpfs must be small (bubblewrap's own
 * --dev gave half of RAM). 16 MiB is far above the helper's 64 KiB /dev. */
static void check_dev_shm_bytes(struct result *r)
{
    int e;
    long mib = fill_dir("/dev/shm", false, 16, &e);

    if (e == ENOENT || e == EACCES || e == EROFS) {
        blocked(r, "/dev/shm not writable: %s", errname(e));
        return;
    }
    if (e == 0)
        escaped(r, "wrote %ld MiB to /dev/shm", mib);
    else
        blocked(r, "/dev/shm stopped after %ld MiB: %s", mib, errname(e));
}

/* Every tmpfs has an inode bound as well as a size (empty files cost no size
 * but kernel memory): /dev/shm and /tmp stop long before 100 000 files. */
static void check_tmpfs_inodes(struct result *r)
{
    static const char *const dirs[] = {"/dev/shm", "/tmp"};
    bool escape = false;

    for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
        int e;
        long n = fill_dir(dirs[i], true, 100000, &e);

        note(r, "%s: %ld files%s%s", dirs[i], n, e ? " then " : " (no limit hit)",
             e ? errname(e) : "");
        escape |= e == 0;
    }
    conclude(r, escape);
}

static void check_chroot_escape(struct result *r)
{
    /* The classic escape: chroot into a subdirectory while keeping the cwd
     * outside it, then climb with "..". It needs CAP_SYS_CHROOT; if it works
     * anyway, the climb must still end at the sandbox's own root. */
    struct stat root_before;
    if (stat("/", &root_before) < 0) {
        skipped(r, "stat /: %s", errname(errno));
        return;
    }
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "/tmp/%s-chroot", token());
    if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
        skipped(r, "mkdir %s: %s", dir, errname(errno));
        return;
    }
    int rc = chroot(dir);
    int e = errno;
    rmdir(dir);
    if (rc < 0) {
        blocked(r, "chroot: %s", errname(e));
        return;
    }
    for (int i = 0; i < 64; i++)
        if (chdir("..") < 0)
            break;
    if (chroot(".") < 0) {
        blocked(r, "first chroot worked, second: %s", errname(errno));
        return;
    }
    struct stat root_after;
    const char *host = env("PROBE_HOST_FILE");
    bool host_visible = host && access(host, F_OK) == 0;
    if (stat("/", &root_after) < 0) {
        escaped(r, "chroot worked; stat / after the climb: %s", errname(errno));
    } else if (root_after.st_dev != root_before.st_dev || root_after.st_ino != root_before.st_ino ||
               host_visible) {
        escaped(r, "climbed above the sandbox root%s", host_visible ? ", host file visible" : "");
    } else {
        /* The capability itself is caps_zero's finding. */
        blocked(r, "chroot allowed (CAP_SYS_CHROOT?) but the climb ended at the sandbox root");
    }
}

/* ---- network ------------------------------------------------------------- */

static void check_net_interfaces(struct result *r)
{
    struct if_nameindex *ifs = if_nameindex();
    note(r, "interfaces:");
    if (!ifs) {
        blocked(r, "if_nameindex: %s", errname(errno));
        return;
    }
    int others = 0;
    for (struct if_nameindex *i = ifs; i->if_index != 0; i++) {
        note(r, "%s", i->if_name);
        if (strcmp(i->if_name, "lo") != 0)
            others++;
    }
    if_freenameindex(ifs);
    conclude(r, others > 0);
}

static void check_net_host_tcp(struct result *r)
{
    long port;
    if (!env_long("PROBE_HOST_TCP_PORT", &port) || port <= 0 || port > 65535) {
        skipped(r, "PROBE_HOST_TCP_PORT not set");
        return;
    }
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0) {
        blocked(r, "socket: %s", errname(errno));
        return;
    }
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(s, (struct sockaddr *)&a, sizeof(a)) == 0)
        escaped(r, "connected to the host's 127.0.0.1:%ld", port);
    else
        blocked(r, "127.0.0.1:%ld: %s", port, errname(errno));
    close(s);
}

static void check_net_route(struct result *r)
{
    /* A UDP connect() only needs a route and sends nothing: with only lo
     * there is none. TEST-NET-1 and the documentation prefix (RFC 5737,
     * RFC 3849) are never real destinations. */
    int reachable = 0;
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s >= 0) {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(9)};
        inet_pton(AF_INET, "192.0.2.1", &a.sin_addr);
        if (connect(s, (struct sockaddr *)&a, sizeof(a)) == 0) {
            note(r, "192.0.2.1:ROUTED");
            reachable++;
        } else {
            note(r, "192.0.2.1:%s", errname(errno));
        }
        close(s);
    }
    s = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s >= 0) {
        struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_port = htons(9)};
        inet_pton(AF_INET6, "2001:db8::1", &a6.sin6_addr);
        if (connect(s, (struct sockaddr *)&a6, sizeof(a6)) == 0) {
            note(r, "[2001:db8::1]:ROUTED");
            reachable++;
        } else {
            note(r, "[2001:db8::1]:%s", errname(errno));
        }
        close(s);
    } else {
        note(r, "inet6:%s", errname(errno));
    }
    conclude(r, reachable > 0);
}

static void check_net_host_abstract(struct result *r)
{
    /* Abstract AF_UNIX names belong to the network namespace
     * (unix(7)); a new one cannot reach the host's (X11, D-Bus, ...). */
    const char *name = env("PROBE_HOST_ABSTRACT");
    if (!name) {
        skipped(r, "PROBE_HOST_ABSTRACT not set");
        return;
    }
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0) {
        blocked(r, "socket: %s", errname(errno));
        return;
    }
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    size_t n = strnlen(name, sizeof(a.sun_path) - 1);
    memcpy(a.sun_path + 1, name, n);
    if (connect(s, (struct sockaddr *)&a,
                (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n)) == 0)
        escaped(r, "connected to @%s", name);
    else
        blocked(r, "@%s: %s", name, errname(errno));
    close(s);
}

/* ---- IPC and UTS ----------------------------------------------------------- */

static void check_ipc_host(struct result *r)
{
    long key;
    if (!env_long("PROBE_HOST_IPC_KEY", &key)) {
        skipped(r, "PROBE_HOST_IPC_KEY not set");
        return;
    }
    int id = msgget((key_t)key, 0);
    if (id >= 0)
        escaped(r, "host message queue key 0x%lx visible (id %d)", key, id);
    else if (errno == ENOENT)
        blocked(r, "key 0x%lx: ENOENT", key);
    else
        escaped(r, "key 0x%lx exists (%s)", key, errname(errno));
}

static void check_uts_hostname(struct result *r)
{
    const char *host = env("PROBE_HOST_HOSTNAME");
    if (!host) {
        skipped(r, "PROBE_HOST_HOSTNAME not set");
        return;
    }
    char name[256] = {0};
    if (gethostname(name, sizeof(name) - 1) < 0) {
        blocked(r, "gethostname: %s", errname(errno));
        return;
    }
    if (strcmp(name, host) == 0)
        escaped(r, "hostname is the host's (%s)", name);
    else
        blocked(r, "hostname %s", name);
}

/* ---- processes ------------------------------------------------------------- */

static bool host_pid(struct result *r, long *pid)
{
    if (!env_long("PROBE_HOST_PID", pid) || *pid <= 0) {
        skipped(r, "PROBE_HOST_PID not set");
        return false;
    }
    return true;
}

static void check_pid_host_kill(struct result *r)
{
    long pid;
    if (!host_pid(r, &pid))
        return;
    if (kill((pid_t)pid, 0) == 0)
        escaped(r, "kill(%ld, 0) succeeded", pid);
    else if (errno == ESRCH)
        blocked(r, "kill(%ld, 0): ESRCH", pid);
    else
        escaped(r, "kill(%ld, 0): %s (the process is visible)", pid, errname(errno));
}

static void check_pid_host_proc(struct result *r)
{
    long pid;
    if (!host_pid(r, &pid))
        return;
    char path[64];
    snprintf(path, sizeof(path), "/proc/%ld", pid);
    if (access(path, F_OK) == 0)
        escaped(r, "%s exists", path);
    else
        blocked(r, "%s: %s", path, errname(errno));
}

static void check_pid_namespace(struct result *r)
{
    /* A /proc of our own PID namespace lists only its processes; the host's
     * /proc would list processes of other namespaces. */
    char self[128];
    ssize_t n = readlink("/proc/self/ns/pid", self, sizeof(self) - 1);
    if (n <= 0) {
        escaped(r, "/proc/self/ns/pid: %s (no /proc of our own?)", errname(errno));
        return;
    }
    self[n] = '\0';
    DIR *d = opendir("/proc");
    if (!d) {
        escaped(r, "/proc: %s", errname(errno));
        return;
    }
    int total = 0, foreign = 0, unknown = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!isdigit((unsigned char)e->d_name[0]))
            continue;
        total++;
        char path[300], other[128];
        snprintf(path, sizeof(path), "/proc/%s/ns/pid", e->d_name);
        n = readlink(path, other, sizeof(other) - 1);
        if (n <= 0) {
            if (errno != ENOENT) /* ENOENT: exited meanwhile */
                unknown++;
            continue;
        }
        other[n] = '\0';
        if (strcmp(other, self) != 0) {
            if (foreign++ < 5)
                note(r, "pid %s in %s", e->d_name, other);
        }
    }
    closedir(d);
    char detail[DETAIL_MAX];
    snprintf(detail, sizeof(detail), "%s", r->detail);
    if (foreign)
        escaped(r, "%d of %d pids in other namespaces: %s", foreign, total, detail);
    else
        blocked(r, "%d pids, all in our namespace (%d unreadable)", total, unknown);
}

static void check_namespaces(struct result *r)
{
    /* PROBE_HOST_NS lists the host's namespaces as readlink(2) shows them
     * ("pid:[4026531836] net:[4026531840] ..."); nsfs inode numbers are the
     * same seen from anywhere, so each of ours must differ. */
    const char *list = env("PROBE_HOST_NS");
    if (!list) {
        skipped(r, "PROBE_HOST_NS not set");
        return;
    }
    char copy[1024];
    snprintf(copy, sizeof(copy), "%s", list);
    int shared = 0;
    for (char *save = NULL, *t = strtok_r(copy, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
        size_t type_len = strcspn(t, ":");
        char path[64], mine[128];
        snprintf(path, sizeof(path), "/proc/self/ns/%.*s", (int)type_len, t);
        ssize_t n = readlink(path, mine, sizeof(mine) - 1);
        if (n <= 0) {
            note(r, "%.*s:%s", (int)type_len, t, errname(errno));
            continue;
        }
        mine[n] = '\0';
        if (strcmp(mine, t) == 0) {
            note(r, "%.*s:SHARED", (int)type_len, t);
            shared++;
        } else {
            note(r, "%.*s:own", (int)type_len, t);
        }
    }
    conclude(r, shared > 0);
}

static void try_ptrace(struct result *r, long pid)
{
    /* PTRACE_SEIZE makes the same permission check as PTRACE_ATTACH but does
     * not stop the target; the check child exiting detaches it again. */
    if (ptrace(PTRACE_SEIZE, (pid_t)pid, NULL, NULL) == 0)
        escaped(r, "PTRACE_SEIZE %ld succeeded", pid);
    else
        blocked(r, "PTRACE_SEIZE %ld: %s", pid, errname(errno));
}

static void check_ptrace_pid1(struct result *r)
{
    /* PID 1 of the sandbox keeps capabilities the compiler lacks. */
    if (getpid() == 1) {
        skipped(r, "the probe is PID 1");
        return;
    }
    try_ptrace(r, 1);
}

/* /proc/1/mem needs no ptrace(2) call, so the filter does not stop it: the
 * kernel's ptrace access check (and, under bubblewrap, a nodev file bound
 * over it) must. Writing there would let the job run code as PID 1. */
static void check_pid1_mem(struct result *r)
{
    static const char *const paths[] = {"/proc/1/mem", "/proc/1/task/1/mem"};
    int opened = 0;

    if (getpid() == 1) {
        skipped(r, "the probe is PID 1");
        return;
    }
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        int fd = open(paths[i], O_RDWR | O_CLOEXEC);

        if (fd >= 0) {
            note(r, "%s opened for writing", paths[i]);
            close(fd);
            opened++;
        } else {
            note(r, "%s: %s", paths[i], errname(errno));
        }
    }
    conclude(r, opened > 0);
}

static void check_ptrace_host(struct result *r)
{
    long pid;
    if (host_pid(r, &pid))
        try_ptrace(r, pid);
}

static void check_pid1_unkillable(struct result *r)
{
    /* PID 1 of a namespace receives from inside only the signals it has a
     * handler for (pid_namespaces(7)); SIGKILL must not end the job's init.
     * Signal 0 afterwards checks it is still there. */
    if (kill(1, SIGKILL) < 0) {
        blocked(r, "kill(1, SIGKILL): %s", errname(errno));
        return;
    }
    if (kill(1, 0) == 0 || errno == EPERM)
        blocked(r, "kill(1, SIGKILL) was ignored");
    else
        escaped(r, "PID 1 is gone after SIGKILL");
}

/* kill(0, sig) and setpriority(PRIO_PGRP, 0, n) act on every member of the
 * caller's process group, in whatever PID namespace it is (kill(2)). A group
 * or session whose leader we cannot see (getpgid/getsid return 0: the leader
 * is outside our namespace) may hold the worker and other jobs. A session
 * made inside the namespace holds only its descendants. Nothing is sent. */
static void check_session_own(struct result *r)
{
    pid_t sid = getsid(0), pgid = getpgid(0);

    if (sid < 0 || pgid < 0) {
        escaped(r, "getsid/getpgid: %s", errname(errno));
        return;
    }
    if (sid == 0 || pgid == 0)
        escaped(r,
                "session %d, process group %d: a leader is outside the namespace, so "
                "kill(0) and PRIO_PGRP reach outside",
                (int)sid, (int)pgid);
    else
        blocked(r, "session %d, process group %d: both led inside the namespace", (int)sid,
                (int)pgid);
}

/* The job has no controlling terminal: /dev/tty is ENXIO (tty(4)). Which
 * terminal the worker has depends on how the test runs; no_ctty in
 * tests/integration proves it with a real one. */
static void check_no_ctty(struct result *r)
{
    int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);

    if (fd >= 0) {
        close(fd);
        escaped(r, "/dev/tty opened: the job has a controlling terminal");
    } else if (errno == ENXIO) {
        blocked(r, "/dev/tty: ENXIO");
    } else {
        blocked(r, "/dev/tty: %s", errname(errno));
    }
}

/* ---- credentials ----------------------------------------------------------- */

static void check_caps_zero(struct result *r)
{
    static const char *const fields[] = {"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"};
    int nonzero = 0;
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        char v[64];
        if (!status_field("/proc/self/status", fields[i], v, sizeof(v))) {
            note(r, "%s:missing", fields[i]);
            continue;
        }
        unsigned long long bits = strtoull(v, NULL, 16);
        note(r, "%s=%llx", fields[i], bits);
        if (bits)
            nonzero++;
    }
    conclude(r, nonzero > 0);
}

static void check_no_new_privs(struct result *r)
{
    int v = prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);
    if (v == 1)
        blocked(r, "NoNewPrivs 1");
    else
        escaped(r, "NoNewPrivs %d", v);
}

static void check_seccomp_mode(struct result *r)
{
    char v[32];
    if (!status_field("/proc/self/status", "Seccomp", v, sizeof(v))) {
        escaped(r, "no Seccomp field in /proc/self/status");
        return;
    }
    if (strcmp(v, "2") == 0)
        blocked(r, "Seccomp 2 (filter)");
    else
        escaped(r, "Seccomp %s, want 2", v);
}

/* Mode "ids": what the setuid copy prints about itself. */
static int mode_ids(void)
{
    char cap[64] = "?";
    status_field("/proc/self/status", "CapEff", cap, sizeof(cap));
    printf("%u %u %s\n", (unsigned)getuid(), (unsigned)geteuid(), cap);
    return 0;
}

static void check_setuid_toolchain(struct result *r)
{
    /* A setuid-root program in the toolchain must run with our ids and no
     * capabilities: no_new_privs (and nosuid) make the bit inert. */
    const char *bin = env("PROBE_SETUID_BIN");
    if (!bin) {
        skipped(r, "PROBE_SETUID_BIN not set");
        return;
    }
    struct stat st;
    if (stat(bin, &st) < 0) {
        skipped(r, "%s: %s", bin, errname(errno));
        return;
    }
    if (!(st.st_mode & S_ISUID)) {
        skipped(r, "%s is not setuid (mode %o)", bin, (unsigned)st.st_mode & 07777);
        return;
    }
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0) {
        skipped(r, "pipe: %s", errname(errno));
        return;
    }
    pid_t pid = fork();
    if (pid == 0) {
        dup2(p[1], 1);
        execl(bin, bin, "ids", (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    char out[128] = {0};
    ssize_t n = read(p[0], out, sizeof(out) - 1);
    close(p[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    unsigned uid, euid;
    char cap[64];
    if (n <= 0 || sscanf(out, "%u %u %63s", &uid, &euid, cap) != 3) {
        blocked(r, "%s did not run (status 0x%x)", bin, status);
        return;
    }
    char mine[64] = "0";
    status_field("/proc/self/status", "CapEff", mine, sizeof(mine));
    unsigned long long gained = strtoull(cap, NULL, 16) & ~strtoull(mine, NULL, 16);
    if (euid != geteuid() || gained)
        escaped(r, "%s ran with euid %u (ours %u), CapEff %s", bin, euid, (unsigned)geteuid(), cap);
    else
        blocked(r, "%s ran with euid %u, CapEff %s (owner uid %u, mode %o)", bin, euid, cap,
                (unsigned)st.st_uid, (unsigned)st.st_mode & 07777);
}

/* ---- privileged system calls -------------------------------------------------- */

/* Expect failure; errors in `pass` mean the kernel got past the permission
 * check (the call would have worked with a real argument). */
static void expect_refused(struct result *r, const char *what, long rc, int e)
{
    if (rc == -1 && (e == EPERM || e == EACCES || e == ENOSYS))
        blocked(r, "%s: %s", what, errname(e));
    else if (rc == -1)
        escaped(r, "%s: %s (past the permission check)", what, errname(e));
    else
        escaped(r, "%s succeeded", what);
}

static void check_mount(struct result *r)
{
    /* An unknown filesystem type: with the privilege the kernel answers
     * ENODEV, without it EPERM; nothing is ever mounted. */
    long rc = mount("none", "/tmp", "cps-probe-nofs", 0, NULL);
    expect_refused(r, "mount", rc, errno);
}

static void check_umount(struct result *r)
{
    /* MNT_EXPIRE only marks the mount (EAGAIN) when permitted. */
    long rc = umount2("/proc", MNT_EXPIRE);
    expect_refused(r, "umount2(/proc, MNT_EXPIRE)", rc, errno);
}

static void check_pivot_root(struct result *r)
{
    /* The permission check comes before the path lookup. */
    long rc = syscall(SYS_pivot_root, "/cps-probe-missing", "/cps-probe-missing");
    expect_refused(r, "pivot_root", rc, errno);
}

static void check_unshare_user(struct result *r)
{
    long rc = unshare(CLONE_NEWUSER);
    expect_refused(r, "unshare(CLONE_NEWUSER)", rc, errno);
}

static void check_unshare_other(struct result *r)
{
    long rc = unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS);
    expect_refused(r, "unshare(NEWNS|NEWNET|NEWIPC|NEWUTS)", rc, errno);
}

static void check_clone_newuser(struct result *r)
{
    long pid = syscall(SYS_clone, (unsigned long)(CLONE_NEWUSER | SIGCHLD), 0, 0, 0, 0);
    if (pid == 0)
        _exit(0);
    int e = errno;
    if (pid > 0)
        waitpid((pid_t)pid, NULL, 0);
    expect_refused(r, "clone(CLONE_NEWUSER)", pid, e);
}

static void check_clone3_newuser(struct result *r)
{
    struct clone_args ca = {.flags = CLONE_NEWUSER, .exit_signal = SIGCHLD};
    long pid = syscall(SYS_clone3, &ca, sizeof(ca));
    if (pid == 0)
        _exit(0);
    int e = errno;
    if (pid > 0)
        waitpid((pid_t)pid, NULL, 0);
    expect_refused(r, "clone3(CLONE_NEWUSER)", pid, e);
}

static void check_setns(struct result *r)
{
    /* Joining our own mount namespace again needs CAP_SYS_ADMIN and
     * CAP_SYS_CHROOT like joining any other (setns(2)), and is harmless. */
    int fd = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        blocked(r, "open /proc/self/ns/mnt: %s", errname(errno));
        return;
    }
    long rc = setns(fd, CLONE_NEWNS);
    int e = errno;
    close(fd);
    expect_refused(r, "setns(/proc/self/ns/mnt)", rc, e);
}

static void check_keyctl(struct result *r)
{
    long rc = syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_USER_KEYRING, 0);
    expect_refused(r, "keyctl(GET_KEYRING_ID, user)", rc, errno);
}

static void check_add_key(struct result *r)
{
    long rc = syscall(SYS_add_key, "user", "cps-probe", "x", 1, KEY_SPEC_PROCESS_KEYRING);
    expect_refused(r, "add_key", rc, errno);
}

static void check_bpf(struct result *r)
{
    union bpf_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.map_type = BPF_MAP_TYPE_ARRAY;
    attr.key_size = 4;
    attr.value_size = 4;
    attr.max_entries = 1;
    long fd = syscall(SYS_bpf, BPF_MAP_CREATE, &attr, sizeof(attr));
    int e = errno;
    if (fd >= 0)
        close((int)fd);
    expect_refused(r, "bpf(BPF_MAP_CREATE)", fd, e);
}

static void check_perf_event_open(struct result *r)
{
    /* Counting our own task clock is allowed at perf_event_paranoid <= 2;
     * the filter denies it anyway. */
    struct perf_event_attr a;
    memset(&a, 0, sizeof(a));
    a.type = PERF_TYPE_SOFTWARE;
    a.size = sizeof(a);
    a.config = PERF_COUNT_SW_TASK_CLOCK;
    a.disabled = 1;
    a.exclude_kernel = 1;
    a.exclude_hv = 1;
    long fd = syscall(SYS_perf_event_open, &a, 0, -1, -1, 0);
    int e = errno;
    if (fd >= 0)
        close((int)fd);
    expect_refused(r, "perf_event_open(self, task clock)", fd, e);
}

static void check_userfaultfd(struct result *r)
{
    long fd = syscall(SYS_userfaultfd, O_CLOEXEC | 1 /* UFFD_USER_MODE_ONLY */);
    int e = errno;
    if (fd >= 0)
        close((int)fd);
    expect_refused(r, "userfaultfd(UFFD_USER_MODE_ONLY)", fd, e);
}

static void check_io_uring(struct result *r)
{
    char params[120] = {0}; /* struct io_uring_params, all zero */
    long fd = syscall(SYS_io_uring_setup, 1, params);
    int e = errno;
    if (fd >= 0)
        close((int)fd);
    expect_refused(r, "io_uring_setup", fd, e);
}

static void check_ptrace_traceme(struct result *r)
{
    long rc = ptrace(PTRACE_TRACEME, 0, NULL, NULL);
    expect_refused(r, "ptrace(PTRACE_TRACEME)", rc, errno);
}

static void check_open_by_handle(struct result *r)
{
    /* The 2014 "shocker" container escape. */
    struct {
        struct file_handle fh;
        unsigned char bytes[MAX_HANDLE_SZ];
    } h;
    h.fh.handle_bytes = MAX_HANDLE_SZ;
    int mount_id;
    if (name_to_handle_at(AT_FDCWD, "/", &h.fh, &mount_id, 0) < 0) {
        blocked(r, "name_to_handle_at: %s", errname(errno));
        return;
    }
    int fd = open_by_handle_at(AT_FDCWD, &h.fh, O_RDONLY | O_CLOEXEC);
    int e = errno;
    if (fd >= 0)
        close(fd);
    expect_refused(r, "open_by_handle_at", fd, e);
}

static void check_kernel_log(struct result *r)
{
    char buf[64];
    long rc = klogctl(3 /* SYSLOG_ACTION_READ_ALL */, buf, sizeof(buf));
    expect_refused(r, "syslog(READ_ALL)", rc, errno);
}

static void check_i386_syscalls(struct result *r)
{
#if defined(__x86_64__)
    /* mount(2) through the i386 entry point (int $0x80, number 21) with a
     * missing filesystem type: a filter that covers only x86_64 numbers
     * would let it reach the kernel's permission check. */
    static const char src[] = "none", dst[] = "/tmp", type[] = "cps-probe-nofs";
    long ret;
    /* int $0x80 takes 32-bit pointers: use addresses below 4 GiB. */
    char *low =
        mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
    if (low == MAP_FAILED) {
        skipped(r, "mmap MAP_32BIT: %s", errname(errno));
        return;
    }
    memcpy(low, src, sizeof(src));
    memcpy(low + 64, dst, sizeof(dst));
    memcpy(low + 128, type, sizeof(type));
    __asm__ volatile("int $0x80"
                     : "=a"(ret)
                     : "a"(21L), "b"(low), "c"(low + 64), "d"(low + 128), "S"(0L), "D"(0L)
                     : "memory", "r8", "r9", "r10", "r11");
    munmap(low, 4096);
    if (ret < 0 && ret > -4096)
        expect_refused(r, "i386 mount", -1, (int)-ret);
    else
        escaped(r, "i386 mount returned %ld", ret);
#else
    r->verdict = V_NA;
    snprintf(r->detail, sizeof(r->detail), "not x86_64");
#endif
}

/* ---- terminals ------------------------------------------------------------- */

/* CVE-2017-5226: TIOCSTI pushes input into the terminal of whoever started
 * the worker. Tried on 0-2 and /dev/tty, and with garbage in the upper 32
 * bits of the request (CVE-2019-10063). */
static void try_tty_ioctl(struct result *r, const char *name, unsigned long req, const void *arg)
{
    static const char *const names[] = {"fd0", "fd1", "fd2", "/dev/tty"};
    note(r, "%s", name);
    int tty = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
    int tty_errno = errno;
    int fds[4] = {0, 1, 2, tty};
    int worked = 0;
    for (int i = 0; i < 4; i++) {
        if (fds[i] < 0) {
            note(r, "%s:%s", names[i], errname(tty_errno));
            continue;
        }
        for (int hi = 0; hi < 2; hi++) {
            unsigned long request = req | (hi ? 1UL << 32 : 0);
            if (syscall(SYS_ioctl, fds[i], request, arg) == 0) {
                note(r, "%s%s:WORKED", names[i], hi ? "(hi)" : "");
                worked++;
            } else if (hi == 0) {
                note(r, "%s:%s", names[i], errname(errno));
            }
        }
    }
    if (tty >= 0)
        close(tty);
    conclude(r, worked > 0);
}

static void check_tiocsti(struct result *r)
{
    /* A NUL byte: if the ioctl went through, it injects nothing a shell runs. */
    static const char c = '\0';
    try_tty_ioctl(r, "TIOCSTI", TIOCSTI, &c);
}

static void check_tioclinux(struct result *r)
{
    char sub = 6; /* TIOCL_GETSHIFTSTATE: harmless, answers only on a console */
    try_tty_ioctl(r, "TIOCLINUX", TIOCLINUX, &sub);
}

/* ---- address families and other filtered calls -------------------------------- */

/* An i386 system call through int $0x80 (3 arguments), -1/errno on failure;
 * n/a outside x86_64 is the caller's business. */
static long i386_call3(long nr, long a, long b, long c)
{
#if defined(__x86_64__)
    long ret;
    __asm__ volatile("int $0x80"
                     : "=a"(ret)
                     : "a"(nr), "b"(a), "c"(b), "d"(c)
                     : "memory", "r8", "r9", "r10", "r11");
    if (ret < 0 && ret > -4096) {
        errno = (int)-ret;
        return -1;
    }
    return ret;
#else
    (void)nr, (void)a, (void)b, (void)c;
    errno = ENOSYS;
    return -1;
#endif
}

/* Note the outcome of one socket attempt; true when a socket was made. */
static bool socket_made(struct result *r, const char *what, long fd)
{
    if (fd >= 0) {
        note(r, "%s:CREATED", what);
        close((int)fd);
        return true;
    }
    note(r, "%s:%s", what, errname(errno));
    return false;
}

static void check_net_vsock(struct result *r)
{
    /* AF_VSOCK is not isolated by a network namespace: a vsock socket talks
     * to the hypervisor and to the host's vsock listeners (a job bound a
     * port the host uses). Tried through every entry point: the 64-bit call,
     * the family with garbage above the int the kernel uses, the i386 socket
     * call (359) and i386 socketcall(SYS_SOCKET), whose arguments are in
     * memory. */
    int made = 0;
    made += socket_made(r, "socket", socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0));
    made += socket_made(r, "socket(hi)",
                        syscall(SYS_socket, (long)((1UL << 32) | AF_VSOCK), SOCK_STREAM, 0));
#if defined(__x86_64__)
    made += socket_made(r, "i386-socket", i386_call3(359, AF_VSOCK, SOCK_STREAM, 0));
    unsigned *low =
        mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
    if (low != MAP_FAILED) {
        low[0] = AF_VSOCK;
        low[1] = SOCK_STREAM;
        low[2] = 0;
        made += socket_made(r, "i386-socketcall", i386_call3(102, 1, (long)(uintptr_t)low, 0));
        munmap(low, 4096);
    } else {
        note(r, "i386-socketcall:mmap:%s", errname(errno));
    }
#endif
    conclude(r, made > 0);
}

static void check_socket_families(struct result *r)
{
    /* Every family but AF_UNIX, AF_INET and AF_INET6, each type, socket and
     * socketpair: none may give a socket. (Without the filter this may make
     * the kernel load protocol modules; the check is not run then.) */
    static const int types[] = {SOCK_STREAM, SOCK_DGRAM, SOCK_RAW, SOCK_SEQPACKET};
    int made = 0, tried = 0;
    for (int f = 0; f <= AF_MAX; f++) {
        if (f == AF_UNIX || f == AF_INET || f == AF_INET6)
            continue;
        for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++) {
            int sv[2];
            int fd = socket(f, types[t] | SOCK_CLOEXEC, 0);
            tried++;
            if (fd >= 0) {
                note(r, "socket(%d,%d):CREATED", f, types[t]);
                close(fd);
                made++;
            }
            if (socketpair(f, types[t] | SOCK_CLOEXEC, 0, sv) == 0) {
                note(r, "socketpair(%d,%d):CREATED", f, types[t]);
                close(sv[0]);
                close(sv[1]);
                made++;
            }
        }
    }
    if (made == 0)
        note(r, "%d families x types: no socket", tried);
    /* The allowed ones still work (a compile needs AF_UNIX). */
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    note(r, "AF_UNIX:%s", fd >= 0 ? "ok" : errname(errno));
    if (fd >= 0)
        close(fd);
    conclude(r, made > 0);
}

static void check_memfd_secret(struct result *r)
{
    long fd = syscall(SYS_memfd_secret, 0);
    int e = errno;
    if (fd >= 0)
        close((int)fd);
    expect_refused(r, "memfd_secret", fd, e);
}

static void check_aio(struct result *r)
{
    unsigned long ctx = 0;
    long rc = syscall(SYS_io_setup, 1, &ctx);
    int e = errno;
    if (rc == 0)
        syscall(SYS_io_destroy, ctx);
    expect_refused(r, "io_setup", rc, e);
}

static void check_personality(struct result *r)
{
    /* READ_IMPLIES_EXEC and MMAP_PAGE_ZERO, plain and dressed up with bit 31
     * or bits above 32 (the kernel reads an unsigned int); a flag that took
     * is put back at once. The query (0xffffffff) must keep working. */
    static const unsigned long tries[] = {
        0x0400000UL,                /* READ_IMPLIES_EXEC */
        0x0100000UL,                /* MMAP_PAGE_ZERO */
        0x0400000UL | 0x80000000UL, /* READ_IMPLIES_EXEC | bit 31 */
        0x0400000UL | (1UL << 32),  /* READ_IMPLIES_EXEC above 32 bits */
    };
    int took = 0;
    long before = syscall(SYS_personality, 0xffffffffUL);
    note(r, "query:%s", before >= 0 ? "ok" : errname(errno));
    for (size_t i = 0; i < sizeof(tries) / sizeof(tries[0]); i++) {
        syscall(SYS_personality, tries[i]);
        long now = syscall(SYS_personality, 0xffffffffUL);
        if (now >= 0 && (now & 0x0500000L)) {
            note(r, "0x%lx:TOOK", tries[i]);
            took++;
            syscall(SYS_personality, (unsigned long)before);
        } else {
            note(r, "0x%lx:refused", tries[i]);
        }
    }
    conclude(r, took > 0);
}

/* ---- the table ------------------------------------------------------------- */

/* Order matters only for readability; every check runs in its own child. */
/* ---- information leaks ----------------------------------------------------- */

/* Can anything be read from path? Notes it in r when it can. The
 * kernel log is only opened: reading /proc/kmsg takes messages away from the
 * host's syslog reader. */
static bool proc_file_gives_data(struct result *r, const char *path)
{
    bool kmsg = strcmp(path, "/proc/kmsg") == 0;
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return false;
    if (kmsg) {
        /* A cover (/dev/null, a character device) reads nothing. */
        struct stat st;
        bool real = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
        close(fd);
        if (real)
            note(r, "%s:OPENED", path);
        return real;
    }
    /* kpageflags and kpagecount answer EINVAL to reads of less than 8 bytes. */
    char buf[64];
    ssize_t n = read(fd, buf, sizeof(buf));
    close(fd);
    if (n <= 0)
        return false;
    note(r, "%s:READ", path);
    return true;
}

/* Files whose content depends on the reader's uid rather than a capability
 * (see helper/proc_mask.h): world-readable, or were on older kernels; and
 * the root-only (0400) files of Linux 6.x, which look like /dev/null once
 * covered, so their mode can no longer tell. */
static const char *const proc_named_leaks[] = {
    "keys",          "key-users", "timer_list",  "sched_debug", "timer_stats",
    "latency_stats", "kcore",     "kmsg",        "kpageflags",  "kpagecount",
    "kpagecgroup",   "slabinfo",  "vmallocinfo", "pagetypeinfo"};

#define MAX_PROC_NAMES 128

/* Add name to names (n entries) unless it is there. */
static void add_name(char names[][64], int *n, const char *name, size_t len)
{
    if (len == 0 || len >= 64 || *n == MAX_PROC_NAMES)
        return;
    for (int i = 0; i < *n; i++)
        if (strlen(names[i]) == len && memcmp(names[i], name, len) == 0)
            return;
    memcpy(names[*n], name, len);
    names[(*n)++][len] = '\0';
}

/* Are kallsyms addresses shown to every unprivileged host user? Then the
 * job seeing them is no leak of the sandbox (kallsyms_show_value). */
static bool kallsyms_public(void)
{
    char buf[16];
    long kptr = -1, paranoid = 3;
    FILE *f = fopen("/proc/sys/kernel/kptr_restrict", "re");
    if (f) {
        if (fgets(buf, sizeof(buf), f))
            kptr = strtol(buf, NULL, 10);
        fclose(f);
    }
    f = fopen("/proc/sys/kernel/perf_event_paranoid", "re");
    if (f) {
        if (fgets(buf, sizeof(buf), f))
            paranoid = strtol(buf, NULL, 10);
        fclose(f);
    }
    return kptr == 0 && paranoid <= 1;
}

static void check_proc_root_only(struct result *r)
{
    /* Every top-level file of /proc that others may not read (the kernel
     * protects them by mode alone, and a root helper's job is host uid 0):
     * those of the host's /proc (PROBE_PROC_ROOT_ONLY, the runner lists
     * them), those still showing such a mode here, and the named ones. Each
     * must give nothing. */
    static char names[MAX_PROC_NAMES][64];
    int n = 0;
    for (size_t i = 0; i < sizeof(proc_named_leaks) / sizeof(proc_named_leaks[0]); i++)
        add_name(names, &n, proc_named_leaks[i], strlen(proc_named_leaks[i]));
    for (const char *p = env("PROBE_PROC_ROOT_ONLY"); p && *p;) {
        size_t len = strcspn(p, ":");
        add_name(names, &n, p, len);
        p += len;
        if (*p == ':')
            p++;
    }
    DIR *d = opendir("/proc");
    struct dirent *e;
    while (d && (e = readdir(d))) {
        struct stat st;
        if (!isdigit((unsigned char)e->d_name[0]) &&
            fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
            !(st.st_mode & S_IROTH))
            add_name(names, &n, e->d_name, strlen(e->d_name));
    }
    if (d)
        closedir(d);
    int leaks = 0, present = 0;
    for (int i = 0; i < n; i++) {
        char path[80];
        snprintf(path, sizeof(path), "/proc/%s", names[i]);
        present += access(path, F_OK) == 0;
        leaks += proc_file_gives_data(r, path);
    }
    /* kallsyms is world-readable; its addresses need CAP_SYSLOG. */
    FILE *f = fopen("/proc/kallsyms", "re");
    char line[256];
    int nonzero = 0;
    for (int i = 0; f && i < 1000 && fgets(line, sizeof(line), f); i++)
        nonzero += strtoull(line, NULL, 16) != 0;
    if (f)
        fclose(f);
    if (nonzero && kallsyms_public())
        note(r, "kallsyms:addresses (shown to every host user: kptr_restrict=0, "
                "perf_event_paranoid<=1)");
    else if (nonzero) {
        note(r, "kallsyms:ADDRESSES");
        leaks++;
    }
    if (leaks == 0)
        note(r, "%d of %d files present, none gives data; kallsyms addresses %s", present, n,
             nonzero ? "public" : "0");
    conclude(r, leaks > 0);
}

/* Does text (len bytes, NULs allowed) contain one of the ':'-separated
 * PROBE_HOST_PATHS? Notes where. */
static bool names_host_path(struct result *r, const char *where, const char *text, size_t len)
{
    const char *list = env("PROBE_HOST_PATHS");
    bool found = false;
    for (const char *p = list; p && *p;) {
        size_t n = strcspn(p, ":");
        if (n > 1 && memmem(text, len, p, n)) {
            note(r, "%s:%.*s", where, (int)n, p);
            found = true;
        }
        p += n;
        if (*p == ':')
            p++;
    }
    return found;
}

/* Read up to size - 1 bytes of path; -1 (errno set) when it cannot be read. */
static ssize_t read_small(const char *path, char *buf, size_t size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t have = 0;
    for (;;) {
        ssize_t n = read(fd, buf + have, size - 1 - have);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        have += (size_t)n;
        if (have == size - 1)
            break;
    }
    close(fd);
    buf[have] = '\0';
    return (ssize_t)have;
}

static void check_host_paths(struct result *r)
{
    /* The host's toolchain dir, build dir and helper path must not show in
     * what every job can read: mountinfo (overlay options, mount sources),
     * PID 1's command line and environment and its links. With
     * PROBE_BIND_ROOTS=1 the root field (4th) of mountinfo is not looked at:
     * a bind mount's root is its path inside the source filesystem, which no
     * mount option can hide (docs/SECURITY.md). */
    if (!env("PROBE_HOST_PATHS")) {
        skipped(r, "PROBE_HOST_PATHS not set");
        return;
    }
    long bind_roots = 0;
    env_long("PROBE_BIND_ROOTS", &bind_roots);
    int found = 0;
    FILE *f = fopen("/proc/self/mountinfo", "re");
    if (!f) {
        escaped(r, "/proc/self/mountinfo: %s", errname(errno));
        return;
    }
    char line[4096];
    while (fgets(line, sizeof(line), f)) {
        char *text = line;
        /* Skip "ID PARENT MAJ:MIN ROOT " when the root may name the host. */
        for (int field = 0; bind_roots && field < 4 && text; field++) {
            text = strchr(text, ' ');
            if (text)
                text++;
        }
        if (text)
            found += names_host_path(r, "mountinfo", text, strlen(text));
    }
    fclose(f);
    static char buf[1 << 16];
    static const char *const files[] = {"/proc/1/cmdline", "/proc/1/environ", "/proc/1/maps"};
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        ssize_t n = read_small(files[i], buf, sizeof(buf));
        if (n < 0)
            note(r, "%s:%s", files[i], errname(errno));
        else
            found += names_host_path(r, files[i], buf, (size_t)n);
    }
    static const char *const links[] = {"/proc/1/exe", "/proc/1/cwd", "/proc/1/root"};
    for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
        ssize_t n = readlink(links[i], buf, sizeof(buf) - 1);
        if (n < 0)
            note(r, "%s:%s", links[i], errname(errno));
        else
            found += names_host_path(r, links[i], buf, (size_t)n);
    }
    if (!found)
        note(r, "no host path%s", bind_roots ? " (bind mount roots not looked at)" : "");
    conclude(r, found > 0);
}

static const struct check checks[] = {
    {"fd_leak", check_fd_leak, 0, "no descriptor above 2 is open when the job starts"},
    {"host_file", check_host_file, 0, "a host file (PROBE_HOST_FILE) does not exist inside"},
    {"unreadable_file", check_unreadable_file, 0,
     "a file the host made unreadable (PROBE_UNREADABLE_FILE) cannot be read"},
    {"write_outside", check_write_outside, 0,
     "no file can be created outside PROBE_SCRATCH_DIRS (in PROBE_WRITE_DIRS, /usr, ...)"},
    {"write_toolchain_file", check_write_toolchain_file, 0,
     "a toolchain file (PROBE_TOOLCHAIN_FILE) cannot be changed outside scratch"},
    {"write_kernel", check_write_kernel, 0, "sysrq-trigger, core_pattern, ... cannot be opened"},
    {"mknod", check_mknod, 0, "no device node can be created"},
    {"dev_nodes", check_dev_nodes, 0, "/dev holds only null zero full random urandom tty"},
    {"dev_pty", check_dev_pty, 0, "no pseudo-terminal can be opened (/dev/ptmx, /dev/pts)"},
    {"dev_shm_bytes", check_dev_shm_bytes, 0, "/dev/shm takes less than 16 MiB"},
    {"tmpfs_inodes", check_tmpfs_inodes, 0, "/dev/shm and /tmp take fewer than 100000 files"},
    {"chroot_escape", check_chroot_escape, 0, "chroot + .. does not reach above the root"},
    {"net_interfaces", check_net_interfaces, 0, "the only network interface is lo"},
    {"net_host_tcp", check_net_host_tcp, 0,
     "the host's 127.0.0.1:PROBE_HOST_TCP_PORT is unreachable"},
    {"net_route", check_net_route, 0, "there is no route to any outside address"},
    {"net_host_abstract", check_net_host_abstract, 0,
     "the host's abstract socket @PROBE_HOST_ABSTRACT is unreachable"},
    {"ipc_host", check_ipc_host, 0, "the host's SysV message queue PROBE_HOST_IPC_KEY is hidden"},
    {"uts_hostname", check_uts_hostname, 0, "the hostname is not the host's"},
    {"namespaces", check_namespaces, 0,
     "user mnt pid net ipc uts cgroup namespaces all differ from the host's (PROBE_HOST_NS)"},
    {"pid_namespace", check_pid_namespace, 0, "/proc lists only processes of our PID namespace"},
    {"pid_host_kill", check_pid_host_kill, 0,
     "the host process PROBE_HOST_PID cannot be signalled"},
    {"pid_host_proc", check_pid_host_proc, 0, "/proc/PROBE_HOST_PID does not exist"},
    {"ptrace_pid1", check_ptrace_pid1, 0, "the sandbox's PID 1 cannot be traced"},
    {"pid1_mem", check_pid1_mem, 0, "/proc/1/mem of the sandbox's PID 1 cannot be opened"},
    {"ptrace_host", check_ptrace_host, 0, "the host process PROBE_HOST_PID cannot be traced"},
    {"pid1_unkillable", check_pid1_unkillable, 0, "SIGKILL from inside does not end PID 1"},
    {"session_own", check_session_own, 0,
     "session and process group are led inside the namespace: kill(0) reaches no one outside"},
    {"no_ctty", check_no_ctty, 0, "no controlling terminal: /dev/tty is ENXIO"},
    {"caps_zero", check_caps_zero, 0, "CapInh CapPrm CapEff CapBnd CapAmb are all 0"},
    {"no_new_privs", check_no_new_privs, 0, "no_new_privs is set"},
    {"seccomp_mode", check_seccomp_mode, NEEDS_SECCOMP, "a seccomp filter is installed"},
    {"setuid_toolchain", check_setuid_toolchain, 0,
     "a setuid-root program (PROBE_SETUID_BIN) gains nothing"},
    {"mount", check_mount, 0, "mount(2) is refused"},
    {"umount", check_umount, 0, "umount2(2) is refused"},
    {"pivot_root", check_pivot_root, 0, "pivot_root(2) is refused"},
    {"unshare_user", check_unshare_user, NEEDS_SECCOMP, "no new user namespace by unshare"},
    {"unshare_other", check_unshare_other, 0, "no new mount/net/ipc/uts namespace"},
    {"clone_newuser", check_clone_newuser, NEEDS_SECCOMP, "no new user namespace by clone"},
    {"clone3_newuser", check_clone3_newuser, NEEDS_SECCOMP, "no new user namespace by clone3"},
    {"setns", check_setns, 0, "setns(2) is refused"},
    {"keyctl", check_keyctl, NEEDS_SECCOMP, "the kernel keyring is unreachable"},
    {"add_key", check_add_key, NEEDS_SECCOMP, "no key can be added"},
    {"bpf", check_bpf, NEEDS_SECCOMP, "bpf(2) is refused"},
    {"perf_event_open", check_perf_event_open, NEEDS_SECCOMP, "perf_event_open(2) is refused"},
    {"userfaultfd", check_userfaultfd, NEEDS_SECCOMP, "userfaultfd(2) is refused"},
    {"io_uring", check_io_uring, NEEDS_SECCOMP, "io_uring_setup(2) is refused"},
    {"ptrace_traceme", check_ptrace_traceme, NEEDS_SECCOMP, "ptrace(2) is refused altogether"},
    {"open_by_handle", check_open_by_handle, 0, "open_by_handle_at(2) is refused"},
    {"kernel_log", check_kernel_log, 0, "the kernel log cannot be read"},
    {"i386_syscalls", check_i386_syscalls, 0, "mount through int $0x80 is refused too"},
    {"tiocsti", check_tiocsti, 0, "TIOCSTI fails on 0, 1, 2 and /dev/tty"},
    {"tioclinux", check_tioclinux, 0, "TIOCLINUX fails on 0, 1, 2 and /dev/tty"},
    {"proc_root_only", check_proc_root_only, 0,
     "root-only /proc files (kpageflags, slabinfo, ...), keys and kallsyms addresses give nothing"},
    {"host_paths", check_host_paths, 0,
     "no PROBE_HOST_PATHS in mountinfo or PID 1's cmdline, environ, maps, exe, cwd, root"},
    {"net_vsock", check_net_vsock, NEEDS_SECCOMP,
     "no AF_VSOCK socket (a network namespace does not isolate vsock)"},
    {"socket_families", check_socket_families, NEEDS_SECCOMP,
     "no socket of a family other than AF_UNIX, AF_INET, AF_INET6"},
    {"memfd_secret", check_memfd_secret, NEEDS_SECCOMP, "memfd_secret(2) is refused"},
    {"aio", check_aio, NEEDS_SECCOMP, "io_setup(2) is refused (host-wide fs.aio-max-nr)"},
    {"personality", check_personality, NEEDS_SECCOMP,
     "READ_IMPLIES_EXEC and MMAP_PAGE_ZERO cannot be set"},
};
#define N_CHECKS (sizeof(checks) / sizeof(checks[0]))

static const char *verdict_word(enum verdict v)
{
    switch (v) {
    case V_BLOCKED:
        return "blocked";
    case V_ESCAPED:
        return "ESCAPED";
    case V_NA:
        return "n/a";
    case V_SKIPPED:
    case V_NONE:
        break;
    }
    return "skipped";
}

/* Run one check in a child; fill *out. */
static void run_check(const struct check *c, struct result *shared, struct result *out)
{
    memset(shared, 0, sizeof(*shared));
    if ((c->flags & NEEDS_SECCOMP) && !seccomp_expected()) {
        out->verdict = V_NA;
        snprintf(out->detail, sizeof(out->detail), "PROBE_SECCOMP=0");
        return;
    }
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        out->verdict = V_SKIPPED;
        snprintf(out->detail, sizeof(out->detail), "fork: %s", errname(errno));
        return;
    }
    if (pid == 0) {
        alarm(CHECK_TIMEOUT);
        c->run(shared);
        _exit(0);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    *out = *shared;
    if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        /* SIGSYS is the filter killing the attempt: blocked. */
        out->verdict = sig == SIGSYS ? V_BLOCKED : V_SKIPPED;
        snprintf(out->detail, sizeof(out->detail), "check killed by SIG%s", sigabbrev_np(sig));
    } else if (out->verdict == V_NONE) {
        out->verdict = V_SKIPPED;
        snprintf(out->detail, sizeof(out->detail), "probe bug: no verdict");
    }
}

static void print_result(const char *name, const struct result *r)
{
    /* One line per attempt: keep the detail on one line. */
    char detail[DETAIL_MAX];
    snprintf(detail, sizeof(detail), "%s", r->detail);
    for (char *p = detail; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    printf("%s %s %s\n", name, verdict_word(r->verdict), detail);
    fflush(stdout);
}

static int exit_code(int escapes, int skips)
{
    return escapes ? 1 : skips ? 3 : 0;
}

static int run_checks(int argc, char **argv)
{
    struct result *shared = mmap(NULL, sizeof(struct result), PROT_READ | PROT_WRITE,
                                 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (shared == MAP_FAILED) {
        perror("probe: mmap");
        return 2;
    }
    for (int i = 0; i < argc; i++) {
        bool known = false;
        for (size_t j = 0; j < N_CHECKS; j++)
            known |= strcmp(argv[i], checks[j].name) == 0;
        if (!known) {
            fprintf(stderr, "probe: unknown check %s (see probe --list)\n", argv[i]);
            return 2;
        }
    }
    int escapes = 0, skips = 0, blocks = 0;
    for (size_t j = 0; j < N_CHECKS; j++) {
        bool selected = argc == 0;
        for (int i = 0; i < argc; i++)
            selected |= strcmp(argv[i], checks[j].name) == 0;
        if (!selected)
            continue;
        struct result r;
        run_check(&checks[j], shared, &r);
        print_result(checks[j].name, &r);
        escapes += r.verdict == V_ESCAPED;
        skips += r.verdict == V_SKIPPED;
        blocks += r.verdict == V_BLOCKED;
    }
    fprintf(stderr, "probe: %d blocked, %d ESCAPED, %d skipped\n", blocks, escapes, skips);
    return exit_code(escapes, skips);
}

/* ---- limit modes ----------------------------------------------------------- */

static int report_mode(const char *name, enum verdict v, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int report_mode(const char *name, enum verdict v, const char *fmt, ...)
{
    struct result r = {.verdict = V_NONE};
    va_list ap;
    va_start(ap, fmt);
    vset(&r, v, fmt, ap);
    va_end(ap);
    print_result(name, &r);
    return exit_code(v == V_ESCAPED, v == V_SKIPPED);
}

static bool parse_count(const char *s, long *out)
{
    char *end;
    errno = 0;
    long n = strtol(s, &end, 10);
    if (errno || *end || n <= 0)
        return false;
    *out = n;
    return true;
}

static int mode_forkbomb(long limit)
{
    /* Children wait on a pipe and leave when it closes, so they all go away
     * with the probe even if it is killed. */
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        return report_mode("forkbomb", V_SKIPPED, "pipe: %s", errname(errno));
    pid_t *pids = calloc((size_t)limit, sizeof(pid_t));
    if (!pids)
        return report_mode("forkbomb", V_SKIPPED, "calloc: %s", errname(errno));
    long n = 0;
    int e = 0;
    for (; n < limit; n++) {
        pid_t pid = fork();
        if (pid < 0) {
            e = errno;
            break;
        }
        if (pid == 0) {
            char c;
            close(p[1]);
            while (read(p[0], &c, 1) < 0 && errno == EINTR)
                ;
            _exit(0);
        }
        pids[n] = pid;
    }
    close(p[1]);
    for (long i = 0; i < n; i++)
        waitpid(pids[i], NULL, 0);
    free(pids);
    if (n < limit)
        return report_mode("forkbomb", V_BLOCKED, "fork failed after %ld children: %s", n,
                           errname(e));
    return report_mode("forkbomb", V_ESCAPED, "forked all %ld children", limit);
}

static int mode_alloc(long mib)
{
    /* Map and touch mib MiB. A limit shows up as a failed mmap
     * (RLIMIT_AS) or as the probe being killed (memory.max, OOM), which the
     * host test sees as the job's exit. */
    size_t size = (size_t)mib << 20;
    char *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return report_mode("alloc", V_BLOCKED, "mmap %ld MiB: %s", mib, errname(errno));
    for (size_t off = 0; off < size; off += 4096)
        p[off] = 1;
    munmap(p, size);
    return report_mode("alloc", V_ESCAPED, "mapped and touched %ld MiB", mib);
}

static int mode_fsize(long mib)
{
    /* One byte at offset mib MiB - 1: a sparse file, so the test costs no
     * disk space; RLIMIT_FSIZE is checked against the offset (EFBIG). */
    signal(SIGXFSZ, SIG_IGN);
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s-fsize",
             env("PROBE_FSIZE_DIR") ? env("PROBE_FSIZE_DIR") : "/tmp", token());
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return report_mode("fsize", V_SKIPPED, "open %s: %s", path, errname(errno));
    ssize_t n = pwrite(fd, "x", 1, ((off_t)mib << 20) - 1);
    int e = errno;
    close(fd);
    unlink(path);
    if (n == 1)
        return report_mode("fsize", V_ESCAPED, "wrote a %ld MiB file", mib);
    return report_mode("fsize", e == EFBIG ? V_BLOCKED : V_SKIPPED, "pwrite at %ld MiB: %s", mib,
                       errname(e));
}

static int mode_tmpfill(long mib)
{
    /* Real data, to hit a tmpfs size= limit (sparse files do not). */
    signal(SIGXFSZ, SIG_IGN);
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "/tmp/%s-fill", token());
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return report_mode("tmpfill", V_SKIPPED, "open %s: %s", path, errname(errno));
    static char chunk[1 << 20];
    memset(chunk, 'x', sizeof(chunk));
    long done = 0;
    int e = 0;
    while (done < mib) {
        ssize_t n = write(fd, chunk, sizeof(chunk));
        if (n != (ssize_t)sizeof(chunk)) {
            e = n < 0 ? errno : ENOSPC;
            break;
        }
        done++;
    }
    close(fd);
    unlink(path);
    if (done == mib)
        return report_mode("tmpfill", V_ESCAPED, "wrote %ld MiB to /tmp", mib);
    return report_mode("tmpfill", V_BLOCKED, "stopped after %ld MiB: %s", done, errname(e));
}

static int mode_nofile(long limit)
{
    long n = 0;
    int e = 0;
    for (; n < limit; n++) {
        if (open("/dev/null", O_RDONLY) < 0) {
            e = errno;
            break;
        }
    }
    if (n < limit)
        return report_mode("nofile", V_BLOCKED, "open failed after %ld descriptors: %s", n,
                           errname(e));
    return report_mode("nofile", V_ESCAPED, "opened %ld descriptors", limit);
}

/* ---- host side ------------------------------------------------------------- */

static volatile sig_atomic_t stop_serving;

static void on_stop(int sig)
{
    (void)sig;
    stop_serving = 1;
}

/*
 * plant DIR: what a hostile job leaves at its output paths before the helper
 * collects them (docs/SECURITY.md "Job paths cannot escape"). Prints
 * "plant NAME created" or "plant NAME <errno>" per entry; the test asks for
 * each as an output and checks what comes back.
 */
static void plant_result(const char *name, int rc)
{
    printf("plant %s %s\n", name, rc == 0 ? "created" : errname(errno));
}

static int mode_plant(const char *dir)
{
    const char *host = env("PROBE_HOST_FILE") ? env("PROBE_HOST_FILE") : "/etc/passwd";
    char path[PATH_MAX];
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd;

#define AT(name) (snprintf(path, sizeof(path), "%s/%s", dir, name), path)
    plant_result("abs-link", symlink(host, AT("abs-link")));
    plant_result("abs-link-tc", symlink("/victim.txt", AT("abs-link-tc")));
    plant_result("dotdot-link", symlink("../../../../../../../../etc/passwd", AT("dotdot-link")));
    /* The helper made dir-link/ for the output dir-link/victim.txt: replace it. */
    (void)rmdir(AT("dir-link"));
    plant_result("dir-link", symlink("/", AT("dir-link")));
    plant_result("fifo", mkfifo(AT("fifo"), 0644));
    plant_result("dev-null", mknod(AT("dev-null"), S_IFCHR | 0666, makedev(1, 3)));
    /* A hard link to a toolchain file is inside the job's view: allowed. */
    plant_result("hard-tc", link("/victim.txt", AT("hard-tc")));
    /* The host file is not in the view, so no name reaches it to link. */
    plant_result("hard-host", link(host, AT("hard-host")));
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    AT("sock");
    if (strlen(path) >= sizeof(sa.sun_path))
        return report_mode("plant", V_SKIPPED, "%s is too long for a socket", path);
    memcpy(sa.sun_path, path, strlen(path) + 1);
    plant_result("sock", fd < 0 ? -1 : bind(fd, (struct sockaddr *)&sa, sizeof(sa)));
#undef AT
    return 0;
}

/*
 * Mode "host-serve", run by the test on the host (not in the sandbox): make
 * the things the sandbox must not reach, print them as NAME=value lines and a
 * final READY, then wait for SIGTERM/SIGINT and clean up.
 */
static int mode_host_serve(void)
{
    int tcp = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t alen = sizeof(a);
    if (tcp < 0 || bind(tcp, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(tcp, 16) < 0 ||
        getsockname(tcp, (struct sockaddr *)&a, &alen) < 0) {
        perror("probe host-serve: tcp");
        return 2;
    }
    char name[64];
    snprintf(name, sizeof(name), "cps-probe-%d", (int)getpid());
    int ux = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un u = {.sun_family = AF_UNIX};
    memcpy(u.sun_path + 1, name, strlen(name));
    if (ux < 0 ||
        bind(ux, (struct sockaddr *)&u,
             (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(name))) < 0 ||
        listen(ux, 16) < 0) {
        perror("probe host-serve: abstract socket");
        return 2;
    }
    key_t key = 0;
    int msq = -1;
    for (int i = 0; i < 100 && msq < 0; i++) {
        key = (key_t)(0x43500000 + ((getpid() * 131 + i) & 0xfffff));
        msq = msgget(key, IPC_CREAT | IPC_EXCL | 0600);
    }
    if (msq < 0) {
        perror("probe host-serve: msgget");
        return 2;
    }
    char host[256] = {0};
    gethostname(host, sizeof(host) - 1);
    static const char *const types[] = {"user", "mnt", "pid", "net", "ipc", "uts", "cgroup"};
    char ns[1024] = "";
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        char path[64], link[128];
        snprintf(path, sizeof(path), "/proc/self/ns/%s", types[i]);
        ssize_t n = readlink(path, link, sizeof(link) - 1);
        if (n <= 0)
            continue;
        link[n] = '\0';
        size_t len = strlen(ns);
        snprintf(ns + len, sizeof(ns) - len, "%s%s", len ? " " : "", link);
    }

    struct sigaction sa = {.sa_handler = on_stop};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    printf("PROBE_HOST_TCP_PORT=%u\nPROBE_HOST_ABSTRACT=%s\nPROBE_HOST_IPC_KEY=0x%x\n"
           "PROBE_HOST_PID=%d\nPROBE_HOST_HOSTNAME=%s\nPROBE_HOST_NS=%s\nREADY\n",
           (unsigned)ntohs(a.sin_port), name, (unsigned)key, (int)getpid(), host, ns);
    fflush(stdout);
    while (!stop_serving)
        pause();
    msgctl(msq, IPC_RMID, NULL);
    close(tcp);
    close(ux);
    return 0;
}

/* ---- main ------------------------------------------------------------------ */

/* Remember which descriptors above 2 are open, before anything opens one. */
static void snapshot_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d) {
        /* Without /proc, probe the descriptors one by one. */
        for (int fd = 3; fd < 1024 && n_start_fds < 64; fd++)
            if (fcntl(fd, F_GETFD) >= 0) {
                start_fds[n_start_fds] = fd;
                snprintf(start_fd_targets[n_start_fds++], sizeof(start_fd_targets[0]), "?");
            }
        return;
    }
    struct dirent *e;
    while ((e = readdir(d)) && n_start_fds < 64) {
        if (!isdigit((unsigned char)e->d_name[0]))
            continue;
        int fd = atoi(e->d_name);
        if (fd <= 2 || fd == dirfd(d))
            continue;
        char path[64];
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
        ssize_t n = readlink(path, start_fd_targets[n_start_fds], sizeof(start_fd_targets[0]) - 1);
        start_fd_targets[n_start_fds][n > 0 ? n : 0] = '\0';
        start_fds[n_start_fds++] = fd;
    }
    closedir(d);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: probe [CHECK...]       run the checks (all by default)\n"
               "       probe --list           print the check names\n"
               "       probe --help           print this, with what each check proves\n"
               "       probe forkbomb [N]     fork up to N (10000) children; a limit must stop it\n"
               "       probe alloc MIB        map and touch MIB MiB\n"
               "       probe fsize [MIB]      write one byte at MIB (4096) MiB\n"
               "       probe tmpfill [MIB]    write MIB (65536) MiB of data to /tmp\n"
               "       probe nofile [N]       open up to N (1048576) descriptors\n"
               "       probe spin             burn CPU until killed (CPU time / timeout)\n"
               "       probe sleep            sleep until killed (wall-clock timeout)\n"
               "       probe ids              print uid euid CapEff (for setuid_toolchain)\n"
               "       probe plant DIR        plant links, a FIFO, a socket (output-test.sh)\n"
               "       probe host-serve       on the host: make the TCP/abstract/IPC targets\n");
    if (f == stdout) {
        printf("\nchecks:\n");
        for (size_t j = 0; j < N_CHECKS; j++)
            printf("  %-20s %s%s\n", checks[j].name, checks[j].what,
                   checks[j].flags & NEEDS_SECCOMP ? " [seccomp]" : "");
    }
}

int main(int argc, char **argv)
{
    snapshot_fds();

    const char *mode = argc > 1 ? argv[1] : NULL;
    long n = 0;
    if (!mode)
        return run_checks(0, NULL);
    if (strcmp(mode, "--list") == 0) {
        for (size_t j = 0; j < N_CHECKS; j++)
            printf("%s\n", checks[j].name);
        return 0;
    }
    if (strcmp(mode, "--help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(mode, "ids") == 0)
        return mode_ids();
    if (strcmp(mode, "host-serve") == 0)
        return mode_host_serve();
    if (strcmp(mode, "plant") == 0 && argc == 3)
        return mode_plant(argv[2]);
    if (strcmp(mode, "spin") == 0)
        for (volatile unsigned long i = 0;; i++)
            ;
    if (strcmp(mode, "sleep") == 0)
        for (;;)
            pause();

    /* Modes with one optional or required number. */
    static const struct {
        const char *name;
        int (*run)(long);
        long dflt; /* 0: the argument is required */
    } modes[] = {{"forkbomb", mode_forkbomb, 10000},
                 {"alloc", mode_alloc, 0},
                 {"fsize", mode_fsize, 4096},
                 {"tmpfill", mode_tmpfill, 65536},
                 {"nofile", mode_nofile, 1048576}};
    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        if (strcmp(mode, modes[i].name) != 0)
            continue;
        if (argc > 3 || (argc == 3 && !parse_count(argv[2], &n)) ||
            (argc == 2 && (n = modes[i].dflt) == 0)) {
            usage(stderr);
            return 2;
        }
        return modes[i].run(n);
    }
    if (mode[0] == '-') {
        usage(stderr);
        return 2;
    }
    return run_checks(argc - 1, argv + 1);
}
