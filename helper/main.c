/*
 * main.c - cachepot-dist-sandbox: the sequence of steps of one job (and, for a
 * helper started with --jobs-per-helper N, of the next ones: reuse.h).
 * docs/ARCHITECTURE.md explains the processes (O, I, C), docs/HELPER.md the
 * interface (fd 3, exit codes, error stages, limits).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend.h"
#include "scratch_dirs.h"
#include "cgroup.h"
#include "check_main.h"
#include "cps_limits.h"
#include "error.h"
#include "hostcaps.h"
#include "idmap.h"
#include "init.h"
#include "inputs.h"
#include "job_paths.h"
#include "log.h"
#include "namespaces.h"
#include "options.h"
#include "outputs_send.h"
#include "overlay.h"
#include "pump.h"
#include "report.h"
#include "reuse.h"
#include "rlimits.h"
#include "rootpath.h"
#include "parent_session.h"
#include "timings.h"

/* Everything a failure must undo, in one place. */
struct helper {
    struct cps_helper_options opt;
    struct cps_timings t;
    struct cps_error err;
    int sock;
    int sigfd;
    struct cps_init init; /* init.pid 0: no I */
    bool init_ending;     /* I reported the job's end and is exiting by itself */
    struct cps_msg job;   /* decoded job; type 0 until read */
    uint8_t *job_raw;     /* its bytes, for I */
    size_t job_len;
    struct cps_job_limits limits;
    struct cps_job_cgroup cg; /* version 0: no cgroup */
    struct cps_builddir dirs;
    struct cps_backend_prep backend; /* found before I was forked */
    struct cps_overlay_state ov;     /* ov.mode 0: nothing mounted */
    uint32_t overlay;                /* the mode that was mounted, for exit */
    int target_fd;
    bool stream_cut;            /* a frame to the peer was left half sent: send nothing more */
    struct cps_pump_result end; /* how the job ended, from hand_job_to_init */
    struct rusage usage;        /* the job's processes */
    uint32_t left;              /* jobs this helper still takes, counting the current one */
    bool job_clean;             /* end_job undid everything of the last job */
};

/* Kill and reap I, and with PID 1 every process of its namespace. -1 when
 * waitpid failed (I not known to be gone). */
static int reap_init(struct helper *h)
{
    pid_t p = 0;

    if (h->init.pid > 0) {
        kill(h->init.pid, SIGKILL);
        while ((p = waitpid(h->init.pid, NULL, 0)) < 0 && errno == EINTR)
            ;
        h->init.pid = 0;
    }
    return p < 0 ? -1 : 0;
}

/* Undo everything of the job, newest first: I (and with it the job's PID
 * namespace), the overlay, the scratch dirs. Every step is tried even when one
 * fails; -1 when one did (a reusing helper then takes no other job).
 * When I reported the job's end, every process of the job is gone and I is
 * exiting by itself; the kernel's teardown of I's mount and PID namespaces
 * then runs on another CPU while O sends the outputs, unmounts and removes
 * the build dir, and I is reaped last (still before the exit frame). Otherwise I may still be
 * running and using the overlay: it goes first. */
static int end_job(struct helper *h)
{
    struct cps_error e;
    int rc = 0;

    if (!h->init_ending && reap_init(h) < 0)
        rc = -1;
    if (h->target_fd >= 0)
        close(h->target_fd);
    h->target_fd = -1;
    if (cps__overlay_unmount(&h->ov, &e) < 0) {
        cps__log_error("%s: %s", e.stage, e.message);
        rc = -1;
    }
    if (cps__builddir_remove(&h->dirs, &e) < 0) {
        cps__log_error("%s: %s", e.stage, e.message);
        rc = -1;
    }
    if (reap_init(h) < 0)
        rc = -1;
    cps__init_close(&h->init);
    return rc;
}

/* The helper ends: the job's leftovers, then the cgroup it kept for all its jobs. */
static int cleanup(struct helper *h)
{
    int rc = end_job(h);

    cps__cgroup_remove(&h->cg);
    return rc;
}

/* Any failure: exactly one error frame (when the peer can still hear it),
 * cleanup, and the exit code that says whose fault it was. */
static int fail(struct helper *h)
{
    bool peer = cps__session_is_peer_error(&h->err);
    bool stop = cps__session_is_stop(&h->err);
    struct cps_error e;
    bool told = false;

    /* A stop signal must end the helper even when the peer does not read:
     * everything is undone first, and the report then gets as long as a frame
     * from the peer would. */
    if (stop) {
        cleanup(h);
        if (!h->stream_cut)
            told = cps__session_send_error_within(h->sock, &h->err, CPS_FRAME_DEADLINE_MS, &e) == 0;
    } else if (h->err.errnum != ECONNRESET && h->err.errnum != EPIPE) {
        told = cps__msg_send_error(h->sock, &h->err, &e) == 0;
    }
    /* The worker reports a delivered error frame itself; logging it as an error
     * here too would print every failure twice on the worker's stderr. */
    cps__log(told ? CPS_LOG_INFO : CPS_LOG_ERROR, "%s: %s%s%s", h->err.stage, h->err.message,
             h->err.hint[0] ? "; hint: " : "", h->err.hint);
    if (!stop)
        cleanup(h);
    return peer ? CPS_EXIT_PROTOCOL : CPS_EXIT_SETUP;
}

/* fd 3 must be a connected socket: the worker's end of the socketpair. */
static int check_fd3(void)
{
    struct sockaddr_storage sa;
    socklen_t len = sizeof(sa);
    struct stat st;

    if (fstat(CPS_HELPER_FD, &st) < 0) {
        fprintf(stderr,
                "cachepot-dist-sandbox: fd 3 is not open (%s); it must be the "
                "worker's end of a socketpair (see --help)\n",
                strerror(errno));
        return -1;
    }
    if (!S_ISSOCK(st.st_mode) || getpeername(CPS_HELPER_FD, (struct sockaddr *)&sa, &len) < 0) {
        fprintf(stderr, "cachepot-dist-sandbox: fd 3 is not a connected socket; it must be "
                        "the worker's end of a socketpair (see --help)\n");
        return -1;
    }
    return 0;
}

/*
 * The parent-death signal and the operator's stop signals arrive on a
 * signalfd that every wait of O polls, so that O can still remove the build
 * dir. (SIGKILL as the death signal would leave upper/ work/ target/ behind.)
 */
static int stop_signals(struct helper *h)
{
    sigset_t set;

    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    if (sigprocmask(SIG_BLOCK, &set, NULL) < 0 ||
        (h->sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK)) < 0)
        return cps__error_set(&h->err, CPS_STAGE_SIGNALS, errno, NULL,
                              "signalfd for SIGTERM/INT/HUP");
    return 0;
}

/* A fresh I, then hello: the jobs this helper still takes, counting the one
 * this hello invites, when it serves more than one (docs/PROTOCOL.md). */
static int spawn_init_and_hello(struct helper *h)
{
    uint32_t backends = CPS_BACKEND_USERNS, overlays = CPS_OVERLAY_NATIVE;
    bool reusing = h->opt.jobs_per_helper > 1;
    int close_in_init[2];

    close_in_init[0] = h->sock;
    close_in_init[1] = h->sigfd;
    if (cps__init_spawn(&h->init, close_in_init, 2, h->opt.seccomp, &h->backend, &h->cg, reusing,
                        &h->err) < 0)
        return -1;
    cps__timings_lap(&h->t, "fork_init");
    /* The host's static capability bits; a bwrap this helper already found
     * unusable (too old, not runnable) is not announced. */
    cps__host_caps(&backends, &overlays);
    if (h->opt.backend == CPS_BACKEND_BUBBLEWRAP && h->backend.bwrap_rc < 0)
        backends &= ~(uint32_t)CPS_BACKEND_BUBBLEWRAP;
    if (cps__session_hello(h->sock, &h->opt, backends, overlays, reusing ? h->left : 0, &h->err) <
        0)
        return -1;
    cps__timings_lap(&h->t, "hello");
    return 0;
}

/* Everything that does not depend on the job, then hello. */
static int prepare(struct helper *h)
{
    uid_t euid = geteuid();
    gid_t egid = getegid();

    if (stop_signals(h) < 0 || cps__ns_watch_parent(SIGTERM, getppid(), h->sock, &h->err) < 0)
        return -1;
    /* Before unshare: the cgroup files are opened with the host's view. */
    cps__cgroup_create(&h->cg);
    if (cps__ns_unshare(&h->err) < 0)
        return -1;
    cps__timings_lap(&h->t, "unshare");
    if (cps__idmap_write(euid, egid, h->opt.uid, h->opt.gid, &h->err) < 0)
        return -1;
    cps__timings_lap(&h->t, "idmap");
    if (cps__ns_set_hostname(&h->err) < 0 || cps__ns_make_root_private(&h->err) < 0)
        return -1;
    cps__backend_prepare(h->opt.backend, &h->backend);
    /* A reusing helper's I has an IPC namespace of its own per job, which it
     * empties after the job (ipc_clear.h): bwrap's job uses that one. */
    h->backend.bwrap.ipc_ns_of_init = h->opt.jobs_per_helper > 1;
    h->left = h->opt.jobs_per_helper;
    return spawn_init_and_hello(h);
}

/* Read the job and check all of it before anything is created. */
static int read_job(struct helper *h)
{
    const struct cps_job *job;

    if (cps__session_read(h->sock, h->sigfd, CPS_MSG_JOB, &h->job, &h->job_raw, &h->job_len,
                          &h->err) < 0)
        return -1;
    cps__timings_lap(&h->t, "job");
    job = &h->job.u.job;
    cps__limits_resolve(&job->limits, &h->limits);
    if (cps__session_check_config(job, &h->opt, &h->err) < 0 ||
        cps__job_paths_check(job, &h->err) < 0 ||
        cps__backend_check(&h->backend, &h->err) < 0 ||
        cps__builddir_check(job->build_dir, &h->dirs, &h->err) < 0)
        return -1;
    h->ov.paths.toolchain = job->toolchain;
    h->ov.paths.upper = h->dirs.upper;
    h->ov.paths.work = h->dirs.work;
    h->ov.paths.target = h->dirs.target;
    h->ov.job = job;
    h->ov.requested = job->overlay;
    if (cps__overlay_plan(&h->ov, &h->err) < 0)
        return -1;
    /* I entered the cgroup right after its fork (before it reads the job) and
     * has not forked the job yet: the limits are in place before it runs, and
     * the counters are taken before it can raise them. The first job starts
     * in a fresh cgroup, whose counters are 0: nothing to read then. */
    if (h->left < h->opt.jobs_per_helper)
        cps__cgroup_job_start(&h->cg);
    if (cps__cgroup_set_limits(&h->cg, &h->limits, &h->err) < 0)
        return -1;
    cps__timings_lap(&h->t, "validate");
    return 0;
}

/* Build dir, overlay, inputs, directories. */
static int make_root(struct helper *h)
{
    const struct cps_job *job = &h->job.u.job;

    if (cps__builddir_create(&h->dirs, h->opt.disk_scratch, h->limits.scratch_bytes, &h->err) < 0)
        return -1;
    cps__timings_lap(&h->t, "builddir");
    if (cps__overlay_mount(&h->ov, &h->err) < 0)
        return -1;
    h->overlay = h->ov.mode;
    cps__timings_lap(&h->t, "overlay");
    h->target_fd = open(h->dirs.target, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (h->target_fd < 0)
        return cps__error_set(&h->err, CPS_STAGE_INPUTS, errno, NULL, "open %s", h->dirs.target);
    if (cps__inputs_receive(h->sock, h->sigfd, h->target_fd, job, &h->err) < 0 ||
        cps__inputs_make_dirs(h->target_fd, job, &h->err) < 0)
        return -1;
    cps__timings_lap(&h->t, "inputs");
    return 0;
}

/*
 * Hand the job to I (PID 1 of the sandbox), which builds the job's view of the
 * root and starts the compiler, and pump the job's streams to the peer until
 * it ends; then reap what is left of I and say how the job ended (h->end).
 * An error is a job that did not run to its end: the peer broke the protocol
 * or went away, a cancel before the start, a setup failure I reported, or I
 * dying without a report.
 */
static int hand_job_to_init(struct helper *h)
{
    struct cps_pump_result *r = &h->end;
    int st = 0;

    if (cps__pump_run(h->sock, h->sigfd, &h->init, h->job_raw, h->job_len, &h->limits, r,
                      &h->err) < 0)
        return -1;
    memset(&h->usage, 0, sizeof(h->usage));
    if (r->exited) {
        h->usage = r->usage;
        h->init_ending = true;
    } else {
        while (wait4(h->init.pid, &st, 0, &h->usage) < 0 && errno == EINTR)
            ;
        h->init.pid = 0;
    }
    if (r->limit == NULL && WIFSIGNALED(r->wait_status) && WTERMSIG(r->wait_status) == SIGKILL &&
        cps__cgroup_oom_killed(&h->cg))
        r->limit = "memory";
    if (r->rootfs_prep_usec > 0)
        cps__timings_add(&h->t, "rootfs_prep", r->rootfs_prep_usec);
    cps__timings_add(&h->t, "rootfs", r->rootfs_usec);
    cps__timings_add(&h->t, "exec", r->exec_usec);
    cps__timings_lap(&h->t, "run");
    if (r->peer_error) {
        h->err = r->peer_err;
        return -1;
    }
    if (r->stopped) {
        h->err = r->stop_err;
        h->stream_cut = r->frame_cut;
        return -1;
    }
    if (r->cancelled_early)
        return cps__error_set(&h->err, CPS_STAGE_CANCEL, ECANCELED, NULL,
                              "cancelled by the peer before the job started");
    if (r->peer_gone)
        return cps__error_set(&h->err, CPS_STAGE_PARENT, ECONNRESET, NULL, "job ended early: %s",
                              r->gone_reason);
    if (r->failed) {
        h->err = r->failure;
        return -1;
    }
    if (!r->exited && !r->killed)
        return cps__error_set(&h->err, CPS_STAGE_INIT, EIO, NULL,
                              "PID 1 of the sandbox ended (wait status 0x%x) without reporting",
                              (unsigned)st);
    return 0;
}

/* The output files, within what the streams left of max_output_bytes. */
static int send_outputs(struct helper *h)
{
    uint64_t budget = h->limits.max_output_bytes - h->end.stream_bytes;

    if (cps__outputs_send(h->sock, h->target_fd, &h->job.u.job, &budget, &h->err) < 0)
        return -1;
    cps__timings_lap(&h->t, "outputs");
    return 0;
}

/*
 * The exit frame, and cleanup. With the writable layer on this helper's
 * tmpfs, exit already means "the host is as before": every process of the job
 * is dead (I reaped them before its report) and the build dir was never
 * written. What is left (unmounting, reaping I, whose exit tears down its
 * mount namespace) happens after the exit frame, overlapping with the
 * worker's next step (docs/MEASUREMENTS.md); the worker still reaps this
 * helper. On disk, the build dir is cleaned first so that the worker reading
 * exit finds it as before.
 */
static int report_exit(struct helper *h)
{
    int rc;

    if (h->dirs.tmpfs) {
        rc = cps__report_exit(h->sock, &h->end, &h->usage, h->opt.backend, h->overlay, &h->t,
                              &h->err);
        h->job_clean = end_job(h) == 0;
        return rc;
    }
    h->job_clean = end_job(h) == 0;
    cps__timings_lap(&h->t, "cleanup");
    return cps__report_exit(h->sock, &h->end, &h->usage, h->opt.backend, h->overlay, &h->t,
                            &h->err);
}

/*
 * After a job's exit frame: 1 when this helper invited another job (a fresh
 * I, a new hello), 0 when it is done (the cgroup it kept is removed), -1 on a
 * failure preparing the next job (h->err). Only a job that ended by itself and
 * was undone in full lets the helper go on (reuse.h).
 */
static int next_job(struct helper *h)
{
    struct cps_job_end e = {
        .left = h->left,
        .ran_to_end = h->end.exited && !h->end.killed,
        .clean = h->job_clean,
        .ipc_cleared = !h->end.ipc_left,
    };

    if (h->end.ipc_left)
        cps__log_info("%s: %s", h->end.ipc_err.stage, h->end.ipc_err.message);

    if (!cps__reuse_another(&e, &h->cg)) {
        cps__cgroup_remove(&h->cg);
        return 0;
    }
    /* Nothing of the last job survives in O but what reuse.h lists. */
    cps__msg_free(&h->job);
    memset(&h->job, 0, sizeof(h->job));
    free(h->job_raw);
    h->job_raw = NULL;
    h->job_len = 0;
    memset(&h->limits, 0, sizeof(h->limits));
    memset(&h->dirs, 0, sizeof(h->dirs));
    memset(&h->ov, 0, sizeof(h->ov));
    memset(&h->end, 0, sizeof(h->end));
    memset(&h->usage, 0, sizeof(h->usage));
    h->overlay = 0;
    h->init_ending = false;
    h->job_clean = false;
    cps__error_clear(&h->err);
    cps__timings_init(&h->t);
    h->left--;
    if (spawn_init_and_hello(h) == 0)
        return 1;
    /* A parent that wants no more jobs may close fd 3 as soon as it read
     * exit, before this hello went out: the normal end, as EOF while waiting
     * for the job (docs/PROTOCOL.md, "Serving several jobs"). */
    if (cps__error_is(&h->err, CPS_STAGE_FRAME) && h->err.errnum == EPIPE) {
        cps__log_info("fd 3 closed after the job: exiting");
        cleanup(h);
        return 0;
    }
    return -1;
}

int main(int argc, char **argv)
{
    static struct helper h;
    int rc;

    cps__log_init("helper");
    h.sock = CPS_HELPER_FD;
    h.sigfd = -1;
    h.target_fd = -1;
    cps__cgroup_init(&h.cg);
    h.init.ctl = h.init.out_rd = h.init.err_rd = -1;
    if (cps__options_parse(argc, argv, &h.opt, &h.err) < 0) {
        fprintf(stderr, "cachepot-dist-sandbox: %s\n", h.err.message);
        return CPS_EXIT_USAGE;
    }
    switch (h.opt.mode) {
    case CPS_MODE_VERSION:
        printf("cachepot-dist-sandbox %s (protocol %d)\n", CPS_VERSION, CPS_PROTOCOL_VERSION);
        return CPS_EXIT_OK;
    case CPS_MODE_HELP:
        cps__options_usage(stdout);
        return CPS_EXIT_OK;
    case CPS_MODE_CHECK:
        return cps__check_main(h.opt.check_argc, h.opt.check_argv);
    case CPS_MODE_RUN:
        break;
    }
    if (check_fd3() < 0)
        return CPS_EXIT_USAGE;
    /* Whatever else the worker let through must not reach the helpers O may
     * run; the job itself only ever gets fds 0-2 (exec.c). Linux 5.11. */
    (void)close_range(CPS_HELPER_FD + 1, ~0U, CLOSE_RANGE_CLOEXEC);
    umask(022);
    cps__timings_init(&h.t);
    if (prepare(&h) < 0)
        return fail(&h);
    do {
        if (read_job(&h) < 0) {
            /* A warm helper whose worker closes fd 3 before sending a job is
             * no longer needed: that is the normal end of an idle helper. */
            if (h.job.type == 0 && cps__error_is(&h.err, CPS_STAGE_FRAME) &&
                h.err.errnum == ECONNRESET) {
                cps__log_info("fd 3 closed before a job arrived: exiting");
                cleanup(&h);
                return CPS_EXIT_OK;
            }
            return fail(&h);
        }
        if (make_root(&h) < 0 || hand_job_to_init(&h) < 0 || send_outputs(&h) < 0 ||
            report_exit(&h) < 0)
            return fail(&h);
        rc = next_job(&h);
        if (rc < 0)
            return fail(&h);
    } while (rc > 0);
    cps__msg_free(&h.job);
    free(h.job_raw);
    return CPS_EXIT_OK;
}
