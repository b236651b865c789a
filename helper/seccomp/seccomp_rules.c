/*
 * seccomp_rules.c - the rules of the default seccomp filter, built with
 * libseccomp. Only cps-seccomp-gen (seccomp_gen.c) and the tests link this:
 * the helper carries the finished program (seccomp_program.c, generated at
 * build time), see helper/seccomp_filter.h.
 */
#include "seccomp_rules.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/personality.h>
#include <sys/socket.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define STAGE CPS_STAGE_SECCOMP

/*
 * The policy is "allow by default, deny what a compiler never needs":
 * compilers, assemblers, linkers and the scripts around them use a wide and
 * changing set of system calls, so an allow list would break real toolchains,
 * while the calls below are either privileged operations (a second wall behind
 * the dropped capabilities and the user namespace) or kernel attack surface
 * that unprivileged code can reach (the usual way out of a namespace sandbox
 * is a kernel bug, not a missing mount). Denied calls fail with EPERM, the
 * answer the kernel itself gives to an unprivileged caller, so programs that
 * probe a feature take their normal fallback path instead of dying.
 *
 * Each entry says why it is denied. Calls that do not exist on an
 * architecture (umount, vm86 on x86_64) are skipped for that architecture by
 * libseccomp.
 *
 * A few calls answer with the errno of a kernel that lacks the feature
 * instead (ENOSYS, EAFNOSUPPORT), for the same reason: that is the answer
 * their callers already handle (add_absent_rules, add_socket_rules).
 *
 * Allowed on purpose: personality, except the flags add_personality_rules
 * denies; pkey_* (user-space memory protection only); mknod (mkfifo for
 * make's jobserver; device nodes are refused by the user namespace).
 */
static const int deny_eperm[] = {
    /* Mount table: the helper built the root; a new mount could hide or expose
     * files. The new mount API (Linux 5.2) is denied with the old one. */
    SCMP_SYS(mount),
    SCMP_SYS(umount),  /* i386's oldumount */
    SCMP_SYS(umount2), /* detaching the root would reveal what is under it */
    SCMP_SYS(pivot_root),
    SCMP_SYS(chroot), /* with nested chroots a process can climb out of the
                       * inner one (chroot(2) NOTES); never used by compilers */
    SCMP_SYS(fsopen),
    SCMP_SYS(fsconfig), /* CVE-2022-0185: heap overflow reachable from a userns */
    SCMP_SYS(fsmount),
    SCMP_SYS(fspick),
    SCMP_SYS(move_mount),
    SCMP_SYS(open_tree),
    SCMP_SYS(mount_setattr),

    /* Namespaces: joining one leaves the sandbox's; new ones are filtered by
     * flag in add_namespace_rules(). */
    SCMP_SYS(setns),

    /* Other processes: the PID namespace hides the host, but inside the job a
     * compiler has no business reading or stealing from its siblings, and
     * ptrace is the classic way around a seccomp filter on kernels before 4.8.
     * (A LeakSanitizer-instrumented compiler needs ptrace at exit: run such
     * jobs with seccomp off or ASAN_OPTIONS=detect_leaks=0.) */
    SCMP_SYS(ptrace),
    SCMP_SYS(process_vm_readv),
    SCMP_SYS(process_vm_writev),
    SCMP_SYS(kcmp),        /* compares kernel objects of two processes */
    SCMP_SYS(pidfd_getfd), /* copies a file descriptor out of another process */

    /* Kernel and machine state: privileged, never part of a compile. */
    SCMP_SYS(kexec_load),
    SCMP_SYS(kexec_file_load),
    SCMP_SYS(init_module),
    SCMP_SYS(finit_module),
    SCMP_SYS(delete_module),
    SCMP_SYS(reboot),
    SCMP_SYS(swapon),
    SCMP_SYS(swapoff),
    SCMP_SYS(acct),
    SCMP_SYS(quotactl),
    SCMP_SYS(quotactl_fd),
    SCMP_SYS(vhangup),
    SCMP_SYS(iopl),   /* raw port I/O */
    SCMP_SYS(ioperm), /* raw port I/O */
    SCMP_SYS(vm86),   /* i386 only; a history of kernel bugs */
    SCMP_SYS(vm86old),
    SCMP_SYS(uselib), /* a.out loader, dead code with a history (CVE-2004-1235) */
    SCMP_SYS(lookup_dcookie),
    SCMP_SYS(syslog), /* the kernel log leaks addresses that defeat KASLR */

    /* Clocks are not namespaced (time namespaces only offset monotonic and
     * boottime): setting them would change the host's time. */
    SCMP_SYS(settimeofday),
    SCMP_SYS(stime),
    SCMP_SYS(clock_settime),
    SCMP_SYS(clock_adjtime),
    SCMP_SYS(adjtimex),

    /* Kernel attack surface reachable without privilege, unused by
     * compilers; each has a record of privilege-escalation bugs. */
    SCMP_SYS(bpf),
    SCMP_SYS(perf_event_open),
    SCMP_SYS(userfaultfd),    /* pauses the kernel mid-copy: the tool of choice for
                               * winning kernel races (vm.unprivileged_userfaultfd) */
    SCMP_SYS(io_uring_setup), /* EPERM is what kernel.io_uring_disabled=2 answers */
    SCMP_SYS(io_uring_enter),
    SCMP_SYS(io_uring_register),
    SCMP_SYS(fanotify_init),

    /* The kernel keyring is not fully namespaced: keys of the same uid (the
     * worker's, for an unprivileged helper) would be reachable. */
    SCMP_SYS(keyctl),
    SCMP_SYS(add_key),
    SCMP_SYS(request_key),

    /* File handles bypass path-based confinement: open_by_handle_at opened
     * host files from a container in the 2014 "shocker" escape. */
    SCMP_SYS(open_by_handle_at),
    SCMP_SYS(name_to_handle_at),
};

/*
 * Namespace-creating flags of clone(2) and unshare(2). A new user namespace
 * gives back every capability inside it, and with them mounts, netfilter and
 * the other interfaces behind most recent userns privilege escalations
 * (CVE-2022-0185, CVE-2023-32233); the other namespaces need a capability the
 * compiler does not have, but a compiler never creates one either, so all are
 * denied. CLONE_NEWTIME (0x80) shares its bit with the exit signal in clone's
 * flags, so it is filtered for unshare only.
 */
static const unsigned long ns_flags[] = {
    CLONE_NEWUSER, CLONE_NEWNS,  CLONE_NEWPID,    CLONE_NEWNET,
    CLONE_NEWIPC,  CLONE_NEWUTS, CLONE_NEWCGROUP,
};

/*
 * Terminal ioctls that act on other processes: TIOCSTI pushes bytes into the
 * terminal's input queue, which the shell that started the worker then runs
 * (CVE-2017-5226, the bubblewrap TIOCSTI escape; Linux 6.2 added
 * dev.tty.legacy_tiocsti=0 to disable it); TIOCLINUX pastes the console
 * selection, the same attack on virtual consoles (CVE-2023-28100).
 */
static const unsigned long tty_ioctls[] = {TIOCSTI, TIOCLINUX};

/*
 * Calls a compiler never makes, answered as by a kernel built without them
 * (ENOSYS), so that a program that probes for one takes the path it takes on
 * such a kernel.
 */
static const int deny_enosys[] = {
    /* Secret memory (Linux 5.14) is removed from the kernel's direct map,
     * which splits the host's huge-page mappings of it: a job could slow the
     * whole host down. Off unless secretmem is enabled: ENOSYS then. */
    SCMP_SYS(memfd_secret),
    /* Native AIO contexts come from one host-wide pool (fs.aio-max-nr, 65536
     * by default, not per namespace or per user): a job could take all of it
     * and make the host's databases' io_setup fail with EAGAIN. AIO has its
     * own record of kernel bugs (CVE-2019-10125). io_submit and the other
     * io_* calls need a context, and only io_setup makes one. libaio users
     * fall back to ordinary I/O on ENOSYS (CONFIG_AIO=n). */
    SCMP_SYS(io_setup),
};

/*
 * Address families a compiler may use: AF_UNIX (jobservers, nscd, the
 * tools' own helpers) and AF_INET/AF_INET6, which in the job's network
 * namespace reach only its loopback. Every other family is denied for socket
 * and socketpair: some are not isolated by a network namespace at all
 * (AF_VSOCK talks to the hypervisor and the host: a job bound a vsock port
 * the host uses), and the rest is kernel attack surface that unprivileged
 * code reaches (AF_NETLINK, AF_ALG, AF_PACKET, AF_TIPC: CVE-2021-43267, ...).
 * The answer is EAFNOSUPPORT, what socket(2) says for a family the kernel was
 * built without; glibc's getaddrinfo, for one, then works without netlink.
 * The list is sorted.
 */
static const unsigned long allowed_families[] = {AF_UNIX, AF_INET, AF_INET6};

static int rule_error(struct cps_error *err, int rc, const char *what)
{
    return cps__error_set(err, STAGE, -rc, NULL, "libseccomp: add rule for %s", what);
}

static int add_namespace_rules(scmp_filter_ctx ctx, struct cps_error *err)
{
    for (size_t i = 0; i < sizeof(ns_flags) / sizeof(ns_flags[0]); i++) {
        /* The masked comparison tests one bit: clone() truncates its flags to
         * 32 bits (kernel_clone_args), so high garbage cannot hide a flag. */
        int rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(unshare), 1,
                                  SCMP_A0(SCMP_CMP_MASKED_EQ, ns_flags[i], ns_flags[i]));
        if (rc < 0)
            return rule_error(err, rc, "unshare");
        rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
                              SCMP_A0(SCMP_CMP_MASKED_EQ, ns_flags[i], ns_flags[i]));
        if (rc < 0)
            return rule_error(err, rc, "clone");
    }
    int rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(unshare), 1,
                              SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_NEWTIME, CLONE_NEWTIME));
    if (rc < 0)
        return rule_error(err, rc, "unshare");

    /*
     * clone3(2) passes its flags in a struct in user memory, which a seccomp
     * filter cannot read, so its namespace flags cannot be checked. Answering
     * ENOSYS makes glibc (2.34+: pthread_create, posix_spawn) fall back to
     * clone(2), whose flags the rules above do check; Docker's default profile, Flatpak and
     * systemd's filters do the same.
     */
    rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
    if (rc < 0)
        return rule_error(err, rc, "clone3");
    return 0;
}

static int add_ioctl_rules(scmp_filter_ctx ctx, struct cps_error *err)
{
    for (size_t i = 0; i < sizeof(tty_ioctls) / sizeof(tty_ioctls[0]); i++) {
        /* ioctl's request is an unsigned int in the kernel: comparing all 64
         * bits of the register would let TIOCSTI | 1UL << 32 through
         * (CVE-2019-10063, the same bug in Flatpak's filter). */
        int rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(ioctl), 1,
                                  SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffUL, tty_ioctls[i]));
        if (rc < 0)
            return rule_error(err, rc, "ioctl");
    }
    return 0;
}

/*
 * Deny socket(family, ...) and socketpair(family, ...) for every family but
 * allowed_families. A filter has no "not in" and libseccomp takes one
 * comparison per argument and rule, so the gaps between the allowed values
 * are denied one value at a time and everything above the largest with one
 * greater-than. The comparison is on all 64 bits of the register: a family
 * with garbage in the upper half (the kernel uses only the int) is above the
 * largest allowed value and denied, so the garbage cannot smuggle one in.
 *
 * On i386, socket(2) was reachable only through socketcall(2) until Linux
 * 4.3, and socketcall passes the family in memory, which a filter cannot
 * read. libseccomp then denies socketcall's SYS_SOCKET and SYS_SOCKETPAIR
 * altogether (and filters the direct i386 socket call by family): a 32-bit
 * program gets EAFNOSUPPORT for every socket it makes through socketcall
 * (glibc for i386 built for kernels before 4.3 does), which a compile does
 * not need.
 */
static int add_socket_rules(scmp_filter_ctx ctx, struct cps_error *err)
{
    static const int calls[] = {SCMP_SYS(socket), SCMP_SYS(socketpair)};
    size_t n = sizeof(allowed_families) / sizeof(allowed_families[0]);
    unsigned long top = allowed_families[n - 1];

    for (size_t c = 0; c < sizeof(calls) / sizeof(calls[0]); c++) {
        const char *what = c == 0 ? "socket" : "socketpair";
        size_t next = 0;
        int rc;

        for (unsigned long f = 0; f < top; f++) {
            if (next < n && allowed_families[next] == f) {
                next++;
                continue;
            }
            rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EAFNOSUPPORT), calls[c], 1,
                                  SCMP_A0(SCMP_CMP_EQ, f));
            if (rc < 0)
                return rule_error(err, rc, what);
        }
        rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EAFNOSUPPORT), calls[c], 1,
                              SCMP_A0(SCMP_CMP_GT, top));
        if (rc < 0)
            return rule_error(err, rc, what);
    }
    return 0;
}

/*
 * personality(2) stays allowed: builds use it (setarch -R / ADDR_NO_RANDOMIZE
 * for reproducible output; ThreadSanitizer and MemorySanitizer runtimes
 * re-exec themselves with it when the address layout does not suit them;
 * linux32 / PER_LINUX32 for 32-bit builds), gcc and ld do not, and the flags
 * change only the job's own processes (the kernel clears the unsafe ones on a
 * privilege-gaining exec, PER_CLEAR_ON_SETID, which no_new_privs rules out
 * anyway). Two flags are denied (EPERM): READ_IMPLIES_EXEC makes every
 * readable mapping executable, and MMAP_PAGE_ZERO maps page 0 at exec, the
 * first step of exploiting a kernel NULL dereference (CVE-2009-1895; today
 * vm.mmap_min_addr refuses it too). Either only helps an exploit, of the
 * compiler by a crafted input or of the kernel.
 *
 * personality(0xffffffff) only asks for the current value (the sanitizers
 * and setarch do that first) and has every bit set, so the rules must let it
 * through: a value with a denied flag is refused when bit 31 is clear (no
 * flag uses bit 31); a value with bit 31 set is refused unless it is
 * 0xffffffff, one rule per other bit that is clear; and a value above 32 bits
 * is refused (the kernel takes an unsigned int; glibc passes one).
 */
#define PERSONA_QUERY  0xffffffffUL
#define PERSONA_UNUSED 0x80000000UL
static const unsigned long denied_persona_flags[] = {READ_IMPLIES_EXEC, MMAP_PAGE_ZERO};

static int add_personality_rules(scmp_filter_ctx ctx, struct cps_error *err)
{
    int rc;

    for (size_t i = 0; i < sizeof(denied_persona_flags) / sizeof(denied_persona_flags[0]); i++) {
        unsigned long flag = denied_persona_flags[i];

        rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(personality), 1,
                              SCMP_A0(SCMP_CMP_MASKED_EQ, flag | PERSONA_UNUSED, flag));
        if (rc < 0)
            return rule_error(err, rc, "personality");
    }
    for (unsigned bit = 0; bit < 31; bit++) {
        rc = seccomp_rule_add(
            ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(personality), 1,
            SCMP_A0(SCMP_CMP_MASKED_EQ, PERSONA_UNUSED | 1UL << bit, PERSONA_UNUSED));
        if (rc < 0)
            return rule_error(err, rc, "personality");
    }
    rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(personality), 1,
                          SCMP_A0(SCMP_CMP_GT, PERSONA_QUERY));
    return rc < 0 ? rule_error(err, rc, "personality") : 0;
}

/*
 * A process can enter the kernel through another ABI than its own: on x86_64
 * any program may execute `int $0x80` and make i386 system calls, whose
 * numbers differ (i386 mount is 21, x86_64 mount is 165), and x32 calls carry
 * bit 30 in the number. The kernel tells the filter which ABI was used, so the
 * filter must cover every ABI the CPU can execute, or a denied call is one
 * instruction away. The same rules are added for i386 and x32 (a toolchain
 * may legitimately contain 32-bit programs, so killing them would break it);
 * a call from any other architecture kills the process.
 */
static int add_arches(scmp_filter_ctx ctx, struct cps_error *err)
{
#if defined(__x86_64__)
    static const uint32_t extra[] = {SCMP_ARCH_X86, SCMP_ARCH_X32};
#elif defined(__aarch64__)
    static const uint32_t extra[] = {SCMP_ARCH_ARM};
#else
    static const uint32_t extra[] = {0};
#endif
    for (size_t i = 0; i < sizeof(extra) / sizeof(extra[0]); i++) {
        if (extra[i] == 0)
            continue;
        int rc = seccomp_arch_add(ctx, extra[i]);
        if (rc < 0 && rc != -EEXIST)
            return cps__error_set(err, STAGE, -rc, NULL, "libseccomp: add architecture 0x%x",
                                  extra[i]);
    }
    int rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
    if (rc < 0)
        return cps__error_set(err, STAGE, -rc, "libseccomp 2.4 or newer is needed",
                              "libseccomp: set the bad-architecture action");
    return 0;
}

static int add_rules(scmp_filter_ctx ctx, struct cps_error *err)
{
    int rc = add_arches(ctx, err);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < sizeof(deny_eperm) / sizeof(deny_eperm[0]); i++) {
        rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), deny_eperm[i], 0);
        if (rc < 0) {
            char *name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, deny_eperm[i]);
            rc = rule_error(err, rc, name ? name : "a system call");
            free(name);
            return rc;
        }
    }
    for (size_t i = 0; i < sizeof(deny_enosys) / sizeof(deny_enosys[0]); i++) {
        rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), deny_enosys[i], 0);
        if (rc < 0) {
            char *name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, deny_enosys[i]);
            rc = rule_error(err, rc, name ? name : "a system call");
            free(name);
            return rc;
        }
    }
    rc = add_namespace_rules(ctx, err);
    if (rc == 0)
        rc = add_ioctl_rules(ctx, err);
    if (rc == 0)
        rc = add_socket_rules(ctx, err);
    if (rc == 0)
        rc = add_personality_rules(ctx, err);
    return rc;
}

/* Read the program libseccomp exported into fd (a memfd at its end). */
static int read_program(int fd, struct cps__seccomp *out, struct cps_error *err)
{
    struct stat st;
    if (fstat(fd, &st) < 0)
        return cps__error_set(err, STAGE, errno, NULL, "fstat the exported filter");
    size_t insn = sizeof(struct sock_filter);
    if (st.st_size <= 0 || (size_t)st.st_size % insn != 0 ||
        (size_t)st.st_size / insn > BPF_MAXINSNS)
        return cps__error_set(err, STAGE, EINVAL, NULL,
                              "libseccomp exported %lld bytes, not a BPF program",
                              (long long)st.st_size);
    struct sock_filter *insns = malloc((size_t)st.st_size);
    if (!insns)
        return cps__error_set(err, STAGE, ENOMEM, NULL, "allocate the filter");
    size_t done = 0;
    while (done < (size_t)st.st_size) {
        ssize_t n = pread(fd, (char *)insns + done, (size_t)st.st_size - done, (off_t)done);
        if (n <= 0) {
            int e = n < 0 ? errno : EIO;
            free(insns);
            return cps__error_set(err, STAGE, e, NULL, "read the exported filter");
        }
        done += (size_t)n;
    }
    out->insns = insns;
    out->len = (unsigned short)((size_t)st.st_size / insn);
    out->owned = true;
    return 0;
}

int cps__seccomp_build(struct cps__seccomp *out, struct cps_error *err)
{
    out->insns = NULL;
    out->len = 0;
    out->owned = false;

    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
    if (!ctx)
        return cps__error_set(err, STAGE, ENOMEM, NULL, "libseccomp: seccomp_init failed");
    /* A binary tree instead of a linear list of comparisons: every system
     * call of the compiler runs the filter. Only a speed-up, so an older
     * libseccomp without the attribute is fine. */
    (void)seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);

    int rc = add_rules(ctx, err);
    if (rc == 0) {
        /* libseccomp 2.5 exports only to a file descriptor
         * (seccomp_export_bpf_mem is 2.6). */
        int fd = memfd_create("cps-seccomp", MFD_CLOEXEC);
        if (fd < 0) {
            rc = cps__error_set(err, STAGE, errno, NULL, "memfd_create for the filter");
        } else {
            rc = seccomp_export_bpf(ctx, fd);
            if (rc < 0)
                rc = cps__error_set(err, STAGE, -rc, NULL, "libseccomp: export the filter");
            else
                rc = read_program(fd, out, err);
            close(fd);
        }
    }
    seccomp_release(ctx);
    return rc;
}
