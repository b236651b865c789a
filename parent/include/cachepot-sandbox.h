/*
 * cachepot-sandbox.h - the one public header of libcachepot-sandbox.
 *
 * A worker of a distributed compile farm links this library to run compile jobs
 * in the cachepot-dist-sandbox helper. The library never forks: it spawns the
 * helper with posix_spawn and talks to it over one AF_UNIX socket (protocol:
 * docs/PROTOCOL.md). Every function is thread safe unless its comment says
 * otherwise. Functions return 0 or a negative errno value and fill the caller's
 * struct cps_error.
 *
 * Ownership: "borrowed" means the library does not keep the pointer after the
 * call returns; "taken" means the library frees it; "new" means the caller frees
 * the result with the matching _free function.
 *
 * struct cps_error is also the helper's error type and carries the wire
 * protocol's `error` frame (docs/PROTOCOL.md); its layout is part of this
 * library's ABI.
 *
 * Typical use:
 *
 *     struct cps_job_spec *job = cps_job_new();
 *     cps_job_set_toolchain(job, "/var/lib/tc/1f2e...", &err);
 *     cps_job_set_argv(job, argc, argv, &err);
 *     cps_job_add_input(job, "/tmp/a.i", "/build/a.i", 0644, &err);
 *     cps_job_add_output(job, "a.o", &err);          // relative to the cwd (/build)
 *     struct cps_run_options *opts = cps_run_options_new();
 *     opts->out_dir = "/tmp/results";                // or set opts->on_output
 *     struct cps_result *res;
 *     if (cps_run(job, opts, &res, &err) == 0) { ... res->exit_code ...; cps_result_free(res); }
 */
#ifndef CACHEPOT_SANDBOX_H
#define CACHEPOT_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Symbols of this header are the library's whole ABI; everything else is hidden. */
#if defined(__GNUC__)
#define CPS_API __attribute__((visibility("default")))
#else
#define CPS_API
#endif

/*
 * struct cps_error is defined twice, token for token: here, so that this one
 * installed header compiles on its own, and in the project's common/error.h, so
 * that the helper and common code below the library need not include the
 * library's header. Whichever comes first defines it; the shared guard keeps the
 * other from redefining it. tests/unit/test_error_layout.c compiles each header
 * alone and fails when the two disagree in a constant, a field or an offset.
 */
#ifndef CPS_ERROR_STRUCT_DEFINED
#define CPS_ERROR_STRUCT_DEFINED
#define CPS_ERROR_STAGE_MAX   32
#define CPS_ERROR_MESSAGE_MAX 1024
#define CPS_ERROR_HINT_MAX    512

/*
 * What went wrong, where, and what to do about it. stage is a short word such as
 * "spawn", "hello", "decode", "unshare", "uid_map", "overlay", "exec"; errnum is a
 * positive errno value (0 when none applies); message says what was attempted with
 * which paths and facts; hint names the knob to turn (may be empty).
 */
struct cps_error {
    char stage[CPS_ERROR_STAGE_MAX];
    int errnum;
    char message[CPS_ERROR_MESSAGE_MAX];
    char hint[CPS_ERROR_HINT_MAX];
};
#endif /* CPS_ERROR_STRUCT_DEFINED */

/*
 * Stages the library itself reports (the helper reports its own, e.g. "overlay"):
 *   "job"      the job is invalid (checked before anything is spawned)
 *   "input"    an input file could not be read, or changed while it was sent
 *   "builddir" no build dir could be made under $TMPDIR (none was set)
 *   "spawn"    the helper could not be started (socketpair, posix_spawn)
 *   "hello"    the helper did not greet correctly (wrong protocol, not a helper)
 *   "encode"   a message for the helper breaks a protocol rule
 *   "protocol" the helper sent something out of order or undecodable
 *   "poll"     waiting on the helper's socket failed
 *   "helper"   the helper exited or was killed before finishing the job
 *   "output"   an output file could not be written to the out dir
 *   "callback" a callback returned non-zero
 *   "timeout"  the whole exchange took longer than cps_run_options.timeout_ms
 *   "cancel"   the run was cancelled with cps_cancel()
 *   "pool"     a pool could not be set up (memory, eventfd, its thread)
 */

/* Library version (e.g. "0.2.0"); static string. */
CPS_API const char *cps_version(void);

/* ------------------------------------------------------------------------ */
/* Job description. Not thread safe while being modified; a finished spec may be
 * shared by any number of concurrent cps_run() calls (they only read it). */

struct cps_job_spec;

/* New empty job (new; NULL on ENOMEM). Defaults: cwd "/build", no env, helper's
 * backend, overlay "auto", uid/gid and seccomp as the helper was started. */
CPS_API struct cps_job_spec *cps_job_new(void);
CPS_API void cps_job_free(struct cps_job_spec *job);

/* Host directory holding the toolchain (the read-only root of the sandbox). Required. */
CPS_API int cps_job_set_toolchain(struct cps_job_spec *job, const char *dir, struct cps_error *err);
/* Host directory where the helper creates upper/ work/ target/. NULL (default):
 * each run makes a fresh one under $TMPDIR (or /tmp) and removes it. One build
 * dir serves one run at a time. */
CPS_API int cps_job_set_build_dir(struct cps_job_spec *job, const char *dir, struct cps_error *err);
/* The command (argv copied; argc >= 1). argv[0] is looked up with the job's PATH. */
CPS_API int cps_job_set_argv(struct cps_job_spec *job, size_t argc, const char *const *argv,
                             struct cps_error *err);
/* Add one environment variable of the compiler (its environment is exactly these). */
CPS_API int cps_job_add_env(struct cps_job_spec *job, const char *name, const char *value,
                            struct cps_error *err);
/* Working directory inside the sandbox (absolute; created if missing). */
CPS_API int cps_job_set_cwd(struct cps_job_spec *job, const char *path, struct cps_error *err);
/* Copy host file host_path to sandbox_path (absolute, or relative to the cwd at
 * run time) with permission bits mode. The file is read when the job runs. */
CPS_API int cps_job_add_input(struct cps_job_spec *job, const char *host_path,
                              const char *sandbox_path, unsigned mode, struct cps_error *err);
/* Ask for a file back: absolute, or relative to the cwd. The path "as given"
 * (leading "/" stripped, "." components dropped) names it in callbacks and in the
 * out dir; ".." components are refused. */
CPS_API int cps_job_add_output(struct cps_job_spec *job, const char *path, struct cps_error *err);

/* Job limits; 0 means the helper's documented default. */
enum cps_limit {
    CPS_LIMIT_TIMEOUT_MS = 0,   /* compiler wall clock, from exec to exit */
    CPS_LIMIT_MAX_OUTPUT_BYTES, /* stdout + stderr + output files */
    CPS_LIMIT_CPU_SECONDS,      /* RLIMIT_CPU */
    CPS_LIMIT_ADDRESS_SPACE,    /* RLIMIT_AS, bytes */
    CPS_LIMIT_FILE_SIZE,        /* RLIMIT_FSIZE, bytes */
    CPS_LIMIT_OPEN_FILES,       /* RLIMIT_NOFILE */
    CPS_LIMIT_PROCESSES,        /* RLIMIT_NPROC / pids.max */
    CPS_LIMIT_TMP_BYTES,        /* size of the sandbox's /tmp */
    CPS_LIMIT_SCRATCH_BYTES,    /* size of the tmpfs holding the job's writes (CACHEPOT_SCRATCH) */
};
CPS_API int cps_job_set_limit(struct cps_job_spec *job, enum cps_limit which, uint64_t value,
                              struct cps_error *err);
/* "userns" or "bubblewrap"; NULL: the helper's default (CACHEPOT_SANDBOX). */
CPS_API int cps_job_set_backend(struct cps_job_spec *job, const char *backend,
                                struct cps_error *err);
/* "auto", "native", "fuse" or "bind". */
CPS_API int cps_job_set_overlay(struct cps_job_spec *job, const char *overlay,
                                struct cps_error *err);
/* uid / gid inside the sandbox (default: the worker's effective ids). */
CPS_API void cps_job_set_uid(struct cps_job_spec *job, uint32_t uid);
CPS_API void cps_job_set_gid(struct cps_job_spec *job, uint32_t gid);
/* Default seccomp filter on (default) or off. */
CPS_API void cps_job_set_seccomp(struct cps_job_spec *job, bool on);

/* ------------------------------------------------------------------------ */
/* Cancellation. A token may be fired from any thread (or several times); every
 * cps_run() using it, running or started later, ends with -ECANCELED. Free it
 * only when no run uses it any more. */

struct cps_cancel_token;
CPS_API struct cps_cancel_token *cps_cancel_token_new(void); /* new; NULL on error */
CPS_API void cps_cancel(struct cps_cancel_token *token);
CPS_API void cps_cancel_token_free(struct cps_cancel_token *token);

/* ------------------------------------------------------------------------ */
/* Run options. Allocated by the library (fields may be added at the end in later
 * versions); the caller sets fields directly. Pointers are borrowed for the
 * duration of cps_run(). Callbacks run on the thread that called cps_run(); a
 * non-zero return ends the run (the job is cancelled, cps_run returns -ECANCELED
 * with stage "callback"). */

enum cps_stream_id { CPS_STDOUT = 1, CPS_STDERR = 2 };

typedef int (*cps_stream_fn)(void *user, enum cps_stream_id stream, const void *data, size_t len);
/* One chunk of output file `path` (as given to cps_job_add_output). Chunks of a
 * file arrive in order; `last` is true on its final chunk (a 0-byte file is one
 * call with len 0). size is the file's total size. */
typedef int (*cps_output_fn)(void *user, const char *path, unsigned mode, uint64_t size,
                             const void *data, size_t len, bool last);
/* The output `path` was not produced by the compiler (not an error). */
typedef int (*cps_missing_fn)(void *user, const char *path);

struct cps_pool; /* see "Warm helper pool" below */

struct cps_run_options {
    /* Helper executable. NULL: $CACHEPOT_SANDBOX_HELPER, else the installed path. */
    const char *helper_path;
    /* Wall clock limit of the whole exchange (spawn to reap), 0 = none. On expiry
     * the helper is killed and cps_run returns -ETIMEDOUT (stage "timeout").
     * Independently, a helper that has not said hello 30 s after cps_run() began
     * is killed (stage "hello"), and one that does not answer a cancel within
     * 5 s is killed too: no run waits forever on a hung helper. */
    uint64_t timeout_ms;
    /* NULL or a token that cancels this run. */
    struct cps_cancel_token *cancel;
    /* stdout/stderr chunks as they arrive; NULL discards them. */
    cps_stream_fn on_stream;
    /* Output files: on_output if set; else written below out_dir if set (the path
     * as given, leading "/" stripped, never outside out_dir, never through a
     * symlink); else discarded. */
    cps_output_fn on_output;
    cps_missing_fn on_missing;
    const char *out_dir;
    void *user;
    /* NULL (default): spawn one helper for this run, as always. Else a pool
     * (borrowed; see cps_pool_new) that hands this run a warm helper of the
     * job's configuration, or spawns a cold one when none is ready. A run whose
     * helper_path differs from the pool's does not use the pool. */
    struct cps_pool *pool;
};

/* New options with the defaults above (new; NULL on ENOMEM). */
CPS_API struct cps_run_options *cps_run_options_new(void);
CPS_API void cps_run_options_free(struct cps_run_options *opts);
/* The same as opts->pool = pool (pool borrowed; NULL: no pool). */
CPS_API void cps_run_options_set_pool(struct cps_run_options *opts, struct cps_pool *pool);

/* ------------------------------------------------------------------------ */
/* Result of a job that ran (its compiler exited, was killed, or timed out). */

struct cps_result_timing {
    char stage[32];
    uint64_t usec;
};

struct cps_result {
    int exit_code;  /* 0..255 when signal == 0 */
    int signal;     /* > 0: the compiler was killed by this signal */
    bool timed_out; /* the job's own timeout fired (signal is then SIGKILL) */
    char limit[32]; /* "" or the limit that ended the job ("timeout", "output", ...) */
    /* Resource usage of the compiler, measured by the helper. */
    uint64_t wall_us, user_us, sys_us, max_rss_kb;
    char backend[16]; /* backend that ran the job, "userns" or "bubblewrap" */
    char overlay[16]; /* overlay mode that ran the job: "native", "fuse" or "bind" */
    char helper_version[32];
    /* Measured by the library: spawn = posix_spawn until hello (the helper's
     * job-independent setup); run = wall_us; outputs = first to last output
     * frame; setup = the rest between hello and exit (job and inputs sent,
     * overlay, root, exec, teardown); total = the whole cps_run(). */
    uint64_t spawn_us, setup_us, run_us, outputs_us, total_us;
    uint64_t bytes_in;  /* input file bytes sent */
    uint64_t bytes_out; /* stdout + stderr + output file bytes received */
    size_t outputs_received, outputs_missing;
    /* The helper's per-stage clock (exit.timings). */
    struct cps_result_timing *timings;
    size_t timing_count;
    /* The job ran on a warm helper from a pool (spawn_us is then 0: the helper
     * was spawned and said hello before this run began), one that may have
     * served jobs before (cps_pool_options.jobs_per_helper > 1). */
    bool warm;
    /* A warm helper died before it accepted the job and the job was run again
     * on a fresh helper (at most once). */
    bool retried;
};

CPS_API void cps_result_free(struct cps_result *result);

/*
 * Run one job, blocking until the helper has finished and has been reaped.
 * Returns 0 and *result (new) when the job ran, whatever its exit status; or a
 * negative errno value with err filled and *result NULL: the helper's own error
 * (stage from the helper), or one of the library stages listed above. The helper
 * never outlives this call. job and opts are borrowed.
 */
CPS_API int cps_run(const struct cps_job_spec *job, const struct cps_run_options *opts,
                    struct cps_result **result, struct cps_error *err);

/* ------------------------------------------------------------------------ */
/*
 * Warm helper pool (opt-in; docs/POOL.md). A helper does all of its
 * job-independent setup (namespaces, id maps, PID 1) before it says hello, and
 * that setup depends only on its spawn-time configuration: inside uid, gid,
 * backend and seccomp on/off. A pool keeps `size` helpers per configuration
 * spawned and greeted, so that a run only pays for its own job.
 *
 * A configuration becomes known to the pool when a run (or cps_pool_prepare)
 * asks for it; from then on a library-owned thread keeps it filled, for as long
 * as it was used within max_idle_ms. That thread only ever uses posix_spawn
 * (never fork), blocks every signal, and must outlive the helpers it spawned:
 * the helper ties its life to the thread that spawned it (PR_SET_PDEATHSIG,
 * prctl(2)). A helper idle for longer than max_idle_ms is closed (EOF on its
 * socket ends it) and reaped, and so is one found dead or talking while idle.
 * A run takes a helper only after checking it is alive; one that still dies
 * before answering the job is replaced once by a fresh helper. With
 * jobs_per_helper > 1 a helper that finished a job goes back to the pool
 * (it says hello again) instead of ending. All functions are thread safe.
 */
struct cps_pool;

struct cps_pool_options {
    size_t size;          /* warm helpers per configuration; 0: 2 */
    uint64_t max_idle_ms; /* close helpers idle this long; 0: 60000 */
    /* Helper executable; NULL: $CACHEPOT_SANDBOX_HELPER (read once by
     * cps_pool_new), else the installed path. */
    const char *helper_path;
    /* Jobs one pooled helper serves in sequence (docs/REUSE.md). 0 or 1 (the
     * default): a helper per job, nothing of one job shared with another.
     * N > 1 (at most CPS_POOL_MAX_JOBS_PER_HELPER): pooled helpers are spawned
     * with --jobs-per-helper N and, after a job's exit, say hello again and
     * take the next job of their configuration; each job still gets fresh
     * mount, PID, IPC, UTS and network namespaces, while the helper process
     * (and with the userns backend its user namespace) is kept
     * (docs/SECURITY.md, "Jobs served by one helper"). A
     * configuration with seccomp off always gets a helper per job (only the
     * default filter keeps a job from leaving a key in the uid's keyrings);
     * cold helpers a run spawns itself serve one job. A helper that does not
     * support reuse (its hello lacks "reuse") is closed like one whose hello
     * reports another configuration: runs go cold, and the log says why. */
    unsigned jobs_per_helper;
};

/* The largest jobs_per_helper (the helper's --jobs-per-helper bound). */
#define CPS_POOL_MAX_JOBS_PER_HELPER 1000

/* New options with the defaults above (new; NULL on ENOMEM). Fields may be
 * added at the end in later versions. */
CPS_API struct cps_pool_options *cps_pool_options_new(void);
CPS_API void cps_pool_options_free(struct cps_pool_options *opts);

/* Start a pool (new; free with cps_pool_free). opts borrowed; NULL: defaults.
 * Nothing is spawned until a configuration is asked for. Returns 0 or -errno
 * (stage "pool"; -EINVAL for a jobs_per_helper above the bound). */
CPS_API int cps_pool_new(const struct cps_pool_options *opts, struct cps_pool **pool,
                         struct cps_error *err);

/* Start keeping helpers warm for job's configuration (uid, gid, backend,
 * seccomp; job borrowed) now, before the first run asks for it. Returns at
 * once; 0 or -errno (stage "pool"). */
CPS_API int cps_pool_prepare(struct cps_pool *pool, const struct cps_job_spec *job,
                             struct cps_error *err);

/* Counters since cps_pool_new and the current state. */
struct cps_pool_stats {
    size_t configs;   /* configurations the pool knows */
    size_t ready;     /* helpers that said hello and wait for a job */
    size_t starting;  /* helpers spawned, hello not read yet */
    size_t closing;   /* helpers closed, not reaped yet */
    size_t in_use;    /* runs using the pool right now */
    uint64_t spawned; /* helpers the pool thread spawned */
    uint64_t warm;    /* runs that got a warm helper */
    uint64_t cold;    /* runs that spawned their own helper */
    uint64_t retried; /* runs re-run after their warm helper died */
    uint64_t died;    /* idle helpers found dead, talking or failed before hello */
    uint64_t expired; /* idle helpers closed after max_idle_ms */
    uint64_t reaped;  /* helpers of the pool thread reaped */
    /* With jobs_per_helper > 1: */
    uint64_t reused;  /* runs served by a helper that had already served a job */
    uint64_t retired; /* reusing helpers that ended after their last job */
};

/* Fill *stats (size: sizeof(struct cps_pool_stats) as the caller knows it;
 * fields past it are not written). */
CPS_API void cps_pool_get_stats(struct cps_pool *pool, struct cps_pool_stats *stats, size_t size);

/* Wait until runs using the pool have returned, close and reap every idle
 * helper (nothing is left running), stop the pool thread, free the pool.
 * Must not be called from a callback of a run using the pool. NULL is a no-op.
 * A worker that exits without calling it closes the helpers' sockets by
 * exiting, and the helpers end on that EOF. */
CPS_API void cps_pool_free(struct cps_pool *pool);

#ifdef __cplusplus
}
#endif

#endif /* CACHEPOT_SANDBOX_H */
