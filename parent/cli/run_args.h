/* run_args.h - the command line of cachepot-dist-run. */
#ifndef CPS_RUN_ARGS_H
#define CPS_RUN_ARGS_H

#include <stdbool.h>
#include <stddef.h>

#include "cachepot-sandbox.h"

/* One option that shapes the job (--input, --env, ...), kept so that --batch
 * can give every job of its file the same ones. */
struct run_job_opt {
    int opt;
    const char *arg; /* borrowed from argv */
};

struct run_args {
    const char *toolchain;
    const char *out_dir;
    const char *cwd;
    const char *sandbox;
    const char *overlay;
    const char *build_dir;
    const char *helper;
    const char *json;
    double timeout_s; /* 0: none */
    bool verbose;
    int argc; /* PROGRAM [ARG...]; 0 with --batch */
    char **argv;
    const char *batch;            /* --batch FILE: one PROGRAM [ARG...] per line */
    unsigned pool;                /* --pool N: warm helpers per configuration (0: none) */
    unsigned jobs;                /* --jobs N: batch jobs at once */
    unsigned reuse;               /* --reuse N: jobs per pooled helper (0: not given) */
    struct run_job_opt *job_opts; /* new; free with run_args_free */
    size_t job_optc;
};

/* Exit status for usage errors and failures of the sandbox or helper. */
#define RUN_EXIT_TIMEOUT 124
#define RUN_EXIT_FAILURE 125

/*
 * Parse argv into a (its strings borrowed from argv) and into job (--input,
 * --output, --env, --cwd, ...). Returns 0 to run, 1 when --help was printed,
 * or -1 after printing a usage error.
 */
int run_args_parse(int argc, char **argv, struct run_args *a, struct cps_job_spec *job);

/* Fill job with the job options of a and the command argv (argc >= 1, copied):
 * what run_args_parse does for PROGRAM [ARG...]. Returns 0, or -1 after
 * printing why. */
int run_args_make_job(const struct run_args *a, size_t argc, const char *const *argv,
                      struct cps_job_spec *job);

void run_args_free(struct run_args *a);

#endif
