/*
 * test_check.c - `--check`: the JSON report, as root and as uid 65534, matches
 * this host; usage; nothing is left behind.
 *
 * cps__check_main runs in a fresh process: this test executable, copied into a
 * world-traversable directory, re-executed with --run-check (and through
 * setpriv for uid 65534). A fresh exec matters: a process that merely called
 * setuid() is not dumpable, its /proc/self files belong to root, and it could
 * not write its own uid_map.
 */
#include <check.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check_main.h"
#include "probe.h"
#include "check_run.h"

/* ---- a minimal JSON reader: validates the grammar and flattens scalars into
 * "a.b.0.c" -> text pairs (strings unescaped; \u escapes kept as is). ---- */

#define MAX_PAIRS 512

struct flat {
    char *key[MAX_PAIRS];
    char *value[MAX_PAIRS];
    size_t n;
};

struct parser {
    const char *p;
    struct flat *out;
};

static void skip_ws(struct parser *ps)
{
    while (*ps->p == ' ' || *ps->p == '\n' || *ps->p == '\t' || *ps->p == '\r')
        ps->p++;
}

static char *parse_string(struct parser *ps)
{
    char *buf, *w;

    if (*ps->p != '"')
        return NULL;
    ps->p++;
    buf = w = malloc(strlen(ps->p) + 1);
    while (*ps->p && *ps->p != '"') {
        if ((unsigned char)*ps->p < 0x20) {
            free(buf);
            return NULL;
        }
        if (*ps->p == '\\') {
            ps->p++;
            switch (*ps->p) {
            case 'n':
                *w++ = '\n';
                break;
            case 't':
                *w++ = '\t';
                break;
            case '"':
            case '\\':
            case '/':
                *w++ = *ps->p;
                break;
            case 'u':
                for (int i = 1; i <= 4; i++) {
                    if (!isxdigit((unsigned char)ps->p[i])) {
                        free(buf);
                        return NULL;
                    }
                }
                *w++ = '\\';
                memcpy(w, ps->p, 5);
                w += 5;
                ps->p += 4;
                break;
            default:
                free(buf);
                return NULL;
            }
            ps->p++;
        } else {
            *w++ = *ps->p++;
        }
    }
    if (*ps->p != '"') {
        free(buf);
        return NULL;
    }
    ps->p++;
    *w = '\0';
    return buf;
}

static bool parse_value(struct parser *ps, const char *path);

static void add_pair(struct parser *ps, const char *path, char *value)
{
    ck_assert_uint_lt(ps->out->n, MAX_PAIRS);
    ps->out->key[ps->out->n] = strdup(path);
    ps->out->value[ps->out->n] = value;
    ps->out->n++;
}

static char *join(const char *path, const char *key)
{
    char *s;

    ck_assert_int_ge(asprintf(&s, "%s%s%s", path, *path ? "." : "", key), 0);
    return s;
}

static bool parse_value(struct parser *ps, const char *path)
{
    skip_ws(ps);
    if (*ps->p == '{') {
        ps->p++;
        skip_ws(ps);
        if (*ps->p == '}') {
            ps->p++;
            return true;
        }
        for (;;) {
            char *key, *sub;
            bool ok;

            skip_ws(ps);
            key = parse_string(ps);
            if (!key)
                return false;
            skip_ws(ps);
            if (*ps->p++ != ':') {
                free(key);
                return false;
            }
            sub = join(path, key);
            ok = parse_value(ps, sub);
            free(sub);
            free(key);
            if (!ok)
                return false;
            skip_ws(ps);
            if (*ps->p == ',') {
                ps->p++;
                continue;
            }
            if (*ps->p == '}') {
                ps->p++;
                return true;
            }
            return false;
        }
    }
    if (*ps->p == '[') {
        ps->p++;
        skip_ws(ps);
        if (*ps->p == ']') {
            ps->p++;
            return true;
        }
        for (int i = 0;; i++) {
            char idx[16], *sub;
            bool ok;

            snprintf(idx, sizeof(idx), "%d", i);
            sub = join(path, idx);
            ok = parse_value(ps, sub);
            free(sub);
            if (!ok)
                return false;
            skip_ws(ps);
            if (*ps->p == ',') {
                ps->p++;
                continue;
            }
            if (*ps->p == ']') {
                ps->p++;
                return true;
            }
            return false;
        }
    }
    if (*ps->p == '"') {
        char *s = parse_string(ps);

        if (!s)
            return false;
        add_pair(ps, path, s);
        return true;
    }
    for (const char *const *lit = (const char *const[]){"true", "false", "null", NULL}; *lit;
         lit++) {
        if (strncmp(ps->p, *lit, strlen(*lit)) == 0) {
            ps->p += strlen(*lit);
            add_pair(ps, path, strdup(*lit));
            return true;
        }
    }
    if (*ps->p == '-' || isdigit((unsigned char)*ps->p)) {
        const char *start = ps->p;

        if (*ps->p == '-')
            ps->p++;
        if (!isdigit((unsigned char)*ps->p))
            return false;
        while (isdigit((unsigned char)*ps->p))
            ps->p++;
        add_pair(ps, path, strndup(start, (size_t)(ps->p - start)));
        return true;
    }
    return false;
}

static void parse_json(const char *text, struct flat *out)
{
    struct parser ps = {text, out};

    memset(out, 0, sizeof(*out));
    ck_assert_msg(parse_value(&ps, ""), "invalid JSON near: %.60s", ps.p);
    skip_ws(&ps);
    ck_assert_msg(*ps.p == '\0', "trailing bytes after the JSON object: %.60s", ps.p);
}

static const char *get(const struct flat *f, const char *key)
{
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->key[i], key) == 0)
            return f->value[i];
    ck_abort_msg("key %s missing from the JSON report", key);
    return NULL;
}

static void flat_free(struct flat *f)
{
    for (size_t i = 0; i < f->n; i++) {
        free(f->key[i]);
        free(f->value[i]);
    }
    f->n = 0;
}

/* The combination entry for backend x overlay: its "works" value. */
static const char *combination(const struct flat *f, const char *backend, const char *overlay)
{
    for (int i = 0; i < 6; i++) {
        char k1[64], k2[64], k3[64];

        snprintf(k1, sizeof(k1), "combinations.%d.backend", i);
        snprintf(k2, sizeof(k2), "combinations.%d.overlay", i);
        snprintf(k3, sizeof(k3), "combinations.%d.works", i);
        if (strcmp(get(f, k1), backend) == 0 && strcmp(get(f, k2), overlay) == 0)
            return get(f, k3);
    }
    ck_abort_msg("no combination %s x %s", backend, overlay);
    return NULL;
}

/* ---- running the check in a fresh process ------------------------------- */

static char self_copy[PATH_MAX];
static char work_dir[PATH_MAX];

/* Copy this executable into a fresh world-traversable directory once. */
static void setup(void)
{
    char tmpl[] = "/tmp/cps-test-check-XXXXXX";
    int in, out;
    char buf[65536];
    ssize_t n;

    ck_assert_ptr_nonnull(mkdtemp(tmpl));
    ck_assert_int_eq(chmod(tmpl, 0755), 0);
    snprintf(work_dir, sizeof(work_dir), "%s", tmpl);
    snprintf(self_copy, sizeof(self_copy), "%s/test_check", tmpl);
    in = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    ck_assert_int_ge(in, 0);
    out = open(self_copy, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0755);
    ck_assert_int_ge(out, 0);
    while ((n = read(in, buf, sizeof(buf))) > 0)
        ck_assert_int_eq(write(out, buf, (size_t)n), n);
    close(in);
    ck_assert_int_eq(close(out), 0);
}

static void teardown(void)
{
    pid_t pid;
    int status;
    char *const argv[] = {(char[]){"/bin/rm"}, (char[]){"-rf"}, work_dir, NULL};

    if (!work_dir[0])
        return;
    if (posix_spawn(&pid, argv[0], NULL, NULL, argv, environ) == 0)
        waitpid(pid, &status, 0);
}

/* A directory for the check's temporary files, owned by uid. */
static char *make_tmpdir(const char *name, uid_t uid)
{
    char *dir;

    ck_assert_int_ge(asprintf(&dir, "%s/%s", work_dir, name), 0);
    ck_assert_int_eq(mkdir(dir, 0755), 0);
    ck_assert_int_eq(chown(dir, uid, uid), 0);
    return dir;
}

static bool dir_is_empty(const char *path)
{
    DIR *d = opendir(path);
    struct dirent *de;
    bool empty = true;

    ck_assert_ptr_nonnull(d);
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            empty = false;
    closedir(d);
    return empty;
}

/* No mount point and no process command line mentions text. */
static void assert_nothing_mentions(const char *text)
{
    FILE *f = fopen("/proc/self/mountinfo", "re");
    char line[8192];
    DIR *proc;
    struct dirent *de;

    ck_assert_ptr_nonnull(f);
    while (fgets(line, sizeof(line), f))
        ck_assert_msg(strstr(line, text) == NULL, "mount left behind: %s", line);
    fclose(f);
    proc = opendir("/proc");
    ck_assert_ptr_nonnull(proc);
    while ((de = readdir(proc))) {
        char path[300];
        char cmd[4096];
        ssize_t n;
        int fd;

        if (!isdigit((unsigned char)de->d_name[0]))
            continue;
        snprintf(path, sizeof(path), "/proc/%s/cmdline", de->d_name);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        n = read(fd, cmd, sizeof(cmd) - 1);
        close(fd);
        if (n <= 0)
            continue;
        for (ssize_t i = 0; i < n; i++)
            if (cmd[i] == '\0')
                cmd[i] = ' ';
        cmd[n] = '\0';
        ck_assert_msg(strstr(cmd, text) == NULL, "process %s left behind: %s", de->d_name, cmd);
    }
    closedir(proc);
}

/* Run the copied test executable with --run-check args..., as uid (0 or
 * 65534 through setpriv), after the words of prefix (may be NULL). Returns the
 * exit status; *out is stdout (new). */
static int run_check_with(uid_t uid, const char *const *prefix, const char *const *args, char **out)
{
    const char *argv[32];
    size_t n = 0;
    posix_spawn_file_actions_t fa;
    char *envp[] = {(char[]){"PATH=/usr/local/bin:/usr/bin:/bin"}, NULL};
    int pipefd[2];
    pid_t pid;
    int status;
    size_t len = 0;
    FILE *mem;
    char buf[4096];
    ssize_t r;

    if (uid != 0) {
        static char reuid[32], regid[32];

        snprintf(reuid, sizeof(reuid), "--reuid=%u", (unsigned)uid);
        snprintf(regid, sizeof(regid), "--regid=%u", (unsigned)uid);
        argv[n++] = "/usr/bin/setpriv";
        argv[n++] = reuid;
        argv[n++] = regid;
        argv[n++] = "--clear-groups";
    }
    for (; prefix && *prefix; prefix++)
        argv[n++] = *prefix;
    argv[n++] = self_copy;
    argv[n++] = "--run-check";
    for (; *args; args++)
        argv[n++] = *args;
    argv[n] = NULL;
    *out = NULL;
    mem = open_memstream(out, &len);
    ck_assert_int_eq(pipe2(pipefd, O_CLOEXEC), 0);
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
    posix_spawn_file_actions_addchdir_np(&fa, "/");
    ck_assert_int_eq(posix_spawn(&pid, argv[0], &fa, NULL, (char **)(uintptr_t)argv, envp), 0);
    posix_spawn_file_actions_destroy(&fa);
    close(pipefd[1]);
    while ((r = read(pipefd[0], buf, sizeof(buf))) > 0)
        fwrite(buf, 1, (size_t)r, mem);
    close(pipefd[0]);
    fclose(mem);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    return status;
}

static int run_check(uid_t uid, const char *const *args, char **out)
{
    return run_check_with(uid, NULL, args, out);
}

static void assert_common(const struct flat *f, uid_t uid)
{
    static const char *const probes[] = {"kernel", "userns",  "idmap", "namespaces", "proc",
                                         "netns",  "overlay", "fuse",  "bwrap",      "cgroup"};
    struct utsname u;
    char key[64];
    char num[32];

    ck_assert_str_eq(get(f, "check_version"), "1");
    ck_assert_str_eq(get(f, "helper_version"), CPS_VERSION);
    snprintf(num, sizeof(num), "%u", (unsigned)uid);
    ck_assert_str_eq(get(f, "uid"), num);
    for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
        snprintf(key, sizeof(key), "probes.%s.status", probes[i]);
        get(f, key);
        snprintf(key, sizeof(key), "probes.%s.detail", probes[i]);
        get(f, key);
        snprintf(key, sizeof(key), "probes.%s.hint", probes[i]);
        get(f, key);
    }
    ck_assert_int_eq(uname(&u), 0);
    ck_assert_str_eq(get(f, "probes.kernel.release"), u.release);
    /* This kind of machine: kernel 6.x, unprivileged user namespaces and
     * overlayfs in a user namespace work, bwrap 0.8.0 works nested. */
    ck_assert_str_eq(get(f, "probes.userns.status"), "ok");
    ck_assert_str_eq(get(f, "probes.userns.running_as_root"), uid == 0 ? "true" : "false");
    ck_assert_str_eq(get(f, "probes.idmap.status"), "ok");
    ck_assert_str_eq(get(f, "probes.namespaces.status"), "ok");
    ck_assert_str_eq(get(f, "probes.proc.status"), "ok");
    ck_assert_str_eq(get(f, "probes.netns.status"), "ok");
    ck_assert_int_gt(atoi(get(f, "probes.netns.usec")), 0);
    ck_assert_str_eq(get(f, "probes.overlay.status"), "ok");
    ck_assert_str_eq(get(f, "probes.bwrap.status"), "ok");
    ck_assert_str_eq(combination(f, "userns", "native"), "true");
    ck_assert_str_eq(combination(f, "userns", "bind"), "true");
    ck_assert_str_eq(combination(f, "bubblewrap", "native"), "true");
    ck_assert_str_eq(combination(f, "bubblewrap", "bind"), "true");
    ck_assert_str_eq(get(f, "usable"), "true");
}

START_TEST(json_as_root)
{
    char *tmp = make_tmpdir("tmp-root", 0);
    char *out;
    struct flat f;
    int status = run_check(0, (const char *const[]){"--json", "--tmpdir", tmp, NULL}, &out);

    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d: %s", status, out);
    parse_json(out, &f);
    assert_common(&f, 0);
    ck_assert_str_eq(get(&f, "tmpdir"), tmp);
    /* /dev/fuse is 0600 root here: root can use it. */
    ck_assert_str_eq(get(&f, "probes.fuse.status"), "ok");
    ck_assert_str_eq(get(&f, "probes.fuse.dev_fuse_usable"), "true");
    ck_assert_str_eq(combination(&f, "userns", "fuse"), "true");
    ck_assert_str_eq(combination(&f, "bubblewrap", "fuse"), "true");
    /* hello's static checks agree with the probes here. */
    ck_assert_str_eq(get(&f, "hello.backends.0"), "userns");
    ck_assert_str_eq(get(&f, "hello.backends.1"), "bubblewrap");
    ck_assert_str_eq(get(&f, "hello.overlay_modes.0"), "native");
    ck_assert_str_eq(get(&f, "hello.overlay_modes.1"), "fuse");
    ck_assert_str_eq(get(&f, "hello.overlay_modes.2"), "bind");
    ck_assert(dir_is_empty(tmp));
    assert_nothing_mentions(tmp);
    flat_free(&f);
    free(out);
    free(tmp);
}
END_TEST

START_TEST(json_as_nobody)
{
    char *tmp = make_tmpdir("tmp-nobody", 65534);
    char *out;
    struct flat f;
    int status = run_check(65534, (const char *const[]){"--json", "--tmpdir", tmp, NULL}, &out);

    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d: %s", status, out);
    parse_json(out, &f);
    assert_common(&f, 65534);
    /* ... but uid 65534 cannot open it, and the report says why. */
    ck_assert_str_eq(get(&f, "probes.fuse.status"), "failed");
    ck_assert_str_eq(get(&f, "probes.fuse.dev_fuse_usable"), "false");
    ck_assert_str_eq(get(&f, "probes.fuse.dev_fuse_mode"), "0600");
    ck_assert_ptr_nonnull(
        strstr(get(&f, "probes.fuse.detail"), "/dev/fuse is mode 0600 owned by root (uid 0"));
    ck_assert_ptr_nonnull(strstr(get(&f, "probes.fuse.hint"), "/dev/fuse"));
    ck_assert_str_eq(combination(&f, "userns", "fuse"), "false");
    ck_assert_str_eq(combination(&f, "bubblewrap", "fuse"), "false");
    ck_assert_str_eq(get(&f, "hello.overlay_modes.0"), "native");
    ck_assert_str_eq(get(&f, "hello.overlay_modes.1"), "bind");
    ck_assert(dir_is_empty(tmp));
    assert_nothing_mentions(tmp);
    flat_free(&f);
    free(out);
    free(tmp);
}
END_TEST

START_TEST(human_output)
{
    char *tmp = make_tmpdir("tmp-human", 65534);
    char *out;
    int status = run_check(65534, (const char *const[]){"--tmpdir", tmp, NULL}, &out);

    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d: %s", status, out);
    ck_assert_ptr_nonnull(strstr(out, "\n  userns      native   works\n"));
    ck_assert_ptr_nonnull(strstr(out, "\n  bubblewrap  fuse     does not work: fuse: /dev/fuse"));
    ck_assert_ptr_nonnull(strstr(out, "\n4 of 6 combinations work\n"));
    ck_assert(dir_is_empty(tmp));
    free(out);
    free(tmp);
}
END_TEST

START_TEST(missing_bwrap_is_reported)
{
    char *out;
    struct flat f;
    int status;

    /* The copy of the environment run_check passes has no CACHEPOT_BWRAP;
     * set it through the check's own process instead. */
    setenv("CACHEPOT_BWRAP", "/nonexistent/bwrap", 1);
    {
        char *argv[] = {(char[]){"--json"}, NULL};
        int pipefd[2];
        pid_t pid;
        size_t len = 0;
        FILE *mem;
        char buf[4096];
        ssize_t r;

        ck_assert_int_eq(pipe(pipefd), 0);
        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
            dup2(pipefd[1], 1);
            close(pipefd[0]);
            close(pipefd[1]);
            _exit(cps__check_main(1, argv));
        }
        close(pipefd[1]);
        mem = open_memstream(&out, &len);
        while ((r = read(pipefd[0], buf, sizeof(buf))) > 0)
            fwrite(buf, 1, (size_t)r, mem);
        close(pipefd[0]);
        fclose(mem);
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    }
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s", out);
    parse_json(out, &f);
    ck_assert_str_eq(get(&f, "probes.bwrap.status"), "failed");
    ck_assert_ptr_nonnull(strstr(get(&f, "probes.bwrap.detail"), "/nonexistent/bwrap"));
    ck_assert_str_eq(get(&f, "probes.bwrap.path"), "null");
    ck_assert_str_eq(combination(&f, "bubblewrap", "native"), "false");
    ck_assert_str_eq(get(&f, "combinations.3.blocked_by"), "bwrap");
    ck_assert_str_eq(combination(&f, "userns", "native"), "true");
    flat_free(&f);
    free(out);
}
END_TEST

/* A host where no user namespace can be created: lower
 * user.max_user_namespaces to 0 inside a user namespace of our own (the limit
 * is per namespace, user_namespaces(7)), then run the check in there. */
START_TEST(no_user_namespaces)
{
    char *tmp = make_tmpdir("tmp-nouserns", 65534);
    char *out;
    struct flat f;
    static const char *const prefix[] = {
        "/usr/bin/unshare",
        "-Ur",
        "/bin/sh",
        "-c",
        "echo 0 > /proc/sys/user/max_user_namespaces && exec \"$0\" \"$@\"",
        NULL};
    int status =
        run_check_with(65534, prefix, (const char *const[]){"--json", "--tmpdir", tmp, NULL}, &out);

    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 1, "status %d: %s", status, out);
    parse_json(out, &f);
    ck_assert_str_eq(get(&f, "probes.userns.status"), "failed");
    ck_assert_str_eq(get(&f, "probes.userns.errno"), "28");
    ck_assert_str_eq(get(&f, "probes.userns.max_user_namespaces"), "0");
    ck_assert_str_eq(get(&f, "probes.userns.in_user_namespace"), "true");
    ck_assert_ptr_nonnull(strstr(get(&f, "probes.userns.hint"), "user.max_user_namespaces"));
    ck_assert_str_eq(get(&f, "probes.idmap.status"), "skipped");
    ck_assert_str_eq(get(&f, "probes.overlay.status"), "skipped");
    ck_assert_str_eq(get(&f, "probes.bwrap.status"), "skipped");
    for (int i = 0; i < 6; i++) {
        char key[64];

        snprintf(key, sizeof(key), "combinations.%d.works", i);
        ck_assert_str_eq(get(&f, key), "false");
        snprintf(key, sizeof(key), "combinations.%d.blocked_by", i);
        ck_assert_str_eq(get(&f, key), "userns");
    }
    ck_assert_str_eq(get(&f, "usable"), "false");
    ck_assert(dir_is_empty(tmp));
    flat_free(&f);
    free(out);
    free(tmp);
}
END_TEST

START_TEST(usage)
{
    char *out;
    int status = run_check(0, (const char *const[]){"--help", NULL}, &out);

    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    ck_assert_ptr_nonnull(strstr(out, "--json"));
    ck_assert_ptr_nonnull(strstr(out, "--tmpdir DIR"));
    free(out);
    status = run_check(0, (const char *const[]){"--bogus", NULL}, &out);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 2);
    ck_assert_str_eq(out, "");
    free(out);
    /* A leading "--check" (the helper's argv + 1) is accepted. */
    status = run_check(0, (const char *const[]){"--check", "--help", NULL}, &out);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    free(out);
}
END_TEST

/* ---- the probe machinery ---------------------------------------------- */

static void probe_answers(void *arg, struct cps_probe_result *r)
{
    cps__probe_set(r, CPS_PROBE_OK, 0, NULL, "answer from pid %d", (int)getpid());
    r->value = *(int *)arg;
}

static void probe_dies(void *arg, struct cps_probe_result *r)
{
    raise(SIGKILL);
}

static void probe_hangs(void *arg, struct cps_probe_result *r)
{
    for (;;)
        pause();
}

START_TEST(probe_child_result)
{
    struct cps_probe_result r;
    int value = 42;
    char mine[64];

    cps__probe_in_child(probe_answers, &value, 30000, &r);
    ck_assert_int_eq(r.status, CPS_PROBE_OK);
    ck_assert_int_eq(r.value, 42);
    /* It ran in another process. */
    snprintf(mine, sizeof(mine), "answer from pid %d", (int)getpid());
    ck_assert_str_ne(r.detail, mine);
    ck_assert_ptr_nonnull(strstr(r.detail, "answer from pid "));
}
END_TEST

START_TEST(probe_child_dies)
{
    struct cps_probe_result r;

    cps__probe_in_child(probe_dies, NULL, 30000, &r);
    ck_assert_int_eq(r.status, CPS_PROBE_FAILED);
    ck_assert_ptr_nonnull(strstr(r.detail, "killed by signal 9"));
}
END_TEST

START_TEST(probe_child_hangs)
{
    struct cps_probe_result r;

    cps__probe_in_child(probe_hangs, NULL, 200, &r);
    ck_assert_int_eq(r.status, CPS_PROBE_FAILED);
    ck_assert_int_eq(r.errnum, ETIMEDOUT);
    ck_assert_ptr_nonnull(strstr(r.detail, "did not finish within 200 ms"));
    /* The child was killed and reaped. */
    ck_assert_int_eq(waitpid(-1, NULL, WNOHANG), -1);
    ck_assert_int_eq(errno, ECHILD);
}
END_TEST

START_TEST(remove_tree)
{
    char *top, *p;
    char keep[] = "/tmp/cps-test-check-keep-XXXXXX";
    int fd;
    struct stat st;

    ck_assert_ptr_nonnull(mkdtemp(keep));
    ck_assert_int_ge(asprintf(&top, "%s/tree", work_dir), 0);
    ck_assert_int_eq(mkdir(top, 0755), 0);
    ck_assert_int_ge(asprintf(&p, "%s/a", top), 0);
    ck_assert_int_eq(mkdir(p, 0755), 0);
    free(p);
    ck_assert_int_ge(asprintf(&p, "%s/a/file", top), 0);
    fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    ck_assert_int_ge(fd, 0);
    close(fd);
    free(p);
    /* overlayfs's work/work: mode 000. */
    ck_assert_int_ge(asprintf(&p, "%s/a/locked", top), 0);
    ck_assert_int_eq(mkdir(p, 0755), 0);
    free(p);
    ck_assert_int_ge(asprintf(&p, "%s/a/locked/inner", top), 0);
    ck_assert_int_eq(mkdir(p, 0755), 0);
    free(p);
    ck_assert_int_ge(asprintf(&p, "%s/a/locked", top), 0);
    ck_assert_int_eq(chmod(p, 0), 0);
    free(p);
    /* A symlink out of the tree is removed, never followed. */
    ck_assert_int_ge(asprintf(&p, "%s/link", top), 0);
    ck_assert_int_eq(symlink(keep, p), 0);
    free(p);

    ck_assert_int_eq(cps__probe_remove_tree(top), 0);
    ck_assert_int_eq(lstat(top, &st), -1);
    ck_assert_int_eq(stat(keep, &st), 0);
    ck_assert_int_eq(cps__probe_remove_tree(top), 0);
    ck_assert_int_eq(rmdir(keep), 0);
    free(top);
}
END_TEST

int main(int argc, char **argv)
{
    Suite *s;
    TCase *tc;

    if (argc >= 2 && strcmp(argv[1], "--run-check") == 0)
        return cps__check_main(argc - 2, argv + 2);
    if (geteuid() != 0) {
        printf("SKIP: the check runs as root and as uid 65534 need root\n");
        return 77;
    }
    s = suite_create("check");
    tc = tcase_create("check");
    tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, json_as_root);
    tcase_add_test(tc, json_as_nobody);
    tcase_add_test(tc, human_output);
    tcase_add_test(tc, missing_bwrap_is_reported);
    tcase_add_test(tc, no_user_namespaces);
    tcase_add_test(tc, probe_child_result);
    tcase_add_test(tc, probe_child_dies);
    tcase_add_test(tc, probe_child_hangs);
    tcase_add_test(tc, remove_tree);
    tcase_add_test(tc, usage);
    suite_add_tcase(s, tc);
    return cps_test_run(s);
}
