/*
 * args.h - where distccd put the object, the input and the deps file in the
 * compiler command line it runs.
 *
 * distccd 3.4 (serve.c) scans the client's argv with dcc_scan_args (arg.c),
 * which refuses a job with two inputs or two outputs, then replaces the input
 * with its own temp file (dcc_set_input) and the value of the first "-o" with
 * its own temp object (dcc_set_output). In pump mode it also appends
 * "-MMD -MF <deps>". This scanner reads argv the way dcc_scan_args does, so
 * the shim and distccd agree on which argument is which.
 */
#ifndef CPD_ARGS_H
#define CPD_ARGS_H

#include "cachepot-sandbox.h"

/* One argument that holds a path: argv[index] + offset ("-oPATH": offset 2). */
struct cpd_arg_ref {
    int index; /* -1: absent */
    int offset;
};

struct cpd_args {
    struct cpd_arg_ref object; /* the one "-o" */
    struct cpd_arg_ref input;  /* the one source file */
    struct cpd_arg_ref deps;   /* the last "-MF" (the one the compiler honours) */
};

/* Scan argv[1..argc-1]. Exactly one output and at most one input, as distccd
 * requires; anything else is refused (stage "args"). */
int cpd_args_scan(int argc, char *const *argv, struct cpd_args *a, struct cps_error *err);

/* The path an argument reference names (borrowed from argv). */
const char *cpd_arg_path(char *const *argv, struct cpd_arg_ref ref);

#endif
