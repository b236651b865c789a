/* run_args.c - the command line of cachepot-dist-run. */
#include "run_args.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helper_locate.h"

#define DEFAULT_PATH "/usr/local/bin:/usr/bin:/bin"

static const char usage_text[] =
    "Usage: cachepot-dist-run --toolchain DIR [--input HOST[:SANDBOX]]... [--output PATH]...\n"
    "           [--out-dir DIR] [--cwd PATH] [--env K=V]... [--timeout SECONDS]\n"
    "           [--sandbox userns|bubblewrap] [--overlay auto|native|fuse|bind]\n"
    "           [--build-dir DIR] [--helper PATH] [--json FILE] [-v|--verbose]\n"
    "           -- PROGRAM [ARG...]\n"
    "       cachepot-dist-run --toolchain DIR [OPTION]... --batch FILE [--pool N] [--jobs N]\n"
    "           [--reuse N]\n"
    "\n"
    "Run PROGRAM in the cachepot-dist-sandbox helper with DIR as its read-only root,\n"
    "stream its stdout/stderr here, and copy the requested output files back.\n"
    "\n"
    "  --toolchain DIR      toolchain root (e.g. made by cachepot-dist-toolchain); required\n"
    "  --input HOST[:SANDBOX]\n"
    "                       copy host file HOST into the sandbox at SANDBOX (absolute, or\n"
    "                       relative to --cwd); without :SANDBOX, at HOST's absolute path\n"
    "  --output PATH        return the sandbox file PATH (relative to --cwd unless absolute);\n"
    "                       it is written to OUT-DIR/PATH (leading / stripped); a missing\n"
    "                       output is a warning\n"
    "  --out-dir DIR        where outputs go (default: the current directory)\n"
    "  --cwd PATH           working directory inside the sandbox (default: /build)\n"
    "  --env K=V            environment variable of PROGRAM; its environment is exactly the\n"
    "                       --env pairs, plus PATH=" DEFAULT_PATH " unless one sets PATH\n"
    "  --timeout SECONDS    kill PROGRAM after SECONDS (fractions allowed); exit 124\n"
    "  --sandbox userns|bubblewrap\n"
    "                       sandbox backend (default: $CACHEPOT_SANDBOX, else userns)\n"
    "  --overlay auto|native|fuse|bind\n"
    "                       how the writable layer is made (default: auto)\n"
    "  --build-dir DIR      scratch dir for upper/ work/ target/ (default: a fresh one\n"
    "                       under $TMPDIR or /tmp, removed afterwards)\n"
    "  --helper PATH        helper executable (overrides $CACHEPOT_SANDBOX_HELPER)\n"
    "  --json FILE          write a summary (exit, timings, backend, overlay, bytes) to FILE\n"
    "  -v, --verbose        log what happens (CACHEPOT_LOG=debug) and print a summary\n"
    "  --batch FILE         run many jobs: each line of FILE (- for stdin) is one\n"
    "                       PROGRAM [ARG...], split into words like a shell does (blanks;\n"
    "                       '...' literal; \"...\" with \\\" \\\\ \\$ \\` escapes; \\ quotes\n"
    "                       the next character), with no expansion; empty lines and\n"
    "                       lines starting with # are skipped. Every job gets the\n"
    "                       options above (not --json); outputs of the job on line L go\n"
    "                       to OUT-DIR/L/PATH. One line per job on stderr (exit status,\n"
    "                       warm or cold helper, wall time), then a summary with jobs/s\n"
    "  --pool N             with --batch: keep N warm helpers ready (default 2; 0: spawn\n"
    "                       one helper per job, as without --batch)\n"
    "  --jobs N             with --batch: run N jobs at once (default 1)\n"
    "  --reuse N            with --batch and a pool: each pooled helper serves up to N\n"
    "                       jobs in sequence (1-1000; default 1: a helper per job), with\n"
    "                       fresh mount, PID, IPC, UTS and network namespaces per job;\n"
    "                       with the userns backend its jobs share its user namespace\n"
    "  -h, --help           show this help\n"
    "\n"
    "Environment:\n"
    "  CACHEPOT_SANDBOX         default backend of the helper: userns or bubblewrap\n"
    "  CACHEPOT_SANDBOX_HELPER  path of the helper executable (default: the installed one,\n"
    "                           " CPS_HELPER_INSTALL_PATH ";\n"
    "                           run from a CMake build tree: the helper built there)\n"
    "  CACHEPOT_LOG             log level of the library and helper on stderr: error, warn\n"
    "                           (default), info, debug, trace\n"
    "  CACHEPOT_SCRATCH         where the job's writes live: tmpfs (default; a tmpfs over\n"
    "                           the build dir, seen only by the helper) or disk (the build\n"
    "                           dir itself)\n"
    "  CACHEPOT_BWRAP           the bwrap binary of the bubblewrap backend (default: PATH)\n"
    "\n"
    "Exit status: PROGRAM's exit status; 128+N if it was killed by signal N; 124 if it\n"
    "timed out; 125 if the sandbox could not be set up or the helper failed (the message\n"
    "names the stage and a hint). With --batch: 0 when every job exited 0; 125 when a\n"
    "job could not run; else 1.\n";

enum {
    OPT_TOOLCHAIN = 256,
    OPT_INPUT,
    OPT_OUTPUT,
    OPT_OUT_DIR,
    OPT_CWD,
    OPT_ENV,
    OPT_TIMEOUT,
    OPT_SANDBOX,
    OPT_OVERLAY,
    OPT_BUILD_DIR,
    OPT_HELPER,
    OPT_JSON,
    OPT_BATCH,
    OPT_POOL,
    OPT_JOBS,
    OPT_REUSE,
};

static const struct option options[] = {
    {"toolchain", required_argument, NULL, OPT_TOOLCHAIN},
    {"input", required_argument, NULL, OPT_INPUT},
    {"output", required_argument, NULL, OPT_OUTPUT},
    {"out-dir", required_argument, NULL, OPT_OUT_DIR},
    {"cwd", required_argument, NULL, OPT_CWD},
    {"env", required_argument, NULL, OPT_ENV},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"sandbox", required_argument, NULL, OPT_SANDBOX},
    {"overlay", required_argument, NULL, OPT_OVERLAY},
    {"build-dir", required_argument, NULL, OPT_BUILD_DIR},
    {"helper", required_argument, NULL, OPT_HELPER},
    {"json", required_argument, NULL, OPT_JSON},
    {"batch", required_argument, NULL, OPT_BATCH},
    {"pool", required_argument, NULL, OPT_POOL},
    {"jobs", required_argument, NULL, OPT_JOBS},
    {"reuse", required_argument, NULL, OPT_REUSE},
    {"verbose", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static int usage_error(const char *what, const char *arg)
{
    fprintf(stderr, "cachepot-dist-run: %s%s\nTry 'cachepot-dist-run --help'.\n", what,
            arg ? arg : "");
    return -1;
}

static int lib_error(const struct cps_error *err)
{
    fprintf(stderr, "cachepot-dist-run: %s%s%s\n", err->message, err->hint[0] ? "; " : "",
            err->hint);
    return -1;
}

/* HOST alone means the same absolute path inside the sandbox. */
static int add_input(struct cps_job_spec *job, const char *arg)
{
    struct cps_error err;
    const char *colon = strrchr(arg, ':');
    char *host, *sandbox;
    int r;

    if (colon) {
        host = strndup(arg, (size_t)(colon - arg));
        sandbox = strdup(colon + 1);
    } else if (arg[0] == '/') {
        host = strdup(arg);
        sandbox = strdup(arg);
    } else {
        char cwd[PATH_MAX];
        host = strdup(arg);
        sandbox = NULL;
        if (getcwd(cwd, sizeof(cwd)) && asprintf(&sandbox, "%s/%s", cwd, arg) < 0)
            sandbox = NULL;
    }
    if (!host || !sandbox || !host[0] || !sandbox[0]) {
        free(host);
        free(sandbox);
        return usage_error("--input needs HOST or HOST:SANDBOX: ", arg);
    }
    r = cps_job_add_input(job, host, sandbox, 0644, &err);
    free(host);
    free(sandbox);
    return r < 0 ? lib_error(&err) : 0;
}

static int add_env(struct cps_job_spec *job, const char *arg, bool *has_path)
{
    struct cps_error err;
    const char *eq = strchr(arg, '=');
    char *name;
    int r;

    if (!eq || eq == arg)
        return usage_error("--env needs K=V: ", arg);
    name = strndup(arg, (size_t)(eq - arg));
    if (!name)
        return usage_error("out of memory", NULL);
    if (strcmp(name, "PATH") == 0)
        *has_path = true;
    r = cps_job_add_env(job, name, eq + 1, &err);
    free(name);
    return r < 0 ? lib_error(&err) : 0;
}

static int parse_timeout(struct run_args *a, const char *arg)
{
    char *end;
    double v;

    errno = 0;
    v = strtod(arg, &end);
    if (errno || end == arg || *end || !isfinite(v) || v <= 0 || v > 1e7)
        return usage_error("--timeout needs a positive number of seconds: ", arg);
    a->timeout_s = v;
    return 0;
}

static int parse_count(unsigned *out, const char *what, const char *arg, unsigned min, unsigned max)
{
    char *end;
    unsigned long v;

    errno = 0;
    v = strtoul(arg, &end, 10);
    if (errno || end == arg || *end || arg[0] == '-' || v < min || v > max)
        return usage_error(what, arg);
    *out = (unsigned)v;
    return 0;
}

/* An option that shapes the job: applied to job now (so errors show at once)
 * and again by run_args_make_job. */
static int job_option(int opt, const char *arg, struct cps_job_spec *job, bool *has_path)
{
    struct cps_error err;

    switch (opt) {
    case OPT_TOOLCHAIN:
        return cps_job_set_toolchain(job, arg, &err) < 0 ? lib_error(&err) : 0;
    case OPT_INPUT:
        return add_input(job, arg);
    case OPT_OUTPUT:
        return cps_job_add_output(job, arg, &err) < 0 ? lib_error(&err) : 0;
    case OPT_CWD:
        return cps_job_set_cwd(job, arg, &err) < 0 ? lib_error(&err) : 0;
    case OPT_ENV:
        return add_env(job, arg, has_path);
    case OPT_SANDBOX:
        return cps_job_set_backend(job, arg, &err) < 0 ? lib_error(&err) : 0;
    case OPT_OVERLAY:
        return cps_job_set_overlay(job, arg, &err) < 0 ? lib_error(&err) : 0;
    case OPT_BUILD_DIR:
        return cps_job_set_build_dir(job, arg, &err) < 0 ? lib_error(&err) : 0;
    default:
        return usage_error("invalid option", NULL);
    }
}

static bool is_job_option(int opt)
{
    return opt == OPT_TOOLCHAIN || opt == OPT_INPUT || opt == OPT_OUTPUT || opt == OPT_CWD ||
           opt == OPT_ENV || opt == OPT_SANDBOX || opt == OPT_OVERLAY || opt == OPT_BUILD_DIR;
}

static int one_option(int opt, struct run_args *a, struct cps_job_spec *job, bool *has_path)
{
    if (is_job_option(opt)) {
        a->job_opts[a->job_optc++] = (struct run_job_opt){opt, optarg};
        if (opt == OPT_TOOLCHAIN)
            a->toolchain = optarg;
        else if (opt == OPT_CWD)
            a->cwd = optarg;
        else if (opt == OPT_SANDBOX)
            a->sandbox = optarg;
        else if (opt == OPT_OVERLAY)
            a->overlay = optarg;
        else if (opt == OPT_BUILD_DIR)
            a->build_dir = optarg;
        return job_option(opt, optarg, job, has_path);
    }
    switch (opt) {
    case OPT_OUT_DIR:
        a->out_dir = optarg;
        return 0;
    case OPT_TIMEOUT:
        return parse_timeout(a, optarg);
    case OPT_BATCH:
        a->batch = optarg;
        return 0;
    case OPT_POOL:
        return parse_count(&a->pool, "--pool needs a number of helpers (0-1024): ", optarg, 0,
                           1024);
    case OPT_JOBS:
        return parse_count(&a->jobs, "--jobs needs a number of jobs at once (1-1024): ", optarg, 1,
                           1024);
    case OPT_REUSE:
        return parse_count(&a->reuse,
                           "--reuse needs a number of jobs per helper (1-1000): ", optarg, 1,
                           CPS_POOL_MAX_JOBS_PER_HELPER);
    case OPT_HELPER:
        a->helper = optarg;
        return 0;
    case OPT_JSON:
        a->json = optarg;
        return 0;
    case 'v':
        a->verbose = true;
        return 0;
    default:
        return usage_error("invalid option", NULL);
    }
}

/* The command and what depends on all options: PATH, the job's timeout. */
static int finish_job(const struct run_args *a, size_t argc, const char *const *argv, bool has_path,
                      struct cps_job_spec *job)
{
    struct cps_error err;

    if (cps_job_set_argv(job, argc, argv, &err) < 0)
        return lib_error(&err);
    if (!has_path && cps_job_add_env(job, "PATH", DEFAULT_PATH, &err) < 0)
        return lib_error(&err);
    if (a->timeout_s > 0 &&
        cps_job_set_limit(job, CPS_LIMIT_TIMEOUT_MS, (uint64_t)ceil(a->timeout_s * 1000), &err) < 0)
        return lib_error(&err);
    return 0;
}

int run_args_make_job(const struct run_args *a, size_t argc, const char *const *argv,
                      struct cps_job_spec *job)
{
    bool has_path = false;

    for (size_t i = 0; i < a->job_optc; i++)
        if (job_option(a->job_opts[i].opt, a->job_opts[i].arg, job, &has_path) < 0)
            return -1;
    return finish_job(a, argc, argv, has_path, job);
}

void run_args_free(struct run_args *a)
{
    free(a->job_opts);
    a->job_opts = NULL;
    a->job_optc = 0;
}

int run_args_parse(int argc, char **argv, struct run_args *a, struct cps_job_spec *job)
{
    bool has_path = false;
    int opt;

    memset(a, 0, sizeof(*a));
    a->out_dir = ".";
    a->pool = 2;
    a->jobs = 1;
    a->job_opts = calloc((size_t)argc + 1, sizeof(*a->job_opts));
    if (!a->job_opts)
        return usage_error("out of memory", NULL);
    /* "+": stop at the first non-option, PROGRAM's own options are not ours. */
    while ((opt = getopt_long(argc, argv, "+vh", options, NULL)) != -1) {
        if (opt == 'h') {
            fputs(usage_text, stdout);
            return 1;
        }
        if (opt == '?')
            return usage_error("invalid option", NULL);
        if (one_option(opt, a, job, &has_path) < 0)
            return -1;
    }
    if (!a->toolchain)
        return usage_error("--toolchain DIR is required", NULL);
    /* A CLI run from its build tree uses the helper built with it, unless the
     * caller named one: a newcomer trying build/parent/cachepot-dist-run needs
     * no install step and no CACHEPOT_SANDBOX_HELPER. */
    if (!a->helper && !getenv("CACHEPOT_SANDBOX_HELPER"))
        a->helper = helper_locate_build_tree();
    if (a->batch) {
        if (optind < argc)
            return usage_error("--batch takes the commands from its file, not after --", NULL);
        if (a->json)
            return usage_error("--json describes one run; it cannot be used with --batch", NULL);
        if (a->build_dir && a->jobs > 1)
            return usage_error("one --build-dir serves one job at a time: use --jobs 1", NULL);
        if (a->reuse && a->pool == 0)
            return usage_error("--reuse hands a pool's helpers several jobs: it needs a pool "
                               "(--pool N with N >= 1), not --pool 0",
                               NULL);
        return 0;
    }
    if (a->reuse)
        return usage_error("--reuse works with --batch and its pool of helpers; a single run "
                           "always gets a helper of its own",
                           NULL);
    if (optind >= argc)
        return usage_error("no PROGRAM given (put it after --)", NULL);
    a->argc = argc - optind;
    a->argv = argv + optind;
    return finish_job(a, (size_t)a->argc, (const char *const *)argv + optind, has_path, job);
}
