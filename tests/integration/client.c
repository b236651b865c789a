/* client.c - raw-protocol test client of the helper. */
#include "client.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "error.h"
#include "frame.h"

int client_spawn(struct client *c, const char *helper, bool unpriv, const char *const *args)
{
    return client_spawn_in(c, helper, unpriv, args, NULL);
}

int client_spawn_in(struct client *c, const char *helper, bool unpriv, const char *const *args,
                    const struct client_place *place)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    const char *argv[32];
    int sv[2], helper_end, rc;
    size_t n = 0;

    memset(c, 0, sizeof(*c));
    c->sock = -1;
    c->unpriv = unpriv;
    c->keep_limit = 16u << 20;
    c->pattern_ok = true;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return -errno;
    /* dup2 onto the same number would keep close-on-exec: keep it off 3. */
    helper_end = fcntl(sv[1], F_DUPFD_CLOEXEC, 10);
    close(sv[1]);
    /* As root, become uid 65534; as any other user, already unprivileged. */
    if (unpriv && geteuid() == 0) {
        argv[n++] = "/usr/bin/setpriv";
        argv[n++] = "--reuid=65534";
        argv[n++] = "--regid=65534";
        argv[n++] = "--clear-groups";
        argv[n++] = "--";
    }
    argv[n++] = helper;
    for (size_t i = 0; args != NULL && args[i] != NULL && n < 31; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&attr);
    posix_spawn_file_actions_adddup2(&fa, helper_end, 3);
    if (place != NULL && place->pgroup > 0) {
        posix_spawnattr_setpgroup(&attr, place->pgroup);
        posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
    }
    if (place != NULL && place->ctty != NULL) {
        /* glibc's child calls setsid() before the file actions, and a session
         * leader without a terminal that opens one without O_NOCTTY gets it as
         * its controlling terminal (credentials(7), tty_open). */
        posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID);
        posix_spawn_file_actions_addopen(&fa, 0, place->ctty, O_RDWR, 0);
    }
    rc = posix_spawn(&c->pid, argv[0], &fa, &attr, (char *const *)(uintptr_t)argv, environ);
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&fa);
    close(helper_end);
    if (rc != 0) {
        close(sv[0]);
        return -rc;
    }
    c->sock = sv[0];
    return 0;
}

static int read_msg(struct client *c, struct cps_msg *m)
{
    struct cps_error e;
    uint8_t *buf;
    size_t len;
    int rc;

    rc = cps__frame_read(c->sock, CPS_MAX_FRAME, &buf, &len, &e);
    if (rc < 0) {
        if (rc == -ECONNRESET)
            c->eof = true;
        return rc;
    }
    rc = cps__msg_decode(buf, len, m, &e);
    free(buf);
    if (rc < 0)
        fprintf(stderr, "client: decode: %s\n", e.message);
    return rc;
}

static unsigned long long ns_ino(pid_t pid, const char *name)
{
    char path[64];
    struct stat st;

    snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)pid, name);
    return stat(path, &st) == 0 ? (unsigned long long)st.st_ino : 0;
}

/*
 * Open the PID namespace of the helper's only child (I, PID 1 of the job's
 * namespace). The fd pins the namespace: its inode number cannot be reused
 * by another namespace while we compare against it.
 */
static int child_pidns(pid_t pid, unsigned long long *ino)
{
    char path[64], buf[256];
    struct stat st;
    ssize_t n;
    int fd;

    snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)pid, (int)pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    snprintf(path, sizeof(path), "/proc/%d/ns/pid", atoi(buf));
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) < 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    *ino = (unsigned long long)st.st_ino;
    return fd;
}

static int take_hello(struct client *c, int rc, struct cps_msg *mp);

int client_hello(struct client *c)
{
    struct cps_msg m;
    int rc = read_msg(c, &m);

    return take_hello(c, rc, &m);
}

/* The first frame of a session (rc from read_msg): hello, or an error. */
static int take_hello(struct client *c, int rc, struct cps_msg *mp)
{
    struct cps_msg m = *mp;

    if (rc < 0)
        return rc;
    if (m.type == CPS_MSG_ERROR) {
        c->have_error = true;
        c->error = m.u.error;
        cps__msg_free(&m);
        return -1;
    }
    if (m.type != CPS_MSG_HELLO) {
        cps__msg_free(&m);
        return -EPROTO;
    }
    c->hello = m.u.hello;
    c->hello.helper_version = NULL;
    c->have_hello = true;
    cps__msg_free(&m);
    /* Before hello the helper created PID 1 of the job's PID namespace (its
     * only child): remember that namespace to look for leftovers later. */
    c->pidns_fd = child_pidns(c->pid, &c->pidns_ino);
    return c->pidns_fd >= 0 ? 0 : -ESRCH;
}

int client_next(struct client *c)
{
    struct cps_msg m;
    int rc;

    free(c->out);
    free(c->err);
    c->out = c->err = NULL;
    c->out_len = c->err_len = 0;
    c->stdout_frames = 0;
    c->pattern_ok = true;
    for (size_t i = 0; i < c->outputc; i++) {
        free(c->outputs[i].path);
        free(c->outputs[i].data);
    }
    memset(c->outputs, 0, sizeof(c->outputs));
    c->outputc = 0;
    if (c->have_exit)
        cps__msg_free(&c->exit_msg);
    c->have_exit = c->have_error = c->have_hello = false;
    memset(&c->error, 0, sizeof(c->error));
    rc = read_msg(c, &m);
    c->prev_job_alive = client_pidns_alive(c);
    if (c->pidns_fd > 0)
        close(c->pidns_fd);
    c->pidns_fd = -1;
    c->pidns_ino = 0;
    return take_hello(c, rc, &m);
}

static int send_msg(struct client *c, const struct cps_msg *m)
{
    struct cps_error e;
    int rc = cps__msg_send(c->sock, m, &e);

    if (rc < 0)
        fprintf(stderr, "client: send: %s: %s\n", e.stage, e.message);
    return rc;
}

int client_send_job(struct client *c, const struct cps_job *job)
{
    struct cps_msg m;

    memset(&m, 0, sizeof(m));
    m.type = CPS_MSG_JOB;
    m.u.job = *job;
    return send_msg(c, &m);
}

int client_send_input(struct client *c, const char *path, const uint8_t *data, size_t len)
{
    struct cps_msg m;
    size_t off = 0;
    int rc;

    memset(&m, 0, sizeof(m));
    m.type = CPS_MSG_INPUT;
    m.u.input.path = path;
    do {
        size_t n = len - off < CPS_MAX_CHUNK ? len - off : CPS_MAX_CHUNK;

        m.u.input.data = (uint8_t *)(uintptr_t)(data + off);
        m.u.input.data_len = n;
        off += n;
        m.u.input.end = off == len;
        rc = send_msg(c, &m);
    } while (rc == 0 && off < len);
    return rc;
}

int client_send_cancel(struct client *c)
{
    struct cps_msg m;

    memset(&m, 0, sizeof(m));
    m.type = CPS_MSG_CANCEL;
    return send_msg(c, &m);
}

static void append(uint8_t **buf, uint64_t *len, size_t limit, const uint8_t *data, size_t n)
{
    if (*len + n <= limit) {
        *buf = realloc(*buf, *len + n + 1);
        memcpy(*buf + *len, data, n);
        (*buf)[*len + n] = '\0';
    }
    *len += n;
}

static void add_output(struct client *c, const struct cps_output *o)
{
    struct client_output *co = NULL;

    if (c->outputc > 0 && strcmp(c->outputs[c->outputc - 1].path, o->path) == 0 &&
        !c->outputs[c->outputc - 1].missing && c->outputs[c->outputc - 1].len < o->size)
        co = &c->outputs[c->outputc - 1];
    if (co == NULL) {
        if (c->outputc == sizeof(c->outputs) / sizeof(c->outputs[0]))
            return;
        co = &c->outputs[c->outputc++];
        memset(co, 0, sizeof(*co));
        co->path = strdup(o->path);
        co->missing = o->missing;
        co->mode = o->mode;
        co->size = o->size;
    }
    if (o->data_len > 0) {
        co->data = realloc(co->data, co->len + o->data_len);
        memcpy(co->data + co->len, o->data, o->data_len);
        co->len += o->data_len;
    }
}

int client_collect(struct client *c, bool (*on_stdout)(struct client *c, void *arg), void *arg)
{
    struct cps_msg m;

    for (;;) {
        if (read_msg(c, &m) < 0)
            return -1;
        switch (m.type) {
        case CPS_MSG_STDOUT:
            if (c->check_pattern)
                for (size_t i = 0; i < m.u.stream.data_len; i++)
                    if (m.u.stream.data[i] != (uint8_t)((c->out_len + i) % 251))
                        c->pattern_ok = false;
            append(&c->out, &c->out_len, c->keep_limit, m.u.stream.data, m.u.stream.data_len);
            c->stdout_frames++;
            cps__msg_free(&m);
            if (on_stdout != NULL && !on_stdout(c, arg))
                return 0;
            continue;
        case CPS_MSG_STDERR:
            append(&c->err, &c->err_len, c->keep_limit, m.u.stream.data, m.u.stream.data_len);
            break;
        case CPS_MSG_OUTPUT:
            add_output(c, &m.u.output);
            break;
        case CPS_MSG_EXIT:
            c->have_exit = true;
            c->exit_msg = m;
            return 0;
        case CPS_MSG_ERROR:
            c->have_error = true;
            c->error = m.u.error;
            cps__msg_free(&m);
            return 0;
        default:
            fprintf(stderr, "client: unexpected message type %d\n", (int)m.type);
            break;
        }
        cps__msg_free(&m);
    }
}

int client_wait(struct client *c)
{
    pid_t p;

    do {
        p = wait4(c->pid, &c->wait_status, 0, &c->ru);
    } while (p < 0 && errno == EINTR);
    return p < 0 ? -errno : 0;
}

bool client_pidns_alive(const struct client *c)
{
    struct dirent *e;
    bool alive = false;
    DIR *d;

    if (c->pidns_ino == 0)
        return false;
    d = opendir("/proc");
    while (d != NULL && (e = readdir(d)) != NULL) {
        pid_t pid = (pid_t)atoi(e->d_name);

        if (pid > 0 && ns_ino(pid, "pid") == c->pidns_ino) {
            fprintf(stderr, "client: pid %d is still in the job's PID namespace\n", (int)pid);
            alive = true;
        }
    }
    if (d != NULL)
        closedir(d);
    return alive;
}

pid_t find_process_with_arg(const char *marker)
{
    return find_process_with_args(marker, NULL);
}

pid_t find_process_with_args(const char *marker, const char *also)
{
    struct dirent *e;
    pid_t found = 0;
    DIR *d = opendir("/proc");

    while (d != NULL && found == 0 && (e = readdir(d)) != NULL) {
        char path[64], buf[4096];
        pid_t pid = (pid_t)atoi(e->d_name);
        ssize_t n;
        int fd;

        if (pid <= 0)
            continue;
        snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (n <= 0)
            continue;
        for (ssize_t i = 0; i < n; i++)
            if (buf[i] == '\0')
                buf[i] = ' ';
        buf[n] = '\0';
        if (strstr(buf, marker) != NULL && (also == NULL || strstr(buf, also) != NULL))
            found = pid;
    }
    if (d != NULL)
        closedir(d);
    return found;
}

const struct client_output *client_output(const struct client *c, const char *path)
{
    for (size_t i = 0; i < c->outputc; i++)
        if (strcmp(c->outputs[i].path, path) == 0)
            return &c->outputs[i];
    return NULL;
}

void client_free(struct client *c)
{
    if (c->sock >= 0)
        close(c->sock);
    c->sock = -1;
    if (c->pidns_fd > 0)
        close(c->pidns_fd);
    free(c->out);
    free(c->err);
    for (size_t i = 0; i < c->outputc; i++) {
        free(c->outputs[i].path);
        free(c->outputs[i].data);
    }
    if (c->have_exit)
        cps__msg_free(&c->exit_msg);
    memset(c, 0, sizeof(*c));
    c->sock = -1;
}
