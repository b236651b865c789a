/*
 * test_reuse.c - integration tests of a helper serving several jobs in
 * sequence (--jobs-per-helper N, docs/REUSE.md, docs/PROTOCOL.md "How a
 * session ends"): the hellos count down, every job runs as on a fresh helper,
 * the helper ends after its last job or after a job that did not end by
 * itself, and one job per helper keeps the hello of before.
 *
 * Like test_helper.c, each case runs in the mode CPS_IT_MODE names (ctest
 * registers reuse_<case>_root and reuse_<case>_unpriv): as root, or as uid
 * 65534 through setpriv with the helper, the toolchain and the build dir
 * copied under a fresh world-traversable directory. Every case runs with both
 * backends. The escape attempts from one job to the next are in
 * test_reuse_escape.c.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "client.h"
#include "cps_limits.h"
#include "hostutil.h"
#include "suite_main.h"

#ifndef CPS_TEST_HELPER
#error "CPS_TEST_HELPER must name the helper binary"
#endif

static struct it_sandbox_dirs fx;

static const char *const backends[] = {"userns", "bubblewrap"};
#define NBACKENDS (sizeof(backends) / sizeof(backends[0]))

/* ---- fixture --------------------------------------------------------------- */

static void setup(void)
{
    it_sandbox_dirs_setup(&fx, CPS_TEST_HELPER, CPS_TEST_TOOLCHAIN);
}

/* Nothing of a job may be left on the host: mounts under the test's dir,
 * processes naming it (fuse-overlayfs, bwrap), files in the build dir. */
static void assert_clean(void)
{
    it_sandbox_dirs_assert_clean(&fx);
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

/* ---- jobs ------------------------------------------------------------------ */

struct jobspec {
    struct cps_job job;
    struct cps_env_pair env[1];
    const char *argv[4];
    char script[1024];
    struct cps_input_decl input;
    char data[64];
};

/* sh -c script, in /work, with one input /work/in.txt holding data. */
static void job_init(struct jobspec *s, const char *script, const char *data)
{
    static char path_name[] = "PATH", path_value[] = "/bin:/usr/bin", cwd[] = "/work";

    memset(s, 0, sizeof(*s));
    snprintf(s->script, sizeof(s->script), "%s", script);
    snprintf(s->data, sizeof(s->data), "%s", data);
    s->argv[0] = "sh";
    s->argv[1] = "-c";
    s->argv[2] = s->script;
    s->job.toolchain = fx.toolchain;
    s->job.build_dir = fx.build;
    s->job.argv = s->argv;
    s->job.argc = 3;
    s->env[0].name = path_name;
    s->env[0].value = path_value;
    s->job.env = s->env;
    s->job.envc = 1;
    s->job.cwd = cwd;
    s->input.path = "/work/in.txt";
    s->input.mode = 0644;
    s->input.size = strlen(s->data);
    s->job.inputs = &s->input;
    s->job.inputc = 1;
}

/* Spawn the helper with backend and --jobs-per-helper jobs (NULL: no flag),
 * and read its first hello. */
static void spawn(struct client *c, const char *backend, const char *jobs)
{
    const char *args[] = {"--backend", backend, "--jobs-per-helper", jobs, NULL};

    if (jobs == NULL)
        args[2] = NULL;
    ck_assert_int_eq(client_spawn(c, fx.helper, fx.unpriv, args), 0);
    ck_assert_msg(client_hello(c) == 0, "no hello: %s: %s (hint: %s)", c->error.stage,
                  c->error.message, c->error.hint);
}

/* Send s and its input, read until exit or error. */
static void run(struct client *c, const struct jobspec *s)
{
    ck_assert_int_eq(client_send_job(c, &s->job), 0);
    /* A job refused before its input was read ends the session early. */
    if (client_send_input(c, s->input.path, (const uint8_t *)s->data, strlen(s->data)) != 0)
        fprintf(stderr, "input not sent: the helper stopped reading\n");
    ck_assert_int_eq(client_collect(c, NULL, NULL), 0);
}

static void assert_exit_code(const struct client *c, int code)
{
    ck_assert_msg(c->have_exit, "no exit frame; error %s: %s (hint: %s)", c->error.stage,
                  c->error.message, c->error.hint);
    ck_assert_msg(!c->exit_msg.u.exit.signaled && c->exit_msg.u.exit.code == code,
                  "job ended with code %d signal %d, expected code %d; stderr: %s",
                  c->exit_msg.u.exit.code, c->exit_msg.u.exit.signal, code,
                  c->err ? (char *)c->err : "");
}

/* The next hello: the job before left no process (client_next), and the
 * hello counts the jobs still to take. */
static void next_hello(struct client *c, uint32_t reuse)
{
    ck_assert_msg(client_next(c) == 0, "no hello: %s: %s", c->error.stage, c->error.message);
    ck_assert_msg(!c->prev_job_alive, "a process outlived the job");
    ck_assert_uint_eq(c->hello.reuse, reuse);
}

/* After the last frame of the session: nothing more comes (EOF), the helper
 * exits with want_exit, and nothing is left on the host. */
static void assert_helper_ends(struct client *c, int want_exit)
{
    ck_assert_msg(client_next(c) == -ECONNRESET && c->eof,
                  "the helper sent another frame (hello %d, error %d %s) instead of closing fd 3",
                  c->have_hello, c->have_error, c->error.message);
    ck_assert_msg(!c->prev_job_alive, "a process outlived the job");
    ck_assert_int_eq(client_wait(c), 0);
    ck_assert_msg(WIFEXITED(c->wait_status) && WEXITSTATUS(c->wait_status) == want_exit,
                  "helper wait status 0x%x, expected exit %d", c->wait_status, want_exit);
    assert_clean();
}

/* ---- cases ----------------------------------------------------------------- */

/*
 * N jobs on one helper, N = 2 and 3, each with its own input, output file,
 * stdout, stderr and exit code (a job failing with its own exit code ran to
 * its end: the helper goes on). The hellos carry N, N-1, ..., 1; after the
 * last exit the helper closes fd 3 and exits 0.
 */
START_TEST(jobs_in_sequence)
{
    static const char *outs[] = {"/work/out.txt"};

    for (size_t b = 0; b < NBACKENDS; b++) {
        for (unsigned n = 2; n <= 3; n++) {
            char jobs[8];
            struct client c;

            snprintf(jobs, sizeof(jobs), "%u", n);
            spawn(&c, backends[b], jobs);
            for (unsigned i = 0; i < n; i++) {
                char data[32], want_out[64], want_err[32];
                struct jobspec s;
                const struct client_output *o;

                if (i > 0)
                    next_hello(&c, n - i);
                ck_assert_uint_eq(c.hello.reuse, n - i);
                snprintf(data, sizeof(data), "job-%u-of-%u", i + 1, n);
                job_init(&s,
                         "tr a-z A-Z < in.txt > out.txt; cat in.txt; ls; echo e$(cat in.txt) >&2; "
                         "exit $(( 3 + $(ls | wc -l) ))",
                         data);
                s.job.outputs = outs;
                s.job.outputc = 1;
                run(&c, &s);
                /* The job sees in.txt and its own out.txt, nothing of a job before. */
                assert_exit_code(&c, 5);
                snprintf(want_out, sizeof(want_out), "%sin.txt\nout.txt\n", data);
                ck_assert_str_eq((char *)c.out, want_out);
                snprintf(want_err, sizeof(want_err), "e%s\n", data);
                ck_assert_str_eq((char *)c.err, want_err);
                ck_assert_uint_eq(c.outputc, 1);
                o = client_output(&c, outs[0]);
                ck_assert(o != NULL && !o->missing && o->len == strlen(data));
                for (size_t k = 0; k < o->len; k++)
                    ck_assert_int_eq(o->data[k], data[k] >= 'a' && data[k] <= 'z'
                                                     ? data[k] - 'a' + 'A'
                                                     : data[k]);
                ck_assert_str_eq(cps__backend_name(c.exit_msg.u.exit.backend), backends[b]);
                ck_assert_msg(it_dir_empty(fx.build), "the build dir is not clean after job %u",
                              i + 1);
            }
            assert_helper_ends(&c, 0);
            client_free(&c);
        }
    }
}
END_TEST

/* Every overlay mode serves a second and third job (fuse-overlayfs needs
 * /dev/fuse, mode 0600: root only, as in test_backends.c). */
START_TEST(overlay_modes)
{
    static const uint32_t modes[] = {CPS_OVERLAY_NATIVE, CPS_OVERLAY_FUSE, CPS_OVERLAY_BIND};
    static const char *outs[] = {"/work/out.txt"};
    size_t ran = 0;

    for (size_t b = 0; b < NBACKENDS; b++) {
        for (size_t m = 0; m < sizeof(modes) / sizeof(modes[0]); m++) {
            struct client c;

            if (modes[m] == CPS_OVERLAY_FUSE && fx.unpriv)
                continue;
            spawn(&c, backends[b], "3");
            for (unsigned i = 0; i < 3; i++) {
                char data[32];
                struct jobspec s;
                const struct client_output *o;

                if (i > 0)
                    next_hello(&c, 3 - i);
                snprintf(data, sizeof(data), "mode-%zu-job-%u", m, i);
                job_init(
                    &s,
                    "cp in.txt out.txt && ls /work && echo x > /tmp/t && cat /etc/marker-toolchain",
                    data);
                s.job.overlay = modes[m];
                s.job.outputs = outs;
                s.job.outputc = 1;
                run(&c, &s);
                assert_exit_code(&c, 0);
                ck_assert_str_eq((char *)c.out, "in.txt\nout.txt\ncachepot test toolchain\n");
                ck_assert_str_eq(cps__overlay_name(c.exit_msg.u.exit.overlay),
                                 cps__overlay_name(modes[m]));
                o = client_output(&c, outs[0]);
                ck_assert(o != NULL && !o->missing && o->len == strlen(data) &&
                          memcmp(o->data, data, o->len) == 0);
            }
            assert_helper_ends(&c, 0);
            client_free(&c);
            ran++;
        }
    }
    ck_assert_uint_eq(ran, fx.unpriv ? 4 : 6);
}
END_TEST

/*
 * Each job gets mount, PID, IPC, UTS and network namespaces other than the
 * helper's own (O's) and the sandbox's hostname; with the userns backend, the
 * user namespace is O's, kept across jobs (docs/SECURITY.md); bwrap unshares
 * its own of that too. Compared with O, which lives through all its
 * jobs: a namespace of a job that ended may free its inode number for the
 * next job's, so two jobs' numbers prove nothing.
 */
START_TEST(fresh_namespaces)
{
    static const char *const ns[] = {"mnt", "pid", "ipc", "uts", "net", "user"};
    enum { NNS = sizeof(ns) / sizeof(ns[0]) };
    char script[512] = "hostname; ";

    for (size_t k = 0; k < NNS; k++)
        snprintf(script + strlen(script), sizeof(script) - strlen(script),
                 "readlink /proc/self/ns/%s; ", ns[k]);
    for (size_t b = 0; b < NBACKENDS; b++) {
        bool bwrap = strcmp(backends[b], "bubblewrap") == 0;
        char helper_ns[NNS][64];
        struct client c;

        spawn(&c, backends[b], "2");
        for (size_t k = 0; k < NNS; k++) {
            char path[64];
            ssize_t n;

            snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)c.pid, ns[k]);
            n = readlink(path, helper_ns[k], sizeof(helper_ns[k]) - 1);
            ck_assert_msg(n > 0, "readlink %s: %s", path, strerror(errno));
            helper_ns[k][n] = '\0';
        }
        for (unsigned i = 0; i < 2; i++) {
            struct jobspec s;
            char *line, *save = NULL;

            if (i > 0)
                next_hello(&c, 1);
            job_init(&s, script, "x");
            run(&c, &s);
            assert_exit_code(&c, 0);
            line = strtok_r((char *)c.out, "\n", &save);
            ck_assert_msg(line != NULL && strcmp(line, "cachepot-sandbox") == 0, "hostname: %s",
                          line ? line : "(none)");
            for (size_t k = 0; k < NNS; k++) {
                bool shared;

                line = strtok_r(NULL, "\n", &save);
                ck_assert_msg(line != NULL, "no %s line", ns[k]);
                shared = strcmp(line, helper_ns[k]) == 0;
                if (k < 5 || bwrap)
                    ck_assert_msg(!shared, "%s job %u: in the helper's %s", backends[b], i + 1,
                                  line);
                else
                    ck_assert_msg(shared, "%s job %u: %s, the helper's is %s", backends[b], i + 1,
                                  line, helper_ns[k]);
            }
        }
        assert_helper_ends(&c, 0);
        client_free(&c);
    }
}
END_TEST

/* The helper's open fds and its children (the next job's PID 1 only) are the
 * same after every job: nothing of a job is kept in O, for as many jobs as it
 * serves, whatever overlay mode each job took (fuse-overlayfs is O's child
 * while its job runs) and whichever build dir it used. */
static void helper_state(const struct client *c, char *out, size_t size)
{
    char path[64], *children;
    struct dirent *e;
    size_t fds = 0;
    DIR *d;

    snprintf(path, sizeof(path), "/proc/%d/fd", (int)c->pid);
    d = opendir(path);
    ck_assert_msg(d != NULL, "opendir %s: %s", path, strerror(errno));
    while ((e = readdir(d)) != NULL)
        fds += e->d_name[0] != '.';
    closedir(d);
    snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)c->pid, (int)c->pid);
    children = it_read_file(path, NULL);
    /* One child, whatever its pid: the next job's I. */
    ck_assert_msg(strchr(children, ' ') == strrchr(children, ' ') && children[0] != '\0',
                  "helper children: \"%s\"", children);
    free(children);
    snprintf(out, size, "%zu fds", fds);
}

START_TEST(nothing_kept_in_helper)
{
    enum { JOBS = 8 };
    /* /dev/fuse is mode 0600: fuse only as root (test_backends.c). */
    const uint32_t modes[] = {CPS_OVERLAY_NATIVE, CPS_OVERLAY_BIND, CPS_OVERLAY_FUSE};
    size_t nmodes = fx.unpriv ? 2 : 3;
    char other[300];

    snprintf(other, sizeof(other), "%s/build-b", fx.dir);
    ck_assert_int_eq(mkdir(other, 0755), 0);
    if (fx.unpriv && geteuid() == 0)
        ck_assert_int_eq(chown(other, 65534, 65534), 0);
    for (size_t b = 0; b < NBACKENDS; b++) {
        char first[64] = "", now[64];
        struct client c;

        spawn(&c, backends[b], "8");
        for (unsigned i = 0; i < JOBS; i++) {
            struct jobspec s;

            if (i > 0)
                next_hello(&c, JOBS - i);
            helper_state(&c, now, sizeof(now));
            if (i == 0)
                snprintf(first, sizeof(first), "%s", now);
            ck_assert_msg(strcmp(first, now) == 0,
                          "%s: before job %u the helper has %s, before "
                          "job 1 %s",
                          backends[b], i + 1, now, first);
            job_init(&s, "cat in.txt; sleep 0 & echo done", "in");
            s.job.overlay = modes[i % nmodes];
            if (i % 2 == 1)
                s.job.build_dir = other;
            run(&c, &s);
            assert_exit_code(&c, 0);
            ck_assert_str_eq((char *)c.out, "indone\n");
            ck_assert_str_eq(cps__overlay_name(c.exit_msg.u.exit.overlay),
                             cps__overlay_name(modes[i % nmodes]));
            ck_assert_msg(it_dir_empty(other), "%s is not clean after job %u", other, i + 1);
        }
        assert_helper_ends(&c, 0);
        client_free(&c);
    }
}
END_TEST

/* A job killed by its timeout did not end by itself: its exit frame is the
 * helper's last frame, and the helper exits 0 although jobs remained. */
START_TEST(timeout_ends_helper)
{
    for (size_t b = 0; b < NBACKENDS; b++) {
        struct jobspec s;
        struct client c;

        spawn(&c, backends[b], "3");
        job_init(&s, "echo ok; exec sleep 1000", "x");
        s.job.limits.timeout_ms = 300;
        run(&c, &s);
        ck_assert(c.have_exit);
        ck_assert(c.exit_msg.u.exit.timed_out);
        ck_assert_str_eq(c.exit_msg.u.exit.limit, "timeout");
        assert_helper_ends(&c, 0);
        client_free(&c);
    }
}
END_TEST

/* A job refused at validation (here after a job that ran): one error frame,
 * then the helper exits 1 as a one-job helper does, no other hello. */
START_TEST(refused_job_ends_helper)
{
    for (size_t b = 0; b < NBACKENDS; b++) {
        struct jobspec s;
        struct client c;

        spawn(&c, backends[b], "3");
        job_init(&s, "cat in.txt", "first");
        run(&c, &s);
        assert_exit_code(&c, 0);
        ck_assert_str_eq((char *)c.out, "first");
        next_hello(&c, 2);
        job_init(&s, "true", "x");
        s.job.has_uid = true;
        s.job.uid = 4242;
        run(&c, &s);
        ck_assert_msg(c.have_error && strcmp(c.error.stage, "job") == 0 &&
                          strstr(c.error.message, "4242") != NULL,
                      "expected a job error naming uid 4242, got %d %s: %s", c.have_error,
                      c.error.stage, c.error.message);
        assert_helper_ends(&c, 1);
        client_free(&c);
    }
}
END_TEST

/* The peer closing fd 3 while the helper waits for its next job, or right
 * after exit, before (or while) the helper says hello, is the normal end of
 * the helper: exit 0, nothing left. */
START_TEST(eof_between_jobs)
{
    for (size_t b = 0; b < NBACKENDS * 2; b++) {
        bool before_hello = b >= NBACKENDS;
        struct jobspec s;
        struct client c;

        spawn(&c, backends[b % NBACKENDS], "2");
        job_init(&s, "cat in.txt", "one");
        run(&c, &s);
        assert_exit_code(&c, 0);
        if (!before_hello)
            next_hello(&c, 1);
        close(c.sock);
        c.sock = -1;
        ck_assert_int_eq(client_wait(&c), 0);
        ck_assert_msg(WIFEXITED(c.wait_status) && WEXITSTATUS(c.wait_status) == 0,
                      "helper wait status 0x%x", c.wait_status);
        ck_assert_msg(!client_pidns_alive(&c), "a process outlived the helper");
        assert_clean();
        client_free(&c);
    }
}
END_TEST

/*
 * Waiting for its next job, the helper reads as for the first: a stop signal
 * is one error frame (stage parent, EINTR, exit 3); any frame but a job (here
 * a cancel, as if it had crossed the exit frame) is a protocol error (exit 3).
 * Nothing is left either way.
 */
START_TEST(between_jobs_as_before_first)
{
    for (size_t b = 0; b < NBACKENDS * 2; b++) {
        bool signal = b < NBACKENDS;
        struct jobspec s;
        struct client c;

        spawn(&c, backends[b % NBACKENDS], "3");
        job_init(&s, "cat in.txt", "one");
        run(&c, &s);
        assert_exit_code(&c, 0);
        next_hello(&c, 2);
        if (signal)
            ck_assert_int_eq(kill(c.pid, SIGTERM), 0);
        else
            ck_assert_int_eq(client_send_cancel(&c), 0);
        ck_assert_int_eq(client_collect(&c, NULL, NULL), 0);
        ck_assert_msg(c.have_error, "no error frame");
        ck_assert_msg(strcmp(c.error.stage, signal ? "parent" : "protocol") == 0, "stage %s: %s",
                      c.error.stage, c.error.message);
        if (signal)
            ck_assert_msg(c.error.errnum == EINTR && strstr(c.error.message, "SIGTERM"), "%s",
                          c.error.message);
        assert_helper_ends(&c, 3);
        client_free(&c);
    }
}
END_TEST

/* --jobs-per-helper 1 and no flag: the hello of a one-job helper, without
 * "reuse" (0.1.0 and 0.2.0 parents refuse unknown keys), and the helper ends
 * after its job. */
START_TEST(one_job_hello)
{
    for (size_t b = 0; b < NBACKENDS; b++) {
        for (int flag = 0; flag < 2; flag++) {
            struct jobspec s;
            struct client c;

            spawn(&c, backends[b], flag ? "1" : NULL);
            /* The decoder refuses "reuse": 0, so 0 here means no such key. */
            ck_assert_uint_eq(c.hello.reuse, 0);
            job_init(&s, "cat in.txt", "only");
            run(&c, &s);
            assert_exit_code(&c, 0);
            assert_helper_ends(&c, 0);
            client_free(&c);
        }
    }
}
END_TEST

/* Usage errors, exit 2 before anything is set up: --jobs-per-helper with
 * --no-seccomp (the keyrings, docs/SECURITY.md), and values out of 1..1000. */
START_TEST(usage_refused)
{
    static const char *const bad[][4] = {
        {"--no-seccomp", "--jobs-per-helper", "2", "keyrings"},
        {"--jobs-per-helper", "2", "--no-seccomp", "keyrings"},
        {"--jobs-per-helper", "0", NULL, "between 1 and 1000"},
        {"--jobs-per-helper", "1001", NULL, "between 1 and 1000"},
        {"--jobs-per-helper", "-3", NULL, "between 1 and 1000"},
        {"--jobs-per-helper", "2x", NULL, "between 1 and 1000"},
    };
    char cmd[1024], path[600];

    ck_assert_int_eq(CPS_MAX_JOBS_PER_HELPER, 1000);
    snprintf(path, sizeof(path), "%s/usage.err", fx.dir);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *text;
        int rc;

        /* The command line is checked before fd 3 (main.c): none is given. */
        snprintf(cmd, sizeof(cmd), "%s %s %s %s 2> %s 3<&-; test $? = 2", fx.helper, bad[i][0],
                 bad[i][1], bad[i][2] ? bad[i][2] : "", path);
        rc = system(cmd);
        ck_assert_msg(rc == 0, "%s %s %s: not a usage error (exit 2)", bad[i][0], bad[i][1],
                      bad[i][2] ? bad[i][2] : "");
        text = it_read_file(path, NULL);
        ck_assert_msg(strstr(text, bad[i][3]) != NULL, "\"%s\" not in: %s", bad[i][3], text);
        free(text);
    }
}
END_TEST

int main(void)
{
    const struct it_case cases[] = {
        {"jobs_in_sequence", jobs_in_sequence},
        {"overlay_modes", overlay_modes},
        {"fresh_namespaces", fresh_namespaces},
        {"timeout_ends_helper", timeout_ends_helper},
        {"refused_job_ends_helper", refused_job_ends_helper},
        {"eof_between_jobs", eof_between_jobs},
        {"nothing_kept_in_helper", nothing_kept_in_helper},
        {"between_jobs_as_before_first", between_jobs_as_before_first},
        {"one_job_hello", one_job_hello},
        {"usage_refused", usage_refused},
    };
    const struct it_fixtures fixtures = {make_dir, remove_dir, setup, teardown};

    return it_main("reuse", cases, sizeof(cases) / sizeof(cases[0]), &fixtures);
}
