/* run.c - cps_run(): build dir, wire job, spawn, session, reap, cleanup. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "builddir.h"
#include "cachepot-sandbox.h"
#include "error.h"
#include "job_spec.h"
#include "log.h"
#include "outputs.h"
#include "session.h"
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

/* Spawn the helper for a prepared wire job and run the exchange; the helper is
 * reaped before this returns. */
static int run_helper(const struct cps_job_spec *spec, const struct cps_run_options *opts,
                      const struct cps_wire_job *wire, struct cps_result *res,
                      struct cps_session_times *t, struct cps_error *err)
{
    struct cps_helper_proc proc;
    struct cps_output_sink sink;
    uint64_t deadline = opts->timeout_ms ? t->start + opts->timeout_ms * 1000u : 0;
    uint64_t spawn0;
    int r;

    r = cps__output_sink_init(&sink, spec, wire, opts, err);
    if (r < 0)
        return r;
    spawn0 = cps__now_us();
    r = cps__helper_spawn(cps__helper_path(opts), &wire->job, &proc, err);
    if (r == 0) {
        cps__log_debug("spawned helper %s as pid %d", proc.path, (int)proc.pid);
        r = cps__session_run(&proc, spec, wire, opts, deadline, &sink, res, t, err);
        cps__helper_finish(&proc, r == 0 ? CLEANUP_GRACE_MS : 0);
    }
    res->outputs_received = sink.received;
    res->outputs_missing = sink.missing;
    res->bytes_out += sink.bytes;
    cps__output_sink_close(&sink);
    fill_times(res, t, spawn0, cps__now_us());
    return r;
}

CPS_API int cps_run(const struct cps_job_spec *job, const struct cps_run_options *opts,
                    struct cps_result **result, struct cps_error *err)
{
    struct cps_session_times t = {.start = cps__now_us()};
    struct cps_wire_job wire;
    struct cps_result *res;
    char *build_dir = NULL;
    bool temp_build = !job->build_dir;
    int r;

    *result = NULL;
    cps__error_clear(err);
    cps__log_init("libcachepot-sandbox");
    if (!opts)
        return cps__error_set(err, "job", EINVAL, NULL, "no run options");
    res = calloc(1, sizeof(*res));
    if (!res)
        return cps__error_set(err, "job", ENOMEM, NULL, "result");
    r = temp_build ? cps__build_dir_make_temp(&build_dir, err)
                   : cps__build_dir_prepare(job->build_dir, &build_dir, err);
    if (r == 0) {
        r = cps__wire_job_build(job, build_dir, &wire, err);
        if (r == 0) {
            res->bytes_in = wire.bytes_in;
            r = run_helper(job, opts, &wire, res, &t, err);
            cps__wire_job_free(&wire);
        }
        /* The helper removes its upper/ work/ target/; one that died could not. */
        cps__build_dir_clean(build_dir);
        if (temp_build)
            cps__remove_tree(build_dir);
    }
    free(build_dir);
    if (r < 0) {
        cps_result_free(res);
        return r;
    }
    res->total_us = cps__now_us() - t.start;
    *result = res;
    return 0;
}
