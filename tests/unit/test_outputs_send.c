/*
 * test_outputs_send.c - which output failures are "missing" (a fact of the job's
 * view) and which are the worker's fault (an error of stage "outputs"):
 * cps__root_errno_is_view and cps__outputs_send on a real root directory,
 * read back from a socketpair. The unreadable file is tried as uid 65534
 * when the test runs as root (as root, CAP_DAC_OVERRIDE reads it), and EMFILE
 * is provoked with RLIMIT_NOFILE.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check_run.h"
#include "frame.h"
#include "outputs_send.h"
#include "rootpath.h"

#define NOBODY 65534

static char dir[64];
static int root_fd = -1;

/* Output paths (the job struct takes char *). */
static char p_absent[] = "/out/absent", p_dir[] = "/out/dir", p_link[] = "/out/link",
            p_fifo[] = "/out/fifo", p_sock[] = "/out/sock", p_under_file[] = "/out/file/x",
            p_under_link[] = "/out/link/x", p_file[] = "/out/file",
            p_unreadable[] = "/out/unreadable";

static void make(const char *rel, mode_t mode, const char *data)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", dir, rel);
    int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0600);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, data, strlen(data)), (ssize_t)strlen(data));
    ck_assert_int_eq(fchmod(fd, mode), 0);
    close(fd);
}

static void setup(void)
{
    char path[256];

    snprintf(dir, sizeof(dir), "/tmp/cps-outputs-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    ck_assert_int_eq(chmod(dir, 0755), 0);
    snprintf(path, sizeof(path), "%s/out", dir);
    ck_assert_int_eq(mkdir(path, 0755), 0);
    make("out/file", 0640, "abc");
    make("out/unreadable", 0, "secret");
    snprintf(path, sizeof(path), "%s/out/dir", dir);
    ck_assert_int_eq(mkdir(path, 0755), 0);
    snprintf(path, sizeof(path), "%s/out/link", dir);
    ck_assert_int_eq(symlink("file", path), 0);
    snprintf(path, sizeof(path), "%s/out/fifo", dir);
    ck_assert_int_eq(mkfifo(path, 0644), 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof(a.sun_path), "%s/out/sock", dir);
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(s, 0);
    ck_assert_int_eq(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
    close(s);
    root_fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    ck_assert_int_ge(root_fd, 0);
}

static void teardown(void)
{
    char cmd[128];

    close(root_fd);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* Read the next frame from fd; false at EOF. */
static bool next_msg(int fd, struct cps_msg *m)
{
    struct cps_error err;
    uint8_t *payload;
    size_t len;

    int rc = cps__frame_read(fd, CPS_MAX_FRAME, &payload, &len, &err);
    if (rc == -ECONNRESET)
        return false;
    ck_assert_msg(rc == 0, "frame: %s", err.message);
    ck_assert_msg(cps__msg_decode(payload, len, m, &err) == 0, "decode: %s", err.message);
    free(payload);
    ck_assert_int_eq(m->type, CPS_MSG_OUTPUT);
    return true;
}

/* Send outputs (NULL-terminated) from the root; rc and err as returned. The
 * frames stay in sv[0] for the caller (tiny files: they fit the buffer). */
static int send_outputs(const char **outs, int sv[2], struct cps_error *err)
{
    struct cps_job job;
    uint64_t budget = 1 << 20;

    memset(&job, 0, sizeof(job));
    job.outputs = outs;
    while (outs[job.outputc] != NULL)
        job.outputc++;
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    int rc = cps__outputs_send(sv[1], root_fd, &job, &budget, err);
    close(sv[1]);
    return rc;
}

static void expect_missing(int fd, const char *path)
{
    struct cps_msg m;
    ck_assert_msg(next_msg(fd, &m), "no frame for %s", path);
    ck_assert_str_eq(m.u.output.path, path);
    ck_assert_msg(m.u.output.missing, "%s was sent, not missing", path);
    cps__msg_free(&m);
}

START_TEST(view_errnos)
{
    static const int view[] = {ENOENT, ELOOP, ENOTDIR,      EXDEV, EACCES,
                               EPERM,  EROFS, ENAMETOOLONG, ENXIO, ENODEV};
    static const int worker[] = {EMFILE, ENFILE, ENOMEM,   EIO,    ENOSPC,
                                 EDQUOT, ESTALE, ENOTCONN, EAGAIN, EINTR};

    for (size_t i = 0; i < sizeof(view) / sizeof(view[0]); i++)
        ck_assert_msg(cps__root_errno_is_view(view[i]), "%s", strerror(view[i]));
    for (size_t i = 0; i < sizeof(worker) / sizeof(worker[0]); i++)
        ck_assert_msg(!cps__root_errno_is_view(worker[i]), "%s", strerror(worker[i]));
}
END_TEST

/* Everything that is not a regular file reachable without a symlink is
 * "missing", and the job's one real file is sent after them. */
START_TEST(missing_in_the_view)
{
    static char long_name[300];
    memset(long_name, 'x', sizeof(long_name) - 1);
    long_name[0] = '/';
    const char *outs[] = {p_absent,     p_dir,        p_link,    p_fifo, p_sock,
                    p_under_file, p_under_link, long_name, p_file, NULL};
    struct cps_error err;
    struct cps_msg m;
    int sv[2];

    ck_assert_msg(send_outputs(outs, sv, &err) == 0, "%s: %s", err.stage, err.message);
    for (size_t i = 0; i < 8; i++)
        expect_missing(sv[0], outs[i]);
    ck_assert(next_msg(sv[0], &m));
    ck_assert_str_eq(m.u.output.path, "/out/file");
    ck_assert(!m.u.output.missing && m.u.output.end);
    ck_assert_uint_eq(m.u.output.mode, 0640);
    ck_assert_uint_eq(m.u.output.data_len, 3);
    ck_assert(memcmp(m.u.output.data, "abc", 3) == 0);
    cps__msg_free(&m);
    ck_assert(!next_msg(sv[0], &m));
    close(sv[0]);
}
END_TEST

/* A file the sandbox may not read is a fact of the view (EACCES): missing.
 * As root the capabilities would read it, so the case drops to 65534. */
START_TEST(unreadable_is_missing)
{
    const char *outs[] = {p_unreadable, NULL};
    int sv[2];
    pid_t pid = fork();

    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        struct cps_error err;
        if (geteuid() == 0 && (setgroups(0, NULL) < 0 || setresgid(NOBODY, NOBODY, NOBODY) < 0 ||
                               setresuid(NOBODY, NOBODY, NOBODY) < 0))
            _exit(10);
        if (send_outputs(outs, sv, &err) != 0)
            _exit(11);
        struct cps_msg m;
        if (!next_msg(sv[0], &m) || !m.u.output.missing)
            _exit(12);
        _exit(0);
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status 0x%x", status);
}
END_TEST

/* Out of descriptors is the worker's problem: an error of stage "outputs"
 * naming the output, and no "missing" frame that a client would take for
 * the compile's result. */
START_TEST(emfile_is_an_error)
{
    const char *outs[] = {p_file, NULL};
    struct cps_error err;
    struct rlimit saved, low;
    struct cps_msg m;
    int sv[2];

    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    /* The lowest free descriptor is the limit: the next open fails. */
    int probe = dup(0);
    ck_assert_int_ge(probe, 0);
    close(probe);
    ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &saved), 0);
    low = saved;
    low.rlim_cur = (rlim_t)probe;
    ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
    struct cps_job job;
    uint64_t budget = 1 << 20;
    memset(&job, 0, sizeof(job));
    job.outputs = outs;
    job.outputc = 1;
    int rc = cps__outputs_send(sv[1], root_fd, &job, &budget, &err);
    ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &saved), 0);
    close(sv[1]);
    ck_assert_int_eq(rc, -EMFILE);
    ck_assert_str_eq(err.stage, "outputs");
    ck_assert_int_eq(err.errnum, EMFILE);
    ck_assert_msg(strstr(err.message, "/out/file") != NULL, "%s", err.message);
    ck_assert(!next_msg(sv[0], &m));
    close(sv[0]);
}
END_TEST

static Suite *outputs_suite(void)
{
    Suite *s = suite_create("outputs");
    TCase *tc = tcase_create("outputs");
    /* Unchecked: they run around the forked case, so the directory goes
     * even when a case fails. */
    tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_add_test(tc, view_errnos);
    tcase_add_test(tc, missing_in_the_view);
    tcase_add_test(tc, unreadable_is_missing);
    tcase_add_test(tc, emfile_is_an_error);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return cps_test_run(outputs_suite());
}
