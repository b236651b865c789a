/*
 * test_helper.c - integration tests: the real helper runs real jobs in a small
 * busybox toolchain (tests/toolchain/make-test-toolchain.sh).
 *
 * Each case runs in one of two modes, chosen by CPS_IT_MODE (ctest registers
 * every case twice, as helper_<case>_root and helper_<case>_unpriv):
 *   root    the helper runs as the test's uid 0;
 *   unpriv  the helper, a copy of the toolchain and the build dir live in a
 *           fresh world-traversable mktemp -d directory, and the helper runs as
 *           uid/gid 65534 through setpriv (which execs it, so fd 3 survives).
 * CK_RUN_CASE picks the case. After every case the fixture checks that the
 * host's mount table and the build dir are as before; each case checks that
 * nothing is left in the job's PID namespace.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "hostutil.h"
#include "suite_main.h"
#include "frame.h"
#include "job_features.h"

#ifndef CPS_TEST_HELPER
#error "CPS_TEST_HELPER must name the helper binary"
#endif
#ifndef CPS_TEST_HELPER_PLAIN
#define CPS_TEST_HELPER_PLAIN CPS_TEST_HELPER
#endif

static struct {
    bool unpriv;
    char dir[64];
    char helper[4096];
    char helper_plain[4096];
    char toolchain[4096];
    char build[4096];
    char *mountinfo;
    char build_before[256];
} fx;

/* ---- small host utilities ------------------------------------------------ */

/* Sorted names in a directory, space-separated. */
static void listing(const char *path, char *out, size_t size)
{
    struct dirent **names;
    int n = scandir(path, &names, NULL, alphasort);

    out[0] = '\0';
    for (int i = 0; i < n; i++) {
        if (strcmp(names[i]->d_name, ".") != 0 && strcmp(names[i]->d_name, "..") != 0) {
            strncat(out, names[i]->d_name, size - strlen(out) - 2);
            strcat(out, " ");
        }
        free(names[i]);
    }
    free(names);
}

/* FNV-1a over names, modes, link targets and contents of a tree, lstat only. */
static void hash_tree(const char *path, unsigned long long *h)
{
    struct dirent **names;
    struct stat st;
    char buf[8192];
    int n;

#define MIX(p, len)                                                                                \
    do {                                                                                           \
        for (size_t k_ = 0; k_ < (size_t)(len); k_++)                                              \
            *h = (*h ^ ((const unsigned char *)(p))[k_]) * 1099511628211ull;                       \
    } while (0)
    ck_assert_int_eq(lstat(path, &st), 0);
    MIX(path, strlen(path));
    MIX(&st.st_mode, sizeof(st.st_mode));
    if (S_ISLNK(st.st_mode)) {
        ssize_t l = readlink(path, buf, sizeof(buf));

        MIX(buf, l > 0 ? l : 0);
    } else if (S_ISREG(st.st_mode)) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        ssize_t r;

        while ((r = read(fd, buf, sizeof(buf))) > 0)
            MIX(buf, r);
        close(fd);
    } else if (S_ISDIR(st.st_mode)) {
        n = scandir(path, &names, NULL, alphasort);
        for (int i = 0; i < n; i++) {
            if (strcmp(names[i]->d_name, ".") != 0 && strcmp(names[i]->d_name, "..") != 0) {
                char sub[4096];

                snprintf(sub, sizeof(sub), "%s/%s", path, names[i]->d_name);
                hash_tree(sub, h);
            }
            free(names[i]);
        }
        free(names);
    }
#undef MIX
}

/* ---- fixture --------------------------------------------------------------- */

static void copy_helper(const char *src, char *dst, size_t size, const char *name)
{
    if (!fx.unpriv) {
        snprintf(dst, size, "%s", src);
        return;
    }
    /* The repository may sit where uid 65534 cannot enter: run a copy. */
    snprintf(dst, size, "%s/%s", fx.dir, name);
    {
        const char *argv[] = {"cp", src, dst, NULL};

        ck_assert_int_eq(it_run(argv), 0);
    }
    ck_assert_int_eq(chmod(dst, 0755), 0);
}

static void setup(void)
{
    const char *mode = getenv("CPS_IT_MODE");

    fx.unpriv = mode != NULL && strcmp(mode, "unpriv") == 0;
    /* CPS_IT_HELPER runs the cases against another helper binary. */
    copy_helper(getenv("CPS_IT_HELPER") ? getenv("CPS_IT_HELPER") : CPS_TEST_HELPER, fx.helper,
                sizeof(fx.helper), "helper");
    copy_helper(CPS_TEST_HELPER_PLAIN, fx.helper_plain, sizeof(fx.helper_plain), "helper-plain");
    snprintf(fx.toolchain, sizeof(fx.toolchain), "%s/toolchain", fx.dir);
    {
        const char *argv[] = {"cp", "-a", CPS_TEST_TOOLCHAIN, fx.toolchain, NULL};

        ck_assert_int_eq(it_run(argv), 0);
    }
    snprintf(fx.build, sizeof(fx.build), "%s/build", fx.dir);
    ck_assert_int_eq(mkdir(fx.build, 0755), 0);
    if (fx.unpriv && geteuid() == 0)
        ck_assert_int_eq(chown(fx.build, 65534, 65534), 0);
    fx.build_before[0] = '\0';
    fx.mountinfo = it_read_file("/proc/self/mountinfo", NULL);
}

/*
 * Every line of the host's mount table that was not there before must not
 * belong to this test (its paths all sit under fx.dir). Other tests that run
 * in parallel may mount in the host namespace; this helper never may.
 */
static void assert_no_new_mounts(const char *before, char *after)
{
    for (char *line = strtok(after, "\n"); line != NULL; line = strtok(NULL, "\n")) {
        char *hit = strstr(before, line);
        size_t n = strlen(line);

        if (hit != NULL && (hit == before || hit[-1] == '\n') && (hit[n] == '\n' || !hit[n]))
            continue;
        ck_assert_msg(strstr(line, fx.dir) == NULL && strstr(line, "cps-it-") == NULL,
                      "a mount of this test leaked into the host: %s", line);
        fprintf(stderr, "note: new host mount, not from this test: %s\n", line);
    }
}

static void teardown(void)
{
    char now[256];
    char *mi = it_read_file("/proc/self/mountinfo", NULL);

    assert_no_new_mounts(fx.mountinfo, mi);
    free(mi);
    free(fx.mountinfo);
    listing(fx.build, now, sizeof(now));
    ck_assert_msg(strcmp(now, fx.build_before) == 0, "build dir holds \"%s\", expected \"%s\"", now,
                  fx.build_before);
}

/*
 * The test's directory is made and removed by unchecked fixtures, which run
 * in the runner process around the forked test: a failed assertion ends the
 * test's process before its checked teardown, and the directory must go anyway.
 */
static void make_dir(void)
{
    it_make_dir(fx.dir, sizeof(fx.dir), "/tmp/cps-it-XXXXXX");
}

static void remove_dir(void)
{
    it_remove_dir(fx.dir);
}

/* ---- jobs ------------------------------------------------------------------ */

struct jobspec {
    struct cps_job job;
    struct cps_env_pair env[4];
};

static void job_init(struct jobspec *s, const char **argv)
{
    static char path_name[] = "PATH", path_value[] = "/bin:/usr/bin", cwd[] = "/work";

    memset(s, 0, sizeof(*s));
    s->job.toolchain = fx.toolchain;
    s->job.build_dir = fx.build;
    s->job.argv = argv;
    while (argv[s->job.argc] != NULL)
        s->job.argc++;
    s->env[0].name = path_name;
    s->env[0].value = path_value;
    s->job.env = s->env;
    s->job.envc = 1;
    s->job.cwd = cwd;
}

static void start(struct client *c, const char *helper)
{
    ck_assert_int_eq(client_spawn(c, helper, fx.unpriv, NULL), 0);
    ck_assert_msg(client_hello(c) == 0, "no hello: %s: %s (hint: %s)", c->error.stage,
                  c->error.message, c->error.hint);
    ck_assert_uint_eq(c->hello.uid, fx.unpriv ? 65534 : 0);
}

/* Run a job with no inputs to its end. */
static void run_job(struct client *c, const struct jobspec *s)
{
    start(c, fx.helper);
    ck_assert_int_eq(client_send_job(c, &s->job), 0);
    ck_assert_int_eq(client_collect(c, NULL, NULL), 0);
}

static void finish(struct client *c, int want_helper_exit)
{
    close(c->sock);
    c->sock = -1;
    ck_assert_int_eq(client_wait(c), 0);
    ck_assert_msg(WIFEXITED(c->wait_status) && WEXITSTATUS(c->wait_status) == want_helper_exit,
                  "helper wait status 0x%x, expected exit %d", c->wait_status, want_helper_exit);
    ck_assert_msg(!client_pidns_alive(c), "a process outlived the job");
}

static void assert_exit_code(const struct client *c, int code)
{
    ck_assert_msg(c->have_exit, "no exit frame; error %s: %s (hint: %s)", c->error.stage,
                  c->error.message, c->error.hint);
    ck_assert(!c->exit_msg.u.exit.signaled);
    ck_assert_int_eq(c->exit_msg.u.exit.code, code);
}

static void assert_error(const struct client *c, const char *stage)
{
    ck_assert_msg(c->have_error, "no error frame (exit frame: %d)", c->have_exit);
    ck_assert_msg(strcmp(c->error.stage, stage) == 0, "stage %s (%s), expected %s", c->error.stage,
                  c->error.message, stage);
}

/* The end of every refused-job case: one error frame of stage (with errnum
 * when non-zero, a message containing needle when not NULL), the helper's
 * exit code, and nothing left behind (finish). */
static void expect_error(struct client *c, const char *stage, int errnum, const char *needle,
                         int code)
{
    assert_error(c, stage);
    if (errnum != 0)
        ck_assert_int_eq(c->error.errnum, errnum);
    if (needle != NULL)
        ck_assert_msg(strstr(c->error.message, needle) != NULL, "%s", c->error.message);
    finish(c, code);
    client_free(c);
}

/* ---- cases ----------------------------------------------------------------- */

START_TEST(echo)
{
    const char *argv[] = {"/bin/busybox", "echo", "hi", NULL};
    struct jobspec s;
    struct client c;

    job_init(&s, argv);
    run_job(&c, &s);
    assert_exit_code(&c, 0);
    ck_assert_uint_eq(c.out_len, 3);
    ck_assert_str_eq((char *)c.out, "hi\n");
    ck_assert_uint_eq(c.err_len, 0);
    ck_assert_uint_eq(c.exit_msg.u.exit.backend, CPS_BACKEND_USERNS);
    ck_assert_uint_eq(c.exit_msg.u.exit.overlay, CPS_OVERLAY_NATIVE);
    ck_assert_uint_gt(c.exit_msg.u.exit.timingc, 5);
    finish(&c, 0);
    client_free(&c);
}
END_TEST

START_TEST(exit_code_stderr)
{
    const char *argv[] = {"sh", "-c", "echo out; echo err >&2; exit 7", NULL};
    struct jobspec s;
    struct client c;

    job_init(&s, argv);
    run_job(&c, &s);
    assert_exit_code(&c, 7);
    ck_assert_str_eq((char *)c.out, "out\n");
    ck_assert_str_eq((char *)c.err, "err\n");
    finish(&c, 0);
    client_free(&c);
}
END_TEST

START_TEST(outputs)
{
    const char *argv[] = {"sh", "-c",
                    "cp in/data.bin out/copy.bin && printf abc > out/small && chmod 640 "
                    "out/small && : > out/empty && ln -s /etc/marker-toolchain out/link && "
                    "mkdir out/dir",
                    NULL};
    const char *outs[] = {"/work/out/copy.bin", "/work/out/small", "/work/out/empty",
                    "/work/out/missing",  "/work/out/link",  "/work/out/dir"};
    struct cps_input_decl in = {.path = "/work/in/data.bin", .mode = 0644};
    size_t len = 3 * CPS_MAX_CHUNK + 12345;
    uint8_t *data = malloc(len);
    const struct client_output *o;
    struct jobspec s;
    struct client c;

    for (size_t i = 0; i < len; i++)
        data[i] = (uint8_t)(i * 7 + (i >> 9));
    in.size = len;
    job_init(&s, argv);
    s.job.inputs = &in;
    s.job.inputc = 1;
    s.job.outputs = outs;
    s.job.outputc = 6;
    start(&c, fx.helper);
    ck_assert_int_eq(client_send_job(&c, &s.job), 0);
    ck_assert_int_eq(client_send_input(&c, in.path, data, len), 0);
    ck_assert_int_eq(client_collect(&c, NULL, NULL), 0);
    assert_exit_code(&c, 0);
    ck_assert_uint_eq(c.outputc, 6);
    o = client_output(&c, "/work/out/copy.bin");
    ck_assert(o != NULL && !o->missing);
    ck_assert_uint_eq(o->size, len);
    ck_assert_uint_eq(o->len, len);
    ck_assert(memcmp(o->data, data, len) == 0);
    o = client_output(&c, "/work/out/small");
    ck_assert(o != NULL && !o->missing && o->len == 3 && memcmp(o->data, "abc", 3) == 0);
    ck_assert_uint_eq(o->mode, 0640);
    o = client_output(&c, "/work/out/empty");
    ck_assert(o != NULL && !o->missing && o->size == 0 && o->len == 0);
    /* Absent, a symlink (never followed), a directory: all "missing". */
    ck_assert(client_output(&c, "/work/out/missing")->missing);
    ck_assert(client_output(&c, "/work/out/link")->missing);
    ck_assert(client_output(&c, "/work/out/dir")->missing);
    finish(&c, 0);
    client_free(&c);
    free(data);
}
END_TEST

START_TEST(toolchain_unchanged)
{
    const char *argv[] = {"sh", "-c",
                    "echo x > /bin/new; rm /bin/cat; echo y >> /etc/marker-toolchain; "
                    "chmod 777 /bin; mkdir /usr/bin/newdir; rm -rf /etc; true",
                    NULL};
    unsigned long long before = 14695981039346656037ull, after = before;
    struct jobspec s;
    struct client c;

    hash_tree(fx.toolchain, &before);
    job_init(&s, argv);
    run_job(&c, &s);
    assert_exit_code(&c, 0);
    finish(&c, 0);
    client_free(&c);
    hash_tree(fx.toolchain, &after);
    ck_assert_msg(before == after, "the toolchain dir changed");
}
END_TEST

START_TEST(no_host_files)
{
    char marker[64], cmd[512];
    const char *argv[] = {"sh", "-c", cmd, NULL};
    struct jobspec s;
    struct client c;

    snprintf(marker, sizeof(marker), "cps-host-marker-%d", (int)getpid());
    /* /root is writable only when the tests run as root. */
    snprintf(cmd, sizeof(cmd), "echo > /tmp/%s && if [ $(id -u) = 0 ]; then echo > /root/%s; fi",
             marker, marker);
    it_sh(cmd);
    snprintf(cmd, sizeof(cmd),
             "for f in /tmp/%s /root/%s %s/build /etc/passwd /etc/hostname; do "
             "test -e $f && echo FOUND $f; done; ls /; cat /etc/marker-toolchain",
             marker, marker, fx.dir);
    job_init(&s, argv);
    run_job(&c, &s);
    snprintf(cmd, sizeof(cmd), "rm -f /tmp/%s && if [ $(id -u) = 0 ]; then rm -f /root/%s; fi",
             marker, marker);
    it_sh(cmd);
    assert_exit_code(&c, 0);
    ck_assert_msg(strstr((char *)c.out, "FOUND") == NULL, "host file visible: %s", c.out);
    ck_assert_str_eq((char *)c.out, "bin\ndev\netc\nproc\ntmp\nusr\nwork\ncachepot test "
                                    "toolchain\n");
    finish(&c, 0);
    client_free(&c);
}
END_TEST

START_TEST(isolation)
{
    const char *argv[] = {"/bin/probe", NULL};
    const char *zero = "0000000000000000";
    struct jobspec s;
    struct client c;
    char want[128];
    const char *out;

    job_init(&s, argv);
    run_job(&c, &s);
    assert_exit_code(&c, 0);
    out = (const char *)c.out;
    for (const char *const *k =
             (const char *const[]){"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", NULL};
         *k != NULL; k++) {
        snprintf(want, sizeof(want), "status: %s:\t%s\n", *k, zero);
        ck_assert_msg(strstr(out, want) != NULL, "%s not zero in:\n%s", *k, out);
    }
    ck_assert_msg(strstr(out, "status: NoNewPrivs:\t1\n") != NULL, "NoNewPrivs:\n%s", out);
    /* Only lo. */
    ck_assert_msg(strstr(out, "iface: lo\n") != NULL, "%s", out);
    ck_assert_msg(strstr(strstr(out, "iface: lo\n") + 1, "iface:") == NULL &&
                      strstr(out, "iface:") == strstr(out, "iface: lo\n"),
                  "interfaces other than lo:\n%s", out);
    /* Only its own PIDs: I is 1, the probe 2. */
    ck_assert_msg(strstr(out, "pid: 1\n") != NULL && strstr(out, "pid: 2\n") != NULL, "%s", out);
    {
        int pids = 0;

        for (const char *p = out; (p = strstr(p, "pid: ")) != NULL; p++)
            pids++;
        ck_assert_msg(pids == 2, "%d pids visible:\n%s", pids, out);
    }
    /* Only fds 0-2. */
    ck_assert_msg(strstr(out, "fd: 0\nfd: 1\nfd: 2\nuid") != NULL, "fds:\n%s", out);
    snprintf(want, sizeof(want), "uid: %u gid: %u\n", fx.unpriv ? 65534 : 0, fx.unpriv ? 65534 : 0);
    ck_assert_msg(strstr(out, want) != NULL, "%s", out);
    ck_assert_msg(strstr(out, "hostname: cachepot-sandbox\n") != NULL, "%s", out);
    /* The default seccomp filter is on (mode 2: filter). */
    ck_assert(c.hello.seccomp);
    ck_assert_msg(strstr(out, "status: Seccomp:\t2\n") != NULL, "%s", out);
    finish(&c, 0);
    client_free(&c);
}
END_TEST

START_TEST(timeout_sleep)
{
    const char *argv[] = {"sleep", "1000", NULL};
    struct jobspec s;
    struct client c;

    job_init(&s, argv);
    s.job.limits.timeout_ms = 300;
    run_job(&c, &s);
    ck_assert(c.have_exit);
    ck_assert(c.exit_msg.u.exit.timed_out);
    ck_assert(c.exit_msg.u.exit.signaled);
    ck_assert_uint_eq(c.exit_msg.u.exit.signal, SIGKILL);
    ck_assert_str_eq(c.exit_msg.u.exit.limit, "timeout");
    finish(&c, 0);
    client_free(&c);
}
END_TEST

static void marker_for(char *buf, size_t size, const char *what)
{
    snprintf(buf, size, "cps-daemon-%s-%d-%ld", what, (int)getpid(), (long)time(NULL));
}

START_TEST(timeout_daemon)
{
    char marker[96];
    const char *argv[] = {"daemonize", marker, "sleep", NULL};
    struct jobspec s;
    struct client c;

    marker_for(marker, sizeof(marker), "timeout");
    job_init(&s, argv);
    s.job.limits.timeout_ms = 1000;
    run_job(&c, &s);
    ck_assert(c.have_exit && c.exit_msg.u.exit.timed_out);
    ck_assert_str_eq((char *)c.out, "daemon started\n");
    finish(&c, 0);
    ck_assert_int_eq(find_process_with_arg(marker), 0);
    client_free(&c);
}
END_TEST

START_TEST(daemon_killed_at_exit)
{
    char marker[96];
    const char *argv[] = {"daemonize", marker, "exit", NULL};
    struct jobspec s;
    struct client c;

    marker_for(marker, sizeof(marker), "exit");
    job_init(&s, argv);
    run_job(&c, &s);
    assert_exit_code(&c, 0);
    finish(&c, 0);
    ck_assert_int_eq(find_process_with_arg(marker), 0);
    client_free(&c);
}
END_TEST

static bool cancel_on_first(struct client *c, void *arg)
{
    (void)arg;
    if (c->stdout_frames == 1)
        ck_assert_int_eq(client_send_cancel(c), 0);
    return true;
}

START_TEST(cancel)
{
    const char *argv[] = {"sh", "-c", "echo started; exec sleep 1000", NULL};
    struct jobspec s;
    struct client c;

    job_init(&s, argv);
    start(&c, fx.helper);
    ck_assert_int_eq(client_send_job(&c, &s.job), 0);
    ck_assert_int_eq(client_collect(&c, cancel_on_first, NULL), 0);
    ck_assert(c.have_exit);
    ck_assert(c.exit_msg.u.exit.signaled && !c.exit_msg.u.exit.timed_out);
    ck_assert_str_eq(c.exit_msg.u.exit.limit, "cancel");
    finish(&c, 0);
    client_free(&c);
}
END_TEST

static bool stop_reading(struct client *c, void *arg)
{
    (void)c;
    (void)arg;
    return false;
}

START_TEST(parent_eof)
{
    char marker[96];
    const char *argv[] = {"daemonize", marker, "sleep", NULL};
    struct jobspec s;
    struct client c;

    marker_for(marker, sizeof(marker), "eof");
    job_init(&s, argv);
    start(&c, fx.helper);
    ck_assert_int_eq(client_send_job(&c, &s.job), 0);
    /* The daemon is up once the job printed; then the worker "dies". */
    ck_assert_int_eq(client_collect(&c, stop_reading, NULL), 0);
    ck_assert_int_ne(find_process_with_arg(marker), 0);
    finish(&c, 3);
    ck_assert_int_eq(find_process_with_arg(marker), 0);
    client_free(&c);
}
END_TEST

START_TEST(big_stdout)
{
    const char *argv[] = {"writebytes", "1073741824", NULL};
    struct jobspec s;
    struct client c;

    job_init(&s, argv);
    ck_assert_int_eq(client_spawn(&c, fx.helper_plain, fx.unpriv, NULL), 0);
    ck_assert_int_eq(client_hello(&c), 0);
    c.keep_limit = 0;
    c.check_pattern = true;
    ck_assert_int_eq(client_send_job(&c, &s.job), 0);
    ck_assert_int_eq(client_collect(&c, NULL, NULL), 0);
    assert_exit_code(&c, 0);
    ck_assert_uint_eq(c.out_len, 1ull << 30);
    ck_assert(c.pattern_ok);
    finish(&c, 0);
    /* ru_maxrss of the reaped helper: its own peak and that of every process
     * it reaped (I, which reaped the job). Measured on the non-sanitized build:
     * ASan's shadow memory and quarantine would dominate the figure. */
    fprintf(stderr, "helper peak RSS (ru_maxrss of the reaped helper): %ld KiB\n", c.ru.ru_maxrss);
    ck_assert_msg(c.ru.ru_maxrss < 16 * 1024, "helper peak RSS %ld KiB", c.ru.ru_maxrss);
    client_free(&c);
}
END_TEST

/* A job whose toolchain path is relative: the decoder refuses it. The client's
 * encoder refuses it too, so the frame is patched after encoding. */
START_TEST(bad_relative_path)
{
    const char *argv[] = {"true", NULL};
    char tc[] = "/xrelative-toolchain";
    struct cps_error e;
    struct jobspec s;
    struct cps_msg m;
    struct client c;
    uint8_t *buf;
    size_t len;

    job_init(&s, argv);
    s.job.toolchain = tc;
    memset(&m, 0, sizeof(m));
    m.type = CPS_MSG_JOB;
    m.u.job = s.job;
    ck_assert_int_eq(cps__msg_encode(&m, &buf, &len, &e), 0);
    for (size_t i = 0; i + sizeof(tc) - 1 <= len; i++)
        if (memcmp(buf + i, tc, sizeof(tc) - 1) == 0)
            buf[i] = 'x';
    start(&c, fx.helper);
    ck_assert_int_eq(cps__frame_write(c.sock, buf, len, &e), 0);
    free(buf);
    ck_assert_int_eq(client_collect(&c, NULL, NULL), 0);
    expect_error(&c, "decode", 0, NULL, 3);
}
END_TEST

START_TEST(missing_toolchain)
{
    const char *argv[] = {"true", NULL};
    char tc[4200];
    struct jobspec s;
    struct client c;

    snprintf(tc, sizeof(tc), "%s/no-such-toolchain", fx.dir);
    job_init(&s, argv);
    s.job.toolchain = tc;
    run_job(&c, &s);
    expect_error(&c, "overlay", ENOENT, tc, 1);
}
END_TEST

/* Leftovers matter only when the writable layer is on the build dir itself
 * (CACHEPOT_SCRATCH=disk): the default tmpfs hides them (scratch_hides_leftovers). */
START_TEST(build_dir_not_clean)
{
    const char *argv[] = {"true", NULL};
    char upper[4200];
    struct jobspec s;
    struct client c;

    ck_assert_int_eq(setenv("CACHEPOT_SCRATCH", "disk", 1), 0);
    snprintf(upper, sizeof(upper), "%s/upper", fx.build);
    ck_assert_int_eq(mkdir(upper, 0755), 0);
    if (fx.unpriv)
        ck_assert_int_eq(chown(upper, 65534, 65534), 0);
    snprintf(fx.build_before, sizeof(fx.build_before), "upper ");
    job_init(&s, argv);
    run_job(&c, &s);
    expect_error(&c, "builddir", EEXIST, "not clean", 1);
}
END_TEST

/* The default scratch tmpfs covers the build dir in the helper's namespace:
 * a leftover there neither fails the job nor is visible to it, and stays. */
START_TEST(scratch_hides_leftovers)
{
    const char *argv[] = {"sh", "-c", "ls -A /work; echo end", NULL};
    char upper[4200];
    struct jobspec s;
    struct client c;

    snprintf(upper, sizeof(upper), "%s/upper", fx.build);
    ck_assert_int_eq(mkdir(upper, 0755), 0);
    snprintf(fx.build_before, sizeof(fx.build_before), "upper ");
    job_init(&s, argv);
    run_job(&c, &s);
    assert_exit_code(&c, 0);
    ck_assert_str_eq((const char *)c.out, "end\n");
    finish(&c, 0);
    client_free(&c);
}
END_TEST

/* limits.scratch_bytes bounds what a job writes: past it, ENOSPC (the job
 * goes on and sees the error); CACHEPOT_SCRATCH=disk runs the same job on the
 * build dir's filesystem, where that limit does not apply. */
START_TEST(scratch_limit)
{
    const char *argv[] = {"sh", "-c",
                    "writebytes 3000000 > /work/f && echo wrote || echo failed; wc -c < /work/f",
                    NULL};
    struct jobspec s;
    struct client c;
    unsigned long size = 0;

    job_init(&s, argv);
    s.job.limits.scratch_bytes = 1 << 20;
    run_job(&c, &s);
    assert_exit_code(&c, 0);
    ck_assert_msg(sscanf((const char *)c.out, "failed %lu", &size) == 1, "%s", c.out);
    ck_assert_uint_le(size, 1 << 20);
    finish(&c, 0);
    client_free(&c);
    ck_assert_int_eq(setenv("CACHEPOT_SCRATCH", "disk", 1), 0);
    run_job(&c, &s);
    assert_exit_code(&c, 0);
    ck_assert_msg(sscanf((const char *)c.out, "wrote %lu", &size) == 1, "%s", c.out);
    ck_assert_uint_eq(size, 3000000);
    finish(&c, 0);
    client_free(&c);
}
END_TEST

START_TEST(build_dir_missing)
{
    const char *argv[] = {"true", NULL};
    char build[4200];
    struct jobspec s;
    struct client c;

    snprintf(build, sizeof(build), "%s/no-such-build-dir", fx.dir);
    job_init(&s, argv);
    s.job.build_dir = build;
    run_job(&c, &s);
    expect_error(&c, "builddir", ENOENT, NULL, 1);
}
END_TEST

START_TEST(exec_enoent)
{
    const char *argv[] = {"no-such-compiler", NULL};
    struct jobspec s;
    struct client c;

    job_init(&s, argv);
    run_job(&c, &s);
    assert_error(&c, "exec");
    ck_assert_int_eq(c.error.errnum, ENOENT);
    ck_assert_msg(strstr(c.error.message, "/bin/no-such-compiler") != NULL &&
                      strstr(c.error.message, "/usr/bin/no-such-compiler") != NULL,
                  "%s", c.error.message);
    finish(&c, 1);
    client_free(&c);
}
END_TEST

START_TEST(config_mismatch)
{
    const char *argv[] = {"true", NULL};
    struct jobspec s;
    struct client c;

    job_init(&s, argv);
    s.job.has_uid = true;
    s.job.uid = 4242;
    run_job(&c, &s);
    expect_error(&c, "job", 0, "4242", 1);
}
END_TEST

/* A cwd or input below /proc, /dev or /tmp would be hidden by the mounts I
 * makes after O wrote them: refused up front, naming the path; the mount
 * point itself is a valid cwd. An output there is only a request: the job
 * runs and the output is missing (O collects below I's mounts). */
START_TEST(paths_below_job_mounts)
{
    const char *argv[] = {"/bin/busybox", "sh", "-c", "pwd", NULL};
    struct cps_input_decl in = {.path = "/dev/x.i", .mode = 0644, .size = 0};
    const char *outs[] = {"/tmp/x.o"};
    struct jobspec s;
    struct client c;

    job_init(&s, argv);
    s.job.cwd = "/tmp/work";
    run_job(&c, &s);
    expect_error(&c, "job", EINVAL, "cwd /tmp/work is below /tmp", 1);

    job_init(&s, argv);
    s.job.inputs = &in;
    s.job.inputc = 1;
    run_job(&c, &s);
    expect_error(&c, "job", EINVAL, "input /dev/x.i is in /dev", 1);

    job_init(&s, argv);
    s.job.outputs = outs;
    s.job.outputc = 1;
    run_job(&c, &s);
    assert_exit_code(&c, 0);
    ck_assert_uint_eq(c.outputc, 1);
    ck_assert(c.outputs[0].missing);
    finish(&c, 0);
    client_free(&c);

    job_init(&s, argv);
    s.job.cwd = "/tmp";
    run_job(&c, &s);
    assert_exit_code(&c, 0);
    ck_assert_str_eq((char *)c.out, "/tmp\n");
    finish(&c, 0);
    client_free(&c);
}
END_TEST

START_TEST(input_through_symlink)
{
    const char *argv[] = {"true", NULL};
    struct cps_input_decl in = {.path = "/escape/planted", .mode = 0644, .size = 1};
    char link[4200];
    struct jobspec s;
    struct client c;

    /* A toolchain (the client controls it) with a link out of the root. */
    snprintf(link, sizeof(link), "%s/escape", fx.toolchain);
    ck_assert_int_eq(symlink(fx.dir, link), 0);
    job_init(&s, argv);
    s.job.inputs = &in;
    s.job.inputc = 1;
    start(&c, fx.helper);
    ck_assert_int_eq(client_send_job(&c, &s.job), 0);
    ck_assert_int_eq(client_collect(&c, NULL, NULL), 0);
    expect_error(&c, "inputs", ELOOP, NULL, 1);
    snprintf(link, sizeof(link), "%s/planted", fx.dir);
    ck_assert_int_eq(access(link, F_OK), -1);
}
END_TEST

START_TEST(fd3_not_socket)
{
    const char *argv[] = {fx.helper, NULL};
    posix_spawn_file_actions_t fa;
    pid_t pid;
    int st;

    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 3, "/dev/null", O_RDONLY, 0);
    ck_assert_int_eq(posix_spawn(&pid, fx.helper, &fa, NULL, (char *const *)(uintptr_t)argv, environ),
                     0);
    posix_spawn_file_actions_destroy(&fa);
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 2);
}
END_TEST

START_TEST(no_seccomp)
{
    const char *argv[] = {"/bin/probe", NULL};
    const char *args[] = {"--no-seccomp", NULL};
    struct jobspec s;
    struct client c;

    job_init(&s, argv);
    ck_assert_int_eq(client_spawn(&c, fx.helper, fx.unpriv, args), 0);
    ck_assert_int_eq(client_hello(&c), 0);
    ck_assert(!c.hello.seccomp);
    ck_assert_int_eq(client_send_job(&c, &s.job), 0);
    ck_assert_int_eq(client_collect(&c, NULL, NULL), 0);
    assert_exit_code(&c, 0);
    ck_assert_msg(strstr((char *)c.out, "status: Seccomp:\t0\n") != NULL, "%s", c.out);
    ck_assert_msg(strstr((char *)c.out, "status: NoNewPrivs:\t1\n") != NULL, "%s", c.out);
    finish(&c, 0);
    client_free(&c);
}
END_TEST

START_TEST(output_limit_streams)
{
    const char *argv[] = {"writebytes", "1000000", NULL};
    struct jobspec s;
    struct client c;

    job_init(&s, argv);
    s.job.limits.max_output_bytes = 100000;
    run_job(&c, &s);
    ck_assert(c.have_exit);
    ck_assert(c.exit_msg.u.exit.signaled && !c.exit_msg.u.exit.timed_out);
    ck_assert_str_eq(c.exit_msg.u.exit.limit, "output");
    ck_assert_uint_le(c.out_len, 100000);
    finish(&c, 0);
    client_free(&c);
}
END_TEST

START_TEST(output_limit_files)
{
    const char *argv[] = {"sh", "-c", "writebytes 5000 > /work/big", NULL};
    const char *outs[] = {"/work/big"};
    struct jobspec s;
    struct client c;

    job_init(&s, argv);
    s.job.outputs = outs;
    s.job.outputc = 1;
    s.job.limits.max_output_bytes = 1000;
    run_job(&c, &s);
    expect_error(&c, "outputs", EFBIG, NULL, 1);
}
END_TEST

START_TEST(overlay_mode_refused)
{
    const char *argv[] = {"true", NULL};
    struct jobspec s;
    struct client c;

    /* The bind mode cannot make "/" writable (test_backends.c tests the modes). */
    job_init(&s, argv);
    s.job.overlay = CPS_OVERLAY_BIND;
    s.job.cwd = "/";
    run_job(&c, &s);
    expect_error(&c, "overlay", EINVAL, NULL, 1);
}
END_TEST

START_TEST(backend_refused)
{
    const char *argv[] = {"true", NULL};
    const char *args[] = {"--backend", "bubblewrap", NULL};
    struct jobspec s;
    struct client c;

    /* A bubblewrap helper without a bwrap (test_backends.c tests the backend). */
    ck_assert_int_eq(setenv("CACHEPOT_BWRAP", "/nonexistent/bwrap", 1), 0);
    job_init(&s, argv);
    ck_assert_int_eq(client_spawn(&c, fx.helper, fx.unpriv, args), 0);
    unsetenv("CACHEPOT_BWRAP");
    ck_assert_int_eq(client_hello(&c), 0);
    ck_assert_uint_eq(c.hello.backend, CPS_BACKEND_BUBBLEWRAP);
    ck_assert_int_eq(client_send_job(&c, &s.job), 0);
    ck_assert_int_eq(client_collect(&c, NULL, NULL), 0);
    expect_error(&c, "bubblewrap", ENOENT, NULL, 1);
}
END_TEST

/* SIGTERM is also the parent-death signal: the helper ends the job and cleans up. */
START_TEST(stop_signal)
{
    char marker[96];
    const char *argv[] = {"daemonize", marker, "sleep", NULL};
    struct jobspec s;
    struct client c;

    marker_for(marker, sizeof(marker), "term");
    job_init(&s, argv);
    start(&c, fx.helper);
    ck_assert_int_eq(client_send_job(&c, &s.job), 0);
    ck_assert_int_eq(client_collect(&c, stop_reading, NULL), 0);
    ck_assert_int_ne(find_process_with_arg(marker), 0);
    ck_assert_int_eq(kill(c.pid, SIGTERM), 0);
    /* The peer can still read: one error frame says why the job ended. */
    ck_assert_int_eq(client_collect(&c, NULL, NULL), 0);
    assert_error(&c, "parent");
    ck_assert_int_eq(c.error.errnum, EINTR);
    ck_assert_msg(strstr(c.error.message, "SIGTERM") != NULL, "%s", c.error.message);
    ck_assert_int_eq(client_wait(&c), 0);
    ck_assert(WIFEXITED(c.wait_status) && WEXITSTATUS(c.wait_status) == 3);
    ck_assert(!client_pidns_alive(&c));
    ck_assert_int_eq(find_process_with_arg(marker), 0);
    client_free(&c);
}
END_TEST

/* The same for a warm helper that waits for its job. */
START_TEST(stop_signal_idle)
{
    struct client c;

    start(&c, fx.helper);
    ck_assert_int_eq(kill(c.pid, SIGTERM), 0);
    ck_assert_int_eq(client_collect(&c, NULL, NULL), 0);
    expect_error(&c, "parent", EINTR, "SIGTERM", 3);
}
END_TEST

/* A helper whose own uid is not mapped (it runs in a user namespace without
 * maps) may not create a user namespace (user_namespaces(7)): the first and
 * only frame is an error naming the user namespace knobs and their values. */
START_TEST(userns_refused)
{
    const char *args[] = {"--user", "--", fx.helper, NULL};
    struct client c;

    ck_assert_int_eq(client_spawn(&c, "/usr/bin/unshare", fx.unpriv, args), 0);
    ck_assert_int_eq(client_hello(&c), -1);
    ck_assert(c.have_error);
    ck_assert_msg(strcmp(c.error.stage, "unshare") == 0, "stage %s: %s", c.error.stage,
                  c.error.message);
    ck_assert_int_eq(c.error.errnum, EPERM);
    ck_assert_ptr_nonnull(strstr(c.error.message, "user.max_user_namespaces="));
    ck_assert_ptr_nonnull(strstr(c.error.hint, "kernel.apparmor_restrict_unprivileged_userns"));
    finish(&c, 1);
    client_free(&c);
}
END_TEST

/* Inputs keep exactly their declared mode: an executable script runs. */
START_TEST(input_modes)
{
    const char *argv[] = {"/work/run.sh", NULL};
    const char *outs[] = {"/work/ro.txt"};
    static const char script[] = "#!/bin/sh\necho script ran\nstat -c %a /work/ro.txt\n";
    struct cps_input_decl in[2] = {
        {.path = "/work/run.sh", .mode = 0750, .size = sizeof(script) - 1},
        {.path = "/work/ro.txt", .mode = 0404, .size = 2},
    };
    const struct client_output *o;
    struct jobspec s;
    struct client c;

    job_init(&s, argv);
    s.job.inputs = in;
    s.job.inputc = 2;
    s.job.outputs = outs;
    s.job.outputc = 1;
    start(&c, fx.helper);
    ck_assert_int_eq(client_send_job(&c, &s.job), 0);
    ck_assert_int_eq(client_send_input(&c, in[0].path, (const uint8_t *)script, in[0].size), 0);
    ck_assert_int_eq(client_send_input(&c, in[1].path, (const uint8_t *)"ro", 2), 0);
    ck_assert_int_eq(client_collect(&c, NULL, NULL), 0);
    assert_exit_code(&c, 0);
    ck_assert_str_eq((char *)c.out, "script ran\n404\n");
    o = client_output(&c, "/work/ro.txt");
    ck_assert(o != NULL && !o->missing && o->mode == 0404 && o->len == 2);
    finish(&c, 0);
    client_free(&c);
}
END_TEST

/* An input frame carrying more than its declared size: protocol error, exit 3,
 * and the scratch dirs created so far are gone. */
START_TEST(input_size_mismatch)
{
    const char *argv[] = {"true", NULL};
    struct cps_input_decl in = {.path = "/work/in", .mode = 0644, .size = 3};
    struct jobspec s;
    struct client c;

    job_init(&s, argv);
    s.job.inputs = &in;
    s.job.inputc = 1;
    start(&c, fx.helper);
    ck_assert_int_eq(client_send_job(&c, &s.job), 0);
    ck_assert_int_eq(client_send_input(&c, in.path, (const uint8_t *)"toolong", 7), 0);
    ck_assert_int_eq(client_collect(&c, NULL, NULL), 0);
    assert_error(&c, "protocol");
    ck_assert_ptr_nonnull(strstr(c.error.message, "/work/in"));
    finish(&c, 3);
    client_free(&c);
}
END_TEST

/* Inputs land in the scratch tmpfs too: more than scratch_bytes is a clear
 * setup error that names the limit, and nothing is left behind. */
START_TEST(inputs_exceed_scratch)
{
    const char *argv[] = {"true", NULL};
    static uint8_t data[60000];
    struct cps_input_decl in = {.path = "/work/in", .mode = 0644, .size = sizeof(data)};
    struct jobspec s;
    struct client c;

    job_init(&s, argv);
    s.job.inputs = &in;
    s.job.inputc = 1;
    s.job.limits.scratch_bytes = 8192;
    start(&c, fx.helper);
    ck_assert_int_eq(client_send_job(&c, &s.job), 0);
    ck_assert_int_eq(client_send_input(&c, in.path, data, sizeof(data)), 0);
    ck_assert_int_eq(client_collect(&c, NULL, NULL), 0);
    assert_error(&c, "inputs");
    ck_assert_int_eq(c.error.errnum, ENOSPC);
    ck_assert_msg(strstr(c.error.hint, "scratch_bytes") != NULL, "hint: %s", c.error.hint);
    finish(&c, 1);
    client_free(&c);
}
END_TEST

/* While the job runs the peer may only cancel; anything else ends the job as a
 * protocol error. */
static bool send_job_again(struct client *c, void *arg)
{
    if (c->stdout_frames == 1)
        ck_assert_int_eq(client_send_job(c, arg), 0);
    return true;
}

START_TEST(protocol_error_mid_job)
{
    const char *argv[] = {"sh", "-c", "echo started; exec sleep 1000", NULL};
    struct jobspec s;
    struct client c;

    job_init(&s, argv);
    start(&c, fx.helper);
    ck_assert_int_eq(client_send_job(&c, &s.job), 0);
    ck_assert_int_eq(client_collect(&c, send_job_again, &s.job), 0);
    expect_error(&c, "protocol", 0, NULL, 3);
}
END_TEST

START_TEST(cpu_limit)
{
    const char *argv[] = {"sh", "-c", "while :; do :; done", NULL};
    struct jobspec s;
    struct client c;

    job_init(&s, argv);
    s.job.limits.cpu_seconds = 1;
    s.job.limits.timeout_ms = 60000;
    run_job(&c, &s);
    ck_assert(c.have_exit);
    ck_assert(c.exit_msg.u.exit.signaled && !c.exit_msg.u.exit.timed_out);
    ck_assert_uint_eq(c.exit_msg.u.exit.signal, SIGXCPU);
    ck_assert_str_eq(c.exit_msg.u.exit.limit, "cpu");
    ck_assert_uint_gt(c.exit_msg.u.exit.user_us + c.exit_msg.u.exit.sys_us, 0);
    finish(&c, 0);
    client_free(&c);
}
END_TEST

START_TEST(file_size_limit)
{
    const char *argv[] = {"sh", "-c", "exec writebytes 100000 > /work/f", NULL};
    struct jobspec s;
    struct client c;

    job_init(&s, argv);
    s.job.limits.file_size = 4096;
    run_job(&c, &s);
    ck_assert(c.have_exit);
    ck_assert(c.exit_msg.u.exit.signaled);
    ck_assert_uint_eq(c.exit_msg.u.exit.signal, SIGXFSZ);
    ck_assert_str_eq(c.exit_msg.u.exit.limit, "file_size");
    finish(&c, 0);
    client_free(&c);
}
END_TEST

/* A warm helper the worker no longer needs: EOF before any job is a clean end. */
START_TEST(idle_eof)
{
    struct client c;

    start(&c, fx.helper);
    finish(&c, 0);
    client_free(&c);
}
END_TEST

/* hello.features only for a parent that asks (CACHEPOT_HELLO_FEATURES=1):
 * the hello of a helper that was not asked is the one a 0.1.0 parent, which
 * refuses unknown keys, accepts. */
START_TEST(hello_features)
{
    struct client c;

    setenv("CACHEPOT_HELLO_FEATURES", "1", 1);
    start(&c, fx.helper);
    ck_assert(c.hello.has_features);
    ck_assert_uint_eq(c.hello.features, CPS_FEATURES_ALL);
    finish(&c, 0);
    client_free(&c);

    unsetenv("CACHEPOT_HELLO_FEATURES");
    start(&c, fx.helper);
    ck_assert(!c.hello.has_features);
    finish(&c, 0);
    client_free(&c);
}
END_TEST

/* --uid/--gid pick the ids inside: uid 0 there (mapped to 65534 outside in the
 * unprivileged variant) still has no capability at all. A job stating the
 * same ids is accepted. */
START_TEST(inside_ids)
{
    const char *argv[] = {"/bin/probe", NULL};
    const char *args[] = {"--uid", "0", "--gid", "0", NULL};
    struct jobspec s;
    struct client c;
    const char *out;

    job_init(&s, argv);
    s.job.has_uid = s.job.has_gid = true;
    s.job.uid = s.job.gid = 0;
    ck_assert_int_eq(client_spawn(&c, fx.helper, fx.unpriv, args), 0);
    ck_assert_int_eq(client_hello(&c), 0);
    ck_assert_uint_eq(c.hello.uid, 0);
    ck_assert_uint_eq(c.hello.gid, 0);
    ck_assert_int_eq(client_send_job(&c, &s.job), 0);
    ck_assert_int_eq(client_collect(&c, NULL, NULL), 0);
    assert_exit_code(&c, 0);
    out = (const char *)c.out;
    ck_assert_msg(strstr(out, "uid: 0 gid: 0\n") != NULL, "%s", out);
    ck_assert_msg(strstr(out, "status: CapEff:\t0000000000000000\n") != NULL, "%s", out);
    ck_assert_msg(strstr(out, "status: CapPrm:\t0000000000000000\n") != NULL, "%s", out);
    ck_assert_msg(strstr(out, "status: CapBnd:\t0000000000000000\n") != NULL, "%s", out);
    finish(&c, 0);
    client_free(&c);
}
END_TEST

/* exit.timings has a stage of this name. */
static bool has_timing(const struct client *c, const char *stage)
{
    for (size_t i = 0; i < c->exit_msg.u.exit.timingc; i++)
        if (strcmp(c->exit_msg.u.exit.timings[i].stage, stage) == 0)
            return true;
    return false;
}

/*
 * /proc, /dev and /tmp made by I before hello (moved in per job) and the
 * classic per-job mounts (CACHEPOT_TEST_CLASSIC_MOUNTS=1) give the job the
 * same mounts, flags, devices, links and /tmp size, with the default /tmp
 * and with one the job sizes itself (the prepared /tmp is then resized).
 */
START_TEST(mount_paths)
{
    static const char script[] =
        "busybox awk '{print $4, $5, $6, $(NF-2), $NF}' /proc/self/mountinfo | sort; "
        "ls -l /dev | busybox awk '{print $1, $NF}'; "
        "echo x > /dev/null && echo devnull-ok; "
        "echo x 2>/dev/null > /proc/sys/kernel/hostname || echo sys-ro; "
        "echo tmp-kb $(busybox df -k /tmp | tail -n 1 | busybox awk '{print $2}'); "
        "stat -c '%n %a' /tmp /dev/shm; echo t > /tmp/t && echo tmp-ok";
    const char *argv[] = {"sh", "-c", script, NULL};
    const uint64_t sizes[] = {0, 1024 * 1024};
    const char *const kb[] = {"tmp-kb 262144\n", "tmp-kb 1024\n"};
    char *out[2];
    struct jobspec s;
    struct client c;

    for (size_t i = 0; i < 2; i++) {
        for (int classic = 0; classic < 2; classic++) {
            if (classic)
                ck_assert_int_eq(setenv("CACHEPOT_TEST_CLASSIC_MOUNTS", "1", 1), 0);
            else
                unsetenv("CACHEPOT_TEST_CLASSIC_MOUNTS");
            job_init(&s, argv);
            s.job.limits.tmp_bytes = sizes[i];
            run_job(&c, &s);
            assert_exit_code(&c, 0);
            /* I reports the time it spent on the trees only when it made them. */
            ck_assert_msg(has_timing(&c, "rootfs_prep") == !classic,
                          "rootfs_prep timing %s on the %s path", classic ? "present" : "missing",
                          classic ? "classic" : "prepared");
            out[classic] = strdup((char *)c.out);
            finish(&c, 0);
            client_free(&c);
        }
        unsetenv("CACHEPOT_TEST_CLASSIC_MOUNTS");
        ck_assert_msg(strcmp(out[0], out[1]) == 0, "prepared:\n%s\nclassic:\n%s", out[0], out[1]);
        ck_assert_msg(strstr(out[0], "/sys /proc/sys ro,nosuid,nodev,noexec") != NULL &&
                          strstr(out[0], "/ /dev rw,nosuid,noexec") != NULL &&
                          strstr(out[0], "/null /dev/null ") != NULL &&
                          strstr(out[0], "/ /tmp rw,nosuid,nodev") != NULL &&
                          strstr(out[0], "lrwxrwxrwx /proc/self/fd\n") != NULL &&
                          strstr(out[0], "devnull-ok\nsys-ro\n") != NULL &&
                          strstr(out[0], kb[i]) != NULL &&
                          strstr(out[0], "/tmp 1777\n/dev/shm 1777\ntmp-ok\n") != NULL,
                      "%s", out[0]);
        free(out[0]);
        free(out[1]);
    }
}
END_TEST

/* ---- a peer that does not read (issue 12 item 11) --------------------------- */

/* How long the client below does not read. Not a threshold: the assertions
 * are that the job is gone while the client still does not read, and that
 * the wall time the helper reports is well below this. */
#define STALL_SEC 5

/*
 * A job writing endlessly fills the socket while the peer does not read: the
 * timeout (the job's limit) must still end it on time. The helper used to
 * block in a frame write, and the job ran until the peer read again.
 */
START_TEST(timeout_unread)
{
    char marker[96], cmd[160];
    const char *argv[] = {"sh", "-c", cmd, NULL};
    const char *outs[] = {"/work/before.txt", "/work/never.txt"};
    const struct client_output *o;
    struct jobspec s;
    struct client c;

    marker_for(marker, sizeof(marker), "unread");
    snprintf(cmd, sizeof(cmd), "echo partial > /work/before.txt; exec yes %s", marker);
    job_init(&s, argv);
    s.job.outputs = outs;
    s.job.outputc = 2;
    s.job.limits.timeout_ms = 500;
    start(&c, fx.helper);
    ck_assert_int_eq(client_send_job(&c, &s.job), 0);
    sleep(STALL_SEC);
    ck_assert_msg(find_process_with_arg(marker) == 0,
                  "the job still runs %d s after its 500 ms timeout (the peer does not read)",
                  STALL_SEC);
    ck_assert_int_eq(client_collect(&c, NULL, NULL), 0);
    ck_assert(c.have_exit);
    ck_assert(c.exit_msg.u.exit.timed_out);
    ck_assert_str_eq(c.exit_msg.u.exit.limit, "timeout");
    ck_assert_msg(c.exit_msg.u.exit.wall_us < STALL_SEC * 1000000ull / 2,
                  "wall_us %llu: the timeout waited for the peer",
                  (unsigned long long)c.exit_msg.u.exit.wall_us);
    /* Outputs follow a timeout too (docs/PROTOCOL.md, Session), before exit. */
    ck_assert_uint_eq(c.outputc, 2);
    o = client_output(&c, "/work/before.txt");
    ck_assert(o != NULL && !o->missing && o->len == 8 && memcmp(o->data, "partial\n", 8) == 0);
    ck_assert(client_output(&c, "/work/never.txt")->missing);
    finish(&c, 0);
    client_free(&c);
}
END_TEST

/* The same for cancel: sent while the client does not read, it ends the job
 * at once. */
START_TEST(cancel_unread)
{
    char marker[96], cmd[160];
    const char *argv[] = {"sh", "-c", cmd, NULL};
    const char *outs[] = {"/work/before.txt"};
    struct jobspec s;
    struct client c;

    marker_for(marker, sizeof(marker), "cancel-unread");
    snprintf(cmd, sizeof(cmd), "echo partial > /work/before.txt; exec yes %s", marker);
    job_init(&s, argv);
    s.job.outputs = outs;
    s.job.outputc = 1;
    start(&c, fx.helper);
    ck_assert_int_eq(client_send_job(&c, &s.job), 0);
    /* Until the job runs and has filled the socket (the test's precondition). */
    for (int i = 0; i < 100 && find_process_with_arg(marker) == 0; i++)
        usleep(50000);
    ck_assert_int_ne(find_process_with_arg(marker), 0);
    sleep(1);
    ck_assert_int_eq(client_send_cancel(&c), 0);
    sleep(STALL_SEC);
    ck_assert_msg(find_process_with_arg(marker) == 0,
                  "the job still runs %d s after cancel (the peer does not read)", STALL_SEC);
    ck_assert_int_eq(client_collect(&c, NULL, NULL), 0);
    ck_assert(c.have_exit);
    ck_assert_str_eq(c.exit_msg.u.exit.limit, "cancel");
    ck_assert_uint_gt(c.out_len, 0);
    /* Outputs follow a cancel too. */
    ck_assert_uint_eq(c.outputc, 1);
    ck_assert(!c.outputs[0].missing && c.outputs[0].len == 8);
    finish(&c, 0);
    client_free(&c);
}
END_TEST

/* A stop signal ends the helper also while the client does not read: the job
 * is killed and everything removed without waiting for the client (the
 * error frame is left out when a frame was half sent, else it gets at most
 * CPS_FRAME_DEADLINE_MS). */
START_TEST(stop_signal_unread)
{
    char marker[96];
    const char *argv[] = {"yes", marker, NULL};
    struct jobspec s;
    struct client c;

    marker_for(marker, sizeof(marker), "term-unread");
    job_init(&s, argv);
    start(&c, fx.helper);
    ck_assert_int_eq(client_send_job(&c, &s.job), 0);
    for (int i = 0; i < 100 && find_process_with_arg(marker) == 0; i++)
        usleep(50000);
    ck_assert_int_ne(find_process_with_arg(marker), 0);
    sleep(1);
    ck_assert_int_eq(kill(c.pid, SIGTERM), 0);
    ck_assert_int_eq(client_wait(&c), 0);
    ck_assert_msg(WIFEXITED(c.wait_status) && WEXITSTATUS(c.wait_status) == 3,
                  "helper wait status 0x%x", c.wait_status);
    ck_assert(!client_pidns_alive(&c));
    ck_assert_int_eq(find_process_with_arg(marker), 0);
    client_free(&c);
}
END_TEST

/* ---- cancel before the job started, partial frames (issue 12) -------------- */

/*
 * A cancel that arrives after the job (and its inputs) but before the
 * compiler started ends the session with an error (stage "cancel",
 * ECANCELED), as docs/PROTOCOL.md says; it used to be an exit frame with
 * signal 9 and wall_us 0. The cancel is sent right behind the job: the helper
 * reads it in its first poll after it handed the job to I, long before I can
 * have started anything.
 */
START_TEST(cancel_before_start)
{
    const char *argv[] = {"sleep", "1000", NULL};
    struct jobspec s;
    struct client c;

    job_init(&s, argv);
    start(&c, fx.helper);
    ck_assert_int_eq(client_send_job(&c, &s.job), 0);
    ck_assert_int_eq(client_send_cancel(&c), 0);
    ck_assert_int_eq(client_collect(&c, NULL, NULL), 0);
    ck_assert_int_eq(c.stdout_frames, 0);
    expect_error(&c, "cancel", ECANCELED, "before the job started", 1);
}
END_TEST

/* A peer that sends the first bytes of a frame and stops: after
 * CPS_FRAME_DEADLINE_MS the helper gives up with stage "frame", ETIMEDOUT,
 * before the job (while it reads the job) and while the job runs. */
START_TEST(partial_frame)
{
    const char *argv[] = {"sh", "-c", "echo started; exec sleep 1000", NULL};
    static const uint8_t two[2] = {0, 0};
    struct jobspec s;
    struct client c;

    start(&c, fx.helper);
    ck_assert_int_eq(write(c.sock, two, 2), 2);
    ck_assert_int_eq(client_collect(&c, NULL, NULL), 0);
    assert_error(&c, "frame");
    ck_assert_int_eq(c.error.errnum, ETIMEDOUT);
    ck_assert_msg(strstr(c.error.hint, "whole") != NULL, "hint: %s", c.error.hint);
    finish(&c, 3);
    client_free(&c);

    job_init(&s, argv);
    start(&c, fx.helper);
    ck_assert_int_eq(client_send_job(&c, &s.job), 0);
    ck_assert_int_eq(client_collect(&c, stop_reading, NULL), 0);
    ck_assert_int_eq(write(c.sock, two, 2), 2);
    ck_assert_int_eq(client_collect(&c, NULL, NULL), 0);
    assert_error(&c, "frame");
    ck_assert_int_eq(c.error.errnum, ETIMEDOUT);
    finish(&c, 3);
    client_free(&c);
}
END_TEST

/* ---- what docs/PROTOCOL.md says a client may rely on (issue 12 item 18) ---- */

/*
 * Paths are not checked for duplicates: a second input entry with the same
 * path is written again (its own frames; the last entry's data and mode
 * win), and an output listed twice is sent twice. An input chunk with empty
 * data and end false in the middle of a file adds nothing.
 */
START_TEST(duplicate_paths)
{
    static uint8_t chunk_x[] = "x", chunk_y[] = "y";
    const char *argv[] = {"cat", "/work/a", NULL};
    const char *outs[] = {"/work/a", "/work/a"};
    struct cps_input_decl in[2] = {
        {.path = "/work/a", .mode = 0644, .size = 3},
        {.path = "/work/a", .mode = 0600, .size = 2},
    };
    struct cps_error e;
    struct cps_msg m;
    struct jobspec s;
    struct client c;

    job_init(&s, argv);
    s.job.inputs = in;
    s.job.inputc = 2;
    s.job.outputs = outs;
    s.job.outputc = 2;
    start(&c, fx.helper);
    ck_assert_int_eq(client_send_job(&c, &s.job), 0);
    ck_assert_int_eq(client_send_input(&c, "/work/a", (const uint8_t *)"abc", 3), 0);
    /* The second file in three chunks, the middle one empty. */
    memset(&m, 0, sizeof(m));
    m.type = CPS_MSG_INPUT;
    m.u.input.path = "/work/a";
    m.u.input.data = chunk_x;
    m.u.input.data_len = 1;
    ck_assert_int_eq(cps__msg_send(c.sock, &m, &e), 0);
    m.u.input.data_len = 0;
    ck_assert_int_eq(cps__msg_send(c.sock, &m, &e), 0);
    m.u.input.data = chunk_y;
    m.u.input.data_len = 1;
    m.u.input.end = true;
    ck_assert_int_eq(cps__msg_send(c.sock, &m, &e), 0);
    ck_assert_int_eq(client_collect(&c, NULL, NULL), 0);
    assert_exit_code(&c, 0);
    ck_assert_str_eq((char *)c.out, "xy");
    ck_assert_uint_eq(c.outputc, 2);
    for (size_t i = 0; i < 2; i++)
        ck_assert(!c.outputs[i].missing && c.outputs[i].mode == 0600 && c.outputs[i].len == 2 &&
                  memcmp(c.outputs[i].data, "xy", 2) == 0);
    finish(&c, 0);
    client_free(&c);
}
END_TEST

/* A frame header declaring more than max_frame: stage "frame" (not
 * "decode"), EMSGSIZE, exit 3. */
START_TEST(oversize_frame)
{
    static const uint8_t header[4] = {0x00, 0x10, 0x00, 0x01}; /* 1 MiB + 1 */
    struct client c;

    start(&c, fx.helper);
    ck_assert_int_eq(write(c.sock, header, 4), 4);
    ck_assert_int_eq(client_collect(&c, NULL, NULL), 0);
    expect_error(&c, "frame", EMSGSIZE, NULL, 3);
}
END_TEST

/*
 * A text of CPS_MAX_TEXT (131,072) bytes is valid on the wire, but the kernel
 * limits one argv or environment string, its NUL included, to MAX_ARG_STRLEN
 * (32 pages = 131,072 bytes): exec fails with E2BIG (stage "exec"). One byte
 * less runs.
 */
START_TEST(argv_max_text)
{
    char *text = malloc(CPS_MAX_TEXT + 1);
    const char *argv[] = {"echo", text, NULL};
    struct jobspec s;
    struct client c;

    memset(text, 'a', CPS_MAX_TEXT);
    text[CPS_MAX_TEXT] = '\0';
    job_init(&s, argv);
    run_job(&c, &s);
    assert_error(&c, "exec");
    ck_assert_int_eq(c.error.errnum, E2BIG);
    finish(&c, 1);
    client_free(&c);
    text[CPS_MAX_TEXT - 1] = '\0';
    c.keep_limit = 0;
    run_job(&c, &s);
    assert_exit_code(&c, 0);
    ck_assert_uint_eq(c.out_len, CPS_MAX_TEXT);
    finish(&c, 0);
    client_free(&c);
    free(text);
}
END_TEST

/* ---- the job's session (docs/SECURITY.md, "Network, IPC, processes") ------ */

static const char *const all_backends[] = {"userns", "bubblewrap"};

/* A process that only waits, in a process group of its own, as the uid the
 * helper runs as: it stands for the worker and its other jobs. */
static pid_t sentinel_start(void)
{
    pid_t p = fork();

    ck_assert_int_ge(p, 0);
    if (p == 0) {
        int null = open("/dev/null", O_RDWR | O_CLOEXEC);

        setpgid(0, 0);
        if (fx.unpriv && geteuid() == 0 &&
            (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 ||
             setresuid(65534, 65534, 65534) < 0))
            _exit(1);
        /* If the case fails before it kills the sentinel, the sentinel must
         * neither outlive it nor hold ctest's output pipes (ctest waits for
         * them to close, and the failure would show as a timeout). After the
         * id change: a credential change clears the parent-death signal. */
        prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
        if (getppid() == 1 || null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 ||
            dup2(null, 2) < 0)
            _exit(1);
        for (;;)
            pause();
    }
    /* Also here, so that the group exists before the helper joins it. */
    setpgid(p, p);
    return p;
}

/* The tty_nr field of /proc/PID/stat: 0 when the process has no controlling
 * terminal. */
static long tty_nr(pid_t pid)
{
    char path[64], *stat, *p;
    long nr = 0;

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    stat = it_read_file(path, NULL);
    p = strrchr(stat, ')');
    ck_assert_ptr_nonnull(p);
    /* After "comm)": state ppid pgrp session tty_nr. */
    ck_assert_int_eq(sscanf(p + 1, " %*c %*d %*d %*d %ld", &nr), 1);
    free(stat);
    return nr;
}

/*
 * The job's kill(0, SIGTERM) and setpriority(PRIO_PGRP, 0, 19) reach only its
 * own process group: a sentinel in the helper's process group (where the
 * worker, its pool and other jobs live) survives with its nice value, under
 * every backend. Before I made a session of its own, the userns job was in
 * the worker's group: the sentinel died, and so did the helper.
 */
START_TEST(job_session)
{
    const char *argv[] = {"session", "pgrp", NULL};
    struct jobspec s;
    struct client c;

    for (size_t b = 0; b < 2; b++) {
        const char *args[] = {"--backend", all_backends[b], NULL};
        struct client_place place = {.pgroup = sentinel_start()};
        int st;

        job_init(&s, argv);
        ck_assert_int_eq(client_spawn_in(&c, fx.helper, fx.unpriv, args, &place), 0);
        ck_assert_int_eq(client_hello(&c), 0);
        ck_assert_int_eq(getpgid(c.pid), place.pgroup);
        ck_assert_int_eq(client_send_job(&c, &s.job), 0);
        ck_assert_int_eq(client_collect(&c, NULL, NULL), 0);
        errno = 0;
        ck_assert_msg(waitpid(place.pgroup, &st, WNOHANG) == 0,
                      "%s: the sentinel in the helper's process group died (status 0x%x); "
                      "job output: %s",
                      all_backends[b], st, c.out ? (char *)c.out : "");
        ck_assert_msg(getpriority(PRIO_PROCESS, (id_t)place.pgroup) == 0 && errno == 0,
                      "%s: the job reniced the sentinel; job output: %s", all_backends[b],
                      c.out ? (char *)c.out : "");
        assert_exit_code(&c, 0);
        ck_assert_uint_eq(c.exit_msg.u.exit.backend,
                          b == 0 ? CPS_BACKEND_USERNS : CPS_BACKEND_BUBBLEWRAP);
        ck_assert_msg(
            strstr((char *)c.out, "sid 0 ") == NULL && strstr((char *)c.out, "pgid 0\n") == NULL,
            "%s: session or group leader outside the job's namespace: %s", all_backends[b], c.out);
        ck_assert_msg(strstr((char *)c.out, "kill: ok\n") != NULL, "%s: %s", all_backends[b],
                      c.out);
        finish(&c, 0);
        client_free(&c);
        kill(place.pgroup, SIGKILL);
        waitpid(place.pgroup, NULL, 0);
    }
}
END_TEST

/*
 * The worker's terminal is not the job's: with a pty as the controlling
 * terminal of the helper's session (as when the CLI runs in a terminal), a
 * job that opens /dev/tty gets ENXIO and cannot read what was typed, under
 * every backend. Before I made a session of its own, a userns job read it.
 */
START_TEST(no_ctty)
{
    static const char typed[] = "typed-into-the-worker-terminal\n";
    const char *argv[] = {"session", "tty", NULL};
    struct jobspec s;
    struct client c;

    for (size_t b = 0; b < 2; b++) {
        const char *args[] = {"--backend", all_backends[b], NULL};
        struct client_place place = {0};
        int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);

        ck_assert_int_ge(master, 0);
        ck_assert_int_eq(grantpt(master), 0);
        ck_assert_int_eq(unlockpt(master), 0);
        place.ctty = ptsname(master);
        ck_assert_ptr_nonnull(place.ctty);
        /* A line waiting in the terminal's input queue. */
        ck_assert_int_eq(write(master, typed, sizeof(typed) - 1), (ssize_t)sizeof(typed) - 1);
        job_init(&s, argv);
        ck_assert_int_eq(client_spawn_in(&c, fx.helper, fx.unpriv, args, &place), 0);
        ck_assert_int_eq(client_hello(&c), 0);
        /* The setup works: the helper has the pty as its controlling terminal. */
        ck_assert_msg(tty_nr(c.pid) != 0, "the helper has no controlling terminal");
        ck_assert_int_eq(client_send_job(&c, &s.job), 0);
        ck_assert_int_eq(client_collect(&c, NULL, NULL), 0);
        assert_exit_code(&c, 0);
        ck_assert_uint_eq(c.exit_msg.u.exit.backend,
                          b == 0 ? CPS_BACKEND_USERNS : CPS_BACKEND_BUBBLEWRAP);
        ck_assert_msg(strcmp((char *)c.out, "open /dev/tty: ENXIO\n") == 0, "%s: %s",
                      all_backends[b], c.out);
        finish(&c, 0);
        client_free(&c);
        close(master);
    }
}
END_TEST

int main(void)
{
    const struct it_case cases[] = {
        {"echo", echo},
        {"exit_code_stderr", exit_code_stderr},
        {"outputs", outputs},
        {"toolchain_unchanged", toolchain_unchanged},
        {"no_host_files", no_host_files},
        {"isolation", isolation},
        {"timeout_sleep", timeout_sleep},
        {"timeout_daemon", timeout_daemon},
        {"daemon_killed_at_exit", daemon_killed_at_exit},
        {"cancel", cancel},
        {"parent_eof", parent_eof},
        {"big_stdout", big_stdout},
        {"bad_relative_path", bad_relative_path},
        {"missing_toolchain", missing_toolchain},
        {"build_dir_not_clean", build_dir_not_clean},
        {"build_dir_missing", build_dir_missing},
        {"scratch_hides_leftovers", scratch_hides_leftovers},
        {"scratch_limit", scratch_limit},
        {"inputs_exceed_scratch", inputs_exceed_scratch},
        {"exec_enoent", exec_enoent},
        {"config_mismatch", config_mismatch},
        {"input_through_symlink", input_through_symlink},
        {"fd3_not_socket", fd3_not_socket},
        {"no_seccomp", no_seccomp},
        {"output_limit_streams", output_limit_streams},
        {"output_limit_files", output_limit_files},
        {"overlay_mode_refused", overlay_mode_refused},
        {"backend_refused", backend_refused},
        {"stop_signal", stop_signal},
        {"userns_refused", userns_refused},
        {"input_modes", input_modes},
        {"input_size_mismatch", input_size_mismatch},
        {"protocol_error_mid_job", protocol_error_mid_job},
        {"cpu_limit", cpu_limit},
        {"file_size_limit", file_size_limit},
        {"idle_eof", idle_eof},
        {"paths_below_job_mounts", paths_below_job_mounts},
        {"hello_features", hello_features},
        {"inside_ids", inside_ids},
        {"mount_paths", mount_paths},
        {"timeout_unread", timeout_unread},
        {"cancel_unread", cancel_unread},
        {"stop_signal_idle", stop_signal_idle},
        {"stop_signal_unread", stop_signal_unread},
        {"cancel_before_start", cancel_before_start},
        {"partial_frame", partial_frame},
        {"duplicate_paths", duplicate_paths},
        {"oversize_frame", oversize_frame},
        {"argv_max_text", argv_max_text},
        {"job_session", job_session},
        {"no_ctty", no_ctty},
    };
    const struct it_fixtures fixtures = {make_dir, remove_dir, setup, teardown};

    return it_main("helper", cases, sizeof(cases) / sizeof(cases[0]), &fixtures);
}
