/* testutil.c - shared helpers of the parent library's tests. */
#include "testutil.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void tu_die(const char *what, const char *path)
{
    fprintf(stderr, "testutil: %s %s: %s\n", what, path, strerror(errno));
    abort();
}

void tu_mkdtemp(char *buf, size_t size)
{
    const char *tmp = getenv("TMPDIR");

    snprintf(buf, size, "%s/cps-test-XXXXXX", tmp && tmp[0] == '/' ? tmp : "/tmp");
    if (!mkdtemp(buf))
        tu_die("mkdtemp", buf);
    chmod(buf, 0755);
}

const char *tu_fixture_setup(char *buf, size_t size)
{
    tu_mkdtemp(buf, size);
    return getenv("CPS_TEST_TOOLCHAIN");
}

static void rm_at(int at, const char *name)
{
    struct stat st;

    if (fstatat(at, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return;
    if (S_ISDIR(st.st_mode)) {
        fchmodat(at, name, 0700, 0);
        int fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
        struct dirent *e;
        while (d && (e = readdir(d)))
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
                rm_at(dirfd(d), e->d_name);
        if (d)
            closedir(d);
        unlinkat(at, name, AT_REMOVEDIR);
    } else {
        unlinkat(at, name, 0);
    }
}

void tu_rmtree(const char *path)
{
    rm_at(AT_FDCWD, path);
}

void tu_write_file(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    const uint8_t *p = data;

    if (fd < 0)
        tu_die("create", path);
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w <= 0)
            tu_die("write", path);
        p += w;
        len -= (size_t)w;
    }
    close(fd);
}

uint8_t *tu_read_file(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    uint8_t *buf;
    size_t have = 0;

    *len = 0;
    if (fd < 0)
        return NULL;
    if (fstat(fd, &st) < 0)
        tu_die("fstat", path);
    buf = malloc((size_t)st.st_size + 1);
    while (have < (size_t)st.st_size) {
        ssize_t r = read(fd, buf + have, (size_t)st.st_size - have);
        if (r <= 0)
            tu_die("read", path);
        have += (size_t)r;
    }
    buf[have] = 0;
    close(fd);
    *len = have;
    return buf;
}

bool tu_exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

void tu_pattern(uint8_t *buf, size_t len, unsigned seed)
{
    uint32_t x = seed * 2654435761u + 1;

    for (size_t i = 0; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        buf[i] = (uint8_t)x;
    }
}

bool tu_no_children(void)
{
    int st;
    return waitpid(-1, &st, WNOHANG) == -1 && errno == ECHILD;
}

int tu_collect_stream(void *user, enum cps_stream_id id, const void *data, size_t len)
{
    struct tu_streams *s = user;
    uint8_t **buf = id == CPS_STDOUT ? &s->out : &s->err;
    size_t *n = id == CPS_STDOUT ? &s->out_len : &s->err_len;

    *buf = realloc(*buf, *n + len + 1);
    memcpy(*buf + *n, data, len);
    *n += len;
    (*buf)[*n] = 0;
    return 0;
}

void tu_streams_free(struct tu_streams *s)
{
    free(s->out);
    free(s->err);
    memset(s, 0, sizeof(*s));
}

void tu_fake_helpers(char *dir, size_t size, const char *fake_helper)
{
    static const char *const modes[] = {"ok",       "wrongproto", "garbage", "crash",
                                        "hang",     "silent",     "vanish",  "noscratch",
                                        "oldhello", "reuse",      "badreuse"};
    char path[4096];

    tu_mkdtemp(dir, size);
    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, modes[i]);
        if (symlink(fake_helper, path) < 0)
            tu_die("symlink", path);
    }
}

struct cps_job_spec *tu_sh_job(const char *toolchain, const char *script)
{
    struct cps_job_spec *job = cps_job_new();
    struct cps_error err;
    const char *argv[] = {"sh", "-c", script};

    ck_assert_ptr_nonnull(job);
    ck_assert_int_eq(cps_job_set_toolchain(job, toolchain, &err), 0);
    ck_assert_int_eq(cps_job_set_argv(job, 3, argv, &err), 0);
    ck_assert_int_eq(cps_job_add_env(job, "PATH", "/bin", &err), 0);
    return job;
}

struct cps_pool_stats tu_pool_stats(struct cps_pool *pool)
{
    struct cps_pool_stats s;

    cps_pool_get_stats(pool, &s, sizeof(s));
    return s;
}

void tu_sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};

    nanosleep(&ts, NULL);
}
