/*
 * fake_helper.c - a stand-in for cachepot-dist-sandbox that misbehaves on
 * purpose, for the parent library's tests. Its behaviour is chosen by the name
 * it is run as (tests make symlinks to it):
 *   ok          speaks the protocol; the job's argv picks what it does:
 *                 exit N | signal N | timeout | echo | stdout N | pid | introspect
 *   wrongproto  says hello with protocol version 2
 *   garbage     writes an HTTP response instead of a hello
 *   crash       reads the job, leaves BUILD/{upper,work,target} behind (with a
 *               symlink to the job's argv[1]), dies of SIGSEGV
 *   hang        reads the job and then never answers (not even cancel)
 *   silent      never says anything
 *   noscratch   like ok, but its hello.features lacks job.limits.scratch_bytes
 *               (a helper of an imagined release that predates that key)
 *   oldhello    like ok, with the hello of 0.1.0 (no features key)
 *   reuse       like ok, and with --jobs-per-helper N serves N jobs in sequence,
 *               saying hello (with "reuse": N, N-1, ..., 1) before each
 *   badreuse    like reuse, but its second hello repeats the first one's count
 * It never creates a namespace: it only exercises the library's side.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "frame.h"
#include "cps_limits.h"
#include "job_features.h"
#include "proto.h"

#define FD 3

struct input_data {
    const char *path;
    uint8_t *data;
    size_t len;
};

static struct input_data *inputs;
static size_t n_inputs;

/* What hello.features says (has_features false: no such key). */
static bool hello_has_features;
static uint32_t hello_features;
/* What hello.reuse says (0: no such key). */
static uint32_t hello_reuse;

static void die(const char *what, const struct cps_error *err)
{
    fprintf(stderr, "fake-helper: %s: %s: %s\n", what, err ? err->stage : "",
            err ? err->message : "");
    exit(70);
}

static void send_msg(const struct cps_msg *m)
{
    struct cps_error err;

    if (cps__msg_send(FD, m, &err) < 0)
        die("send", &err);
}

static void send_hello(unsigned protocol)
{
    struct cps_msg m = {.type = CPS_MSG_HELLO};
    struct cps_error err;
    uint8_t *buf;
    size_t len;

    m.u.hello = (struct cps_hello){.protocol = CPS_PROTOCOL_VERSION,
                                   .helper_version = (char *)(uintptr_t) "0.0.0-fake",
                                   .backends = CPS_BACKEND_USERNS,
                                   .overlay_modes = CPS_OVERLAY_BIND,
                                   .max_frame = CPS_MAX_FRAME,
                                   .max_chunk = CPS_MAX_CHUNK,
                                   .uid = 0,
                                   .gid = 0,
                                   .backend = CPS_BACKEND_USERNS,
                                   .seccomp = true,
                                   .has_features = hello_has_features,
                                   .features = hello_features,
                                   .reuse = hello_reuse};
    if (cps__msg_encode(&m, &buf, &len, &err) < 0)
        die("encode hello", &err);
    if (protocol != CPS_PROTOCOL_VERSION) {
        /* The encoder refuses other versions: patch the one-byte value after
         * the "protocol" key, as a helper of another release would send it. */
        uint8_t *k = memmem(buf, len, "protocol", 8);
        if (!k || k + 8 >= buf + len)
            die("patch hello", NULL);
        k[8] = (uint8_t)protocol;
    }
    if (cps__frame_write(FD, buf, len, &err) < 0)
        die("send hello", &err);
    free(buf);
}

static void recv_msg(struct cps_msg *m)
{
    struct cps_error err;
    uint8_t *buf;
    size_t len;

    if (cps__frame_read(FD, CPS_MAX_FRAME, &buf, &len, &err) < 0) {
        if (err.errnum == ECONNRESET)
            exit(0);
        die("read", &err);
    }
    if (cps__msg_decode(buf, len, m, &err) < 0)
        die("decode", &err);
    free(buf);
}

/* Read the job and all its inputs (kept in memory for "echo"). */
static void recv_job(struct cps_msg *job)
{
    recv_msg(job);
    if (job->type != CPS_MSG_JOB)
        die("expected job", NULL);
    inputs = calloc(job->u.job.inputc + 1, sizeof(*inputs));
    n_inputs = job->u.job.inputc;
    for (size_t i = 0; i < job->u.job.inputc; i++) {
        inputs[i].path = job->u.job.inputs[i].path;
        for (;;) {
            struct cps_msg m;
            recv_msg(&m);
            if (m.type != CPS_MSG_INPUT || strcmp(m.u.input.path, inputs[i].path) != 0)
                die("expected input", NULL);
            inputs[i].data = realloc(inputs[i].data, inputs[i].len + m.u.input.data_len + 1);
            memcpy(inputs[i].data + inputs[i].len, m.u.input.data, m.u.input.data_len);
            inputs[i].len += m.u.input.data_len;
            bool end = m.u.input.end;
            cps__msg_free(&m);
            if (end)
                break;
        }
    }
}

static void send_stream(enum cps_msg_type type, const void *data, size_t len)
{
    struct cps_msg m = {.type = type};

    m.u.stream.data = (uint8_t *)(uintptr_t)data;
    m.u.stream.data_len = len;
    send_msg(&m);
}

static void send_exit(bool signaled, int value, bool timed_out)
{
    struct cps_msg m = {.type = CPS_MSG_EXIT};
    struct cps_timing t[1] = {{.stage = (char *)(uintptr_t) "fake", .usec = 7}};

    m.u.exit.signaled = signaled;
    if (signaled)
        m.u.exit.signal = (uint32_t)value;
    else
        m.u.exit.code = value;
    m.u.exit.timed_out = timed_out;
    m.u.exit.limit = timed_out ? (char *)(uintptr_t) "timeout" : NULL;
    m.u.exit.wall_us = 1000;
    m.u.exit.backend = CPS_BACKEND_USERNS;
    m.u.exit.overlay = CPS_OVERLAY_BIND;
    m.u.exit.timings = t;
    m.u.exit.timingc = 1;
    send_msg(&m);
}

static void send_outputs(const struct cps_job *job)
{
    for (size_t i = 0; i < job->outputc; i++) {
        struct cps_msg m = {.type = CPS_MSG_OUTPUT};
        struct input_data *in = NULL;
        size_t off = 0;

        m.u.output.path = job->outputs[i];
        for (size_t k = 0; k < n_inputs; k++)
            if (strcmp(inputs[k].path, job->outputs[i]) == 0)
                in = &inputs[k];
        if (!in) {
            m.u.output.missing = true;
            send_msg(&m);
            continue;
        }
        do {
            size_t n = in->len - off < CPS_MAX_CHUNK ? in->len - off : CPS_MAX_CHUNK;
            m.u.output.mode = 0644;
            m.u.output.size = in->len;
            m.u.output.data = in->data + off;
            m.u.output.data_len = n;
            off += n;
            m.u.output.end = off == in->len;
            send_msg(&m);
        } while (off < in->len);
    }
}

/* Wait for cancel (or EOF, which exits in recv_msg). */
static void wait_cancel(void)
{
    for (;;) {
        struct cps_msg m;
        recv_msg(&m);
        enum cps_msg_type t = m.type;
        cps__msg_free(&m);
        if (t == CPS_MSG_CANCEL)
            return;
    }
}

/* Report what the helper was started with: open fds, blocked signals, argv, env. */
static void introspect(int argc, char **argv, char **envp)
{
    char buf[8192];
    size_t n = 0;
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    FILE *f;
    char line[256];

    n += (size_t)snprintf(buf + n, sizeof(buf) - n, "fds=");
    while (d && (e = readdir(d)))
        if (e->d_name[0] != '.' && atoi(e->d_name) != dirfd(d))
            n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s,", e->d_name);
    if (d)
        closedir(d);
    f = fopen("/proc/self/status", "r");
    while (f && fgets(line, sizeof(line), f))
        if (strncmp(line, "SigBlk:", 7) == 0 || strncmp(line, "SigIgn:", 7) == 0)
            n +=
                (size_t)snprintf(buf + n, sizeof(buf) - n, " %.*s", (int)strcspn(line, "\n"), line);
    if (f)
        fclose(f);
    n += (size_t)snprintf(buf + n, sizeof(buf) - n, " argv=");
    for (int i = 1; i < argc; i++)
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s%s", i > 1 ? "," : "", argv[i]);
    n += (size_t)snprintf(buf + n, sizeof(buf) - n, " env=");
    for (char **p = envp; *p; p++)
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%.*s,", (int)strcspn(*p, "="), *p);
    n += (size_t)snprintf(buf + n, sizeof(buf) - n, "\n");
    send_stream(CPS_MSG_STDOUT, buf, n);
}

static void big_stdout(size_t total)
{
    static uint8_t chunk[CPS_MAX_CHUNK];
    size_t sent = 0;

    for (size_t i = 0; i < sizeof(chunk); i++)
        chunk[i] = (uint8_t)('a' + i % 26);
    while (sent < total) {
        size_t n = total - sent < sizeof(chunk) ? total - sent : sizeof(chunk);
        send_stream(CPS_MSG_STDOUT, chunk, n);
        sent += n;
    }
}

/* Say hello, read a job, answer it as its argv asks. */
static int run_ok(int argc, char **argv, char **envp)
{
    struct cps_msg jm;
    const struct cps_job *job;
    const char *cmd, *arg;

    send_hello(CPS_PROTOCOL_VERSION);
    recv_job(&jm);
    job = &jm.u.job;
    cmd = job->argv[0];
    arg = job->argc > 1 ? job->argv[1] : "0";
    if (strcmp(cmd, "exit") == 0) {
        send_exit(false, atoi(arg), false);
    } else if (strcmp(cmd, "signal") == 0) {
        send_exit(true, atoi(arg), false);
    } else if (strcmp(cmd, "timeout") == 0) {
        send_exit(true, SIGKILL, true);
    } else if (strcmp(cmd, "echo") == 0) {
        send_stream(CPS_MSG_STDERR, "echoing\n", 8);
        send_outputs(job);
        send_exit(false, 0, false);
    } else if (strcmp(cmd, "stdout") == 0) {
        big_stdout((size_t)strtoull(arg, NULL, 10));
        send_exit(false, 0, false);
    } else if (strcmp(cmd, "pid") == 0) {
        char buf[32];
        int n = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
        send_stream(CPS_MSG_STDOUT, buf, (size_t)n);
        wait_cancel();
        send_exit(true, SIGKILL, false);
    } else if (strcmp(cmd, "introspect") == 0) {
        introspect(argc, argv, envp);
        send_exit(false, 0, false);
    } else {
        send_exit(false, 127, false);
    }
    cps__msg_free(&jm);
    for (size_t i = 0; i < n_inputs; i++)
        free(inputs[i].data);
    free(inputs);
    inputs = NULL;
    n_inputs = 0;
    return 0;
}

/* --jobs-per-helper N: N jobs, a hello before each (an EOF while waiting for
 * one ends the helper with 0, as recv_msg does). bad: the second hello repeats
 * the first one's count. */
static int run_reuse(int argc, char **argv, char **envp, bool bad)
{
    unsigned n = 1;

    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], "--jobs-per-helper") == 0)
            n = (unsigned)atoi(argv[i + 1]);
    if (n <= 1)
        return run_ok(argc, argv, envp);
    for (unsigned k = 0; k < n; k++) {
        hello_reuse = n - (bad && k == 1 ? 0 : k);
        run_ok(argc, argv, envp);
    }
    return 0;
}

/* Leave what a helper killed mid-job leaves: an overlay's dirs, a mode-000
 * work/work, and a symlink out of the build dir (which must not be followed). */
static void leave_leftovers(const char *build, const char *link_target)
{
    char p[4096];

    snprintf(p, sizeof(p), "%s/upper", build);
    mkdir(p, 0755);
    snprintf(p, sizeof(p), "%s/upper/obj.o", build);
    close(open(p, O_WRONLY | O_CREAT, 0644));
    snprintf(p, sizeof(p), "%s/work", build);
    mkdir(p, 0755);
    snprintf(p, sizeof(p), "%s/work/work", build);
    mkdir(p, 0);
    snprintf(p, sizeof(p), "%s/target", build);
    mkdir(p, 0755);
    if (link_target) {
        snprintf(p, sizeof(p), "%s/target/escape", build);
        if (symlink(link_target, p) < 0)
            die("symlink", NULL);
    }
}

static int run_crash(void)
{
    struct cps_msg jm;

    send_hello(CPS_PROTOCOL_VERSION);
    recv_job(&jm);
    leave_leftovers(jm.u.job.build_dir, jm.u.job.argc > 1 ? jm.u.job.argv[1] : NULL);
    send_stream(CPS_MSG_STDOUT, "about to crash\n", 15);
    /* ASan catches SIGSEGV; die of the plain signal as an unsanitized helper would. */
    signal(SIGSEGV, SIG_DFL);
    raise(SIGSEGV);
    return 70;
}

int main(int argc, char **argv, char **envp)
{
    const char *mode = basename(argv[0]);

    /* A helper announces features only when the parent asks for them. */
    hello_has_features = getenv(CPS_HELLO_FEATURES_ENV) != NULL;
    hello_features = hello_has_features ? CPS_FEATURES_ALL : 0;
    if (strcmp(mode, "ok") == 0)
        return run_ok(argc, argv, envp);
    if (strcmp(mode, "noscratch") == 0) {
        hello_has_features = true;
        hello_features = CPS_FEATURES_ALL & ~(uint32_t)CPS_FEATURE_SCRATCH_BYTES;
        return run_ok(argc, argv, envp);
    }
    if (strcmp(mode, "reuse") == 0 || strcmp(mode, "badreuse") == 0)
        return run_reuse(argc, argv, envp, strcmp(mode, "badreuse") == 0);
    if (strcmp(mode, "oldhello") == 0) {
        hello_has_features = false;
        hello_features = 0;
        return run_ok(argc, argv, envp);
    }
    if (strcmp(mode, "wrongproto") == 0) {
        send_hello(2);
        pause();
    }
    if (strcmp(mode, "garbage") == 0) {
        static const char http[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
        if (write(FD, http, sizeof(http) - 1) < 0)
            return 70;
        pause();
    }
    if (strcmp(mode, "crash") == 0)
        return run_crash();
    if (strcmp(mode, "hang") == 0) {
        struct cps_msg jm;
        send_hello(CPS_PROTOCOL_VERSION);
        recv_job(&jm);
        for (;;)
            pause();
    }
    if (strcmp(mode, "silent") == 0)
        for (;;)
            pause();
    if (strcmp(mode, "vanish") == 0) {
        /* Dies after reading the job without a word, like an idle helper
         * killed just before the job reached it. */
        struct cps_msg jm;
        send_hello(CPS_PROTOCOL_VERSION);
        recv_job(&jm);
        _exit(0);
    }
    fprintf(stderr, "fake-helper: unknown mode %s\n", mode);
    return 64;
}
