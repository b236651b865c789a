/* probe_ns.c - user namespace knobs, id maps, the other namespaces, /proc, netns timing. */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "probe.h"

#define SYSCTL_MAX_USERNS "/proc/sys/user/max_user_namespaces"
#define SYSCTL_UNPRIV     "/proc/sys/kernel/unprivileged_userns_clone"
#define SYSCTL_APPARMOR   "/proc/sys/kernel/apparmor_restrict_unprivileged_userns"

void cps__probe_userns_facts(struct cps_userns_facts *f)
{
    FILE *map;
    unsigned long inside, outside, count;

    memset(f, 0, sizeof(*f));
    f->root = geteuid() == 0;
    f->has_max_user_namespaces =
        cps__probe_read_sysctl(SYSCTL_MAX_USERNS, &f->max_user_namespaces) == 0;
    f->has_unprivileged_clone = cps__probe_read_sysctl(SYSCTL_UNPRIV, &f->unprivileged_clone) == 0;
    f->has_apparmor_restrict = cps__probe_read_sysctl(SYSCTL_APPARMOR, &f->apparmor_restrict) == 0;
    /* The initial user namespace maps everything: "0 0 4294967295". */
    map = fopen("/proc/self/uid_map", "re");
    if (map) {
        int n = fscanf(map, "%lu %lu %lu", &inside, &outside, &count);

        f->in_user_namespace = !(n == 3 && inside == 0 && outside == 0 && count == 4294967295ul);
        fclose(map);
    }
}

/* What to change when creating a user namespace fails with errnum. */
static void userns_hint(const struct cps_userns_facts *f, int errnum, char *hint, size_t size)
{
    if (f->has_max_user_namespaces && f->max_user_namespaces == 0)
        snprintf(hint, size,
                 "user.max_user_namespaces is 0: set it, e.g. `sysctl -w "
                 "user.max_user_namespaces=15000` (and in /etc/sysctl.d/ to keep it)");
    else if (errnum == ENOSPC)
        snprintf(hint, size,
                 "the user.max_user_namespaces limit is reached: raise it with `sysctl -w "
                 "user.max_user_namespaces=N`");
    else if (errnum == EPERM && f->has_unprivileged_clone && f->unprivileged_clone == 0 && !f->root)
        snprintf(hint, size,
                 "kernel.unprivileged_userns_clone is 0: `sysctl -w "
                 "kernel.unprivileged_userns_clone=1`, or run the worker as root");
    else if (errnum == EPERM)
        snprintf(hint, size,
                 "something forbids unshare(CLONE_NEWUSER): a seccomp filter or container runtime "
                 "(docker: --security-opt seccomp=unconfined, or run the worker on the host), or "
                 "a chroot");
    else if (errnum == EINVAL)
        snprintf(hint, size, "the kernel was built without user namespaces (CONFIG_USER_NS)");
    else if (errnum == EUSERS)
        snprintf(hint, size,
                 "user namespaces are nested 32 deep already: run the worker higher "
                 "up the namespace tree");
    else
        hint[0] = '\0';
}

static void userns_child(void *arg, struct cps_probe_result *r)
{
    const struct cps_userns_facts *f = arg;

    if (unshare(CLONE_NEWUSER) < 0) {
        int e = errno;

        cps__probe_set(r, CPS_PROBE_FAILED, e, NULL, "unshare(CLONE_NEWUSER): %s", strerror(e));
        userns_hint(f, e, r->hint, sizeof(r->hint));
        return;
    }
    cps__probe_set(r, CPS_PROBE_OK, 0, NULL, "unshare(CLONE_NEWUSER) works");
}

void cps__probe_userns(const struct cps_userns_facts *f, struct cps_probe_result *r)
{
    cps__probe_in_child(userns_child, (void *)(uintptr_t)f, CPS_PROBE_TIMEOUT_MS, r);
    if (f->has_max_user_namespaces)
        cps__probe_append(r, "; user.max_user_namespaces=%ld", f->max_user_namespaces);
    if (f->has_unprivileged_clone)
        cps__probe_append(r, "; kernel.unprivileged_userns_clone=%ld", f->unprivileged_clone);
    if (f->has_apparmor_restrict)
        cps__probe_append(r, "; kernel.apparmor_restrict_unprivileged_userns=%ld",
                          f->apparmor_restrict);
    if (f->in_user_namespace)
        cps__probe_append(r, "; already inside a user namespace");
}

static void idmap_child(void *arg, struct cps_probe_result *r)
{
    const struct cps_userns_facts *f = arg;
    uid_t uid = geteuid();
    gid_t gid = getegid();

    if (cps__probe_enter_userns(0, r) < 0) {
        if (strncmp(r->detail, "unshare", 7) == 0)
            userns_hint(f, r->errnum, r->hint, sizeof(r->hint));
        else if (r->errnum == EPERM && f->has_apparmor_restrict && f->apparmor_restrict)
            snprintf(r->hint, sizeof(r->hint),
                     "kernel.apparmor_restrict_unprivileged_userns=%ld: the new namespace has no "
                     "capabilities; `sysctl -w kernel.apparmor_restrict_unprivileged_userns=0`, or "
                     "an AppArmor profile with the \"userns\" permission for the helper",
                     f->apparmor_restrict);
        else if (r->errnum == EPERM)
            snprintf(r->hint, sizeof(r->hint),
                     "only a single mapping of the caller's own effective ids may be written "
                     "unprivileged; a security module (AppArmor, SELinux) may also refuse it");
        return;
    }
    cps__probe_set(r, CPS_PROBE_OK, 0, NULL,
                   "wrote setgroups \"deny\", uid_map \"0 %u 1\", gid_map \"0 %u 1\"",
                   (unsigned)uid, (unsigned)gid);
}

void cps__probe_idmap(const struct cps_userns_facts *f, struct cps_probe_result *r)
{
    cps__probe_in_child(idmap_child, (void *)(uintptr_t)f, CPS_PROBE_TIMEOUT_MS, r);
}

static const struct {
    int flag;
    const char *name;
} other_namespaces[] = {
    {CLONE_NEWNS, "mount"}, {CLONE_NEWPID, "pid"}, {CLONE_NEWNET, "network"},
    {CLONE_NEWIPC, "ipc"},  {CLONE_NEWUTS, "uts"}, {CLONE_NEWCGROUP, "cgroup"},
};

static void namespaces_child(void *arg, struct cps_probe_result *r)
{
    if (cps__probe_enter_userns(0, r) < 0)
        return;
    /* One at a time, so a failure names the namespace. */
    for (size_t i = 0; i < sizeof(other_namespaces) / sizeof(other_namespaces[0]); i++) {
        if (unshare(other_namespaces[i].flag) < 0) {
            int e = errno;

            cps__probe_set(r, CPS_PROBE_FAILED, e,
                           e == EINVAL ? "the kernel lacks this namespace type (CONFIG_*_NS)"
                                       : NULL,
                           "unshare of a %s namespace inside the user namespace: %s",
                           other_namespaces[i].name, strerror(e));
            return;
        }
    }
    cps__probe_set(r, CPS_PROBE_OK, 0, NULL,
                   "mount, pid, network, ipc, uts and cgroup namespaces created");
}

void cps__probe_namespaces(struct cps_probe_result *r)
{
    cps__probe_in_child(namespaces_child, NULL, CPS_PROBE_TIMEOUT_MS, r);
}

static void proc_child(void *arg, struct cps_probe_result *r)
{
    const char *dir = arg;
    int pipefd[2];
    pid_t pid;
    int status;
    int e = 0;

    if (cps__probe_enter_userns(CLONE_NEWNS | CLONE_NEWPID, r) < 0)
        return;
    if (pipe(pipefd) < 0) {
        cps__probe_set(r, CPS_PROBE_FAILED, errno, NULL, "pipe: %m");
        return;
    }
    /* unshare(CLONE_NEWPID) does not move the caller: only its next child is
     * PID 1 of the new namespace, and a procfs of that namespace can only be
     * mounted from inside it (pid_namespaces(7)). */
    pid = fork();
    if (pid < 0) {
        cps__probe_set(r, CPS_PROBE_FAILED, errno, NULL, "fork PID 1: %m");
        return;
    }
    if (pid == 0) {
        int err = 0;

        close(pipefd[0]);
        if (mount("proc", dir, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
            err = errno;
        else if (umount2(dir, MNT_DETACH) < 0)
            err = -errno;
        if (write(pipefd[1], &err, sizeof(err)) != (ssize_t)sizeof(err))
            _exit(1);
        _exit(0);
    }
    close(pipefd[1]);
    if (read(pipefd[0], &e, sizeof(e)) != (ssize_t)sizeof(e))
        e = EIO;
    close(pipefd[0]);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (e < 0) {
        cps__probe_set(r, CPS_PROBE_FAILED, -e, NULL, "unmount the fresh procfs: %s", strerror(-e));
    } else if (e > 0) {
        cps__probe_set(r, CPS_PROBE_FAILED, e,
                       e == EPERM ? "the host's /proc is partly masked or read-only (inside a "
                                    "container?): the kernel refuses a new procfs that would "
                                    "reveal more than it (mount_too_revealing); run the worker "
                                    "with an unmasked /proc (docker: --security-opt "
                                    "systempaths=unconfined)"
                                  : NULL,
                       "mount a fresh procfs as PID 1 of a new PID namespace: %s", strerror(e));
    } else {
        cps__probe_set(r, CPS_PROBE_OK, 0, NULL,
                       "mounted and unmounted a procfs as PID 1 of a new PID namespace");
    }
}

void cps__probe_proc(const char *dir, struct cps_probe_result *r)
{
    cps__probe_in_child(proc_child, (void *)(uintptr_t)dir, CPS_PROBE_TIMEOUT_MS, r);
}

static int64_t now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return (x > y) - (x < y);
}

static void netns_child(void *arg, struct cps_probe_result *r)
{
    int64_t t[3];

    if (cps__probe_enter_userns(0, r) < 0)
        return;
    /* Each unshare replaces the previous network namespace, which the kernel
     * then tears down in the background (cleanup_net). */
    for (int i = 0; i < 3; i++) {
        int64_t start = now_us();

        if (unshare(CLONE_NEWNET) < 0) {
            cps__probe_set(r, CPS_PROBE_FAILED, errno, NULL,
                           "unshare(CLONE_NEWNET) inside the user namespace: %m");
            return;
        }
        t[i] = now_us() - start;
    }
    qsort(t, 3, sizeof(t[0]), cmp_i64);
    cps__probe_set(r, CPS_PROBE_OK, 0, NULL,
                   "unshare(CLONE_NEWNET) took %lld us (median of 3: %lld, %lld, %lld us)",
                   (long long)t[1], (long long)t[0], (long long)t[1], (long long)t[2]);
    r->value = t[1];
}

void cps__probe_netns(struct cps_probe_result *r)
{
    cps__probe_in_child(netns_child, NULL, CPS_PROBE_TIMEOUT_MS, r);
}
