/*
 * fuzz_helper.c - libFuzzer target: the helper's request path end to end,
 * with the sandbox itself left out.
 *
 * The input is the byte stream a worker sends on fd 3. It goes through the
 * same functions as in helper/main.c: hello is sent, the job frame is read
 * and decoded (cps__session_read), its limits resolved, its configuration
 * and build dir checked, then its input files are received into a scratch
 * root with the same openat2 path resolution, the job's directories are
 * made, and the declared outputs are collected from that root and sent back
 * (cps__outputs_send). Namespaces, mounts and the job's process are not
 * made: they would cost milliseconds per input and need root; they take no
 * bytes from the peer. Whatever the stream holds, nothing may crash, leak,
 * or be created outside the scratch root (checked after every input).
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "scratch_dirs.h"
#include "inputs.h"
#include "options.h"
#include "outputs_send.h"
#include "proto.h"
#include "rlimits.h"
#include "parent_session.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static char scratch[64]; /* holds root/ (the job's root) and nothing else */
static char root[96];

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path) < 0 && errno != ENOENT ? -1 : 0;
}

static void cleanup(void)
{
    if (scratch[0])
        nftw(scratch, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    snprintf(scratch, sizeof(scratch), "/tmp/cps-fuzz-helper.XXXXXX");
    if (mkdtemp(scratch) == NULL)
        abort();
    atexit(cleanup);
    snprintf(root, sizeof(root), "%s/root", scratch);
    return 0;
}

static void write_stream(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);

        if (w <= 0)
            abort();
        p += w;
        n -= (size_t)w;
    }
}

/* Nothing but root/ may exist in the scratch dir. */
static void check_scratch(void)
{
    char path[128];
    struct stat st;

    snprintf(path, sizeof(path), "%s/root", scratch);
    nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    if (rmdir(scratch) < 0) {
        fprintf(stderr, "fuzz: %s holds more than the job's root\n", scratch);
        abort();
    }
    if (mkdir(scratch, 0700) < 0 || stat(scratch, &st) < 0)
        abort();
}

static void request_path(int sock)
{
    struct cps_helper_options opt = {.mode = CPS_MODE_RUN, .backend = CPS_BACKEND_USERNS};
    struct cps_job_limits limits;
    struct cps_builddir dirs;
    struct cps_error err;
    struct cps_msg msg;
    const struct cps_job *job;
    uint8_t *raw = NULL;
    size_t raw_len = 0;
    uint64_t budget;
    int root_fd;

    memset(&msg, 0, sizeof(msg));
    opt.uid = (uint32_t)geteuid();
    opt.gid = (uint32_t)getegid();
    opt.seccomp = true;
    if (cps__session_hello(sock, &opt, CPS_BACKEND_USERNS, CPS_OVERLAY_NATIVE, 0, &err) < 0)
        abort(); /* the peer reads nothing, but the socket buffer holds hello */
    if (cps__session_read(sock, -1, CPS_MSG_JOB, &msg, &raw, &raw_len, &err) < 0)
        goto out;
    job = &msg.u.job;
    cps__limits_resolve(&job->limits, &limits);
    /* The real helper stops at the first failed check; the fuzzer goes on
     * past the ones that depend on the host (uid, build dir), so that the
     * input path is reached with every decoded job. */
    (void)cps__session_check_config(job, &opt, &err);
    (void)cps__builddir_check(job->build_dir, &dirs, &err);
    if (mkdir(root, 0700) < 0)
        abort();
    root_fd = open(root, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (root_fd < 0)
        abort();
    if (cps__inputs_receive(sock, -1, root_fd, job, &err) == 0 &&
        cps__inputs_make_dirs(root_fd, job, &err) == 0) {
        budget = limits.max_output_bytes;
        /* One input listed as 256 outputs is more than the socket holds:
         * a full socket ends the collection (EAGAIN) instead of blocking. */
        if (fcntl(sock, F_SETFL, O_NONBLOCK) < 0)
            abort();
        (void)cps__outputs_send(sock, root_fd, job, &budget, &err);
    }
    close(root_fd);
out:
    cps__msg_free(&msg);
    free(raw);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int sv[2], big = 1 << 20;

    /* The whole stream is in the socket before the helper's side reads, and
     * everything it sends back fits: neither side ever blocks. */
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        abort();
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
    setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
    write_stream(sv[0], data, size);
    shutdown(sv[0], SHUT_WR);
    request_path(sv[1]);
    close(sv[0]);
    close(sv[1]);
    check_scratch();
    return 0;
}
