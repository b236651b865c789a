/* bwrap.c - finding bubblewrap, checking its version, building its argv. */
#include "bwrap.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "error.h"
#include "namespaces.h"
#include "host_facts.h"
#include "rootfs.h"

#define STAGE CPS_STAGE_BUBBLEWRAP
#define INSTALL_HINT                                                                               \
    "install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap) or set " CPS_BWRAP_ENV         \
    " to the path of a bwrap executable"

/* How long `bwrap --version` may take before it is killed. It answers in
 * milliseconds; the bound only keeps a broken binary from hanging the helper. */
#define VERSION_TIMEOUT_MS 10000
/* Bytes of `--version` output kept; real output is ~20 bytes. */
#define VERSION_OUTPUT_MAX 256

int cps__bwrap_find(char *path, size_t size, struct cps_error *err)
{
    const char *env = getenv(CPS_BWRAP_ENV);
    int ret;

    if (env && *env) {
        ret = cps__find_executable(env, path, size);
        if (ret == -ENAMETOOLONG)
            return cps__error_set(err, STAGE, ENAMETOOLONG, NULL, "%s is too long", CPS_BWRAP_ENV);
        if (ret < 0)
            return cps__error_set(err, STAGE, ENOENT,
                                  "point " CPS_BWRAP_ENV " at an executable bwrap, or unset it "
                                  "to search PATH",
                                  "%s=%s is not an executable file", CPS_BWRAP_ENV, env);
        return 0;
    }
    ret = cps__find_executable("bwrap", path, size);
    if (ret < 0) {
        const char *search = getenv("PATH");

        return cps__error_set(err, STAGE, ENOENT, INSTALL_HINT,
                              "bwrap not found: %s is unset and no executable bwrap is in PATH "
                              "(%s)",
                              CPS_BWRAP_ENV, search ? search : "unset");
    }
    return 0;
}

static bool parse_uint(const char **p, const char *end, unsigned *out)
{
    unsigned long v = 0;
    const char *s = *p;

    if (s == end || *s < '0' || *s > '9')
        return false;
    while (s < end && *s >= '0' && *s <= '9') {
        v = v * 10 + (unsigned long)(*s - '0');
        if (v > 100000)
            return false;
        s++;
    }
    *out = (unsigned)v;
    *p = s;
    return true;
}

int cps__bwrap_version_parse(const char *text, size_t len, struct cps_bwrap_version *out)
{
    static const char prefix[] = "bubblewrap ";
    const char *p = text;
    const char *end = text + len;
    struct cps_bwrap_version v = {0};

    if (len < sizeof(prefix) - 1 || memcmp(text, prefix, sizeof(prefix) - 1) != 0)
        return -EINVAL;
    p += sizeof(prefix) - 1;
    if (!parse_uint(&p, end, &v.major) || p == end || *p++ != '.' || !parse_uint(&p, end, &v.minor))
        return -EINVAL;
    if (p < end && *p == '.') {
        p++;
        if (!parse_uint(&p, end, &v.micro))
            return -EINVAL;
    }
    while (p < end && (*p == '\n' || *p == ' ' || *p == '\t' || *p == '\r'))
        p++;
    if (p != end)
        return -EINVAL;
    *out = v;
    return 0;
}

int cps__bwrap_version_cmp(const struct cps_bwrap_version *a, unsigned major, unsigned minor,
                           unsigned micro)
{
    if (a->major != major)
        return a->major < major ? -1 : 1;
    if (a->minor != minor)
        return a->minor < minor ? -1 : 1;
    if (a->micro != micro)
        return a->micro < micro ? -1 : 1;
    return 0;
}

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Read everything the child writes to fd until EOF or the deadline; keep at
 * most size - 1 bytes (NUL-terminated). Returns the number of bytes kept, or
 * -ETIMEDOUT / -errno. */
static ssize_t read_until_eof(int fd, char *buf, size_t size, int64_t deadline)
{
    size_t have = 0;

    for (;;) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int64_t left = deadline - now_ms();
        char chunk[256];
        ssize_t n;
        int r;

        if (left <= 0)
            return -ETIMEDOUT;
        r = poll(&pfd, 1, (int)left);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -errno;
        if (r == 0)
            return -ETIMEDOUT;
        n = read(fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n == 0)
            break;
        if (have < size - 1) {
            size_t take = (size_t)n < size - 1 - have ? (size_t)n : size - 1 - have;

            memcpy(buf + have, chunk, take);
            have += take;
        }
    }
    buf[have] = '\0';
    return (ssize_t)have;
}

/* Replace control characters so the output can be quoted in a message. */
static void printable(char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            *s = (*s == '\n') ? ' ' : '?';
}

int cps__bwrap_query_version(const char *path, struct cps_bwrap_version *out, struct cps_error *err)
{
    char exe[PATH_MAX];
    char version_flag[] = "--version";
    char *argv[] = {exe, version_flag, NULL};
    char *envp[] = {NULL};
    posix_spawn_file_actions_t fa;
    char output[VERSION_OUTPUT_MAX];
    int pipefd[2];
    pid_t pid;
    ssize_t n;
    int status;
    int ret;

    if (strlen(path) >= sizeof(exe))
        return cps__error_set(err, STAGE, ENAMETOOLONG, NULL, "bwrap path too long");
    strcpy(exe, path);
    if (pipe2(pipefd, O_CLOEXEC) < 0)
        return cps__error_set(err, STAGE, errno, NULL, "pipe for `%s --version`: %m", path);
    ret = posix_spawn_file_actions_init(&fa);
    if (ret == 0)
        ret = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    if (ret == 0)
        ret = posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
    if (ret == 0)
        ret = posix_spawn_file_actions_adddup2(&fa, pipefd[1], 2);
    /* The helper's fd 3 is its socket to the worker: a child must not keep it. */
    if (ret == 0)
        ret = posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    if (ret == 0)
        ret = posix_spawn(&pid, path, &fa, NULL, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    close(pipefd[1]);
    if (ret != 0) {
        close(pipefd[0]);
        errno = ret;
        return cps__error_set(err, STAGE, ret, INSTALL_HINT, "run `%s --version`: %m", path);
    }
    n = read_until_eof(pipefd[0], output, sizeof(output), now_ms() + VERSION_TIMEOUT_MS);
    close(pipefd[0]);
    if (n < 0)
        kill(pid, SIGKILL);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (n == -ETIMEDOUT)
        return cps__error_set(err, STAGE, ETIMEDOUT, INSTALL_HINT,
                              "`%s --version` did not finish within %d ms", path,
                              VERSION_TIMEOUT_MS);
    if (n < 0)
        return cps__error_set(err, STAGE, (int)-n, NULL, "read `%s --version`: %s", path,
                              strerror((int)-n));
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 ||
        cps__bwrap_version_parse(output, (size_t)n, out) < 0) {
        printable(output);
        if (WIFSIGNALED(status))
            return cps__error_set(err, STAGE, ENOEXEC, INSTALL_HINT,
                                  "`%s --version` was killed by signal %d", path, WTERMSIG(status));
        return cps__error_set(err, STAGE, ENOEXEC, INSTALL_HINT,
                              "`%s --version` exited with %d and printed \"%s\", not "
                              "\"bubblewrap X.Y.Z\"",
                              path, WIFEXITED(status) ? WEXITSTATUS(status) : -1, output);
    }
    return 0;
}

int cps__bwrap_probe(struct cps_bwrap *out, struct cps_error *err)
{
    int ret;

    memset(out, 0, sizeof(*out));
    ret = cps__bwrap_find(out->path, sizeof(out->path), err);
    if (ret < 0)
        return ret;
    ret = cps__bwrap_query_version(out->path, &out->version, err);
    if (ret < 0)
        return ret;
    if (cps__bwrap_version_cmp(&out->version, CPS_BWRAP_MIN_MAJOR, CPS_BWRAP_MIN_MINOR,
                               CPS_BWRAP_MIN_MICRO) < 0)
        return cps__error_set(err, STAGE, ENOTSUP,
                              "upgrade bubblewrap, or point " CPS_BWRAP_ENV " at a newer bwrap",
                              "bubblewrap %u.%u.%u at %s is too old: %d.%d.%d or newer is "
                              "required",
                              out->version.major, out->version.minor, out->version.micro, out->path,
                              CPS_BWRAP_MIN_MAJOR, CPS_BWRAP_MIN_MINOR, CPS_BWRAP_MIN_MICRO);
    return 0;
}

/* A growing NULL-terminated argv. */
struct argv_builder {
    char **v;
    size_t n;
    size_t cap;
    bool failed;
};

static void add(struct argv_builder *b, const char *s)
{
    char *copy;

    if (b->failed)
        return;
    if (b->n + 2 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        char **v = realloc(b->v, cap * sizeof(*v));

        if (!v) {
            b->failed = true;
            return;
        }
        b->v = v;
        b->cap = cap;
    }
    copy = strdup(s);
    if (!copy) {
        b->failed = true;
        return;
    }
    b->v[b->n++] = copy;
    b->v[b->n] = NULL;
}

static void add_u64(struct argv_builder *b, uint64_t value)
{
    char text[24];

    snprintf(text, sizeof(text), "%" PRIu64, value);
    add(b, text);
}

/* bwrap's --proc makes a fresh procfs for its own PID namespace; the files
 * the userns backend covers are covered the same way here (proc_mask.h). One
 * bind and one read-only remount per file, in bwrap, at job time. */
static void add_proc_masks(struct argv_builder *b, const struct cps_proc_masks *m)
{
    char path[NAME_MAX + 8];

    for (size_t i = 0; i < m->count; i++) {
        snprintf(path, sizeof(path), "/proc/%s", m->names[i]);
        add(b, "--ro-bind");
        add(b, "/dev/null");
        add(b, path);
    }
}

int cps__bwrap_argv(const struct cps_job *job, const struct cps_bwrap *bwrap, const char *target,
                    char ***argv_out, struct cps_error *err)
{
    struct argv_builder b = {0};

    *argv_out = NULL;
    if (!job->argv || job->argc == 0 || !job->cwd || !target || !*target || !bwrap->path[0])
        return cps__error_set(err, STAGE, EINVAL, NULL,
                              "bubblewrap argv: the job needs argv and cwd, and a target root");

    add(&b, bwrap->path);
    add(&b, "--die-with-parent");
    /* A new session detaches the compiler from any controlling terminal the
     * worker had, so it cannot push input into it with TIOCSTI
     * (CVE-2017-5226, the reason bwrap has this flag). */
    add(&b, "--new-session");
    /* Only has an effect when bwrap is privileged; kept so a setuid bwrap
     * gives the compiler no capabilities either. */
    add(&b, "--cap-drop");
    add(&b, "ALL");
    /* Each namespace named: --unshare-all silently tolerates a cgroup
     * namespace that cannot be created. */
    add(&b, "--unshare-user");
    if (!bwrap->ipc_ns_of_init)
        add(&b, "--unshare-ipc");
    add(&b, "--unshare-pid");
    add(&b, "--unshare-net");
    add(&b, "--unshare-uts");
    add(&b, "--unshare-cgroup");
    if (job->has_uid) {
        add(&b, "--uid");
        add_u64(&b, job->uid);
    }
    if (job->has_gid) {
        add(&b, "--gid");
        add_u64(&b, job->gid);
    }
    add(&b, "--hostname");
    add(&b, CPS_SANDBOX_HOSTNAME);
    add(&b, "--bind");
    add(&b, target);
    add(&b, "/");
    add(&b, "--proc");
    add(&b, "/proc");
    /* The same /proc entries read-only as in the userns backend (rootfs.c):
     * bubblewrap started by root maps the job to host uid 0, the owner of
     * the sysctls, and bubblewrap itself leaves them writable then. */
    for (size_t i = 0; i < cps__proc_read_only_count; i++) {
        char path[64];

        snprintf(path, sizeof(path), "/proc/%s", cps__proc_read_only[i]);
        add(&b, "--ro-bind-try");
        add(&b, path);
        add(&b, path);
    }
    add_proc_masks(&b, &bwrap->proc_masks);
    /*
     * /dev and /tmp are the helper's own, mounted into target by I before
     * bwrap runs (cps__rootfs_mount_dev_tmp) and brought along by the
     * recursive --bind above: sized tmpfs with an inode bound, and no devpts.
     * bwrap's --dev is a tmpfs without a size (half of RAM, a writable
     * /dev/shm) holding a devpts whose ptmx hands out the host's ptys up to
     * kernel.pty.max; its --tmpfs takes no nr_inodes (issue 12). /dev is bound
     * again with --dev-bind because --bind remounts everything below it nodev.
     */
    {
        char dev[PATH_MAX];

        if ((size_t)snprintf(dev, sizeof(dev), "%s/dev", target) >= sizeof(dev)) {
            cps__bwrap_argv_free(b.v);
            return cps__error_set(err, STAGE, ENAMETOOLONG, NULL, "%s/dev is too long", target);
        }
        add(&b, "--dev-bind");
        add(&b, dev);
        add(&b, "/dev");
    }
    /*
     * bwrap's PID 1 (its reaper) has the job's uid, no capabilities and is
     * dumpable, so the kernel lets the job open /proc/1/mem for writing and
     * make it run anything (ptrace and process_vm_writev are denied by the
     * filter, this file is not). Nothing bwrap 0.8 offers changes its
     * credentials, and --as-pid-1 would make the compiler the namespace's
     * init (signals without a handler ignored, orphans never reaped). So the
     * mem files of PID 1 are covered with a nodev device node, which cannot
     * be opened (EACCES). bwrap sets up the root as PID 1 of the new PID
     * namespace and forks its reaper from that process, so /proc/1 names it.
     */
    add(&b, "--ro-bind-try");
    add(&b, "/dev/null");
    add(&b, "/proc/1/mem");
    add(&b, "--ro-bind-try");
    add(&b, "/dev/null");
    add(&b, "/proc/1/task/1/mem");
    add(&b, "--chdir");
    add(&b, job->cwd);
    /* --clearenv appeared in 0.5.0 (bubblewrap PR #401); older ones start from
     * bwrap's own environment, which the caller makes empty. */
    if (cps__bwrap_version_cmp(&bwrap->version, 0, 5, 0) >= 0)
        add(&b, "--clearenv");
    for (size_t i = 0; i < job->envc; i++) {
        add(&b, "--setenv");
        add(&b, job->env[i].name);
        add(&b, job->env[i].value);
    }
    add(&b, "--");
    for (size_t i = 0; i < job->argc; i++)
        add(&b, job->argv[i]);

    if (b.failed) {
        cps__bwrap_argv_free(b.v);
        return cps__error_set(err, STAGE, ENOMEM, NULL, "bubblewrap argv: out of memory");
    }
    *argv_out = b.v;
    return 0;
}

void cps__bwrap_argv_free(char **argv)
{
    if (!argv)
        return;
    for (char **p = argv; *p; p++)
        free(*p);
    free(argv);
}
