/*
 * test_backends.c - integration tests of the sandbox backends (userns,
 * bubblewrap) and overlay modes (native, fuse, bind) with the real helper, the
 * busybox test toolchain and the raw-protocol client (client.h).
 *
 * Like test_helper.c, each case runs in the mode CPS_IT_MODE names (ctest
 * registers backends_<case>_root and backends_<case>_unpriv): as root, or as
 * uid 65534 through setpriv with the helper, the toolchain and the build dir
 * copied under a fresh world-traversable directory. fuse-overlayfs needs
 * /dev/fuse, which is mode 0600 on these hosts: the fuse cases run it as root
 * and check the documented refusal as uid 65534.
 *
 * After every job the fixture checks that the host's mount table has nothing
 * under the test's directory, that no process (fuse-overlayfs, bwrap, the job) mentions the test's
 * directory any more, that the job's PID namespace is empty and that the build
 * dir is clean.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
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

/* ---- fixture --------------------------------------------------------------- */

static void setup(void)
{
    it_sandbox_dirs_setup(&fx, CPS_TEST_HELPER, CPS_TEST_TOOLCHAIN);
}

/* A fuse-overlayfs serving this test's dir (other tests may run their own). */
static pid_t find_fuse(void)
{
    return find_process_with_args("fuse-overlayfs", fx.dir);
}

/* Nothing of a job may be left: mounts, processes (fuse-overlayfs and bwrap
 * name the test's dir in their arguments), scratch dirs. */
static void assert_clean(void)
{
    it_sandbox_dirs_assert_clean(&fx);
}

static void teardown(void)
{
    assert_clean();
}

/*
 * The test's directory is made and removed by unchecked fixtures, which run in
 * the runner process around the forked test: a failed assertion ends the
 * test's process before its checked teardown, and the directory must go anyway.
 */
static void make_dir(void)
{
    it_make_dir(fx.dir, sizeof(fx.dir), "/tmp/cps-bk-XXXXXX");
}

static void remove_dir(void)
{
    it_remove_dir(fx.dir);
}

/* ---- jobs ------------------------------------------------------------------ */

#define INPUT_PATH "/work/src/in.txt"
#define INPUT_LEN  200000

/*
 * The reference job: reads an input, writes outputs in the cwd's out/ dir and
 * in /results (an output dir of its own, outside the cwd), uses /tmp, and
 * prints what it sees of the root. Nothing it prints depends on the backend
 * or the mode, so every combination must give the same bytes.
 */
static char job_script[] =
    "set -e; mkdir -p out; sha256sum src/in.txt > out/sum; tr a-z A-Z < src/in.txt > "
    "out/upper.txt; cp src/in.txt /results/copy.bin; chmod 640 /results/copy.bin; echo tmp-ok > "
    "/tmp/t; cat /tmp/t; ls /; cat /etc/marker-toolchain; id -u; wc -c < out/upper.txt; "
    "echo to-stderr >&2";
static const char *job_outputs[] = {"/work/out/sum", "/work/out/upper.txt", "/results/copy.bin",
                                    "/work/out/missing"};

struct jobspec {
    struct cps_job job;
    struct cps_env_pair env[1];
    const char *argv[4];
    struct cps_input_decl input;
    uint8_t *data;
};

static void job_init(struct jobspec *s, uint32_t overlay)
{
    static char path_name[] = "PATH", path_value[] = "/bin:/usr/bin", cwd[] = "/work";

    memset(s, 0, sizeof(*s));
    s->argv[0] = "sh";
    s->argv[1] = "-c";
    s->argv[2] = job_script;
    s->job.toolchain = fx.toolchain;
    s->job.build_dir = fx.build;
    s->job.argv = s->argv;
    s->job.argc = 3;
    s->env[0].name = path_name;
    s->env[0].value = path_value;
    s->job.env = s->env;
    s->job.envc = 1;
    s->job.cwd = cwd;
    s->job.outputs = job_outputs;
    s->job.outputc = sizeof(job_outputs) / sizeof(job_outputs[0]);
    s->input.path = INPUT_PATH;
    s->input.mode = 0644;
    s->input.size = INPUT_LEN;
    s->job.inputs = &s->input;
    s->job.inputc = 1;
    s->job.overlay = overlay;
    s->data = malloc(INPUT_LEN);
    for (size_t i = 0; i < INPUT_LEN; i++)
        s->data[i] = (i % 61 == 60) ? '\n' : (uint8_t)('a' + (i * 7 + i / 997) % 26);
}

/* Spawn the helper with backend (NULL: its default) and run s until the end,
 * or until on_stdout returns false. */
static void run_until(struct client *c, struct jobspec *s, const char *backend,
                      bool (*on_stdout)(struct client *c, void *arg))
{
    const char *args[] = {"--backend", backend, NULL};

    ck_assert_int_eq(client_spawn(c, fx.helper, fx.unpriv, backend ? args : NULL), 0);
    ck_assert_msg(client_hello(c) == 0, "no hello: %s: %s", c->error.stage, c->error.message);
    ck_assert_int_eq(client_send_job(c, &s->job), 0);
    /* A job refused before its inputs were read ends the session early. */
    if (s->job.inputs == &s->input && s->job.inputc == 1 &&
        client_send_input(c, s->input.path, s->data, INPUT_LEN) != 0)
        fprintf(stderr, "input not sent: the helper stopped reading\n");
    ck_assert_int_eq(client_collect(c, on_stdout, NULL), 0);
}

static void run(struct client *c, struct jobspec *s, const char *backend)
{
    run_until(c, s, backend, NULL);
}

static void finish(struct client *c, int want_exit)
{
    close(c->sock);
    c->sock = -1;
    ck_assert_int_eq(client_wait(c), 0);
    ck_assert_msg(WIFEXITED(c->wait_status) && WEXITSTATUS(c->wait_status) == want_exit,
                  "helper wait status 0x%x, expected exit %d", c->wait_status, want_exit);
    ck_assert_msg(!client_pidns_alive(c), "a process outlived the job");
    assert_clean();
}

static void assert_ran(const struct client *c, uint32_t backend, uint32_t overlay)
{
    ck_assert_msg(c->have_exit, "no exit frame; error %s (errno %d): %s (hint: %s)", c->error.stage,
                  c->error.errnum, c->error.message, c->error.hint);
    ck_assert_msg(!c->exit_msg.u.exit.signaled && c->exit_msg.u.exit.code == 0,
                  "job failed (code %d); stderr: %s", c->exit_msg.u.exit.code,
                  c->err ? (char *)c->err : "");
    ck_assert_str_eq(cps__backend_name(c->exit_msg.u.exit.backend), cps__backend_name(backend));
    ck_assert_str_eq(cps__overlay_name(c->exit_msg.u.exit.overlay), cps__overlay_name(overlay));
}

static void assert_error(const struct client *c, const char *stage, int errnum, const char *text)
{
    ck_assert_msg(c->have_error, "no error frame (exit frame: %d)", c->have_exit);
    ck_assert_msg(strcmp(c->error.stage, stage) == 0 && c->error.errnum == errnum,
                  "error %s errno %d (%s), expected %s errno %d", c->error.stage, c->error.errnum,
                  c->error.message, stage, errnum);
    ck_assert_msg(text == NULL || strstr(c->error.message, text) != NULL,
                  "\"%s\" not in the message: %s", text, c->error.message);
    ck_assert_msg(c->error.hint[0] != '\0', "no hint for: %s", c->error.message);
}

/* What every combination must produce, byte for byte. */
struct result {
    char *out, *err;
    struct client_output outs[4];
};

static void keep(struct result *r, const struct client *c)
{
    r->out = strdup(c->out ? (char *)c->out : "");
    r->err = strdup(c->err ? (char *)c->err : "");
    ck_assert_uint_eq(c->outputc, 4);
    for (size_t i = 0; i < 4; i++) {
        r->outs[i] = c->outputs[i];
        r->outs[i].path = strdup(c->outputs[i].path);
        r->outs[i].data = malloc(c->outputs[i].len + 1);
        if (c->outputs[i].len > 0)
            memcpy(r->outs[i].data, c->outputs[i].data, c->outputs[i].len);
    }
}

static void assert_same(const struct result *ref, const struct client *c, const char *what)
{
    ck_assert_msg(strcmp(ref->out, c->out ? (char *)c->out : "") == 0,
                  "%s: stdout differs:\n%s\nreference:\n%s", what, c->out, ref->out);
    ck_assert_msg(strcmp(ref->err, c->err ? (char *)c->err : "") == 0, "%s: stderr differs", what);
    ck_assert_uint_eq(c->outputc, 4);
    for (size_t i = 0; i < 4; i++) {
        const struct client_output *o = &c->outputs[i], *w = &ref->outs[i];

        ck_assert_str_eq(o->path, w->path);
        ck_assert_msg(o->missing == w->missing && o->mode == w->mode && o->len == w->len &&
                          (o->len == 0 || memcmp(o->data, w->data, o->len) == 0),
                      "%s: output %s differs (mode %o/%o, %zu/%zu bytes)", what, o->path, o->mode,
                      w->mode, o->len, w->len);
    }
}

/* The reference run's own facts, independent of any mode. */
static void assert_reference(const struct client *c, const struct jobspec *s)
{
    char want[512];
    const struct client_output *o;

    snprintf(want, sizeof(want),
             "tmp-ok\nbin\ndev\netc\nproc\nresults\ntmp\nusr\nwork\ncachepot test toolchain\n%d\n"
             "%d\n",
             fx.unpriv ? 65534 : 0, INPUT_LEN);
    ck_assert_str_eq((char *)c->out, want);
    ck_assert_str_eq((char *)c->err, "to-stderr\n");
    o = client_output(c, "/results/copy.bin");
    ck_assert(o != NULL && !o->missing && o->len == INPUT_LEN && o->mode == 0640);
    ck_assert(memcmp(o->data, s->data, INPUT_LEN) == 0);
    o = client_output(c, "/work/out/sum");
    ck_assert(o != NULL && !o->missing && o->len == 64 + 2 + strlen("src/in.txt") + 1);
    ck_assert(client_output(c, "/work/out/missing")->missing);
}

static void free_result(struct result *r)
{
    free(r->out);
    free(r->err);
    for (size_t i = 0; i < 4; i++) {
        free(r->outs[i].path);
        free(r->outs[i].data);
    }
}

/* ---- cases ----------------------------------------------------------------- */

/* Every backend x mode the host allows: the same stdout, stderr and outputs. */
START_TEST(identical_outputs)
{
    static const struct {
        uint32_t backend, overlay;
        bool needs_fuse;
    } combos[] = {
        {CPS_BACKEND_USERNS, CPS_OVERLAY_NATIVE, false},
        {CPS_BACKEND_USERNS, CPS_OVERLAY_FUSE, true},
        {CPS_BACKEND_USERNS, CPS_OVERLAY_BIND, false},
        {CPS_BACKEND_BUBBLEWRAP, CPS_OVERLAY_NATIVE, false},
        {CPS_BACKEND_BUBBLEWRAP, CPS_OVERLAY_FUSE, true},
        {CPS_BACKEND_BUBBLEWRAP, CPS_OVERLAY_BIND, false},
    };
    struct result ref = {0};
    size_t ran = 0;

    for (size_t i = 0; i < sizeof(combos) / sizeof(combos[0]); i++) {
        const char *backend = cps__backend_name(combos[i].backend);
        char what[64];
        struct jobspec s;
        struct client c;

        if (combos[i].needs_fuse && fx.unpriv)
            continue; /* /dev/fuse is 0600: fuse_forced checks the refusal */
        snprintf(what, sizeof(what), "%s/%s", backend, cps__overlay_name(combos[i].overlay));
        job_init(&s, combos[i].overlay);
        run(&c, &s, backend);
        assert_ran(&c, combos[i].backend, combos[i].overlay);
        if (ran++ == 0) {
            assert_reference(&c, &s);
            keep(&ref, &c);
        } else {
            assert_same(&ref, &c, what);
        }
        finish(&c, 0);
        client_free(&c);
        free(s.data);
    }
    ck_assert_uint_eq(ran, fx.unpriv ? 4 : 6);
    free_result(&ref);
}
END_TEST

/* fuse forced: works as root; as 65534 the documented refusal. */
START_TEST(fuse_forced)
{
    struct jobspec s;
    struct client c;

    job_init(&s, CPS_OVERLAY_FUSE);
    run(&c, &s, NULL);
    ck_assert_uint_eq(!!(c.hello.overlay_modes & CPS_OVERLAY_FUSE), !fx.unpriv);
    if (fx.unpriv) {
        assert_error(&c, "overlay", EACCES, "/dev/fuse is mode 0600");
        ck_assert_msg(strstr(c.error.hint, "native or bind") != NULL, "%s", c.error.hint);
        finish(&c, 1);
    } else {
        assert_ran(&c, CPS_BACKEND_USERNS, CPS_OVERLAY_FUSE);
        finish(&c, 0);
    }
    client_free(&c);
    free(s.data);
}
END_TEST

/* auto takes native when it works. */
START_TEST(auto_native)
{
    struct jobspec s;
    struct client c;

    job_init(&s, CPS_OVERLAY_AUTO);
    run(&c, &s, NULL);
    assert_ran(&c, CPS_BACKEND_USERNS, CPS_OVERLAY_NATIVE);
    assert_reference(&c, &s);
    finish(&c, 0);
    client_free(&c);
    free(s.data);
}
END_TEST

/* The test hook makes native's mount fail: auto goes on to fuse (root) or
 * bind (65534, whose fuse check fails), and the job still gives the same
 * result; with fuse refused too, bind. */
static void auto_with_hook(const char *refuse, const char *backend, uint32_t want_backend,
                           uint32_t want)
{
    struct jobspec s;
    struct client c;

    ck_assert_int_eq(setenv("CACHEPOT_TEST_FAIL_OVERLAY", refuse, 1), 0);
    job_init(&s, CPS_OVERLAY_AUTO);
    run(&c, &s, backend);
    unsetenv("CACHEPOT_TEST_FAIL_OVERLAY");
    assert_ran(&c, want_backend, want);
    assert_reference(&c, &s);
    finish(&c, 0);
    client_free(&c);
    free(s.data);
}

START_TEST(auto_native_refused)
{
    auto_with_hook("native", NULL, CPS_BACKEND_USERNS,
                   fx.unpriv ? CPS_OVERLAY_BIND : CPS_OVERLAY_FUSE);
}
END_TEST

START_TEST(auto_native_fuse_refused)
{
    auto_with_hook("native,fuse", NULL, CPS_BACKEND_USERNS, CPS_OVERLAY_BIND);
}
END_TEST

START_TEST(auto_refused_bubblewrap)
{
    auto_with_hook("native", "bubblewrap", CPS_BACKEND_BUBBLEWRAP,
                   fx.unpriv ? CPS_OVERLAY_BIND : CPS_OVERLAY_FUSE);
}
END_TEST

/* Forcing a mode the host refuses: its error, not a fallback. */
START_TEST(forced_native_refused)
{
    struct jobspec s;
    struct client c;

    ck_assert_int_eq(setenv("CACHEPOT_TEST_FAIL_OVERLAY", "native", 1), 0);
    job_init(&s, CPS_OVERLAY_NATIVE);
    run(&c, &s, NULL);
    assert_error(&c, "overlay", EPERM, "refused by the test hook");
    finish(&c, 1);
    client_free(&c);
    free(s.data);
}
END_TEST

/* A toolchain path with ',' cannot be carried in overlayfs or fuse-overlayfs
 * options: native and fuse are refused before anything is created, auto
 * takes bind, and forced native says why. */
START_TEST(comma_in_toolchain_path)
{
    char tc[4200], cmd[8600];
    struct jobspec s;
    struct client c;

    snprintf(tc, sizeof(tc), "%s/tool,chain", fx.dir);
    snprintf(cmd, sizeof(cmd), "mv %s '%s'", fx.toolchain, tc);
    it_sh(cmd);
    job_init(&s, CPS_OVERLAY_AUTO);
    s.job.toolchain = tc;
    run(&c, &s, NULL);
    assert_ran(&c, CPS_BACKEND_USERNS, CPS_OVERLAY_BIND);
    assert_reference(&c, &s);
    finish(&c, 0);
    client_free(&c);
    free(s.data);

    job_init(&s, CPS_OVERLAY_NATIVE);
    s.job.toolchain = tc;
    run(&c, &s, NULL);
    assert_error(&c, "overlay", EINVAL, "contains ','");
    finish(&c, 1);
    client_free(&c);
    free(s.data);
}
END_TEST

/* fuse-overlayfs missing: an explicit override that is not there, and a PATH
 * without it. auto then still runs (native). */
START_TEST(fuse_binary_missing)
{
    struct jobspec s;
    struct client c;

    ck_assert_int_eq(setenv("CACHEPOT_FUSE_OVERLAYFS", "/nonexistent/fuse-overlayfs", 1), 0);
    job_init(&s, CPS_OVERLAY_FUSE);
    run(&c, &s, NULL);
    assert_error(&c, "overlay", ENOENT, "CACHEPOT_FUSE_OVERLAYFS=/nonexistent/fuse-overlayfs");
    finish(&c, 1);
    client_free(&c);
    free(s.data);

    job_init(&s, CPS_OVERLAY_AUTO);
    run(&c, &s, NULL);
    assert_ran(&c, CPS_BACKEND_USERNS, CPS_OVERLAY_NATIVE);
    finish(&c, 0);
    client_free(&c);
    free(s.data);
    unsetenv("CACHEPOT_FUSE_OVERLAYFS");

    ck_assert_int_eq(setenv("PATH", "/nonexistent", 1), 0);
    job_init(&s, CPS_OVERLAY_FUSE);
    run(&c, &s, NULL);
    assert_error(&c, "overlay", ENOENT, "no executable fuse-overlayfs in PATH (/nonexistent)");
    finish(&c, 1);
    client_free(&c);
    free(s.data);
}
END_TEST

/* bind mode: inputs must go where the job may write; the rest is read-only. */
START_TEST(bind_rules)
{
    struct cps_input_decl in = {.path = "/elsewhere/in.txt", .mode = 0644, .size = 1};
    char cwd[] = "/usr/work";
    struct jobspec s;
    struct client c;

    job_init(&s, CPS_OVERLAY_BIND);
    s.job.inputs = &in;
    run(&c, &s, NULL);
    assert_error(&c, "overlay", EROFS, "input /elsewhere/in.txt is outside the writable dirs");
    ck_assert_msg(strstr(c.error.hint, "cwd") != NULL, "%s", c.error.hint);
    finish(&c, 1);
    client_free(&c);
    free(s.data);

    /* /usr is the toolchain's: no writable dir can be made below it. */
    job_init(&s, CPS_OVERLAY_BIND);
    s.job.cwd = cwd;
    s.job.inputc = 0;
    run(&c, &s, NULL);
    assert_error(&c, "overlay", EROFS, "inside /usr");
    finish(&c, 1);
    client_free(&c);
    free(s.data);
}
END_TEST

START_TEST(bind_read_only_root)
{
    char script[] = "echo x > /bin/new && echo WROTE-BIN; echo x > /new && echo WROTE-ROOT; "
                    "mkdir /etc/d && echo WROTE-ETC; echo y > /work/ok && echo y > /tmp/ok && "
                    "echo WROTE-WORK";
    struct jobspec s;
    struct client c;

    job_init(&s, CPS_OVERLAY_BIND);
    s.argv[2] = script;
    s.job.inputc = 0;
    run(&c, &s, NULL);
    ck_assert(c.have_exit);
    ck_assert_str_eq((char *)c.out, "WROTE-WORK\n");
    ck_assert_msg(strstr((char *)c.err, "Read-only file system") != NULL, "%s", c.err);
    finish(&c, 0);
    client_free(&c);
    free(s.data);
}
END_TEST

/* A fake bwrap that prints an old version; and no bwrap at all. */
START_TEST(bwrap_refused)
{
    char fake[4200], cmd[8600];
    struct jobspec s;
    struct client c;

    snprintf(fake, sizeof(fake), "%s/bwrap-0.2.0", fx.dir);
    snprintf(cmd, sizeof(cmd), "printf '#!/bin/sh\\necho bubblewrap 0.2.0\\n' > %s && chmod 755 %s",
             fake, fake);
    it_sh(cmd);
    ck_assert_int_eq(setenv("CACHEPOT_BWRAP", fake, 1), 0);
    job_init(&s, CPS_OVERLAY_AUTO);
    run(&c, &s, "bubblewrap");
    ck_assert_uint_eq(c.hello.backend, CPS_BACKEND_BUBBLEWRAP);
    ck_assert(!(c.hello.backends & CPS_BACKEND_BUBBLEWRAP));
    assert_error(&c, "bubblewrap", ENOTSUP, "bubblewrap 0.2.0");
    ck_assert_msg(strstr(c.error.message, fake) != NULL, "%s", c.error.message);
    finish(&c, 1);
    client_free(&c);
    free(s.data);

    ck_assert_int_eq(setenv("CACHEPOT_BWRAP", "/nonexistent/bwrap", 1), 0);
    job_init(&s, CPS_OVERLAY_AUTO);
    run(&c, &s, "bubblewrap");
    ck_assert(!(c.hello.backends & CPS_BACKEND_BUBBLEWRAP));
    assert_error(&c, "bubblewrap", ENOENT, "CACHEPOT_BWRAP=/nonexistent/bwrap");
    finish(&c, 1);
    client_free(&c);
    free(s.data);
    unsetenv("CACHEPOT_BWRAP");
}
END_TEST

/* What the job sees under bubblewrap: no capabilities, no_new_privs, the
 * helper's seccomp filter (handed to bwrap with --seccomp), only lo, only its
 * own processes, only fds 0-2 (bwrap keeps none of its own open). */
START_TEST(bwrap_isolation)
{
    const char *zero = "0000000000000000";
    const char *argv[] = {"/bin/probe", NULL};
    struct jobspec s;
    struct client c;
    char want[128];
    const char *out;

    job_init(&s, CPS_OVERLAY_AUTO);
    s.job.argv = argv;
    s.job.argc = 1;
    s.job.inputc = 0;
    run(&c, &s, "bubblewrap");
    assert_ran(&c, CPS_BACKEND_BUBBLEWRAP, CPS_OVERLAY_NATIVE);
    out = (const char *)c.out;
    for (const char *const *k =
             (const char *const[]){"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", NULL};
         *k != NULL; k++) {
        snprintf(want, sizeof(want), "status: %s:\t%s\n", *k, zero);
        ck_assert_msg(strstr(out, want) != NULL, "%s not zero in:\n%s", *k, out);
    }
    ck_assert_msg(strstr(out, "status: NoNewPrivs:\t1\n") != NULL, "%s", out);
    ck_assert_msg(strstr(out, "status: Seccomp:\t2\n") != NULL, "%s", out);
    ck_assert_msg(strstr(out, "iface: lo\n") != NULL &&
                      strstr(out, "iface:") == strstr(out, "iface: lo\n") &&
                      strstr(strstr(out, "iface: lo\n") + 1, "iface:") == NULL,
                  "%s", out);
    ck_assert_msg(strstr(out, "fd: 0\nfd: 1\nfd: 2\nuid") != NULL, "fds:\n%s", out);
    snprintf(want, sizeof(want), "uid: %u gid: %u\n", fx.unpriv ? 65534 : 0, fx.unpriv ? 65534 : 0);
    ck_assert_msg(strstr(out, want) != NULL, "%s", out);
    ck_assert_msg(strstr(out, "hostname: cachepot-sandbox\n") != NULL, "%s", out);
    finish(&c, 0);
    client_free(&c);
    free(s.data);
}
END_TEST

/* CACHEPOT_SANDBOX selects the backend; an unknown value lists the valid ones. */
START_TEST(sandbox_env)
{
    const char *argv[] = {fx.helper, NULL};
    posix_spawn_file_actions_t fa;
    char path[4200], *text;
    struct jobspec s;
    struct client c;
    pid_t pid;
    int st;

    ck_assert_int_eq(setenv("CACHEPOT_SANDBOX", "bubblewrap", 1), 0);
    job_init(&s, CPS_OVERLAY_AUTO);
    run(&c, &s, NULL);
    ck_assert_uint_eq(c.hello.backend, CPS_BACKEND_BUBBLEWRAP);
    assert_ran(&c, CPS_BACKEND_BUBBLEWRAP, CPS_OVERLAY_NATIVE);
    finish(&c, 0);
    client_free(&c);
    free(s.data);

    ck_assert_int_eq(setenv("CACHEPOT_SANDBOX", "lxc", 1), 0);
    snprintf(path, sizeof(path), "%s/stderr", fx.dir);
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 2, path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ck_assert_int_eq(
        posix_spawn(&pid, fx.helper, &fa, NULL, (char *const *)(uintptr_t)argv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    unsetenv("CACHEPOT_SANDBOX");
    ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 2);
    text = it_read_file(path, NULL);
    ck_assert_msg(strstr(text, "\"lxc\"") != NULL && strstr(text, "userns, bubblewrap") != NULL,
                  "%s", text);
    free(text);
}
END_TEST

/* The bubblewrap backend: a missing compiler is an exec error as with userns;
 * the timeout and a daemon left behind end with nothing running. */
START_TEST(bwrap_exec_and_timeout)
{
    char marker[96], script[256];
    struct jobspec s;
    struct client c;

    job_init(&s, CPS_OVERLAY_AUTO);
    s.argv[0] = "no-such-compiler";
    s.argv[1] = NULL;
    s.job.argc = 1;
    run(&c, &s, "bubblewrap");
    ck_assert(c.have_error && strcmp(c.error.stage, "exec") == 0);
    ck_assert_int_eq(c.error.errnum, ENOENT);
    ck_assert_msg(strstr(c.error.message, "/bin/no-such-compiler") != NULL &&
                      strstr(c.error.message, "/usr/bin/no-such-compiler") != NULL,
                  "%s", c.error.message);
    finish(&c, 1);
    client_free(&c);
    free(s.data);

    snprintf(marker, sizeof(marker), "cps-bk-daemon-%d", (int)getpid());
    snprintf(script, sizeof(script), "daemonize %s exit; exec sleep 1000", marker);
    job_init(&s, CPS_OVERLAY_AUTO);
    s.argv[2] = script;
    s.job.limits.timeout_ms = 1000;
    run(&c, &s, "bubblewrap");
    ck_assert(c.have_exit && c.exit_msg.u.exit.timed_out);
    ck_assert_str_eq(c.exit_msg.u.exit.limit, "timeout");
    finish(&c, 0);
    ck_assert_int_eq(find_process_with_arg(marker), 0);
    client_free(&c);
    free(s.data);
}
END_TEST

/* fuse-overlayfs serves the root while O collects the outputs and is gone
 * afterwards, also when the job is killed by its timeout (root only). */
START_TEST(fuse_timeout_cleanup)
{
    char script[] = "echo started; exec sleep 1000";
    struct jobspec s;
    struct client c;

    ck_assert_msg(!fx.unpriv, "registered for root only: /dev/fuse is mode 0600");
    job_init(&s, CPS_OVERLAY_FUSE);
    s.argv[2] = script;
    s.job.limits.timeout_ms = 500;
    run(&c, &s, NULL);
    ck_assert(c.have_exit && c.exit_msg.u.exit.timed_out);
    ck_assert_uint_eq(c.exit_msg.u.exit.overlay, CPS_OVERLAY_FUSE);
    finish(&c, 0);
    client_free(&c);
    free(s.data);
}
END_TEST

static bool stop_reading(struct client *c, void *arg)
{
    (void)c;
    (void)arg;
    return false;
}

/* The worker goes away mid-job (EOF on fd 3), or the helper gets its stop
 * signal: the helper still unmounts and reaps fuse-overlayfs (root only). */
START_TEST(fuse_peer_gone_cleanup)
{
    char script[] = "echo started; exec sleep 1000";
    struct jobspec s;
    struct client c;

    ck_assert_msg(!fx.unpriv, "registered for root only: /dev/fuse is mode 0600");
    for (int round = 0; round < 2; round++) {
        job_init(&s, CPS_OVERLAY_FUSE);
        s.argv[2] = script;
        s.job.inputc = 0;
        run_until(&c, &s, NULL, stop_reading);
        ck_assert_str_eq((char *)c.out, "started\n");
        ck_assert_int_ne(find_fuse(), 0);
        if (round == 1)
            ck_assert_int_eq(kill(c.pid, SIGTERM), 0);
        finish(&c, 3);
        client_free(&c);
        free(s.data);
    }
}
END_TEST

/* SIGKILL leaves the helper no chance to clean up: fuse-overlayfs still dies
 * with it (PR_SET_PDEATHSIG) and its mount with the last process of the
 * helper's mount namespace; only the scratch dirs stay (root only). */
START_TEST(fuse_helper_killed)
{
    char script[] = "echo started; exec sleep 1000", cmd[1024];
    struct jobspec s;
    struct client c;
    pid_t left = 1;

    ck_assert_msg(!fx.unpriv, "registered for root only: /dev/fuse is mode 0600");
    job_init(&s, CPS_OVERLAY_FUSE);
    s.argv[2] = script;
    s.job.inputc = 0;
    run_until(&c, &s, NULL, stop_reading);
    ck_assert_int_ne(find_fuse(), 0);
    ck_assert_int_eq(kill(c.pid, SIGKILL), 0);
    ck_assert_int_eq(client_wait(&c), 0);
    /* The death signal is delivered asynchronously: wait for it to land. */
    for (int i = 0; i < 1000 && left != 0; i++) {
        left = find_fuse();
        if (left != 0)
            usleep(10000);
    }
    ck_assert_msg(left == 0, "fuse-overlayfs (%d) outlived the killed helper", (int)left);
    snprintf(cmd, sizeof(cmd), "rm -rf %s/upper %s/work %s/target", fx.build, fx.build, fx.build);
    it_sh(cmd);
    client_free(&c);
    free(s.data);
}
END_TEST

/*
 * Outputs that cannot exist in the job's view (issue 12, item 15): below a
 * toolchain symlink (never followed), at a symlink, below a toolchain file,
 * in /proc, a directory the job made, and (uid 65534) a toolchain file the
 * sandbox may not read. Their directories cannot be made or are not needed;
 * the job still runs, each is "missing" and the job's real output comes
 * back. Every backend x mode the host allows.
 */
START_TEST(unmakeable_output_dirs)
{
    static const uint32_t combos[][2] = {
        {CPS_BACKEND_USERNS, CPS_OVERLAY_NATIVE},   {CPS_BACKEND_USERNS, CPS_OVERLAY_FUSE},
        {CPS_BACKEND_USERNS, CPS_OVERLAY_BIND},     {CPS_BACKEND_BUBBLEWRAP, CPS_OVERLAY_NATIVE},
        {CPS_BACKEND_BUBBLEWRAP, CPS_OVERLAY_FUSE}, {CPS_BACKEND_BUBBLEWRAP, CPS_OVERLAY_BIND},
    };
    const char *outs[] = {"/tlink/sub/a.o",    "/tlink/a.o",    "/etc/marker-toolchain/a.o",
                          "/proc/self/status", "/work/out/dir", "/work/out/ok",
                          "/etc/unreadable"};
    /* As root the helper's capabilities read a mode-000 file: only 65534
     * asks for it. */
    size_t n = fx.unpriv ? 7 : 6, ran = 0;
    char path[512];

    snprintf(path, sizeof(path), "%s/tlink", fx.toolchain);
    ck_assert_int_eq(symlink("etc", path), 0);
    snprintf(path, sizeof(path), "%s/etc/unreadable", fx.toolchain);
    ck_assert_int_eq(close(open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0)), 0);
    for (size_t i = 0; i < sizeof(combos) / sizeof(combos[0]); i++) {
        const char *backend = cps__backend_name(combos[i][0]);
        const struct client_output *o;
        struct jobspec s;
        struct client c;

        if (combos[i][1] == CPS_OVERLAY_FUSE && fx.unpriv)
            continue; /* /dev/fuse is 0600: fuse_forced checks the refusal */
        job_init(&s, combos[i][1]);
        s.argv[2] = "mkdir -p out/dir && echo ok > out/ok";
        s.job.inputc = 0;
        s.job.outputs = outs;
        s.job.outputc = n;
        run(&c, &s, backend);
        assert_ran(&c, combos[i][0], combos[i][1]);
        ck_assert_uint_eq(c.outputc, n);
        for (size_t k = 0; k < n; k++) {
            o = client_output(&c, outs[k]);
            ck_assert_msg(o != NULL, "%s/%s: no frame for %s", backend,
                          cps__overlay_name(combos[i][1]), outs[k]);
            if (strcmp(outs[k], "/work/out/ok") == 0)
                ck_assert(!o->missing && o->len == 3 && memcmp(o->data, "ok\n", 3) == 0);
            else
                ck_assert_msg(o->missing, "%s/%s: %s is not missing", backend,
                              cps__overlay_name(combos[i][1]), outs[k]);
        }
        finish(&c, 0);
        client_free(&c);
        free(s.data);
        ran++;
    }
    ck_assert_uint_eq(ran, fx.unpriv ? 4 : 6);
}
END_TEST

static bool kill_fuse_when_ready(struct client *c, void *arg)
{
    bool *done = arg;
    pid_t fuse;

    if (*done || c->out == NULL || strstr((char *)c->out, "ready") == NULL)
        return true;
    fuse = find_fuse();
    ck_assert_int_ne(fuse, 0);
    ck_assert_int_eq(kill(fuse, SIGKILL), 0);
    *done = true;
    return true;
}

/*
 * A fault of the worker while the outputs are read is an error, not a
 * "missing" output (issue 12, item 16): fuse-overlayfs dies mid-job (killed
 * here), every access to the root then fails with ENOTCONN, and the helper
 * answers error stage "outputs" naming the output. The job waits for the
 * death itself: it truncates a file until that fails (an open with O_TRUNC
 * always asks the daemon; a stat may be answered from the kernel's cache),
 * so nothing depends on timing. Root only: /dev/fuse is mode 0600.
 */
START_TEST(fuse_gone_outputs_error)
{
    char script[] = "echo x > marker; echo ready; while : > marker; do :; done; exit 0";
    const char *outs[] = {"/work/marker"};
    bool killed = false;
    struct jobspec s;
    struct client c;

    ck_assert_msg(!fx.unpriv, "registered for root only: /dev/fuse is mode 0600");
    job_init(&s, CPS_OVERLAY_FUSE);
    s.argv[2] = script;
    s.job.inputc = 0;
    s.job.outputs = outs;
    s.job.outputc = 1;
    ck_assert_int_eq(client_spawn(&c, fx.helper, false, NULL), 0);
    ck_assert_int_eq(client_hello(&c), 0);
    ck_assert_int_eq(client_send_job(&c, &s.job), 0);
    ck_assert_int_eq(client_collect(&c, kill_fuse_when_ready, &killed), 0);
    ck_assert(killed);
    ck_assert_msg(c.have_error, "no error frame; outputs: %zu, first missing: %d", c.outputc,
                  c.outputc > 0 && c.outputs[0].missing);
    ck_assert_msg(strcmp(c.error.stage, "outputs") == 0 && c.error.errnum == ENOTCONN,
                  "error %s errno %d: %s", c.error.stage, c.error.errnum, c.error.message);
    ck_assert_msg(strstr(c.error.message, "/work/marker") != NULL, "%s", c.error.message);
    ck_assert_uint_eq(c.outputc, 0);
    finish(&c, 1);
    client_free(&c);
    free(s.data);
}
END_TEST

/*
 * Every limit key at 2^64-1 (issue 12, item 17), one key per job, under every
 * backend x mode: the job runs. Values the kernel cannot take (pids.max
 * above PID_MAX_LIMIT, bwrap's --size above 2^63-1) are clamped to the
 * documented maxima, which mean the same to the kernel.
 */
START_TEST(limits_at_max)
{
    static const uint32_t combos[][2] = {
        {CPS_BACKEND_USERNS, CPS_OVERLAY_NATIVE},   {CPS_BACKEND_USERNS, CPS_OVERLAY_FUSE},
        {CPS_BACKEND_USERNS, CPS_OVERLAY_BIND},     {CPS_BACKEND_BUBBLEWRAP, CPS_OVERLAY_NATIVE},
        {CPS_BACKEND_BUBBLEWRAP, CPS_OVERLAY_FUSE}, {CPS_BACKEND_BUBBLEWRAP, CPS_OVERLAY_BIND},
    };
#define KEY(k)                                                                                     \
    {                                                                                              \
#k, offsetof(struct cps_job_limits, k)                                                     \
    }
    static const struct {
        const char *name;
        size_t offset;
    } keys[] = {KEY(timeout_ms),    KEY(max_output_bytes), KEY(cpu_seconds),
                KEY(address_space), KEY(file_size),        KEY(open_files),
                KEY(processes),     KEY(tmp_bytes),        KEY(scratch_bytes)};
#undef KEY
    size_t ran = 0;

    for (size_t i = 0; i < sizeof(combos) / sizeof(combos[0]); i++) {
        const char *backend = cps__backend_name(combos[i][0]);

        if (combos[i][1] == CPS_OVERLAY_FUSE && fx.unpriv)
            continue; /* /dev/fuse is 0600: fuse_forced checks the refusal */
        for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
            uint64_t *limit;
            struct jobspec s;
            struct client c;

            job_init(&s, combos[i][1]);
            s.argv[2] = "echo ok";
            s.job.inputc = 0;
            s.job.outputc = 0;
            limit = (uint64_t *)(void *)((char *)&s.job.limits + keys[k].offset);
            *limit = UINT64_MAX;
            run(&c, &s, backend);
            ck_assert_msg(c.have_exit, "%s/%s, %s = 2^64-1: error %s (errno %d): %s", backend,
                          cps__overlay_name(combos[i][1]), keys[k].name, c.error.stage,
                          c.error.errnum, c.error.message);
            assert_ran(&c, combos[i][0], combos[i][1]);
            ck_assert_str_eq((char *)c.out, "ok\n");
            finish(&c, 0);
            client_free(&c);
            free(s.data);
            ran++;
        }
    }
    ck_assert_uint_eq(ran, (fx.unpriv ? 4 : 6) * sizeof(keys) / sizeof(keys[0]));
}
END_TEST

/* A helper that maps itself to another uid inside (--uid/--gid), under every
 * backend x mode. O keeps its capabilities in its user namespace, but
 * fuse-overlayfs and bwrap, exec'd by a non-zero uid, lose them: fuse-overlayfs
 * gets them back as ambient capabilities, bwrap runs unprivileged as designed. */
START_TEST(other_uid)
{
    static const uint32_t combos[][2] = {
        {CPS_BACKEND_USERNS, CPS_OVERLAY_NATIVE},   {CPS_BACKEND_USERNS, CPS_OVERLAY_FUSE},
        {CPS_BACKEND_USERNS, CPS_OVERLAY_BIND},     {CPS_BACKEND_BUBBLEWRAP, CPS_OVERLAY_NATIVE},
        {CPS_BACKEND_BUBBLEWRAP, CPS_OVERLAY_FUSE}, {CPS_BACKEND_BUBBLEWRAP, CPS_OVERLAY_BIND},
    };

    for (size_t i = 0; i < sizeof(combos) / sizeof(combos[0]); i++) {
        const char *args[] = {
            "--uid", "1000", "--gid", "1000", "--backend", cps__backend_name(combos[i][0]), NULL};
        struct jobspec s;
        struct client c;

        if (combos[i][1] == CPS_OVERLAY_FUSE && fx.unpriv)
            continue; /* /dev/fuse is 0600: fuse_forced checks the refusal */
        job_init(&s, combos[i][1]);
        s.argv[2] = "id -u; id -g; echo x > out.txt; cat out.txt";
        s.job.inputc = 0;
        ck_assert_int_eq(client_spawn(&c, fx.helper, fx.unpriv, args), 0);
        ck_assert_int_eq(client_hello(&c), 0);
        ck_assert_int_eq(client_send_job(&c, &s.job), 0);
        ck_assert_int_eq(client_collect(&c, NULL, NULL), 0);
        assert_ran(&c, combos[i][0], combos[i][1]);
        ck_assert_str_eq((char *)c.out, "1000\n1000\nx\n");
        finish(&c, 0);
        client_free(&c);
        free(s.data);
    }
}
END_TEST

/* `--check --json` parses and agrees with what the runs found. */
START_TEST(check_json_agrees)
{
    char json[4200], flat[4200], cmd[16384], want[512];
    char *text;
    struct jobspec s;
    struct client c;

    snprintf(json, sizeof(json), "%s/check.json", fx.dir);
    snprintf(flat, sizeof(flat), "%s/check.txt", fx.dir);
    snprintf(cmd, sizeof(cmd), "%s %s --check --json > %s; test $? -le 1",
             fx.unpriv && geteuid() == 0 ? "setpriv --reuid=65534 --regid=65534 --clear-groups"
                                         : "",
             fx.helper, json);
    it_sh(cmd);
    snprintf(cmd, sizeof(cmd),
             "/usr/bin/python3 -c 'import json,sys\n"
             "d = json.load(open(sys.argv[1]))\n"
             "for k in d[\"combinations\"]:\n"
             "    print(k[\"backend\"], k[\"overlay\"], k[\"works\"])\n"
             "print(\"fuse\", d[\"probes\"][\"fuse\"][\"status\"])\n"
             "print(\"bwrap\", d[\"probes\"][\"bwrap\"][\"status\"])\n"
             "print(\"usable\", d[\"usable\"])' %s > %s",
             json, flat);
    it_sh(cmd);
    text = it_read_file(flat, NULL);
    snprintf(want, sizeof(want),
             "userns native True\nuserns fuse %s\nuserns bind True\nbubblewrap native True\n"
             "bubblewrap fuse %s\nbubblewrap bind True\nfuse %s\nbwrap ok\nusable True\n",
             fx.unpriv ? "False" : "True", fx.unpriv ? "False" : "True",
             fx.unpriv ? "failed" : "ok");
    ck_assert_str_eq(text, want);
    free(text);

    /* The runs: what --check says works does. */
    job_init(&s, CPS_OVERLAY_NATIVE);
    run(&c, &s, "bubblewrap");
    assert_ran(&c, CPS_BACKEND_BUBBLEWRAP, CPS_OVERLAY_NATIVE);
    ck_assert(c.hello.backends & CPS_BACKEND_BUBBLEWRAP);
    ck_assert_uint_eq(!!(c.hello.overlay_modes & CPS_OVERLAY_FUSE), !fx.unpriv);
    finish(&c, 0);
    client_free(&c);
    free(s.data);
}
END_TEST

/* ---- bounds (issue 12) ------------------------------------------------------ */

/* Every backend x overlay mode this host runs for the test's uid. */
static const struct combo {
    uint32_t backend, overlay;
} all_combos[] = {
    {CPS_BACKEND_USERNS, CPS_OVERLAY_NATIVE},   {CPS_BACKEND_USERNS, CPS_OVERLAY_FUSE},
    {CPS_BACKEND_USERNS, CPS_OVERLAY_BIND},     {CPS_BACKEND_BUBBLEWRAP, CPS_OVERLAY_NATIVE},
    {CPS_BACKEND_BUBBLEWRAP, CPS_OVERLAY_FUSE}, {CPS_BACKEND_BUBBLEWRAP, CPS_OVERLAY_BIND},
};

/*
 * Run script (sh -c) in every combination with the given outputs (their
 * parents are bind mode's writable dirs) and limits; check(c, what) judges
 * each run. Returns how many combinations ran.
 */
static size_t run_everywhere(const char *script, const char **outputs, size_t outputc,
                             uint64_t scratch_bytes, uint64_t tmp_bytes,
                             void (*check)(const struct client *c, const char *what))
{
    size_t ran = 0;

    for (size_t i = 0; i < sizeof(all_combos) / sizeof(all_combos[0]); i++) {
        const struct combo *k = &all_combos[i];
        char what[64];
        struct jobspec s;
        struct client c;

        if (k->overlay == CPS_OVERLAY_FUSE && fx.unpriv)
            continue; /* /dev/fuse is 0600: fuse_forced checks the refusal */
        snprintf(what, sizeof(what), "%s/%s", cps__backend_name(k->backend),
                 cps__overlay_name(k->overlay));
        job_init(&s, k->overlay);
        s.argv[2] = script;
        s.job.outputs = outputs;
        s.job.outputc = outputc;
        s.job.inputc = 0;
        s.job.limits.scratch_bytes = scratch_bytes;
        s.job.limits.tmp_bytes = tmp_bytes;
        run(&c, &s, cps__backend_name(k->backend));
        assert_ran(&c, k->backend, k->overlay);
        check(&c, what);
        finish(&c, 0);
        client_free(&c);
        free(s.data);
        ran++;
    }
    ck_assert_uint_eq(ran, fx.unpriv ? 4 : 6);
    return ran;
}

#define SCRATCH_SMALL (8u << 20)

static void check_scratch_total(const struct client *c, const char *what)
{
    unsigned long total = 0;

    ck_assert_msg(sscanf((const char *)c->out, "%lu", &total) == 1, "%s: %s", what, c->out);
    ck_assert_msg(total <= SCRATCH_SMALL, "%s: the job wrote %lu bytes into a %u-byte scratch",
                  what, total, SCRATCH_SMALL);
}

/*
 * Item 4: limits.scratch_bytes bounds everything the job writes outside /tmp,
 * in every mode: five writable dirs (the cwd and four output dirs) of 3 MB
 * each do not fit in 8 MiB together. (Bind mode gave each dir a tmpfs of
 * tmp_bytes: 5 x 4 MiB.)
 */
START_TEST(scratch_bounds_all_dirs)
{
    static char script[] = "for d in /work /o1 /o2 /o3 /o4; do writebytes 3000000 > $d/f; done "
                           "2>/dev/null; cat /work/f /o1/f /o2/f /o3/f /o4/f | wc -c";
    static const char *outputs[] = {"/o1/out", "/o2/out", "/o3/out", "/o4/out"};

    run_everywhere(script, outputs, 4, SCRATCH_SMALL, 4u << 20, check_scratch_total);
}
END_TEST

/* Files tried per tmpfs: more than the documented bound of a small one
 * (max(1024, bytes / 16 KiB), docs/SECURITY.md). */
#define INODES_TRIED 3000

static void check_inodes(const struct client *c, const char *what)
{
    const char *dirs[] = {"/work", "/tmp", "/dev/shm"};
    char want[64];

    for (size_t i = 0; i < 3; i++) {
        const char *line;
        unsigned n = 0;

        snprintf(want, sizeof(want), "%s ", dirs[i]);
        line = strstr((const char *)c->out, want);
        ck_assert_msg(line != NULL && sscanf(line + strlen(want), "%u", &n) == 1, "%s: %s", what,
                      c->out);
        ck_assert_msg(n < INODES_TRIED && n <= 1024,
                      "%s: %u empty files fit in %s (bound: 1024 inodes)", what, n, dirs[i]);
    }
}

/* Item 6: every tmpfs the job can write (scratch, /tmp, /dev) has an inode
 * bound; empty files cost no bytes, so size= alone does not stop them. */
START_TEST(tmpfs_inode_bounds)
{
    static char script[] = "for d in /work /tmp /dev/shm; do n=0; while [ $n -lt 3000 ] && "
                           "true > $d/e$n; do n=$((n+1)); done 2>/dev/null; echo $d $n; done";
    static const char *outputs[] = {"/work/out"};

    run_everywhere(script, outputs, 1, 16u << 20, 4u << 20, check_inodes);
}
END_TEST

static void check_dev(const struct client *c, const char *what)
{
    const char *out = (const char *)c->out;
    unsigned long shm = 0;

    ck_assert_msg(
        strncmp(out, "fd full null random shm stderr stdin stdout tty urandom zero \n", 62) == 0,
        "%s: /dev holds more (or less) than documented: %s", what, out);
    ck_assert_msg(sscanf(out + 62, "%lu", &shm) == 1, "%s: %s", what, out);
    ck_assert_msg(shm < 1000000 && shm <= 65536, "%s: %lu bytes written to /dev/shm", what, shm);
}

/* Items 5 and 8: /dev is the helper's small tmpfs under both backends: no
 * ptmx or pts (no host pty can be taken), /dev/shm bounded (bubblewrap's own
 * --dev had neither). */
START_TEST(dev_bounded)
{
    static char script[] = "ls -A /dev | tr '\\n' ' '; echo; writebytes 1000000 > /dev/shm/f "
                           "2>/dev/null; wc -c < /dev/shm/f";
    static const char *outputs[] = {"/work/out"};

    run_everywhere(script, outputs, 1, 16u << 20, 4u << 20, check_dev);
}
END_TEST

static void check_deep(const struct client *c, const char *what)
{
    ck_assert_msg(strcmp((const char *)c->out, "deep\n") == 0, "%s: %s", what, c->out);
}

/*
 * Item 10: with CACHEPOT_SCRATCH=disk the job's tree is removed whatever its
 * depth. 1024 levels (two mkdir -p of 512) with the helper's descriptors
 * limited to 256: a removal holding one descriptor per level fails with
 * EMFILE. finish() checks that the build dir is empty.
 */
START_TEST(disk_deep_tree)
{
    static char script[] = "p=d; for i in 1 2 3 4 5 6 7 8 9; do p=$p/$p; done; "
                           "mkdir -p $p && cd $p && mkdir -p $p && cd $p && touch f && echo deep";
    static const char *outputs[] = {"/work/out"};
    struct rlimit rl, low;

    ck_assert_int_eq(setenv("CACHEPOT_SCRATCH", "disk", 1), 0);
    ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
    low = rl;
    low.rlim_cur = 256;
    ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
    run_everywhere(script, outputs, 1, 0, 0, check_deep);
    ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
    unsetenv("CACHEPOT_SCRATCH");
}
END_TEST

int main(void)
{
    const struct it_case cases[] = {
        {"identical_outputs", identical_outputs},
        {"fuse_forced", fuse_forced},
        {"auto_native", auto_native},
        {"auto_native_refused", auto_native_refused},
        {"auto_native_fuse_refused", auto_native_fuse_refused},
        {"auto_refused_bubblewrap", auto_refused_bubblewrap},
        {"forced_native_refused", forced_native_refused},
        {"comma_in_toolchain_path", comma_in_toolchain_path},
        {"fuse_binary_missing", fuse_binary_missing},
        {"bind_rules", bind_rules},
        {"bind_read_only_root", bind_read_only_root},
        {"bwrap_refused", bwrap_refused},
        {"sandbox_env", sandbox_env},
        {"bwrap_isolation", bwrap_isolation},
        {"bwrap_exec_and_timeout", bwrap_exec_and_timeout},
        {"fuse_timeout_cleanup", fuse_timeout_cleanup},
        {"fuse_peer_gone_cleanup", fuse_peer_gone_cleanup},
        {"fuse_helper_killed", fuse_helper_killed},
        {"other_uid", other_uid},
        {"unmakeable_output_dirs", unmakeable_output_dirs},
        {"fuse_gone_outputs_error", fuse_gone_outputs_error},
        {"limits_at_max", limits_at_max},
        {"check_json_agrees", check_json_agrees},
        {"scratch_bounds_all_dirs", scratch_bounds_all_dirs},
        {"tmpfs_inode_bounds", tmpfs_inode_bounds},
        {"dev_bounded", dev_bounded},
        {"disk_deep_tree", disk_deep_tree},
    };
    const struct it_fixtures fixtures = {make_dir, remove_dir, setup, teardown};

    return it_main("backends", cases, sizeof(cases) / sizeof(cases[0]), &fixtures);
}
