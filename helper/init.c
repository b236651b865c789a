/* init.c - PID 1 of the job's PID namespace. */
#include "init.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend.h"
#include "control.h"
#include "error.h"
#include "cps_limits.h"
#include "ipc_clear.h"
#include "log.h"
#include "namespaces.h"
#include "proctitle.h"
#include "proto.h"
#include "rlimits.h"
#include "rootfs_prep.h"
#include "timings.h"

static void report_error(int ctl, uint32_t kind, const struct cps_error *e)
{
    struct cps_ctl_record r;

    memset(&r, 0, sizeof(r));
    r.kind = kind;
    r.error = *e;
    (void)cps__ctl_send(ctl, &r, NULL);
}

/*
 * The job-independent part of the job's root, made right after I is forked,
 * while O says hello and the helper idles: for the userns backend, /proc (of
 * this PID namespace, so only I can make it), /dev and /tmp as detached trees.
 * The bubblewrap backend builds its own. O does not wait for it: a warm
 * helper has long finished when its job comes, and a cold one overlaps it
 * with O's job checks, overlay and inputs (waiting would cost a scheduling
 * round trip before hello; docs/MEASUREMENTS.md).
 * Returns the time it took, 0 when nothing was made.
 */
static uint64_t prepare_root(const struct cps_backend_prep *bp, struct cps_rootfs_prep *prep)
{
    struct cps_error e;
    uint64_t t0 = cps__now_usec(), t;

    cps__rootfs_prep_init(prep);
    if (bp->backend == CPS_BACKEND_USERNS &&
        cps__rootfs_prepare(prep, CPS_DEFAULT_TMP_BYTES, &e) < 0)
        cps__log_info("/proc, /dev and /tmp are mounted per job the classic way: %s: %s", e.stage,
                      e.message);
    if (!cps__rootfs_prep_ready(prep))
        return 0;
    t = cps__now_usec() - t0;
    return t > 0 ? t : 1;
}

/* Reap until job_pid exited, then kill and reap everything else. */
static int reap_all(pid_t job_pid)
{
    int status = 0, st;
    pid_t p;

    for (;;) {
        p = waitpid(-1, &st, 0);
        if (p < 0 && errno == EINTR)
            continue;
        if (p < 0)
            break; /* ECHILD: the job's process was already reaped, cannot happen */
        if (p == job_pid) {
            status = st;
            break;
        }
    }
    /* The job is over: nothing it left running (a daemon, a stray child) may
     * outlive it. From PID 1, kill(-1) reaches every process of the namespace. */
    kill(-1, SIGKILL);
    for (;;) {
        p = waitpid(-1, &st, 0);
        if (p < 0 && errno == EINTR)
            continue;
        if (p < 0)
            break;
    }
    return status;
}

static _Noreturn void init_main(int ctl, int out_wr, int err_wr, bool seccomp,
                                const struct cps_backend_prep *bp, const struct cps_job_cgroup *cg,
                                bool per_job_namespaces)
{
    struct cps__seccomp sc = {0};
    struct cps_error sc_err, cg_err, title_err, sid_err, host_err;
    int sc_rc = 0, cg_rc, title_rc, sid_rc = 0, host_rc = 0;
    struct cps_job_limits limits;
    struct cps_ctl_record r;
    struct cps_rootfs_prep prep;
    struct cps_launch l;
    struct cps_error e;
    struct cps_msg msg;
    char target[PATH_MAX];
    uint8_t *raw;
    size_t len;
    uint64_t prep_usec;
    pid_t job_pid;
    int rc;

    cps__error_clear(&e);
    /* O is I's only link to the world: die with it. The control socket's EOF
     * is the robust signal while I waits for the job. */
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    /* No host path of the helper in the job's /proc/1/cmdline (proctitle.h). */
    title_rc = cps__proctitle_set(CPS_INIT_TITLE, &title_err);
    /* A session and process group of its own, led by I inside the job's PID
     * namespace, which the compiler (or bwrap) inherits. Otherwise the job is
     * in the worker's process group and session: kill(0, sig) and
     * setpriority(PRIO_PGRP, 0, n) reach every member of the group, whatever
     * PID namespace it is in (kill(2), setpriority(2)), i.e. the worker and
     * its other jobs, and /dev/tty opens the worker's controlling terminal.
     * A new session has none (setsid(2)), and I never opens a terminal. */
    if (setsid() < 0)
        sid_rc = cps__error_set(&sid_err, CPS_STAGE_INIT, errno, NULL,
                                "setsid in PID 1 of the job's namespace");
    /* First, so that everything I forks later is in the job cgroup; a failure
     * is the job's setup error, reported when the job comes. */
    cg_rc = cps__cgroup_enter(cg, 0, &cg_err);
    /* A UTS namespace of its own starts with O's hostname, which is already
     * the sandbox's; set again all the same, so that the job's hostname never
     * depends on what O's namespace holds. */
    if (per_job_namespaces)
        host_rc = cps__ns_set_hostname(&host_err);
    prep_usec = prepare_root(bp, &prep);
    /* The built-in program (seccomp_filter.h): nothing to build. */
    if (seccomp)
        sc_rc = cps__seccomp_prepare(&sc, &sc_err);
    rc = cps__ctl_recv_blob(ctl, CPS_MAX_FRAME, &raw, &len, &e);
    if (rc < 0)
        _exit(rc == -ECONNRESET ? 0 : 1);
    rc = cps__msg_decode(raw, len, &msg, &e);
    free(raw);
    if (rc == 0 && msg.type != CPS_MSG_JOB)
        rc = cps__error_set(&e, CPS_STAGE_CONTROL, EPROTO, NULL,
                            "I received a message that is no job");
    if (rc == 0 && (size_t)snprintf(target, sizeof(target), "%s/target", msg.u.job.build_dir) >=
                       sizeof(target))
        rc = cps__error_set(&e, CPS_STAGE_CONTROL, ENAMETOOLONG, NULL, "target path too long");
    if (rc == 0 && sc_rc < 0) {
        e = sc_err;
        rc = sc_rc;
    }
    if (rc == 0 && cg_rc < 0) {
        e = cg_err;
        rc = cg_rc;
    }
    if (rc == 0 && title_rc < 0) {
        e = title_err;
        rc = title_rc;
    }
    if (rc == 0 && sid_rc < 0) {
        e = sid_err;
        rc = sid_rc;
    }
    if (rc == 0 && host_rc < 0) {
        e = host_err;
        rc = host_rc;
    }
    if (rc < 0) {
        report_error(ctl, CPS_CTL_SETUP_FAILED, &e);
        _exit(1);
    }
    cps__limits_resolve(&msg.u.job.limits, &limits);
    memset(&l, 0, sizeof(l));
    l.job = &msg.u.job;
    l.limits = &limits;
    l.target = target;
    l.stdout_fd = out_wr;
    l.stderr_fd = err_wr;
    l.seccomp = seccomp ? &sc : NULL;
    l.prep = &prep;
    /* The helper's backend: O refused a job asking for another one. */
    rc = cps__backend_launch(bp, &l, &job_pid, &e);
    if (rc < 0) {
        report_error(ctl,
                     cps__error_is(&e, CPS_STAGE_EXEC) ? CPS_CTL_EXEC_FAILED : CPS_CTL_SETUP_FAILED,
                     &e);
        _exit(1);
    }
    memset(&r, 0, sizeof(r));
    r.kind = CPS_CTL_STARTED;
    r.rootfs_usec = l.rootfs_usec;
    r.exec_usec = l.exec_usec;
    r.prep_usec = prep_usec;
    (void)cps__ctl_send(ctl, &r, NULL);
    r.kind = CPS_CTL_EXITED;
    r.wait_status = reap_all(job_pid);
    (void)getrusage(RUSAGE_CHILDREN, &r.usage);
    /* Every other process of the namespace is reaped: nothing holds an IPC
     * object any more, and the charges of the job's objects to the kept user
     * namespace drop now rather than when the kernel frees this namespace,
     * after the next hello (ipc_clear.h). A one-job helper's user namespace
     * dies with it: nothing to do there. */
    if (per_job_namespaces && cps__ipc_clear(&r.error) < 0)
        r.ipc_left = 1;
    (void)cps__ctl_send(ctl, &r, NULL);
    _exit(0);
}

int cps__init_spawn(struct cps_init *in, const int *close_fds, size_t nclose, bool seccomp,
                    const struct cps_backend_prep *bp, const struct cps_job_cgroup *cg,
                    bool per_job_namespaces, struct cps_error *err)
{
    int out[2] = {-1, -1}, errp[2] = {-1, -1}, ctl[2] = {-1, -1};
    unsigned long flags = CLONE_NEWPID | SIGCHLD;
    int rc;
    pid_t pid;

    if (pipe2(out, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0 ||
        socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ctl) < 0) {
        rc = cps__error_set(err, CPS_STAGE_FORK_INIT, errno, NULL,
                            "creating the pipes and control socket");
        goto fail;
    }
    /* O polls the read ends; the write ends stay blocking for the job. */
    if (fcntl(out[0], F_SETFL, O_NONBLOCK) < 0 || fcntl(errp[0], F_SETFL, O_NONBLOCK) < 0) {
        rc = cps__error_set(err, CPS_STAGE_FORK_INIT, errno, NULL, "O_NONBLOCK on the pipes");
        goto fail;
    }
    /* clone(CLONE_NEWPID) without a new stack behaves like fork(2), with the
     * child as PID 1 of a new PID namespace owned by O's user namespace
     * (bubblewrap's raw_clone does the same). It skips glibc's fork handlers,
     * which is fine in a single-threaded process. */
    if (per_job_namespaces)
        flags |= CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNET;
    pid = (pid_t)syscall(SYS_clone, flags, NULL, NULL, NULL, NULL);
    if (pid < 0) {
        rc = cps__error_set(err, CPS_STAGE_FORK_INIT, errno, NULL,
                            "fork of PID 1 in the new PID namespace");
        goto fail;
    }
    if (pid == 0) {
        for (size_t i = 0; i < nclose; i++)
            if (close_fds[i] >= 0)
                close(close_fds[i]);
        close(out[0]);
        close(errp[0]);
        close(ctl[0]);
        init_main(ctl[1], out[1], errp[1], seccomp, bp, cg, per_job_namespaces);
    }
    close(out[1]);
    close(errp[1]);
    close(ctl[1]);
    in->pid = pid;
    in->ctl = ctl[0];
    in->out_rd = out[0];
    in->err_rd = errp[0];
    return 0;
fail:
    for (int i = 0; i < 2; i++) {
        if (out[i] >= 0)
            close(out[i]);
        if (errp[i] >= 0)
            close(errp[i]);
        if (ctl[i] >= 0)
            close(ctl[i]);
    }
    return rc;
}

void cps__init_close(struct cps_init *in)
{
    if (in->ctl >= 0)
        close(in->ctl);
    if (in->out_rd >= 0)
        close(in->out_rd);
    if (in->err_rd >= 0)
        close(in->err_rd);
    in->ctl = in->out_rd = in->err_rd = -1;
}
