/* run.c - building the job spec, running it, passing the compiler's status on. */
#include "run.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "error.h"
#include "stream_stdio.h"
#include "tree.h"
#include "writeback.h"

/* The compiler's environment: a fixed PATH, and the client-visible locale. */
static const char *const passed_env[] = {"LANG", "LC_ALL", "LC_MESSAGES", "LC_CTYPE", NULL};

static struct cps_cancel_token *cancel_token;
static volatile sig_atomic_t stop_signal;

/* distccd ends a job with killpg(SIGTERM) when the client goes away or
 * --job-lifetime passes (exec.c, dcc_collect_child). cps_cancel is async-signal
 * safe (an eventfd write): the run ends, the helper kills the job's namespace. */
static void on_stop(int sig)
{
    stop_signal = sig;
    cps_cancel(cancel_token);
}

static int build_job(const struct cpd_jobfiles *jf, const struct cpd_toolchain *tc,
                     struct cps_job_spec *job, struct cpd_writeback *wb, struct cps_error *err)
{
    const char **argv = calloc((size_t)jf->argc + 1, sizeof *argv);
    int r;

    if (!argv)
        return cpd_fail(err, "job", ENOMEM, NULL, "argv");
    argv[0] = tc->exe;
    for (int i = 1; i < jf->argc; i++)
        argv[i] = jf->argv[i];
    r = cps_job_set_argv(job, (size_t)jf->argc, argv, err);
    free(argv);
    if (r < 0 || (r = cps_job_set_toolchain(job, tc->root, err)) < 0 ||
        (r = cps_job_set_cwd(job, jf->cwd.sandbox, err)) < 0 ||
        (r = cps_job_add_env(job, "PATH", "/usr/local/bin:/usr/bin:/bin", err)) < 0)
        return r;
    for (size_t i = 0; passed_env[i]; i++) {
        const char *v = getenv(passed_env[i]);
        if (v && (r = cps_job_add_env(job, passed_env[i], v, err)) < 0)
            return r;
    }
    if (jf->tree)
        r = cpd_tree_add_inputs(job, jf->tree, err);
    else
        r = cps_job_add_input(job, jf->input.host, jf->input.sandbox, 0644, err);
    if (r < 0)
        return r;
    return cpd_writeback_init(wb, jf, job, err);
}

/* Optional per-job timing line (CACHEPOT_DISTCC_TIMINGS=FILE), for bench/. */
static void log_timings(const struct cps_result *res, const struct cpd_toolchain *tc)
{
    const char *path = getenv("CACHEPOT_DISTCC_TIMINGS");
    FILE *f;

    if (!path || !path[0] || !(f = fopen(path, "ae")))
        return;
    fprintf(f,
            "toolchain=%s spawn_us=%llu setup_us=%llu run_us=%llu outputs_us=%llu total_us=%llu\n",
            tc->how, (unsigned long long)res->spawn_us, (unsigned long long)res->setup_us,
            (unsigned long long)res->run_us, (unsigned long long)res->outputs_us,
            (unsigned long long)res->total_us);
    fclose(f);
}

/* End the way the compiler ended: its exit code, or its signal. */
static int pass_status(const struct cps_result *res)
{
    if (res->signal > 0) {
        struct rlimit none = {0, 0};

        setrlimit(RLIMIT_CORE, &none); /* the compiler's crash is not ours to dump */
        signal(res->signal, SIG_DFL);
        raise(res->signal);
        return 128 + res->signal;
    }
    return res->exit_code;
}

static int run(struct cps_job_spec *job, struct cpd_writeback *wb, const struct cpd_toolchain *tc)
{
    struct cps_run_options *opts = cps_run_options_new();
    struct sigaction sa;
    struct cps_result *res = NULL;
    struct cps_error err;
    int r, status;

    if (!opts || !(cancel_token = cps_cancel_token_new())) {
        fprintf(stderr, "cachepot-distcc-compiler: out of memory\n");
        return 1;
    }
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    opts->cancel = cancel_token;
    opts->on_stream = cps_cli_stream_to_stdio; /* distccd's capture files */
    opts->on_output = cpd_writeback_output;
    opts->user = wb;
    r = cps_run(job, opts, &res, &err);
    cpd_writeback_close(wb);
    if (stop_signal) {
        signal(stop_signal, SIG_DFL);
        raise(stop_signal);
    }
    if (r < 0) {
        cpd_print_error(wb->failed ? &wb->err : &err);
        status = 1;
    } else {
        log_timings(res, tc);
        status = pass_status(res);
    }
    cps_result_free(res);
    cps_run_options_free(opts);
    return status;
}

int cpd_run_job(const struct cpd_jobfiles *jf, const struct cpd_toolchain *tc)
{
    struct cps_job_spec *job = cps_job_new();
    struct cpd_writeback wb;
    struct cps_error err;
    int status;

    if (!job) {
        fprintf(stderr, "cachepot-distcc-compiler: out of memory\n");
        return 1;
    }
    if (build_job(jf, tc, job, &wb, &err) < 0) {
        cpd_print_error(&err);
        status = 1;
    } else {
        status = run(job, &wb, tc);
    }
    cps_job_free(job);
    return status;
}
