/*
 * test_seccomp.c - the default filter denies what it promises and lets a
 * compiler's ordinary work through.
 *
 * Each case forks a child that (as root, or as uid 65534 after setresuid)
 * first enters namespaces in which the denied operations would succeed
 * without the filter (a private mount namespace, and for 65534 a user
 * namespace that gives it capabilities), then loads the filter prepared by
 * the parent before fork -- the way exec.c uses it -- and tries each
 * operation. So EPERM here comes from the filter, not from a missing
 * capability; the "control" case runs the same probes without the filter
 * and shows they would succeed. The child reports the first failing check
 * through a pipe and the parent asserts on it.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/keyctl.h>
#include <linux/aio_abi.h>
#include <linux/sched.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "seccomp_filter.h"
#include "seccomp_rules.h"
#include "check_run.h"

#define NOBODY 65534

/* The i386 and x32 numbers of mount(2), reached from this 64-bit process. */
#define I386_NR_MOUNT 21
#define X32_NR_MOUNT  (0x40000000 + 165)
#define X32_NR_SOCKET (0x40000000 + 41)

static char report[512];
static int report_fd = -1;

static void child_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* Child side: write the reason to the parent and exit. */
static void child_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(report, sizeof(report), fmt, ap);
    va_end(ap);
    if (n > 0 && write(report_fd, report, strlen(report)) < 0)
        _exit(3);
    _exit(1);
}

/* Expect a system call result of -1 with errno want. */
static void expect_errno(const char *what, long rc, int want)
{
    int e = errno;
    if (rc != -1 || e != want)
        child_fail("%s: got rc=%ld errno=%d (%s), want errno %d (%s)", what, rc, rc == -1 ? e : 0,
                   rc == -1 ? strerror(e) : "-", want, strerror(want));
}

static void expect_ok(const char *what, long rc)
{
    if (rc < 0)
        child_fail("%s failed: %s", what, strerror(errno));
}

static void write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        child_fail("open %s: %s", path, strerror(errno));
    ssize_t n = write(fd, text, strlen(text));
    if (n != (ssize_t)strlen(text))
        child_fail("write %s: %s", path, strerror(errno));
    close(fd);
}

/*
 * Become uid (0 keeps root), then make a private mount namespace in which
 * mount() works: root has the capability already, 65534 gets it from a new
 * user namespace mapping itself to 0.
 */
static void enter_namespaces(uid_t uid)
{
    if (uid != 0) {
        expect_ok("setgroups", setgroups(0, NULL));
        expect_ok("setresgid", setresgid(uid, uid, uid));
        expect_ok("setresuid", setresuid(uid, uid, uid));
        /* Changing the euid clears the dumpable flag, which would make
         * /proc/self/uid_map root-owned and unwritable (proc(5)). */
        expect_ok("PR_SET_DUMPABLE", prctl(PR_SET_DUMPABLE, 1, 0, 0, 0));
        expect_ok("unshare(CLONE_NEWUSER)", unshare(CLONE_NEWUSER));
        char map[64];
        write_file("/proc/self/setgroups", "deny");
        snprintf(map, sizeof(map), "0 %u 1", (unsigned)uid);
        write_file("/proc/self/uid_map", map);
        write_file("/proc/self/gid_map", map);
    }
    expect_ok("unshare(CLONE_NEWNS)", unshare(CLONE_NEWNS));
    expect_ok("make / rprivate", mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL));
}

static void *thread_main(void *arg)
{
    return arg;
}

/* Run argv[0] (a full path) with fork+execve and with posix_spawn; both must
 * exit 0. posix_spawn and pthread_create go through clone3 first in glibc
 * 2.34+, so this also proves the ENOSYS fallback. */
static void expect_runs(char *path)
{
    char *const argv[] = {path, NULL};
    int status;

    pid_t pid = fork();
    if (pid < 0)
        child_fail("fork: %s", strerror(errno));
    if (pid == 0) {
        execve(path, argv, environ);
        _exit(127);
    }
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        child_fail("fork+execve %s: status 0x%x", path, status);

    int rc = posix_spawn(&pid, path, NULL, NULL, argv, environ);
    if (rc != 0)
        child_fail("posix_spawn %s: %s", path, strerror(rc));
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        child_fail("posix_spawn %s: status 0x%x", path, status);

    pthread_t t;
    rc = pthread_create(&t, NULL, thread_main, NULL);
    if (rc != 0)
        child_fail("pthread_create: %s", strerror(rc));
    pthread_join(t, NULL);
}

/* Ordinary file work of a compiler. */
static void expect_files_work(void)
{
    char path[] = "/tmp/cps-seccomp-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        child_fail("mkstemp: %s", strerror(errno));
    char buf[6] = {0};
    if (write(fd, "hello", 5) != 5 || pread(fd, buf, 5, 0) != 5 || strcmp(buf, "hello") != 0)
        child_fail("write/read back %s: %s", path, strerror(errno));
    close(fd);
    expect_ok("unlink", unlink(path));
}

/* i386 mount(2) through int $0x80, as a hostile 64-bit program could. */
static long i386_syscall3(long nr, long a, long b, long c)
{
#if defined(__x86_64__)
    long ret;
    __asm__ volatile("int $0x80"
                     : "=a"(ret)
                     : "a"(nr), "b"(a), "c"(b), "d"(c)
                     : "memory", "r8", "r9", "r10", "r11");
    if (ret < 0 && ret > -4096) {
        errno = (int)-ret;
        return -1;
    }
    return ret;
#else
    (void)nr, (void)a, (void)b, (void)c;
    errno = ENOSYS;
    return -1;
#endif
}

/* The i386 numbers of socket(2) (Linux 4.3) and socketcall(2), and
 * socketcall's SYS_SOCKET. */
#define I386_NR_SOCKET     359
#define I386_NR_SOCKETCALL 102
#define SYS_SOCKET_CALL    1

/* Create a socket (or pair) and close it again; returns 0 or -1/errno. */
static long try_socket(long family, int type, bool pair)
{
    int sv[2];
    long rc = pair ? syscall(SYS_socketpair, family, type | SOCK_CLOEXEC, 0, sv)
                   : syscall(SYS_socket, family, type | SOCK_CLOEXEC, 0);
    if (rc < 0)
        return -1;
    if (pair) {
        close(sv[0]);
        close(sv[1]);
    } else {
        close((int)rc);
    }
    return 0;
}

/* Address families (add_socket_rules): only AF_UNIX, AF_INET and AF_INET6
 * pass. socketpair of a non-UNIX family would be EOPNOTSUPP from the kernel,
 * so EAFNOSUPPORT there is the filter's answer. */
static void expect_socket_rules(void)
{
    expect_ok("socket(AF_UNIX)", try_socket(AF_UNIX, SOCK_STREAM, false));
    expect_ok("socket(AF_INET)", try_socket(AF_INET, SOCK_DGRAM, false));
    expect_ok("socket(AF_INET6)", try_socket(AF_INET6, SOCK_STREAM, false));
    expect_ok("socketpair(AF_UNIX)", try_socket(AF_UNIX, SOCK_STREAM, true));
    expect_errno("socket(AF_VSOCK)", try_socket(AF_VSOCK, SOCK_STREAM, false), EAFNOSUPPORT);
    expect_errno("socket(AF_NETLINK)", try_socket(AF_NETLINK, SOCK_RAW, false), EAFNOSUPPORT);
    expect_errno("socket(AF_PACKET)", try_socket(AF_PACKET, SOCK_RAW, false), EAFNOSUPPORT);
    expect_errno("socket(AF_ALG)", try_socket(AF_ALG, SOCK_SEQPACKET, false), EAFNOSUPPORT);
    expect_errno("socket(AF_UNSPEC)", try_socket(AF_UNSPEC, SOCK_STREAM, false), EAFNOSUPPORT);
    expect_errno("socket(AF_INET + 1)", try_socket(AF_INET + 1, SOCK_STREAM, false), EAFNOSUPPORT);
    expect_errno("socket(AF_MAX)", try_socket(AF_MAX, SOCK_STREAM, false), EAFNOSUPPORT);
    /* The kernel takes an int: garbage above it must not let a family in. */
    expect_errno("socket(AF_VSOCK | 1 << 32)",
                 try_socket((long)((1UL << 32) | AF_VSOCK), SOCK_STREAM, false), EAFNOSUPPORT);
    expect_errno("socketpair(AF_VSOCK)", try_socket(AF_VSOCK, SOCK_STREAM, true), EAFNOSUPPORT);
    expect_errno("socketpair(AF_NETLINK)", try_socket(AF_NETLINK, SOCK_RAW, true), EAFNOSUPPORT);
}

/* personality (add_personality_rules): the query and the flags builds use
 * pass; READ_IMPLIES_EXEC and MMAP_PAGE_ZERO do not, however they are
 * dressed up. The persona is put back to 0 after every change. */
static void expect_personality_rules(void)
{
    long old = syscall(SYS_personality, 0xffffffffUL);
    expect_ok("personality(query)", old);
    expect_ok("personality(ADDR_NO_RANDOMIZE)", syscall(SYS_personality, ADDR_NO_RANDOMIZE));
    expect_ok("personality(PER_LINUX32)", syscall(SYS_personality, PER_LINUX32));
    expect_ok("personality(0)", syscall(SYS_personality, 0UL));
    expect_errno("personality(READ_IMPLIES_EXEC)", syscall(SYS_personality, READ_IMPLIES_EXEC),
                 EPERM);
    expect_errno("personality(MMAP_PAGE_ZERO)", syscall(SYS_personality, MMAP_PAGE_ZERO), EPERM);
    expect_errno("personality(READ_IMPLIES_EXEC | ADDR_NO_RANDOMIZE)",
                 syscall(SYS_personality, READ_IMPLIES_EXEC | ADDR_NO_RANDOMIZE), EPERM);
    expect_errno("personality(READ_IMPLIES_EXEC | 1 << 31)",
                 syscall(SYS_personality, READ_IMPLIES_EXEC | 0x80000000UL), EPERM);
    expect_errno("personality(0xfffffffe)", syscall(SYS_personality, 0xfffffffeUL), EPERM);
    expect_errno("personality(READ_IMPLIES_EXEC | 1 << 32)",
                 syscall(SYS_personality, READ_IMPLIES_EXEC | (1UL << 32)), EPERM);
    long now = syscall(SYS_personality, 0xffffffffUL);
    if (now != 0)
        child_fail("personality is 0x%lx after the denied calls, want 0", now);
}

/* socketcall(SYS_SOCKET, {AF_UNIX, SOCK_STREAM, 0}) through int $0x80: the
 * arguments live in memory below 4 GiB, which a 32-bit call can address. */
static long i386_socketcall_unix(void)
{
#if defined(__x86_64__)
    unsigned *low =
        mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
    if (low == MAP_FAILED)
        child_fail("mmap MAP_32BIT: %s", strerror(errno));
    low[0] = AF_UNIX;
    low[1] = SOCK_STREAM;
    low[2] = 0;
    long rc = i386_syscall3(I386_NR_SOCKETCALL, SYS_SOCKET_CALL, (long)(uintptr_t)low, 0);
    int e = errno;
    if (rc >= 0)
        close((int)rc);
    munmap(low, 4096);
    errno = e;
    return rc;
#else
    errno = ENOSYS;
    return -1;
#endif
}

static void expect_denied(void)
{
    /* Targets that exist and that the child may use: the mount namespace is
     * private, so even a mount that wrongly succeeded would not leak out. */
    expect_errno("mount tmpfs", mount("none", "/tmp", "tmpfs", 0, NULL), EPERM);
    expect_errno("umount2", umount2("/proc", MNT_DETACH), EPERM);
    expect_errno("pivot_root", syscall(SYS_pivot_root, "/", "/"), EPERM);
    expect_errno("chroot", chroot("/"), EPERM);
    expect_errno("fsopen", syscall(SYS_fsopen, "tmpfs", 0), EPERM);
    expect_errno("open_tree", syscall(SYS_open_tree, AT_FDCWD, "/", 1 /* OPEN_TREE_CLONE */),
                 EPERM);
    expect_errno("unshare(CLONE_NEWUSER)", unshare(CLONE_NEWUSER), EPERM);
    expect_errno("unshare(CLONE_NEWNS)", unshare(CLONE_NEWNS), EPERM);
    expect_errno("unshare(CLONE_NEWNET)", unshare(CLONE_NEWNET), EPERM);
    expect_errno("unshare(CLONE_NEWTIME)", unshare(CLONE_NEWTIME), EPERM);
    expect_errno("setns", setns(0, 0), EPERM);

    /* Would create a child; if the filter failed the child leaves at once. */
    long pid = syscall(SYS_clone, (unsigned long)(CLONE_NEWUSER | SIGCHLD), 0, 0, 0, 0);
    if (pid == 0)
        _exit(0);
    expect_errno("clone(CLONE_NEWUSER)", pid, EPERM);
    pid = syscall(SYS_clone, (unsigned long)(CLONE_NEWNS | SIGCHLD) | (1UL << 40), 0, 0, 0, 0);
    if (pid == 0)
        _exit(0);
    expect_errno("clone(CLONE_NEWNS | high bits)", pid, EPERM);

    struct clone_args ca = {.exit_signal = SIGCHLD};
    pid = syscall(SYS_clone3, &ca, sizeof(ca));
    if (pid == 0)
        _exit(0);
    expect_errno("clone3", pid, ENOSYS);

    expect_errno("ptrace(PTRACE_TRACEME)", ptrace(PTRACE_TRACEME, 0, NULL, NULL), EPERM);
    expect_errno("bpf", syscall(SYS_bpf, -1, NULL, 0), EPERM);
    expect_errno("perf_event_open", syscall(SYS_perf_event_open, NULL, 0, -1, -1, 0), EPERM);
    expect_errno("keyctl", syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0),
                 EPERM);
    expect_errno("add_key", syscall(SYS_add_key, "user", "cps", "x", 1, KEY_SPEC_SESSION_KEYRING),
                 EPERM);
    expect_errno("userfaultfd", syscall(SYS_userfaultfd, 0), EPERM);
    expect_errno("io_uring_setup", syscall(SYS_io_uring_setup, 1, NULL), EPERM);
    expect_errno("open_by_handle_at", syscall(SYS_open_by_handle_at, AT_FDCWD, NULL, 0), EPERM);
    /* Bad magic numbers: if the filter let these through the kernel would
     * answer EINVAL and do nothing. */
    expect_errno("reboot", syscall(SYS_reboot, 0, 0, 0, NULL), EPERM);
    expect_errno("kexec_load", syscall(SYS_kexec_load, 0, 0, NULL, 0xdeadUL), EPERM);
    expect_errno("init_module", syscall(SYS_init_module, NULL, 0, ""), EPERM);
    expect_errno("clock_settime", syscall(SYS_clock_settime, CLOCK_REALTIME, NULL), EPERM);

    aio_context_t aio = 0;
    expect_errno("io_setup", syscall(SYS_io_setup, 1, &aio), ENOSYS);
    expect_errno("memfd_secret", syscall(SYS_memfd_secret, 0), ENOSYS);
    expect_socket_rules();
    expect_personality_rules();

    char c = 'x';
    expect_errno("ioctl(TIOCSTI)", ioctl(0, TIOCSTI, &c), EPERM);
    expect_errno("ioctl(TIOCSTI | 1 << 32)",
                 syscall(SYS_ioctl, 0, (unsigned long)TIOCSTI | (1UL << 32), &c), EPERM);
    expect_errno("ioctl(TIOCLINUX)", ioctl(0, TIOCLINUX, &c), EPERM);

#if defined(__x86_64__)
    /* The same call through the i386 entry point and with the x32 bit: the
     * filter covers those ABIs too (this kernel may not run x32 at all; the
     * filter answers before the kernel would say ENOSYS). */
    expect_errno("i386 mount", i386_syscall3(I386_NR_MOUNT, 0, 0, 0), EPERM);
    expect_errno("x32 mount", syscall(X32_NR_MOUNT, "none", "/tmp", "tmpfs", 0, NULL), EPERM);
    /* A family through the i386 socket(2) is filtered by value; socketcall
     * hides it in memory, so SYS_SOCKET there is refused whatever it names
     * (an AF_UNIX socket, here). */
    expect_errno("i386 socket(AF_VSOCK)", i386_syscall3(I386_NR_SOCKET, AF_VSOCK, SOCK_STREAM, 0),
                 EAFNOSUPPORT);
    long ok = i386_syscall3(I386_NR_SOCKET, AF_UNIX, SOCK_STREAM, 0);
    expect_ok("i386 socket(AF_UNIX)", ok);
    close((int)ok);
    expect_errno("i386 socketcall(SYS_SOCKET)", i386_socketcall_unix(), EAFNOSUPPORT);
    expect_errno("x32 socket(AF_VSOCK)", syscall(X32_NR_SOCKET, AF_VSOCK, SOCK_STREAM, 0),
                 EAFNOSUPPORT);
#else
    (void)i386_syscall3;
#endif
}

/* The same probes without the filter: they succeed, so expect_denied()
 * measures the filter. */
static void expect_allowed_without_filter(void)
{
    expect_ok("mount tmpfs", mount("none", "/tmp", "tmpfs", 0, NULL));
    expect_ok("umount2", umount2("/tmp", 0));
    expect_ok("keyctl", syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0));
    /* The families and calls the filter answers with a kernel's "not
     * there": this kernel has them (netlink always; AIO unless CONFIG_AIO=n). */
    expect_ok("socket(AF_NETLINK)", try_socket(AF_NETLINK, SOCK_RAW, false));
    aio_context_t aio = 0;
    expect_ok("io_setup", syscall(SYS_io_setup, 1, &aio));
    syscall(SYS_io_destroy, aio);
    expect_ok("personality(READ_IMPLIES_EXEC)", syscall(SYS_personality, READ_IMPLIES_EXEC));
    expect_ok("personality(0)", syscall(SYS_personality, 0UL));
#if defined(__x86_64__)
    long fd = i386_syscall3(I386_NR_SOCKET, AF_NETLINK, SOCK_RAW, 0);
    expect_ok("i386 socket(AF_NETLINK)", fd);
    close((int)fd);
    expect_ok("i386 socketcall(SYS_SOCKET)", i386_socketcall_unix());
#endif
    struct clone_args ca = {.exit_signal = SIGCHLD};
    long pid = syscall(SYS_clone3, &ca, sizeof(ca));
    if (pid == 0)
        _exit(0);
    expect_ok("clone3", pid);
    waitpid((pid_t)pid, NULL, 0);
    pid = fork();
    if (pid == 0)
        _exit(unshare(CLONE_NEWUSER) == 0 ? 0 : 1);
    int status;
    if (pid < 0 || waitpid((pid_t)pid, &status, 0) != pid || status != 0)
        child_fail("control: unshare(CLONE_NEWUSER) failed without the filter");
}

enum mode { WITH_FILTER, WITHOUT_FILTER, WITHOUT_NNP };

/* Fork, run the checks as uid, and assert the child reported success. */
static void run_child(uid_t uid, enum mode mode)
{
    struct cps__seccomp sc = {0};
    struct cps_error err;
    ck_assert_msg(cps__seccomp_prepare(&sc, &err) == 0, "prepare: %s: %s", err.message,
                  strerror(err.errnum));
    ck_assert_uint_gt(sc.len, 0);

    int fds[2];
    ck_assert_int_eq(pipe2(fds, O_CLOEXEC), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(fds[0]);
        report_fd = fds[1];
        enter_namespaces(uid);
        if (mode == WITHOUT_NNP) {
            int rc = cps__seccomp_load(&sc, &err);
            if (rc != -EPERM)
                child_fail("load without no_new_privs returned %d, want -EPERM", rc);
            _exit(0);
        }
        expect_ok("PR_SET_NO_NEW_PRIVS", prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
        if (mode == WITH_FILTER) {
            if (cps__seccomp_load(&sc, &err) != 0)
                child_fail("load: %s: %s", err.message, strerror(err.errnum));
            expect_denied();
        } else {
            expect_allowed_without_filter();
        }
        expect_files_work();
        char true_path[] = "/bin/true";
        expect_runs(true_path);
        _exit(0);
    }
    close(fds[1]);
    cps__seccomp_free(&sc);

    char buf[sizeof(report)] = {0};
    ssize_t n = read(fds[0], buf, sizeof(buf) - 1);
    close(fds[0]);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(n <= 0, "uid %u: %s", (unsigned)uid, buf);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "uid %u: child status 0x%x",
                  (unsigned)uid, status);
}

START_TEST(denies_as_root)
{
    run_child(0, WITH_FILTER);
}
END_TEST

START_TEST(denies_as_nobody)
{
    run_child(NOBODY, WITH_FILTER);
}
END_TEST

START_TEST(control_without_filter_as_root)
{
    run_child(0, WITHOUT_FILTER);
}
END_TEST

START_TEST(control_without_filter_as_nobody)
{
    run_child(NOBODY, WITHOUT_FILTER);
}
END_TEST

START_TEST(load_requires_no_new_privs)
{
    run_child(0, WITHOUT_NNP);
}
END_TEST

START_TEST(memfd_holds_the_program)
{
    struct cps__seccomp sc = {0};
    struct cps_error err;
    ck_assert_int_eq(cps__seccomp_prepare(&sc, &err), 0);
    int fd = cps__seccomp_to_memfd(&sc, &err);
    ck_assert_int_ge(fd, 0);

    size_t size = (size_t)sc.len * sizeof(struct sock_filter);
    char *buf = malloc(size + 1);
    ck_assert_ptr_nonnull(buf);
    ck_assert_int_eq(read(fd, buf, size + 1), (ssize_t)size);
    ck_assert_int_eq(memcmp(buf, sc.insns, size), 0);
    /* Sealed: nobody can change the program after the helper wrote it. */
    ck_assert_int_eq(write(fd, "x", 1), -1);
    ck_assert_int_eq(errno, EPERM);
    free(buf);
    close(fd);
    cps__seccomp_free(&sc);
    ck_assert_ptr_null(sc.insns);
}
END_TEST

/* The program compiled into the helper is exactly what libseccomp makes of
 * the rules on this machine (it was generated from them at build time). */
START_TEST(built_in_program_matches_rules)
{
    struct cps__seccomp built = {0}, in = {0};
    struct cps_error err;

    ck_assert_msg(cps__seccomp_build(&built, &err) == 0, "build: %s", err.message);
    ck_assert(built.owned);
    ck_assert_int_eq(cps__seccomp_prepare(&in, &err), 0);
    ck_assert(!in.owned);
    ck_assert_ptr_eq(in.insns, cps__seccomp_program);
    ck_assert_uint_gt(in.len, 0);
    ck_assert_uint_eq(in.len, built.len);
    ck_assert_int_eq(memcmp(in.insns, built.insns, built.len * sizeof(struct sock_filter)), 0);
    cps__seccomp_free(&built);
    cps__seccomp_free(&in);
    ck_assert_ptr_null(built.insns);
}
END_TEST

START_TEST(load_refuses_empty_program)
{
    struct cps__seccomp sc = {0};
    struct cps_error err;
    ck_assert_int_eq(cps__seccomp_load(&sc, &err), -EINVAL);
    ck_assert_str_eq(err.stage, "seccomp");
}
END_TEST

static Suite *seccomp_suite(void)
{
    Suite *s = suite_create("seccomp");
    TCase *tc = tcase_create("filter");
    tcase_add_test(tc, denies_as_root);
    tcase_add_test(tc, denies_as_nobody);
    tcase_add_test(tc, control_without_filter_as_root);
    tcase_add_test(tc, control_without_filter_as_nobody);
    tcase_add_test(tc, load_requires_no_new_privs);
    tcase_add_test(tc, memfd_holds_the_program);
    tcase_add_test(tc, load_refuses_empty_program);
    tcase_add_test(tc, built_in_program_matches_rules);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    if (geteuid() != 0) {
        /* Dropping to 65534 and the root case both need root. */
        printf("SKIP: test_seccomp must run as root\n");
        return 77;
    }
    return cps_test_run(seccomp_suite());
}
