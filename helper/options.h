/*
 * options.h - the helper's command line and environment.
 *
 * Spawn-time configuration is fixed before hello (the namespaces and id maps
 * exist before the job arrives, see docs/ARCHITECTURE.md "Ready before hello"):
 * a job asking for other values is refused with stage "job".
 */
#ifndef CPS_HELPER_OPTIONS_H
#define CPS_HELPER_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "error.h"
#include "proto.h"

/* Environment variables the helper reads. */
#define CPS_ENV_SANDBOX "CACHEPOT_SANDBOX" /* default backend: userns | bubblewrap */
#define CPS_ENV_LOG     "CACHEPOT_LOG"     /* log level: error | warn | info | debug | trace */
#define CPS_ENV_BWRAP   "CACHEPOT_BWRAP"   /* the bwrap binary of the bubblewrap backend */
#define CPS_ENV_SCRATCH "CACHEPOT_SCRATCH" /* where the writable layer lives: tmpfs | disk */

/* The fd the parent hands the helper: its end of an AF_UNIX socketpair. */
#define CPS_HELPER_FD 3

/* Helper exit codes (docs/HELPER.md). */
enum cps_helper_exit {
    CPS_EXIT_OK = 0,       /* the job ran (whatever its own exit code); exit frame sent */
    CPS_EXIT_SETUP = 1,    /* setup or job error; one error frame sent */
    CPS_EXIT_USAGE = 2,    /* bad command line, or fd 3 is not a connected socket */
    CPS_EXIT_PROTOCOL = 3, /* the peer broke the protocol or went away */
};

enum cps_helper_mode {
    CPS_MODE_RUN = 0,
    CPS_MODE_VERSION,
    CPS_MODE_HELP,
    CPS_MODE_CHECK,
};

struct cps_helper_options {
    enum cps_helper_mode mode;
    uint32_t uid;     /* uid inside the sandbox (default: the helper's effective uid) */
    uint32_t gid;     /* gid inside the sandbox (default: the helper's effective gid) */
    uint32_t backend; /* one enum cps_backend */
    bool seccomp;     /* default seccomp filter on (default true) */
    bool disk_scratch; /* writable layer on the build dir's filesystem, not a tmpfs */
    bool hello_features; /* the parent asked for hello.features (CACHEPOT_HELLO_FEATURES=1) */
    uint32_t jobs_per_helper; /* --jobs-per-helper: 1 (default) .. CPS_MAX_JOBS_PER_HELPER */
    int check_argc;   /* CPS_MODE_CHECK: the arguments after --check (borrowed from argv) */
    char **check_argv;
};

/*
 * Parse argv (borrowed) and the environment into *o. Returns 0, or -EINVAL with
 * err->stage "usage" and a message naming the bad argument or value.
 */
int cps__options_parse(int argc, char **argv, struct cps_helper_options *o, struct cps_error *err);

/* Print the usage text (every flag and environment variable) to f. */
void cps__options_usage(FILE *f);

#endif
