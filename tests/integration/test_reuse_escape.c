/*
 * test_reuse_escape.c - cross-job escape tests of helper reuse (issue 16,
 * docs/REUSE.md "Tests it needs"). Each case starts ONE helper with
 * `--jobs-per-helper 2` and drives it over the socketpair with the raw client
 * (client.h): the first job (progs/crossjob.c `leave`) tries to leave
 * something for the next one and reports what it left; the second (`find`)
 * looks for it. A "FOUND" line of the second job fails the case, and so does
 * a first job that could not leave what it must be able to leave: a test
 * whose first job left nothing would prove nothing.
 *
 * Every case runs under both backends and every overlay mode the host
 * allows (fuse as root only: /dev/fuse is 0600 here), as root or as uid
 * 65534 (CPS_IT_MODE, like test_backends.c). Host-side checks on top of the
 * jobs' own: the second job's PID 1 is a new process in a new PID, IPC, UTS
 * and network namespace; no process of the first job (nor anything with the case's
 * mark in its argv) is left when the second hello comes; the helper says
 * hello with reuse 2, then 1, then ends with status 0 without another frame;
 * nothing is left mounted, running or in the build dir at the end.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "client.h"
#include "hostutil.h"
#include "suite_main.h"

#ifndef CPS_TEST_HELPER
#error "CPS_TEST_HELPER must name the helper binary"
#endif

static struct it_sandbox_dirs fx;
static char fx_mark[64]; /* "cps-leak-" + the dir's unique suffix: in the argv of every leftover */

static void setup(void)
{
    char cmd[8192];

    it_sandbox_dirs_setup(&fx, CPS_TEST_HELPER, CPS_TEST_TOOLCHAIN);
    snprintf(fx_mark, sizeof(fx_mark), "cps-leak-%s", strrchr(fx.dir, '-') + 1);
    /* A lower-layer file of the job's own uid, in a dir of its own: a hard
     * link to it needs no privilege (protected_hardlinks), and overlayfs can
     * copy the dir up as uid 65534 (its owner is mapped), so the first job
     * can make one as uid 65534 too. */
    snprintf(
        cmd, sizeof(cmd),
        "mkdir %s/own && echo 'linkable lower-layer file' > %s/own/linkable%s%s%s", fx.toolchain,
        fx.toolchain, fx.unpriv && geteuid() == 0 ? " && chown -R 65534:65534 " : "",
        fx.unpriv && geteuid() == 0 ? fx.toolchain : "", fx.unpriv && geteuid() == 0 ? "/own" : "");
    it_sh(cmd);
}

static void assert_clean(void)
{
    char *marker, path[512];
    pid_t left;

    it_sandbox_dirs_assert_clean(&fx);
    left = find_process_with_arg(fx_mark);
    ck_assert_msg(left == 0, "process %d left by a job (%s in its argv)", (int)left, fx_mark);
    /* The toolchain (the lower layer) is the host's: no job may change it. */
    snprintf(path, sizeof(path), "%s/etc/marker-toolchain", fx.toolchain);
    marker = it_read_file(path, NULL);
    ck_assert_msg(strcmp(marker, "cachepot test toolchain\n") == 0, "toolchain changed: %s",
                  marker);
    free(marker);
    snprintf(path, sizeof(path), "%s/own/linkable", fx.toolchain);
    marker = it_read_file(path, NULL);
    ck_assert_msg(strcmp(marker, "linkable lower-layer file\n") == 0, "toolchain changed: %s",
                  marker);
    free(marker);
}

static void teardown(void)
{
    assert_clean();
}

static void make_dir(void)
{
    it_make_dir(fx.dir, sizeof(fx.dir), "/tmp/cps-re-XXXXXX");
}

static void remove_dir(void)
{
    it_remove_dir(fx.dir);
}

/* ---- host-side views of the job ------------------------------------------- */

/* The helper's only child: I, PID 1 of the job's PID namespace. */
static pid_t helper_child(pid_t helper)
{
    char path[64], *text;
    pid_t pid;

    snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)helper, (int)helper);
    text = it_read_file(path, NULL);
    pid = (pid_t)atoi(text);
    free(text);
    ck_assert_msg(pid > 0, "the helper %d has no child after hello", (int)helper);
    return pid;
}

/* The inode of pid's namespace name; *fd (if not NULL) keeps it open: a
 * namespace's inode number is free for the next one as soon as it dies. */
static unsigned long long ns_ino(pid_t pid, const char *name, int *fd)
{
    char path[64];
    struct stat st;
    int f;

    snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)pid, name);
    f = open(path, O_RDONLY | O_CLOEXEC);
    ck_assert_msg(f >= 0 && fstat(f, &st) == 0, "%s: %s", path, strerror(errno));
    if (fd != NULL)
        *fd = f;
    else
        close(f);
    return (unsigned long long)st.st_ino;
}

/* What the host sees of one job's I at its hello. */
struct job_view {
    pid_t init;
    unsigned long long pid_ns, ipc_ns, uts_ns, net_ns;
    int pidns_fd;       /* pins the PID namespace: its inode cannot be reused meanwhile */
    int ipc_fd, uts_fd; /* the same for IPC and UTS */
    int net_fd;         /* and for the network namespace */
    char cgroup[2048];  /* the helper's job cgroup dirs, one per line ("" without one) */
    bool cg_pids, cg_memory;
};

static struct {
    char name[32]; /* cps-job-<helper pid> */
    struct job_view *v;
} cg_walk;

static bool has_file(const char *dir, const char *name)
{
    char path[4096];

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return access(path, F_OK) == 0;
}

static int cg_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    struct job_view *v = cg_walk.v;

    if (flag != FTW_D)
        return FTW_CONTINUE;
    if (strcmp(path + ftw->base, cg_walk.name) == 0) {
        size_t len = strlen(v->cgroup);

        snprintf(v->cgroup + len, sizeof(v->cgroup) - len, "%s\n", path);
        v->cg_pids = v->cg_pids || has_file(path, "pids.max");
        v->cg_memory =
            v->cg_memory || has_file(path, "memory.max") || has_file(path, "memory.limit_in_bytes");
        return FTW_SKIP_SUBTREE;
    }
    /* The helper makes its cgroup beside its own, a few levels down at most. */
    return ftw->level >= 6 ? FTW_SKIP_SUBTREE : FTW_CONTINUE;
}

/* The helper's job cgroup (helper/cgroup.c: cps-job-<helper pid> beside the
 * helper's own cgroup, in the v2 hierarchy or the v1 pids and memory ones),
 * found on the host's side: the jobs cannot see cgroupfs. */
static void job_cgroup(pid_t helper, struct job_view *v)
{
    v->cgroup[0] = '\0';
    v->cg_pids = v->cg_memory = false;
    snprintf(cg_walk.name, sizeof(cg_walk.name), "cps-job-%d", (int)helper);
    cg_walk.v = v;
    nftw("/sys/fs/cgroup", cg_one, 16, FTW_PHYS | FTW_ACTIONRETVAL);
}

static void view_job(const struct client *c, struct job_view *v)
{
    v->init = helper_child(c->pid);
    v->pid_ns = c->pidns_ino;
    v->pidns_fd = dup(c->pidns_fd);
    ck_assert_int_ge(v->pidns_fd, 0);
    v->ipc_ns = ns_ino(v->init, "ipc", &v->ipc_fd);
    v->uts_ns = ns_ino(v->init, "uts", &v->uts_fd);
    v->net_ns = ns_ino(v->init, "net", &v->net_fd);
    job_cgroup(c->pid, v);
}

static void unview_job(struct job_view *v)
{
    close(v->pidns_fd);
    if (v->ipc_fd >= 0)
        close(v->ipc_fd);
    if (v->net_fd >= 0)
        close(v->net_fd);
    close(v->uts_fd);
}

/* The first job's I is gone, its PID namespace empty, and the second job got
 * fresh namespaces, the network namespace too (REUSE.md: its counters are a
 * channel, see netns_counters). */
static void assert_fresh(const struct job_view *first, const struct job_view *second)
{
    struct client probe;

    memset(&probe, 0, sizeof(probe));
    probe.pidns_ino = first->pid_ns;
    ck_assert_msg(!client_pidns_alive(&probe), "a process of the first job outlived it");
    ck_assert_msg(first->init != second->init, "the second job has the first job's I");
    ck_assert_msg(first->pid_ns != second->pid_ns, "the second job is in the first's PID ns");
    ck_assert_msg(first->ipc_ns != second->ipc_ns, "the second job is in the first's IPC ns");
    ck_assert_msg(first->uts_ns != second->uts_ns, "the second job is in the first's UTS ns");
    ck_assert_msg(first->net_ns != second->net_ns, "the second job is in the first's network ns");
    ck_assert_msg(find_process_with_arg(fx_mark) == 0, "a process with %s in its argv is left",
                  fx_mark);
}

/* Let the first job's IPC and network namespaces go (compared, no longer
 * needed): the test's hold must not keep anything of the first job alive. */
static void release_ipc(struct job_view *v)
{
    close(v->ipc_fd);
    v->ipc_fd = -1;
    close(v->net_fd);
    v->net_fd = -1;
}

/* ---- jobs ------------------------------------------------------------------ */

struct combo {
    uint32_t backend, overlay;
    bool needs_fuse;
};

static const struct combo combos[] = {
    {CPS_BACKEND_USERNS, CPS_OVERLAY_NATIVE, false},
    {CPS_BACKEND_USERNS, CPS_OVERLAY_FUSE, true},
    {CPS_BACKEND_USERNS, CPS_OVERLAY_BIND, false},
    {CPS_BACKEND_BUBBLEWRAP, CPS_OVERLAY_NATIVE, false},
    {CPS_BACKEND_BUBBLEWRAP, CPS_OVERLAY_FUSE, true},
    {CPS_BACKEND_BUBBLEWRAP, CPS_OVERLAY_BIND, false},
};
#define NCOMBOS (sizeof(combos) / sizeof(combos[0]))

static const char first_input[] = "input of the first job\n",
                  second_input[] = "input of the second job\n",
                  link_input[] = "link input of the second job\n";

struct jobspec {
    struct cps_job job;
    struct cps_env_pair env[1];
    const char *argv[8];
    struct cps_input_decl inputs[2];
    const char *data[2];
    const char *outputs[1];
};

/* The first job has one input and declares /work/out/result.o (so that
 * bind mode makes /work/out writable); the second has two inputs whose names
 * the first job tries to take, and declares the same output, which it never
 * writes: it must come back missing. */
static void job_init(struct jobspec *s, const struct combo *k, bool second, const char *const *argv)
{
    static char path_name[] = "PATH", path_value[] = "/bin:/usr/bin", cwd[] = "/work";
    size_t n = 0;

    memset(s, 0, sizeof(*s));
    while (argv[n] != NULL && n < 7) {
        s->argv[n] = argv[n];
        n++;
    }
    s->job.argv = s->argv;
    s->job.argc = n;
    s->job.toolchain = fx.toolchain;
    s->job.build_dir = fx.build;
    s->env[0].name = path_name;
    s->env[0].value = path_value;
    s->job.env = s->env;
    s->job.envc = 1;
    s->job.cwd = cwd;
    s->outputs[0] = "/work/out/result.o";
    s->job.outputs = s->outputs;
    s->job.outputc = 1;
    s->job.overlay = k->overlay;
    if (second) {
        s->inputs[0] = (struct cps_input_decl){"/work/src/second.txt", 0644, strlen(second_input)};
        s->data[0] = second_input;
        s->inputs[1] = (struct cps_input_decl){"/work/src/link.txt", 0644, strlen(link_input)};
        s->data[1] = link_input;
        s->job.inputc = 2;
    } else {
        s->inputs[0] = (struct cps_input_decl){"/work/src/first.txt", 0644, strlen(first_input)};
        s->data[0] = first_input;
        s->job.inputc = 1;
    }
    s->job.inputs = s->inputs;
}

static void send_job(struct client *c, const struct jobspec *s)
{
    ck_assert_int_eq(client_send_job(c, &s->job), 0);
    for (size_t i = 0; i < s->job.inputc; i++)
        if (client_send_input(c, s->inputs[i].path, (const uint8_t *)s->data[i],
                              strlen(s->data[i])) != 0)
            fprintf(stderr, "input not sent: the helper stopped reading\n");
}

static void run_job(struct client *c, const struct jobspec *s)
{
    send_job(c, s);
    ck_assert_int_eq(client_collect(c, NULL, NULL), 0);
    ck_assert_msg(c->have_exit, "no exit frame; error %s (errno %d): %s (hint: %s)", c->error.stage,
                  c->error.errnum, c->error.message, c->error.hint);
}

static const char *out_of(const struct client *c)
{
    return c->out != NULL ? (const char *)c->out : "";
}

static void assert_exit0(const struct client *c, const char *what)
{
    ck_assert_msg(!c->exit_msg.u.exit.signaled && c->exit_msg.u.exit.code == 0,
                  "%s failed (code %d, signal %u); stdout:\n%s\nstderr: %s", what,
                  c->exit_msg.u.exit.code, c->exit_msg.u.exit.signal, out_of(c),
                  c->err ? (char *)c->err : "");
}

static void combo_name(const struct combo *k, char *buf, size_t size)
{
    snprintf(buf, size, "%s/%s/%s", cps__backend_name(k->backend), cps__overlay_name(k->overlay),
             fx.unpriv ? "65534" : "root");
}

/* Spawn a reusing helper for k and read its first hello (reuse 2). */
static void start(struct client *c, const struct combo *k, struct job_view *v)
{
    const char *args[] = {"--jobs-per-helper", "2", "--backend", cps__backend_name(k->backend),
                          NULL};

    ck_assert_int_eq(client_spawn(c, fx.helper, fx.unpriv, args), 0);
    ck_assert_msg(client_hello(c) == 0, "no hello: %s: %s", c->error.stage, c->error.message);
    ck_assert_msg(c->hello.reuse == 2, "first hello: reuse %u, expected 2", c->hello.reuse);
    view_job(c, v);
}

/*
 * After the first job's exit: the next frame. Returns true on hello (reuse
 * 1, fresh namespaces, the first job's processes gone), false when the helper
 * closed fd 3 instead (allowed only where may_end).
 */
static bool second_hello(struct client *c, struct job_view *first, struct job_view *second,
                         bool may_end, const char *what)
{
    int rc = client_next(c);

    if (rc != 0 && c->eof && may_end) {
        fprintf(stderr, "[%s] the helper ended after the first job (no second hello)\n", what);
        return false;
    }
    ck_assert_msg(rc == 0, "%s: no second hello (rc %d, eof %d): %s: %s", what, rc, c->eof,
                  c->have_error ? c->error.stage : "", c->have_error ? c->error.message : "");
    ck_assert_msg(c->hello.reuse == 1, "%s: second hello: reuse %u, expected 1", what,
                  c->hello.reuse);
    view_job(c, second);
    assert_fresh(first, second);
    release_ipc(first);
    return true;
}

/* After the last job: no frame, EOF, exit status 0, nothing left. */
static void end_helper(struct client *c, struct job_view *views, size_t nviews, const char *what)
{
    struct job_view gone;
    struct client probe;
    int rc = client_next(c);

    ck_assert_msg(rc != 0 && c->eof, "%s: a frame after the last job (rc %d, error %s)", what, rc,
                  c->have_error ? c->error.message : "");
    ck_assert_int_eq(client_wait(c), 0);
    ck_assert_msg(WIFEXITED(c->wait_status) && WEXITSTATUS(c->wait_status) == 0,
                  "%s: helper wait status 0x%x, expected exit 0", what, c->wait_status);
    job_cgroup(c->pid, &gone);
    ck_assert_msg(gone.cgroup[0] == '\0', "%s: the job cgroup outlived the helper:\n%s", what,
                  gone.cgroup);
    memset(&probe, 0, sizeof(probe));
    for (size_t i = 0; i < nviews; i++) {
        probe.pidns_ino = views[i].pid_ns;
        ck_assert_msg(!client_pidns_alive(&probe), "%s: a process outlived job %zu", what, i + 1);
        unview_job(&views[i]);
    }
    assert_clean();
    client_free(c);
}

/* A helper waiting for its next job (after its second hello) sees EOF: it
 * ends with status 0, and nothing of the job is left. */
static void stop_waiting_helper(struct client *c, struct job_view *first, const char *what)
{
    struct client probe;

    ck_assert_msg(client_next(c) == 0, "%s: no second hello: %s: %s", what,
                  c->have_error ? c->error.stage : "", c->have_error ? c->error.message : "");
    ck_assert_msg(c->hello.reuse == 1, "%s: second hello: reuse %u", what, c->hello.reuse);
    close(c->sock);
    c->sock = -1;
    ck_assert_int_eq(client_wait(c), 0);
    ck_assert_msg(WIFEXITED(c->wait_status) && WEXITSTATUS(c->wait_status) == 0,
                  "%s: helper wait status 0x%x after EOF, expected exit 0", what, c->wait_status);
    memset(&probe, 0, sizeof(probe));
    probe.pidns_ino = first->pid_ns;
    ck_assert_msg(!client_pidns_alive(&probe), "%s: a process outlived the job", what);
    unview_job(first);
    probe.pidns_ino = c->pidns_ino;
    ck_assert_msg(!client_pidns_alive(&probe), "%s: the unused I outlived the helper", what);
    assert_clean();
    client_free(c);
}

/* Every line of want (NULL-terminated) must be in out. */
static void assert_lines(const char *out, const char *const *want, const char *what)
{
    for (size_t i = 0; want[i] != NULL; i++) {
        char line[256];

        snprintf(line, sizeof(line), "%s\n", want[i]);
        ck_assert_msg(strstr(out, line) != NULL, "%s: the first job did not confirm \"%s\":\n%s",
                      what, want[i], out);
    }
}

static void assert_found_nothing(const struct client *c, const char *category, const char *what)
{
    char done[64];
    const char *out = out_of(c);

    assert_exit0(c, what);
    ck_assert_msg(strstr(out, "FOUND") == NULL,
                  "%s: ESCAPE, the second job found the first's "
                  "state:\n%s",
                  what, out);
    snprintf(done, sizeof(done), "done %s\n", category);
    ck_assert_msg(strstr(out, done) != NULL, "%s: the checks did not all run:\n%s", what, out);
    /* The default name (init.c), not merely some name without cps-leak in it. */
    if (strcmp(category, "hostname") == 0 || strcmp(category, "all") == 0)
        ck_assert_msg(strstr(out, "clean hostname cachepot-sandbox\n") != NULL,
                      "%s: not the default hostname:\n%s", what, out);
}

static bool overlay_mode(const struct combo *k)
{
    return k->overlay == CPS_OVERLAY_NATIVE || k->overlay == CPS_OVERLAY_FUSE;
}

/* What the first job must have left (the "exists" lines it printed at its
 * end), by category: without it the second job's "clean" would prove nothing. */
static void assert_left(const struct client *c, const char *category, const struct combo *k,
                        const char *what)
{
    static const char *const files[] = {"exists /tmp/cps-leak-tmp",     "exists /work/cps-leak-cwd",
                                        "exists /dev/shm/cps-leak-shm", "exists /work/cps-leak-sym",
                                        "exists /work/src/second.txt",  "exists /work/src/link.txt",
                                        "exists /work/out/result.o",    NULL};
    /* Only where the root is an overlay: bind mode's toolchain is read-only. */
    static const char *const files_overlay[] = {
        "exists /work/cps-leak-hard", "exists /cps-leak-root", "made append /own/linkable", NULL};
    /* The toolchain's files are root's: only a root job may write them. */
    static const char *const files_overlay_root[] = {"exists /etc/cps-leak-etc",
                                                     "made append /etc/marker-toolchain", NULL};
    static const char *const ipc[] = {"exists shm", "exists msg", "exists sem", "exists mq", NULL};
    static const char *const procs[] = {"exists hold daemon", "exists hold noterm",
                                        "exists hold pipe", NULL};
    static const char *const sockets[] = {"exists abstract",    "made tcp-0.0.0.0",
                                          "made udp-0.0.0.0",   "made inflight",
                                          "made socket-holder", NULL};
    /* Under the default seccomp filter (REUSE.md "keyrings"). */
    static const char *const keys[] = {"failed add_key @u EPERM", "failed add_key @us EPERM",
                                       "failed keyctl @u EPERM", NULL};
    const char *out = out_of(c);
    bool all = strcmp(category, "all") == 0;

    if (all || strcmp(category, "files") == 0) {
        assert_lines(out, files, what);
        if (overlay_mode(k))
            assert_lines(out, files_overlay, what);
        if (overlay_mode(k) && !fx.unpriv)
            assert_lines(out, files_overlay_root, what);
    }
    if (all || strcmp(category, "ipc") == 0)
        assert_lines(out, ipc, what);
    if (all || strcmp(category, "procs") == 0)
        assert_lines(out, procs, what);
    if (all || strcmp(category, "sockets") == 0)
        assert_lines(out, sockets, what);
    if (all || strcmp(category, "counters") == 0) {
        /* userns: no interface is up, so every datagram to 127.0.0.1 fails
         * and counts in the namespace's Ip OutNoRoutes (bubblewrap brings lo
         * up in a namespace of its own per job: nothing fails there). */
        if (k->backend == CPS_BACKEND_USERNS)
            ck_assert_msg(strstr(out, "(1234 sends unreachable)\n") != NULL,
                          "%s: the first job did not move Ip OutNoRoutes:\n%s", what, out);
    }
    if (all || strcmp(category, "keys") == 0)
        assert_lines(out, keys, what);
    if (all || strcmp(category, "hostname") == 0) {
        /* Without CAP_SYS_ADMIN sethostname fails; if it ever works, the
         * job's own UTS namespace must have the name (then the second job
         * checks it does not). */
        ck_assert_msg(strstr(out, "failed sethostname EPERM\n") != NULL ||
                          strstr(out, "exists hostname cps-leak-host\n") != NULL,
                      "%s: sethostname: neither refused nor effective:\n%s", what, out);
    }
}

/* Log one line of what the first job could and could not do. */
static void log_first(const struct client *c, const char *what)
{
    const char *out = out_of(c), *p = out;

    fprintf(stderr, "[%s] first job:", what);
    for (const char *const *k = (const char *const[]){"failed ", "inflight ", NULL}; *k; k++)
        for (p = out; (p = strstr(p, *k)) != NULL; p += strlen(*k)) {
            const char *e = strchr(p, '\n');

            if (p == out || p[-1] == '\n')
                fprintf(stderr, " (%.*s)", (int)(e ? e - p : (long)strlen(p)), p);
        }
    fprintf(stderr, "\n");
}

/* The count of crossjob's "<key> N ERRNO" line (key "mq-fill", "shm-lock"),
 * or -1. */
static long count_of(const struct client *c, const char *key)
{
    const char *p = strstr(out_of(c), key);

    return p != NULL ? atol(p + strlen(key)) : -1;
}

/*
 * The first job filled two per-uid limits that reuse keeps (the ucounts of
 * the uid in the helper's user namespace): POSIX queues until
 * RLIMIT_MSGQUEUE refused, SysV segments locked with SHM_LOCK until
 * RLIMIT_MEMLOCK refused. All of it died with its IPC namespace: the second
 * job, in a fresh one, must get as much again.
 */
static void assert_quota(const struct client *first, const struct client *c, const char *what)
{
    static const char *const keys[] = {"mq-fill ", "shm-lock "};
    long before[2], again[2];

    for (size_t i = 0; i < 2; i++) {
        before[i] = count_of(first, keys[i]);
        again[i] = count_of(c, keys[i]);
        fprintf(stderr, "[%s] %s: first job %ld, second job %ld\n", what, keys[i], before[i],
                again[i]);
    }
    for (size_t i = 0; i < 2; i++) {
        ck_assert_msg(before[i] > 0, "%s: the first job could not fill %s:\n%s", what, keys[i],
                      out_of(first));
        ck_assert_msg(again[i] >= before[i],
                      "%s: ESCAPE, %s: the second job got %ld, the first %ld: the first job's "
                      "IPC objects still count against the uid's limit:\n%s",
                      what, keys[i], again[i], before[i], out_of(c));
    }
}

/* One pair of jobs on one helper: `leave category` then `find category`. */
static void pair(const struct combo *k, const char *category)
{
    const char *leave[] = {"crossjob", "leave", category, fx_mark, NULL};
    const char *find[] = {"crossjob", "find", category, NULL};
    struct job_view views[2];
    struct jobspec s;
    struct client c;
    const struct client_output *o;
    char what[96];
    struct client first_out = {0}; /* only its out: the first job's stdout */

    combo_name(k, what, sizeof(what));
    snprintf(what + strlen(what), sizeof(what) - strlen(what), " %s", category);
    start(&c, k, &views[0]);
    job_init(&s, k, false, leave);
    run_job(&c, &s);
    assert_exit0(&c, what);
    assert_left(&c, category, k, what);
    log_first(&c, what);
    first_out.out = (uint8_t *)strdup(out_of(&c));
    second_hello(&c, &views[0], &views[1], false, what);
    job_init(&s, k, true, find);
    run_job(&c, &s);
    assert_found_nothing(&c, category, what);
    if (strcmp(category, "quota") == 0)
        assert_quota(&first_out, &c, what);
    o = client_output(&c, "/work/out/result.o");
    ck_assert_msg(o != NULL && o->missing,
                  "%s: the first job's /work/out/result.o came back as "
                  "the second job's output",
                  what);
    free(first_out.out);
    fprintf(stderr, "[%s] second job found nothing\n", what);
    end_helper(&c, views, 2, what);
}

static void everywhere(const char *category)
{
    size_t ran = 0;

    for (size_t i = 0; i < NCOMBOS; i++) {
        if (combos[i].needs_fuse && fx.unpriv)
            continue; /* /dev/fuse is 0600: no fuse mode as uid 65534 */
        pair(&combos[i], category);
        ran++;
    }
    ck_assert_uint_eq(ran, fx.unpriv ? 4 : 6);
}

/* ---- cases ----------------------------------------------------------------- */

/* /tmp, the cwd, /dev/shm, symlink and hard link to a lower-layer file, the
 * lower-layer file itself, / and /etc, the next job's input and output names. */
START_TEST(files)
{
    everywhere("files");
}
END_TEST

/* SysV shm, msg, sem with a fixed key; a POSIX message queue. */
START_TEST(ipc)
{
    everywhere("ipc");
}
END_TEST

/* POSIX message queues (RLIMIT_MSGQUEUE) and SHM_LOCK'ed segments
 * (RLIMIT_MEMLOCK) are charged to the uid in its user namespace, which reuse
 * keeps: the first job fills both limits, and the second must get all of it
 * back at once, with no wait: the kernel frees the first job's IPC namespace
 * asynchronously, after the next hello, so the helper's I must remove the
 * objects itself before it reports the job's end (helper/ipc_clear.h). */
START_TEST(ipc_quota)
{
    everywhere("quota");
}
END_TEST

/* A double-forked setsid daemon, a SIGTERM-ignoring process, a new session
 * holding a pipe and the job's stdout: the second job sees only its PID 1,
 * its ancestors (bubblewrap's reaper) and itself. */
START_TEST(procs)
{
    everywhere("procs");
}
END_TEST

/* An abstract UNIX socket held by a background process, 400 whose only
 * reference is in flight in an SCM_RIGHTS loop, TCP on 127.0.0.1 and
 * 0.0.0.0, UDP on 0.0.0.0: names and ports must be free again for the second
 * job (each job has a network namespace of its own since
 * reuse_escape_netns_counters; this still checks that nothing is shared). */
START_TEST(sockets)
{
    everywhere("sockets");
}
END_TEST

/* The network namespace's own counters are no socket's: the first job moves
 * Ip OutNoRoutes by 1234 (datagrams to 127.0.0.1 with no interface up), and
 * the second must read 0, as in a fresh namespace. The helper used to keep
 * the network namespace across jobs (userns backend), which carried the
 * number: each job's I now has a network namespace of its own. */
START_TEST(netns_counters)
{
    everywhere("counters");
}
END_TEST

/* add_key to @u and @us fails under the default filter (the user keyrings
 * are per uid and user namespace, which reuse keeps). */
START_TEST(keyrings)
{
    everywhere("keys");
}
END_TEST

/* sethostname / setdomainname: the second job sees the default name. */
START_TEST(hostname)
{
    everywhere("hostname");
}
END_TEST

/* ---- cgroup state ---------------------------------------------------------- */

#define CG_PROCESSES 24
#define CG_MEMORY    (64ull << 20)

static void cg_limits(struct jobspec *s)
{
    s->job.limits.processes = CG_PROCESSES;
    s->job.limits.address_space = CG_MEMORY;
}

static long forked(const struct client *c, const char *what)
{
    const char *p = strstr(out_of(c), "forked ");

    ck_assert_msg(p != NULL, "%s: no \"forked\" line:\n%s", what, out_of(c));
    return atol(p + 7);
}

/* A SIGKILL that no limit caused: the job killed itself. */
static void assert_self_kill(const struct client *c, const char *what)
{
    const struct cps_exit *x = &c->exit_msg.u.exit;

    /* bubblewrap's PID 1 reports its child's death by signal N as 128 + N. */
    bool killed = x->signaled ? x->signal == SIGKILL
                              : x->backend == CPS_BACKEND_BUBBLEWRAP && x->code == 128 + SIGKILL;

    ck_assert_msg(killed, "%s: exit code %d signal %u, expected SIGKILL:\n%s", what, x->code,
                  x->signal, out_of(c));
    ck_assert_msg(x->limit == NULL, "%s: the job's own SIGKILL is reported as limit \"%s\"", what,
                  x->limit);
}

/*
 * The first job runs into pids.max (forks until EAGAIN) and memory.max (four
 * children of 40 MiB in 64 MiB: the cgroup's OOM killer); the second forks
 * until EAGAIN and kills itself with SIGKILL. It must fork exactly as many as
 * the first job of a fresh helper with the same limits, and its SIGKILL must
 * not be reported as limit "memory" (the first job's OOM kill is in the
 * cgroup's counters, which reuse keeps). Without a job cgroup (uid 65534 on a
 * host without delegation) the process bound is RLIMIT_NPROC and there is no
 * memory bound: the output says which was checked.
 */
static void cgroup_pair(const struct combo *k)
{
    const char *fill[] = {"sh", "-c", "crossjob forks 200; crossjob hog 4 40", NULL};
    const char *count[] = {"crossjob", "forks-kill", "200", NULL};
    struct job_view base_view, views[2];
    struct jobspec s;
    struct client c;
    char what[96];
    bool has_cg, has_mem;
    long base, again;

    combo_name(k, what, sizeof(what));
    strncat(what, " cgroup", sizeof(what) - strlen(what) - 1);

    /* The reference: the first job of a fresh helper; then EOF ends it. */
    start(&c, k, &base_view);
    job_init(&s, k, false, count);
    cg_limits(&s);
    run_job(&c, &s);
    assert_self_kill(&c, what);
    base = forked(&c, what);
    stop_waiting_helper(&c, &base_view, what);

    start(&c, k, &views[0]);
    has_cg = views[0].cg_pids;
    has_mem = views[0].cg_memory;
    fprintf(stderr, "[%s] job cgroup: %s\n", what, has_cg ? views[0].cgroup : "none\n");
    job_init(&s, k, false, fill);
    cg_limits(&s);
    run_job(&c, &s);
    ck_assert_msg(strstr(out_of(&c), " EAGAIN\n") != NULL,
                  "%s: the first job did not reach the process limit:\n%s", what, out_of(&c));
    if (has_mem)
        ck_assert_msg(strstr(out_of(&c), "child signal 9\n") != NULL,
                      "%s: the first job was not OOM-killed in its memory cgroup:\n%s", what,
                      out_of(&c));
    second_hello(&c, &views[0], &views[1], false, what);
    ck_assert_str_eq(views[0].cgroup, views[1].cgroup);
    job_init(&s, k, true, count);
    cg_limits(&s);
    run_job(&c, &s);
    assert_self_kill(&c, what);
    again = forked(&c, what);
    ck_assert_msg(again == base, "%s: the second job forked %ld, a fresh helper's first %ld", what,
                  again, base);
    fprintf(stderr, "[%s] checked: %s; %s; both jobs forked %ld with processes %d\n", what,
            has_cg ? "job cgroup pids.max" : "RLIMIT_NPROC (the helper has no job cgroup)",
            has_mem ? "memory.max OOM kill in job 1, job 2's SIGKILL not reported as memory"
                    : "no memory cgroup: the memory part is not checked",
            base, CG_PROCESSES);
    end_helper(&c, views, 2, what);
}

START_TEST(cgroup)
{
    size_t ran = 0;

    for (size_t i = 0; i < NCOMBOS; i++) {
        if (combos[i].needs_fuse && fx.unpriv)
            continue;
        cgroup_pair(&combos[i]);
        ran++;
    }
    ck_assert_uint_eq(ran, fx.unpriv ? 4 : 6);
}
END_TEST

/* ---- a first job that did not end by itself -------------------------------- */

static bool cancel_when_ready(struct client *c, void *arg)
{
    if (strstr(out_of(c), "ready\n") == NULL)
        return true;
    ck_assert_int_eq(client_send_cancel(c), 0);
    *(bool *)arg = true;
    return false;
}

/*
 * The first job leaves everything (files, IPC, processes, sockets, ...) and
 * then hangs until the timeout kills it, or until the test cancels it. The
 * helper must then either end without another hello, or take the second job
 * with every check of the cases above passing.
 */
static void killed_pair(const struct combo *k, bool by_cancel)
{
    const char *leave[] = {"crossjob", "leave-hang", "all", fx_mark, NULL};
    const char *find[] = {"crossjob", "find", "all", NULL};
    struct job_view views[2];
    struct jobspec s;
    struct client c;
    bool cancelled = false;
    char what[96];

    combo_name(k, what, sizeof(what));
    strncat(what, by_cancel ? " cancel" : " timeout", sizeof(what) - strlen(what) - 1);
    start(&c, k, &views[0]);
    job_init(&s, k, false, leave);
    if (!by_cancel)
        s.job.limits.timeout_ms = 10000;
    send_job(&c, &s);
    ck_assert_int_eq(client_collect(&c, by_cancel ? cancel_when_ready : NULL, &cancelled), 0);
    if (by_cancel) {
        ck_assert_msg(cancelled, "%s: the job ended before it was ready:\n%s", what, out_of(&c));
        ck_assert_int_eq(client_collect(&c, NULL, NULL), 0);
    }
    ck_assert_msg(c.have_exit, "%s: no exit frame; error %s: %s", what, c.error.stage,
                  c.error.message);
    ck_assert_msg(strstr(out_of(&c), "ready\n") != NULL,
                  "%s: the first job was ended before it "
                  "had left everything:\n%s",
                  what, out_of(&c));
    if (!by_cancel)
        ck_assert_msg(c.exit_msg.u.exit.timed_out, "%s: not ended by the timeout", what);
    else
        ck_assert_msg(c.exit_msg.u.exit.signaled, "%s: not ended by a signal", what);
    assert_left(&c, "all", k, what);
    if (!second_hello(&c, &views[0], &views[1], true, what)) {
        struct client probe;

        ck_assert_int_eq(client_wait(&c), 0);
        ck_assert_msg(WIFEXITED(c.wait_status) && WEXITSTATUS(c.wait_status) == 0,
                      "%s: helper wait status 0x%x, expected exit 0", what, c.wait_status);
        memset(&probe, 0, sizeof(probe));
        probe.pidns_ino = views[0].pid_ns;
        ck_assert_msg(!client_pidns_alive(&probe), "%s: a process outlived the job", what);
        unview_job(&views[0]);
        assert_clean();
        client_free(&c);
        return;
    }
    job_init(&s, k, true, find);
    run_job(&c, &s);
    assert_found_nothing(&c, "all", what);
    fprintf(stderr, "[%s] the helper took the second job, which found nothing\n", what);
    end_helper(&c, views, 2, what);
}

static void killed_everywhere(bool by_cancel)
{
    size_t ran = 0;

    for (size_t i = 0; i < NCOMBOS; i++) {
        if (combos[i].needs_fuse && fx.unpriv)
            continue;
        killed_pair(&combos[i], by_cancel);
        ran++;
    }
    ck_assert_uint_eq(ran, fx.unpriv ? 4 : 6);
}

START_TEST(timeout_first)
{
    killed_everywhere(false);
}
END_TEST

START_TEST(cancel_first)
{
    killed_everywhere(true);
}
END_TEST

/* ---- the options ----------------------------------------------------------- */

/* Run the helper with args; its exit status and its stderr (new, free()). */
static int helper_stderr(const char *const *args, char **err)
{
    posix_spawn_file_actions_t fa;
    const char *argv[16];
    int pipefd[2], sv[2], st = 0;
    size_t n = 0, len = 0;
    char *buf = calloc(1, 65536);
    ssize_t r;
    pid_t pid;

    ck_assert_int_eq(pipe2(pipefd, O_CLOEXEC), 0);
    /* fd 3: a socketpair end, as a worker would give it. */
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    if (fx.unpriv && geteuid() == 0) {
        argv[n++] = "/usr/bin/setpriv";
        argv[n++] = "--reuid=65534";
        argv[n++] = "--regid=65534";
        argv[n++] = "--clear-groups";
        argv[n++] = "--";
    }
    argv[n++] = fx.helper;
    for (size_t i = 0; args[i] != NULL && n < 15; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, pipefd[1], 2);
    posix_spawn_file_actions_adddup2(&fa, sv[1], 3);
    ck_assert_int_eq(posix_spawn(&pid, argv[0], &fa, NULL, (char *const *)(uintptr_t)argv, environ),
                     0);
    posix_spawn_file_actions_destroy(&fa);
    close(pipefd[1]);
    close(sv[1]);
    while (len < 65535 &&
           ((r = read(pipefd[0], buf + len, 65535 - len)) > 0 || (r < 0 && errno == EINTR)))
        if (r > 0)
            len += (size_t)r;
    close(pipefd[0]);
    close(sv[0]);
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    *err = buf;
    return st;
}

/* Keyrings are per uid and user namespace, and only the default filter
 * refuses keyctl/add_key/request_key: the helper must refuse to reuse
 * without it, with a usage error that says why. One job per helper still
 * runs without seccomp. */
START_TEST(no_seccomp_refused)
{
    const char *refused[] = {"--jobs-per-helper", "2", "--no-seccomp", NULL};
    const char *allowed[] = {"--jobs-per-helper", "1", "--no-seccomp", NULL};
    struct client c;
    char *err;
    int st;

    st = helper_stderr(refused, &err);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 2, "status 0x%x, expected exit 2; stderr: %s",
                  st, err);
    ck_assert_msg(strstr(err, "keyring") != NULL && strstr(err, "seccomp") != NULL,
                  "the refusal does not say why: %s", err);
    free(err);
    ck_assert_int_eq(client_spawn(&c, fx.helper, fx.unpriv, allowed), 0);
    ck_assert_msg(client_hello(&c) == 0, "no hello: %s: %s", c.error.stage, c.error.message);
    ck_assert_msg(!c.hello.seccomp && c.hello.reuse == 0, "seccomp %d reuse %u", c.hello.seccomp,
                  c.hello.reuse);
    close(c.sock);
    c.sock = -1;
    ck_assert_int_eq(client_wait(&c), 0);
    ck_assert_msg(WIFEXITED(c.wait_status) && WEXITSTATUS(c.wait_status) == 0, "status 0x%x",
                  c.wait_status);
    client_free(&c);
}
END_TEST

int main(void)
{
    const struct it_case cases[] = {
        {"files", files},
        {"ipc", ipc},
        {"ipc_quota", ipc_quota},
        {"procs", procs},
        {"sockets", sockets},
        {"netns_counters", netns_counters},
        {"keyrings", keyrings},
        {"hostname", hostname},
        {"cgroup", cgroup},
        {"timeout_first", timeout_first},
        {"cancel_first", cancel_first},
        {"no_seccomp_refused", no_seccomp_refused},
    };
    const struct it_fixtures fixtures = {make_dir, remove_dir, setup, teardown};

    return it_main("reuse_escape", cases, sizeof(cases) / sizeof(cases[0]), &fixtures);
}
