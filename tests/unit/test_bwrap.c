/* test_bwrap.c - finding bwrap, its version, its argv, and real runs of that argv. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bwrap.h"
#include "namespaces.h"
#include "check_run.h"

#define BUSYBOX "/bin/busybox"

/* ---- version parsing ---------------------------------------------------- */

static int parse(const char *text, struct cps_bwrap_version *v)
{
    return cps__bwrap_version_parse(text, strlen(text), v);
}

START_TEST(version_good)
{
    struct cps_bwrap_version v;

    ck_assert_int_eq(parse("bubblewrap 0.8.0\n", &v), 0);
    ck_assert_uint_eq(v.major, 0);
    ck_assert_uint_eq(v.minor, 8);
    ck_assert_uint_eq(v.micro, 0);
    ck_assert_int_eq(parse("bubblewrap 0.11.2", &v), 0);
    ck_assert_uint_eq(v.minor, 11);
    ck_assert_uint_eq(v.micro, 2);
    ck_assert_int_eq(parse("bubblewrap 1.10\n", &v), 0);
    ck_assert_uint_eq(v.major, 1);
    ck_assert_uint_eq(v.minor, 10);
    ck_assert_uint_eq(v.micro, 0);
}
END_TEST

START_TEST(version_garbage)
{
    struct cps_bwrap_version v = {7, 7, 7};

    ck_assert_int_eq(parse("", &v), -EINVAL);
    ck_assert_int_eq(parse("bubblewrap", &v), -EINVAL);
    ck_assert_int_eq(parse("bubblewrap ", &v), -EINVAL);
    ck_assert_int_eq(parse("bwrap 0.8.0", &v), -EINVAL);
    ck_assert_int_eq(parse("bubblewrap x.y.z", &v), -EINVAL);
    ck_assert_int_eq(parse("bubblewrap 0", &v), -EINVAL);
    ck_assert_int_eq(parse("bubblewrap 0.8.", &v), -EINVAL);
    ck_assert_int_eq(parse("bubblewrap 0.8.0 (patched)", &v), -EINVAL);
    ck_assert_int_eq(parse("bubblewrap 99999999999.1", &v), -EINVAL);
    /* Nothing is written on failure. */
    ck_assert_uint_eq(v.major, 7);
}
END_TEST

START_TEST(version_compare)
{
    struct cps_bwrap_version v = {0, 8, 0};

    ck_assert_int_eq(cps__bwrap_version_cmp(&v, 0, 3, 0), 1);
    ck_assert_int_eq(cps__bwrap_version_cmp(&v, 0, 8, 0), 0);
    ck_assert_int_eq(cps__bwrap_version_cmp(&v, 0, 8, 1), -1);
    ck_assert_int_eq(cps__bwrap_version_cmp(&v, 1, 0, 0), -1);
}
END_TEST

/* ---- finding and probing, with fake bwrap scripts ----------------------- */

static char *make_tempdir(void)
{
    char *dir = strdup("/tmp/cps-test-bwrap-XXXXXX");

    ck_assert_ptr_nonnull(mkdtemp(dir));
    /* Traversable by uid 65534, which the real runs below use. */
    ck_assert_int_eq(chmod(dir, 0755), 0);
    return dir;
}

static void remove_tree(const char *dir)
{
    pid_t pid;
    int status;
    char *const argv[] = {(char[]){"/bin/rm"}, (char[]){"-rf"}, (char *)(uintptr_t)dir, NULL};

    ck_assert_int_eq(posix_spawn(&pid, argv[0], NULL, NULL, argv, environ), 0);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static char *write_script(const char *dir, const char *name, const char *body)
{
    char *path;
    FILE *f;

    ck_assert_int_ge(asprintf(&path, "%s/%s", dir, name), 0);
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "#!/bin/sh\n%s\n", body);
    ck_assert_int_eq(fclose(f), 0);
    ck_assert_int_eq(chmod(path, 0755), 0);
    return path;
}

START_TEST(probe_real)
{
    struct cps_bwrap b;
    struct cps_error err = {0};

    unsetenv(CPS_BWRAP_ENV);
    ck_assert_msg(cps__bwrap_probe(&b, &err) == 0, "%s", err.message);
    ck_assert_str_eq(b.path + strlen(b.path) - 6, "/bwrap");
    ck_assert_int_ge(cps__bwrap_version_cmp(&b.version, CPS_BWRAP_MIN_MAJOR, CPS_BWRAP_MIN_MINOR,
                                            CPS_BWRAP_MIN_MICRO),
                     0);
}
END_TEST

START_TEST(probe_too_old)
{
    char *dir = make_tempdir();
    char *fake = write_script(dir, "bwrap", "echo bubblewrap 0.2.1");
    struct cps_bwrap b;
    struct cps_error err = {0};

    setenv(CPS_BWRAP_ENV, fake, 1);
    ck_assert_int_eq(cps__bwrap_probe(&b, &err), -ENOTSUP);
    ck_assert_str_eq(err.stage, "bubblewrap");
    ck_assert_ptr_nonnull(strstr(err.message, "bubblewrap 0.2.1"));
    ck_assert_ptr_nonnull(strstr(err.message, fake));
    ck_assert_ptr_nonnull(strstr(err.message, "0.3.0 or newer"));
    ck_assert_ptr_nonnull(strstr(err.hint, CPS_BWRAP_ENV));
    remove_tree(dir);
    free(fake);
    free(dir);
}
END_TEST

START_TEST(probe_garbage)
{
    char *dir = make_tempdir();
    char *fake = write_script(dir, "bwrap", "echo 'this is not bwrap'");
    struct cps_bwrap b;
    struct cps_error err = {0};

    setenv(CPS_BWRAP_ENV, fake, 1);
    ck_assert_int_eq(cps__bwrap_probe(&b, &err), -ENOEXEC);
    ck_assert_str_eq(err.stage, "bubblewrap");
    ck_assert_ptr_nonnull(strstr(err.message, "this is not bwrap"));
    ck_assert_ptr_nonnull(strstr(err.message, fake));
    remove_tree(dir);
    free(fake);
    free(dir);
}
END_TEST

START_TEST(probe_failing)
{
    char *dir = make_tempdir();
    char *fake = write_script(dir, "bwrap", "echo 'bubblewrap 0.8.0'; exit 3");
    struct cps_bwrap b;
    struct cps_error err = {0};

    setenv(CPS_BWRAP_ENV, fake, 1);
    ck_assert_int_eq(cps__bwrap_probe(&b, &err), -ENOEXEC);
    ck_assert_ptr_nonnull(strstr(err.message, "exited with 3"));
    remove_tree(dir);
    free(fake);
    free(dir);
}
END_TEST

START_TEST(find_env_missing)
{
    char path[PATH_MAX];
    struct cps_error err = {0};

    setenv(CPS_BWRAP_ENV, "/nonexistent/bwrap", 1);
    ck_assert_int_eq(cps__bwrap_find(path, sizeof(path), &err), -ENOENT);
    ck_assert_str_eq(err.stage, "bubblewrap");
    ck_assert_ptr_nonnull(strstr(err.message, "/nonexistent/bwrap"));
}
END_TEST

START_TEST(find_not_in_path)
{
    char *dir = make_tempdir();
    char path[PATH_MAX];
    struct cps_error err = {0};

    unsetenv(CPS_BWRAP_ENV);
    setenv("PATH", dir, 1);
    ck_assert_int_eq(cps__bwrap_find(path, sizeof(path), &err), -ENOENT);
    ck_assert_ptr_nonnull(strstr(err.message, dir));
    ck_assert_ptr_nonnull(strstr(err.hint, "apt-get install bubblewrap"));
    remove_tree(dir);
    free(dir);
}
END_TEST

START_TEST(find_in_path)
{
    char *dir = make_tempdir();
    char *fake = write_script(dir, "bwrap", "echo bubblewrap 0.9.0");
    char *search;
    char path[PATH_MAX];
    struct cps_bwrap b;
    struct cps_error err = {0};

    unsetenv(CPS_BWRAP_ENV);
    ck_assert_int_ge(asprintf(&search, "/nonexistent:%s:/usr/bin", dir), 0);
    setenv("PATH", search, 1);
    ck_assert_int_eq(cps__bwrap_find(path, sizeof(path), &err), 0);
    ck_assert_str_eq(path, fake);
    ck_assert_int_eq(cps__bwrap_probe(&b, &err), 0);
    ck_assert_uint_eq(b.version.minor, 9);
    remove_tree(dir);
    free(search);
    free(fake);
    free(dir);
}
END_TEST

/* ---- argv --------------------------------------------------------------- */

static const char *job_argv[] = {(char[]){"cc"}, (char[]){"-c"}, (char[]){"a.c"}, (char[]){"--"}};
static struct cps_env_pair job_env[] = {
    {(char[]){"PATH"}, (char[]){"/usr/bin:/bin"}},
    {(char[]){"LANG"}, (char[]){"C"}},
};

static char work_dir[] = "/work dir";

static struct cps_job sample_job(void)
{
    struct cps_job job = {0};

    job.argv = job_argv;
    job.argc = 4;
    job.env = job_env;
    job.envc = 2;
    job.cwd = work_dir;
    job.has_uid = true;
    job.uid = 1000;
    job.has_gid = true;
    job.gid = 1001;
    job.limits.tmp_bytes = 67108864;
    return job;
}

static void assert_argv(char **got, const char *const *want)
{
    size_t i = 0;

    for (; want[i]; i++) {
        ck_assert_msg(got[i] != NULL, "argv ends at %zu, wanted \"%s\"", i, want[i]);
        ck_assert_msg(strcmp(got[i], want[i]) == 0, "argv[%zu] is \"%s\", wanted \"%s\"", i, got[i],
                      want[i]);
    }
    ck_assert_msg(got[i] == NULL, "argv has extra entry \"%s\" at %zu", got[i], i);
}

START_TEST(argv_full)
{
    struct cps_job job = sample_job();
    struct cps_bwrap b = {.path = "/usr/bin/bwrap", .version = {0, 8, 0}};
    struct cps_error err = {0};
    char **argv;
    static const char *const want[] = {"/usr/bin/bwrap",
                                       "--die-with-parent",
                                       "--new-session",
                                       "--cap-drop",
                                       "ALL",
                                       "--unshare-user",
                                       "--unshare-ipc",
                                       "--unshare-pid",
                                       "--unshare-net",
                                       "--unshare-uts",
                                       "--unshare-cgroup",
                                       "--uid",
                                       "1000",
                                       "--gid",
                                       "1001",
                                       "--hostname",
                                       CPS_SANDBOX_HOSTNAME,
                                       "--bind",
                                       "/b/target",
                                       "/",
                                       "--proc",
                                       "/proc",
                                       "--ro-bind-try",
                                       "/proc/sys",
                                       "/proc/sys",
                                       "--ro-bind-try",
                                       "/proc/sysrq-trigger",
                                       "/proc/sysrq-trigger",
                                       "--ro-bind-try",
                                       "/proc/irq",
                                       "/proc/irq",
                                       "--ro-bind-try",
                                       "/proc/bus",
                                       "/proc/bus",
                                       "--ro-bind-try",
                                       "/proc/fs",
                                       "/proc/fs",
                                       "--dev-bind",
                                       "/b/target/dev",
                                       "/dev",
                                       "--ro-bind-try",
                                       "/dev/null",
                                       "/proc/1/mem",
                                       "--ro-bind-try",
                                       "/dev/null",
                                       "/proc/1/task/1/mem",
                                       "--chdir",
                                       "/work dir",
                                       "--clearenv",
                                       "--setenv",
                                       "PATH",
                                       "/usr/bin:/bin",
                                       "--setenv",
                                       "LANG",
                                       "C",
                                       "--",
                                       "cc",
                                       "-c",
                                       "a.c",
                                       "--",
                                       NULL};

    ck_assert_int_eq(cps__bwrap_argv(&job, &b, "/b/target", &argv, &err), 0);
    assert_argv(argv, want);
    cps__bwrap_argv_free(argv);
}
END_TEST

START_TEST(argv_old_bwrap_no_ids)
{
    struct cps_job job = sample_job();
    struct cps_bwrap b = {.path = "/opt/bwrap", .version = {0, 4, 1}};
    struct cps_error err = {0};
    char **argv;
    static const char *const want[] = {"/opt/bwrap",
                                       "--die-with-parent",
                                       "--new-session",
                                       "--cap-drop",
                                       "ALL",
                                       "--unshare-user",
                                       "--unshare-ipc",
                                       "--unshare-pid",
                                       "--unshare-net",
                                       "--unshare-uts",
                                       "--unshare-cgroup",
                                       "--hostname",
                                       CPS_SANDBOX_HOSTNAME,
                                       "--bind",
                                       "/t",
                                       "/",
                                       "--proc",
                                       "/proc",
                                       "--ro-bind-try",
                                       "/proc/sys",
                                       "/proc/sys",
                                       "--ro-bind-try",
                                       "/proc/sysrq-trigger",
                                       "/proc/sysrq-trigger",
                                       "--ro-bind-try",
                                       "/proc/irq",
                                       "/proc/irq",
                                       "--ro-bind-try",
                                       "/proc/bus",
                                       "/proc/bus",
                                       "--ro-bind-try",
                                       "/proc/fs",
                                       "/proc/fs",
                                       "--dev-bind",
                                       "/t/dev",
                                       "/dev",
                                       "--ro-bind-try",
                                       "/dev/null",
                                       "/proc/1/mem",
                                       "--ro-bind-try",
                                       "/dev/null",
                                       "/proc/1/task/1/mem",
                                       "--chdir",
                                       "/",
                                       "--",
                                       "true",
                                       NULL};
    const char *one[] = {(char[]){"true"}};

    job.has_uid = false;
    job.has_gid = false;
    job.argv = one;
    job.argc = 1;
    job.envc = 0;
    job.cwd = (char[]){"/"};
    ck_assert_int_eq(cps__bwrap_argv(&job, &b, "/t", &argv, &err), 0);
    assert_argv(argv, want);
    cps__bwrap_argv_free(argv);
}
END_TEST

static size_t count_arg(char **argv, const char *arg)
{
    size_t n = 0;

    for (size_t i = 0; argv[i]; i++)
        n += strcmp(argv[i], arg) == 0;
    return n;
}

/* A reusing helper's I empties its own IPC namespace after each job
 * (ipc_clear.h): bwrap must then make none, every other namespace as always. */
START_TEST(argv_ipc_ns_of_init)
{
    static const char *const others[] = {"--unshare-user", "--unshare-pid", "--unshare-net",
                                         "--unshare-uts", "--unshare-cgroup"};
    struct cps_job job = sample_job();
    struct cps_bwrap b = {.path = "/usr/bin/bwrap", .version = {0, 8, 0}};
    struct cps_error err = {0};
    char **argv;

    for (int reuse = 0; reuse < 2; reuse++) {
        b.ipc_ns_of_init = reuse == 1;
        ck_assert_int_eq(cps__bwrap_argv(&job, &b, "/t", &argv, &err), 0);
        ck_assert_uint_eq(count_arg(argv, "--unshare-ipc"), reuse ? 0 : 1);
        for (size_t k = 0; k < sizeof(others) / sizeof(others[0]); k++)
            ck_assert_msg(count_arg(argv, others[k]) == 1, "%s missing (reuse %d)", others[k],
                          reuse);
        cps__bwrap_argv_free(argv);
    }
}
END_TEST

/* The /proc files to cover follow --proc and its read-only entries, each a
 * read-only bind of /dev/null, before the helper's /dev (--dev-bind). */
START_TEST(argv_proc_masks)
{
    struct cps_job job = sample_job();
    struct cps_bwrap b = {.path = "/usr/bin/bwrap", .version = {0, 8, 0}};
    struct cps_error err = {0};
    char **argv;
    size_t fs = 0, dev = 0;

    b.proc_masks.count = 2;
    snprintf(b.proc_masks.names[0], sizeof(b.proc_masks.names[0]), "keys");
    snprintf(b.proc_masks.names[1], sizeof(b.proc_masks.names[1]), "slabinfo");
    ck_assert_int_eq(cps__bwrap_argv(&job, &b, "/t", &argv, &err), 0);
    for (size_t i = 0; argv[i]; i++) {
        if (strcmp(argv[i], "/proc/fs") == 0 && fs == 0)
            fs = i + 2; /* after "--ro-bind-try /proc/fs /proc/fs" */
        if (strcmp(argv[i], "--dev-bind") == 0)
            dev = i;
    }
    ck_assert_uint_gt(fs, 0);
    ck_assert_uint_eq(dev, fs + 6);
    ck_assert_str_eq(argv[fs], "--ro-bind");
    ck_assert_str_eq(argv[fs + 1], "/dev/null");
    ck_assert_str_eq(argv[fs + 2], "/proc/keys");
    ck_assert_str_eq(argv[fs + 3], "--ro-bind");
    ck_assert_str_eq(argv[fs + 4], "/dev/null");
    ck_assert_str_eq(argv[fs + 5], "/proc/slabinfo");
    cps__bwrap_argv_free(argv);
}
END_TEST

START_TEST(argv_invalid)
{
    struct cps_job job = sample_job();
    struct cps_bwrap b = {.path = "/usr/bin/bwrap", .version = {0, 8, 0}};
    struct cps_error err = {0};
    char **argv = (char **)&job;

    job.argc = 0;
    ck_assert_int_eq(cps__bwrap_argv(&job, &b, "/t", &argv, &err), -EINVAL);
    ck_assert_ptr_null(argv);
    ck_assert_str_eq(err.stage, "bubblewrap");
    job = sample_job();
    job.cwd = NULL;
    ck_assert_int_eq(cps__bwrap_argv(&job, &b, "/t", &argv, &err), -EINVAL);
    job = sample_job();
    ck_assert_int_eq(cps__bwrap_argv(&job, &b, "", &argv, &err), -EINVAL);
}
END_TEST

/* ---- real runs on a busybox root ---------------------------------------- */

/* A root with a static busybox as /bin/sh, /bin/busybox, an empty /work and
 * the mount points bwrap needs (as uid 65534 it cannot create them in a
 * root-owned directory; the helper's real target is its own writable overlay). */
static char *make_busybox_root(char **dir_out)
{
    char *dir = make_tempdir();
    char *root;
    char *p;
    int in, out;
    char buf[65536];
    ssize_t n;

    ck_assert_int_ge(asprintf(&root, "%s/root", dir), 0);
    ck_assert_int_eq(mkdir(root, 0755), 0);
    ck_assert_int_ge(asprintf(&p, "%s/bin", root), 0);
    ck_assert_int_eq(mkdir(p, 0755), 0);
    free(p);
    for (const char *const *d = (const char *const[]){"proc", "dev", "tmp", NULL}; *d; d++) {
        ck_assert_int_ge(asprintf(&p, "%s/%s", root, *d), 0);
        ck_assert_int_eq(mkdir(p, 0755), 0);
        free(p);
    }
    /* The helper mounts a tmpfs of mode 1777 there; this root has a plain dir. */
    ck_assert_int_ge(asprintf(&p, "%s/tmp", root), 0);
    ck_assert_int_eq(chmod(p, 01777), 0);
    free(p);
    ck_assert_int_ge(asprintf(&p, "%s/work", root), 0);
    ck_assert_int_eq(mkdir(p, 0777), 0);
    ck_assert_int_eq(chmod(p, 0777), 0);
    free(p);
    ck_assert_int_ge(asprintf(&p, "%s/bin/busybox", root), 0);
    in = open(BUSYBOX, O_RDONLY | O_CLOEXEC);
    ck_assert_int_ge(in, 0);
    out = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0755);
    ck_assert_int_ge(out, 0);
    while ((n = read(in, buf, sizeof(buf))) > 0)
        ck_assert_int_eq(write(out, buf, (size_t)n), n);
    ck_assert_int_eq(n, 0);
    close(in);
    ck_assert_int_eq(close(out), 0);
    free(p);
    ck_assert_int_ge(asprintf(&p, "%s/bin/sh", root), 0);
    ck_assert_int_eq(symlink("busybox", p), 0);
    free(p);
    *dir_out = dir;
    return root;
}

/* Run prefix... argv... with an empty environment; return the exit status and
 * stdout+stderr (new). */
static int run_capture(const char *const *prefix, char **argv, char **output)
{
    const char *full[256];
    char *envp[] = {NULL};
    posix_spawn_file_actions_t fa;
    size_t n = 0;
    int pipefd[2];
    pid_t pid;
    int status;
    size_t len = 0;
    char *text = NULL;
    FILE *mem = open_memstream(&text, &len);
    char buf[4096];
    ssize_t r;

    for (; prefix && *prefix; prefix++)
        full[n++] = *prefix;
    for (; *argv; argv++) {
        ck_assert_uint_lt(n, 255);
        full[n++] = *argv;
    }
    full[n] = NULL;
    ck_assert_int_eq(pipe2(pipefd, O_CLOEXEC), 0);
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
    posix_spawn_file_actions_adddup2(&fa, pipefd[1], 2);
    ck_assert_int_eq(posix_spawn(&pid, full[0], &fa, NULL, (char **)(uintptr_t)full, envp), 0);
    posix_spawn_file_actions_destroy(&fa);
    close(pipefd[1]);
    while ((r = read(pipefd[0], buf, sizeof(buf))) > 0)
        fwrite(buf, 1, (size_t)r, mem);
    close(pipefd[0]);
    fclose(mem);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    *output = text;
    return status;
}

static const char *const as_root[] = {NULL};
static const char *const as_nobody[] = {"/usr/bin/setpriv", "--reuid=65534", "--regid=65534",
                                        "--clear-groups", NULL};
/* bwrap from inside an outer user + mount namespace, as the helper runs it. */
static const char *const nested_root[] = {"/usr/bin/unshare", "-Urm", NULL};
static const char *const nested_nobody[] = {"/usr/bin/setpriv",
                                            "--reuid=65534",
                                            "--regid=65534",
                                            "--clear-groups",
                                            "/usr/bin/unshare",
                                            "-Urm",
                                            NULL};
/* ... and with every namespace the helper makes, including a PID namespace
 * whose /proc was not remounted, and the caller mapped to a non-root id. */
static const char *const nested_all_nobody[] = {"/usr/bin/setpriv",
                                                "--reuid=65534",
                                                "--regid=65534",
                                                "--clear-groups",
                                                "/usr/bin/unshare",
                                                "--map-user=1000",
                                                "--map-group=1000",
                                                "-m",
                                                "-p",
                                                "-f",
                                                "-n",
                                                "-i",
                                                "-u",
                                                "-C",
                                                NULL};

static void run_in_root(const char *const *prefix, uid_t owner)
{
    char *dir;
    char *root = make_busybox_root(&dir);
    struct cps_job job = {0};
    struct cps_bwrap b;
    struct cps_error err = {0};
    char **argv;
    char *output;
    int status;
    char *script = (char[]){"id -u; id -g; hostname; pwd; echo $$; echo $FOO; "
                            "wc -l < /proc/net/dev; ls -A /dev | wc -l; "
                            "(exec 3</proc/1/mem) 2>&- && echo pid1-mem-open || "
                            "echo pid1-mem-closed; "
                            "echo hi > /tmp/t && cat /tmp/t; echo out > /work/result; echo done"};
    const char *sh_argv[] = {(char[]){"sh"}, (char[]){"-c"}, script};
    struct cps_env_pair env[] = {{(char[]){"FOO"}, (char[]){"bar baz"}},
                                 {(char[]){"PATH"}, (char[]){"/bin"}}};
    char *result;
    struct stat st;

    unsetenv(CPS_BWRAP_ENV);
    ck_assert_msg(cps__bwrap_probe(&b, &err) == 0, "%s", err.message);
    job.argv = sh_argv;
    job.argc = 3;
    job.env = env;
    job.envc = 2;
    job.cwd = (char[]){"/work"};
    job.has_uid = true;
    job.uid = 1000;
    job.has_gid = true;
    job.gid = 1000;
    job.limits.tmp_bytes = 1 << 20;
    ck_assert_int_eq(cps__bwrap_argv(&job, &b, root, &argv, &err), 0);
    status = run_capture(prefix, argv, &output);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d, output: %s", status,
                  output);
    /* PID 2: bwrap is PID 1 of the new namespace (its reaper); only lo in the
     * new network namespace (2 header lines + 1); /dev is the root's own (here
     * empty: the helper mounts its /dev there), not one bwrap builds; the
     * reaper's mem file cannot be opened (issue 12). */
    ck_assert_str_eq(output, "1000\n1000\n" CPS_SANDBOX_HOSTNAME
                             "\n/work\n2\nbar baz\n3\n0\npid1-mem-closed\nhi\ndone\n");
    free(output);
    cps__bwrap_argv_free(argv);

    /* The environment is exactly the job's, plus PWD which bwrap always sets. */
    {
        const char *env_argv[] = {(char[]){"/bin/busybox"}, (char[]){"env"}};

        job.argv = env_argv;
        job.argc = 2;
        ck_assert_int_eq(cps__bwrap_argv(&job, &b, root, &argv, &err), 0);
        status = run_capture(prefix, argv, &output);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s", output);
        ck_assert_str_eq(output, "FOO=bar baz\nPATH=/bin\nPWD=/work\n");
        free(output);
        cps__bwrap_argv_free(argv);
    }

    /* The write landed in the target, owned by the caller's host uid. */
    ck_assert_int_ge(asprintf(&result, "%s/work/result", root), 0);
    ck_assert_int_eq(stat(result, &st), 0);
    ck_assert_uint_eq(st.st_uid, owner);
    free(result);
    remove_tree(dir);
    free(root);
    free(dir);
}

START_TEST(run_as_root)
{
    run_in_root(as_root, 0);
}
END_TEST

START_TEST(run_as_nobody)
{
    run_in_root(as_nobody, 65534);
}
END_TEST

START_TEST(run_nested_as_root)
{
    run_in_root(nested_root, 0);
}
END_TEST

START_TEST(run_nested_as_nobody)
{
    run_in_root(nested_nobody, 65534);
}
END_TEST

START_TEST(run_nested_all_namespaces_as_nobody)
{
    run_in_root(nested_all_nobody, 65534);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("bwrap");
    TCase *parse_tc = tcase_create("version");
    TCase *find_tc = tcase_create("find");
    TCase *argv_tc = tcase_create("argv");
    const char *skip = NULL;

    tcase_add_test(parse_tc, version_good);
    tcase_add_test(parse_tc, version_garbage);
    tcase_add_test(parse_tc, version_compare);
    suite_add_tcase(s, parse_tc);
    tcase_add_test(find_tc, probe_real);
    tcase_add_test(find_tc, probe_too_old);
    tcase_add_test(find_tc, probe_garbage);
    tcase_add_test(find_tc, probe_failing);
    tcase_add_test(find_tc, find_env_missing);
    tcase_add_test(find_tc, find_not_in_path);
    tcase_add_test(find_tc, find_in_path);
    suite_add_tcase(s, find_tc);
    tcase_add_test(argv_tc, argv_full);
    tcase_add_test(argv_tc, argv_old_bwrap_no_ids);
    tcase_add_test(argv_tc, argv_proc_masks);
    tcase_add_test(argv_tc, argv_ipc_ns_of_init);
    tcase_add_test(argv_tc, argv_invalid);
    suite_add_tcase(s, argv_tc);
    /* The runs copy the host's static busybox into their root; the _as_root
     * ones expect the files owned by uid 0, and switching to uid 65534 needs
     * root (setpriv). CI runs as root with busybox-static installed. */
    if (access(BUSYBOX, X_OK) != 0) {
        skip = BUSYBOX " (busybox-static) is not installed: the bwrap runs";
    } else if (geteuid() != 0) {
        skip = "the bwrap runs as root and as uid 65534 need root";
    } else {
        TCase *run_tc = tcase_create("run");

        tcase_set_timeout(run_tc, 60);
        tcase_add_test(run_tc, run_as_root);
        tcase_add_test(run_tc, run_nested_as_root);
        tcase_add_test(run_tc, run_as_nobody);
        tcase_add_test(run_tc, run_nested_as_nobody);
        tcase_add_test(run_tc, run_nested_all_namespaces_as_nobody);
        suite_add_tcase(s, run_tc);
    }

    return cps_test_run_skipping(s, skip);
}
