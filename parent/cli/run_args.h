/* run_args.h - the command line of cachepot-dist-run. */
#ifndef CPS_RUN_ARGS_H
#define CPS_RUN_ARGS_H

#include <stdbool.h>
#include <stddef.h>

#include "cachepot-sandbox.h"

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
    int argc; /* PROGRAM [ARG...] */
    char **argv;
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

#endif
