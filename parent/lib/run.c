/* run.c - cps_run(): build dir, wire job, spawn, session, reap, cleanup. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "host_builddir.h"
#include "cachepot-sandbox.h"
#include "error.h"
#include "job_spec.h"
#include "log.h"
#include "output_sink.h"
#include "pool.h"
#include "helper_session.h"
#include "helper_proc.h"

/* A helper that sent its last frame only cleans up; after this long it is killed. */
#define CLEANUP_GRACE_MS 10000

CPS_API const char *cps_version(void)
{
    return CPS_VERSION;
}

CPS_API struct cps_run_options *cps_run_options_new(void)
{
    return calloc(1, sizeof(struct cps_run_options));
}

CPS_API void cps_run_options_free(struct cps_run_options *opts)
{
    free(opts);
}

CPS_API void cps_run_options_set_pool(struct cps_run_options *opts, struct cps_pool *pool)
{
    opts->pool = pool;
}

CPS_API void cps_result_free(struct cps_result *result)
{
    if (!result)
        return;
    free(result->timings);
    free(result);
}

static uint64_t span(uint64_t from, uint64_t to)
{
    return from && to > from ? to - from : 0;
}

static void fill_times(struct cps_result *res, const struct cps_session_times *t, uint64_t spawn0,
                       uint64_t end)
{
    uint64_t around;

    res->spawn_us = span(spawn0, t->hello);
    res->run_us = res->wall_us;
    res->outputs_us = span(t->first_output, t->last_output);
    around = span(t->hello, t->exit);
    res->setup_us =
        around > res->run_us + res->outputs_us ? around - res->run_us - res->outputs_us : 0;
    res->total_us = end - t->start;
}

/* A warm helper that ended before it answered the job died while idle (after
 * the check in cps__pool_take, or unnoticed): nothing of the job ran, so the
 * job may run again on a fresh helper. */
static bool died_before_job(bool warm, const struct cps_session_times *t,
                            const struct cps_error *err)
{
    return warm && !t->answered && cps__error_is(err, CPS_STAGE_HELPER);
}

/* After a run: a reusing helper whose hello promised more jobs, whose job
 * ended cleanly (exit frame read, nothing left to send), goes back to the pool
 * and says hello again (docs/REUSE.md); with a pool, any other helper that
 * sent its exit frame is reaped by the pool thread; the rest are ended here. */
static void end_helper(struct cps_pool *pool, const struct cps_job *job,
                       struct cps_helper_proc *proc, int r, const struct cps_session_times *t)
{
    if (r == 0 && pool && t->clean_end && proc->hello.reuse > 1 &&
        cps__pool_give_back(pool, job, proc))
        return;
    /* With a pool, the pool thread reaps the helper: after its exit frame it
     * only tears down its own namespaces (docs/POOL.md). */
    if (r == 0 && pool && cps__pool_retire(pool, proc))
        return;
    cps__helper_finish(proc, r == 0 ? CLEANUP_GRACE_MS : 0);
}

/* Run the exchange with a warm helper from pool, or with one spawned now; the
 * helper is reaped (or handed back to the pool) before this returns. */
static int run_helper(const struct cps_job_spec *spec, const struct cps_run_options *opts,
                      struct cps_pool *pool, const char *path, const char *build_dir,
                      const struct cps_wire_job *wire, struct cps_result *res,
                      struct cps_session_times *t, bool *reused, struct cps_error *err)
{
    struct cps_helper_proc proc;
    struct cps_output_sink sink;
    uint64_t deadline = opts->timeout_ms ? t->start + opts->timeout_ms * 1000u : 0;
    uint64_t spawn0;
    int r;

    r = cps__output_sink_init(&sink, spec, wire, opts, err);
    if (r < 0)
        return r;
    for (int attempt = 0;; attempt++) {
        /* The retry spawns its helper: idle helpers of the same pool may have
         * been killed together with the one that just died. */
        bool warm = pool && attempt == 0 && cps__pool_take(pool, &wire->job, &proc);

        spawn0 = cps__now_us();
        r = warm ? 0 : cps__helper_spawn(path, &wire->job, &proc, err);
        if (r == 0) {
            cps__log_debug("%s helper %s as pid %d", warm ? "warm" : "spawned", proc.path,
                           (int)proc.pid);
            *reused = warm && proc.jobs_done > 0;
            r = cps__session_run(&proc, spec, wire, opts, deadline, &sink, res, t, err);
            end_helper(pool, &wire->job, &proc, r, t);
        }
        res->warm = warm;
        if (r < 0 && attempt == 0 && died_before_job(warm, t, err) &&
            !(deadline && cps__now_us() >= deadline)) {
            cps__log_info("warm helper %d died before it took the job (%s); running the job "
                          "on a fresh helper",
                          (int)proc.pid, err->message);
            cps__build_dir_clean(build_dir);
            cps__error_clear(err);
            t->hello = 0;
            res->retried = true;
            continue;
        }
        break;
    }
    res->outputs_received = sink.received;
    res->outputs_missing = sink.missing;
    res->bytes_out += sink.bytes;
    cps__output_sink_close(&sink);
    fill_times(res, t, spawn0, cps__now_us());
    if (res->warm)
        res->spawn_us = 0;
    return r;
}

CPS_API int cps_run(const struct cps_job_spec *job, const struct cps_run_options *opts,
                    struct cps_result **result, struct cps_error *err)
{
    struct cps_session_times t = {.start = cps__now_us()};
    struct cps_wire_job wire;
    struct cps_result *res;
    struct cps_pool *pool;
    const char *path;
    char *build_dir = NULL;
    bool temp_build = !job->build_dir, reused = false;
    int r;

    *result = NULL;
    cps__error_clear(err);
    cps__log_init("libcachepot-sandbox");
    if (!opts)
        return cps__error_set(err, CPS_STAGE_JOB, EINVAL, NULL, "no run options");
    res = calloc(1, sizeof(*res));
    if (!res)
        return cps__error_set(err, CPS_STAGE_JOB, ENOMEM, NULL, "result");
    pool = opts->pool && cps__pool_enter(opts->pool, opts->helper_path) ? opts->pool : NULL;
    path = pool ? cps__pool_helper_path(pool) : cps__helper_path(opts);
    r = temp_build ? cps__build_dir_make_temp(&build_dir, err)
                   : cps__build_dir_prepare(job->build_dir, &build_dir, err);
    if (r == 0) {
        r = cps__wire_job_build(job, build_dir, &wire, err);
        if (r == 0) {
            res->bytes_in = wire.bytes_in;
            r = run_helper(job, opts, pool, path, build_dir, &wire, res, &t, &reused, err);
            cps__wire_job_free(&wire);
        }
        /* The helper removes its upper/ work/ target/; one that died could not. */
        cps__build_dir_clean(build_dir);
        if (temp_build)
            cps__remove_tree(build_dir);
    }
    free(build_dir);
    if (pool)
        cps__pool_leave(pool, r == 0, res->warm, res->retried, reused);
    if (r < 0) {
        cps_result_free(res);
        return r;
    }
    res->total_us = cps__now_us() - t.start;
    *result = res;
    return 0;
}
