/* cachepot-dist-run - run one command in the sandbox from the command line. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "batch.h"
#include "cachepot-sandbox.h"
#include "run_args.h"
#include "run_report.h"
#include "stream_stdio.h"

static int on_missing(void *user, const char *path)
{
    fprintf(stderr, "cachepot-dist-run: warning: output %s was not produced\n", path);
    return 0;
}

static int run(const struct run_args *a, const struct cps_job_spec *job)
{
    struct cps_run_options *opts = cps_run_options_new();
    struct cps_result *res = NULL;
    struct cps_error err;
    int ret, status;

    if (!opts) {
        fprintf(stderr, "cachepot-dist-run: out of memory\n");
        return RUN_EXIT_FAILURE;
    }
    opts->helper_path = a->helper;
    opts->out_dir = a->out_dir;
    opts->on_stream = cps_cli_stream_to_stdio;
    opts->on_missing = on_missing;
    /* The job's own timeout kills the program; this one only guards against a
     * helper that hangs past it (setup and output transfer included). */
    if (a->timeout_s > 0)
        opts->timeout_ms = (uint64_t)(a->timeout_s * 2000) + 30000;
    ret = cps_run(job, opts, &res, &err);
    status = run_exit_status(ret, res);
    if (ret < 0)
        run_print_error(&err);
    else if (a->verbose)
        run_print_summary(res);
    if (a->json && run_write_json(a->json, ret, res, &err, status) < 0 && status == 0)
        status = RUN_EXIT_FAILURE;
    cps_result_free(res);
    cps_run_options_free(opts);
    return status;
}

int main(int argc, char **argv)
{
    struct cps_job_spec *job = cps_job_new();
    struct run_args args;
    int status, r;

    if (!job) {
        fprintf(stderr, "cachepot-dist-run: out of memory\n");
        return RUN_EXIT_FAILURE;
    }
    r = run_args_parse(argc, argv, &args, job);
    if (r != 0) {
        run_args_free(&args);
        cps_job_free(job);
        return r > 0 ? 0 : RUN_EXIT_FAILURE;
    }
    /* Before the first library call: the library and the helper read it. */
    if (args.verbose && !getenv("CACHEPOT_LOG"))
        setenv("CACHEPOT_LOG", "debug", 1);
    status = args.batch ? run_batch(&args) : run(&args, job);
    run_args_free(&args);
    cps_job_free(job);
    return status;
}
