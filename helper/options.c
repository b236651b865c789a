/* options.c - argv and environment of the helper. */
#include "options.h"

#include <errno.h>
#include <getopt.h>
#include <linux/limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cps_limits.h"
#include "error.h"
#include "job_features.h"

/* The usage text and docs/man quote the bound as a number. */
_Static_assert(CPS_MAX_JOBS_PER_HELPER == 1000, "--help says --jobs-per-helper 1..1000");

static int parse_id(const char *flag, const char *text, uint32_t *out, struct cps_error *err)
{
    char *end = NULL;
    unsigned long long v;

    errno = 0;
    v = strtoull(text, &end, 10);
    /* (uid_t)-1 is "no id" for setresuid(2) and cannot be mapped. */
    if (errno != 0 || end == text || *end != '\0' || text[0] == '-' || v >= UINT32_MAX)
        return cps__error_set(err, CPS_STAGE_USAGE, EINVAL, NULL,
                              "%s wants a number between 0 and %u, got \"%s\"", flag,
                              UINT32_MAX - 1, text);
    *out = (uint32_t)v;
    return 0;
}

static int parse_jobs(const char *text, uint32_t *out, struct cps_error *err)
{
    char *end = NULL;
    unsigned long long v;

    errno = 0;
    v = strtoull(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || text[0] == '-' || v < 1 ||
        v > CPS_MAX_JOBS_PER_HELPER)
        return cps__error_set(err, CPS_STAGE_USAGE, EINVAL, NULL,
                              "--jobs-per-helper wants a number between 1 and %u, got \"%s\"",
                              (unsigned)CPS_MAX_JOBS_PER_HELPER, text);
    *out = (uint32_t)v;
    return 0;
}

static int parse_backend(const char *origin, const char *text, uint32_t *out, struct cps_error *err)
{
    enum cps_backend b;

    if (cps__backend_parse(text, strlen(text), &b) < 0)
        return cps__error_set(err, CPS_STAGE_USAGE, EINVAL, "valid backends: userns, bubblewrap",
                              "%s: unknown sandbox backend \"%s\" (valid: userns, bubblewrap)",
                              origin, text);
    *out = b;
    return 0;
}

/* CACHEPOT_HELLO_FEATURES: set by a parent that reads hello.features
 * (job_features.h); absent, the hello is the one every 0.1.0 parent accepts. */
static int parse_hello_features(const char *text, bool *on, struct cps_error *err)
{
    if (strcmp(text, "0") == 0 || strcmp(text, "1") == 0) {
        *on = text[0] == '1';
        return 0;
    }
    return cps__error_set(err, CPS_STAGE_USAGE, EINVAL, "valid values: 0, 1",
                          "%s: \"%s\" is not 0 or 1", CPS_HELLO_FEATURES_ENV, text);
}

static int parse_scratch(const char *text, bool *disk, struct cps_error *err)
{
    if (strcmp(text, "tmpfs") == 0 || strcmp(text, "disk") == 0) {
        *disk = text[0] == 'd';
        return 0;
    }
    return cps__error_set(err, CPS_STAGE_USAGE, EINVAL, "valid values: tmpfs, disk",
                          "%s: unknown scratch kind \"%s\" (valid: tmpfs, disk)", CPS_ENV_SCRATCH,
                          text);
}

void cps__options_usage(FILE *f)
{
    fputs("usage: cachepot-dist-sandbox [--uid N] [--gid N] [--backend userns|bubblewrap]\n"
          "                             [--no-seccomp] [--jobs-per-helper N]\n"
          "       cachepot-dist-sandbox --check [--json]\n"
          "       cachepot-dist-sandbox --version | --help\n"
          "\n"
          "Runs one compile job in a sandbox. The worker passes its end of an AF_UNIX\n"
          "socketpair as fd 3 and speaks the protocol of docs/PROTOCOL.md on it; the\n"
          "helper prepares its namespaces, says hello, runs the job, streams its output,\n"
          "returns its output files, cleans up and exits.\n"
          "\n"
          "options:\n"
          "  --uid N        uid inside the sandbox (default: the helper's effective uid)\n"
          "  --gid N        gid inside the sandbox (default: the helper's effective gid)\n"
          "  --backend B    sandbox backend, userns or bubblewrap\n"
          "                 (default: $CACHEPOT_SANDBOX, else userns)\n"
          "  --no-seccomp   do not install the default seccomp filter\n"
          "  --jobs-per-helper N\n"
          "                 serve up to N jobs in sequence (1..1000, default 1), each in\n"
          "                 fresh mount, PID, IPC, UTS and network namespaces, with a\n"
          "                 new hello after each exit frame; the user and cgroup\n"
          "                 namespaces are kept across jobs (docs/SECURITY.md); not\n"
          "                 with --no-seccomp\n"
          "  --check        probe the host and report which backends and overlay modes\n"
          "                 work (--json: machine-readable); exits 0 when one works\n"
          "  --version      print the helper and protocol versions\n"
          "  --help         print this text\n"
          "\n"
          "environment:\n"
          "  CACHEPOT_SANDBOX  default backend (userns | bubblewrap)\n"
          "  CACHEPOT_LOG      log level on stderr: error, warn (default), info, debug, trace\n"
          "  CACHEPOT_BWRAP    bwrap binary of the bubblewrap backend (default: PATH lookup)\n"
          "  CACHEPOT_FUSE_OVERLAYFS  fuse-overlayfs of the fuse overlay mode (default: PATH)\n"
          "  CACHEPOT_SCRATCH  where the job's writes (the overlay's upper and work dirs)\n"
          "                    live: tmpfs (default; a tmpfs of limits.scratch_bytes mounted\n"
          "                    on the build dir in the helper's own mount namespace, so the\n"
          "                    host directory is never written) or disk (the build dir\n"
          "                    itself; removed file by file after the job)\n"
          "  CACHEPOT_HELLO_FEATURES  1: hello lists the optional job keys this helper\n"
          "                    understands (set by the parent library, which then never\n"
          "                    sends another); absent or 0: the hello of 0.1.0\n"
          "\n"
          "exit codes: 0 the job ran (its own exit code is in the exit frame),\n"
          "  1 setup or job error (one error frame sent), 2 usage error or fd 3 is not a\n"
          "  connected socket, 3 the peer broke the protocol or went away.\n",
          f);
}

int cps__options_parse(int argc, char **argv, struct cps_helper_options *o, struct cps_error *err)
{
    enum {
        OPT_UID = 256,
        OPT_GID,
        OPT_BACKEND,
        OPT_NO_SECCOMP,
        OPT_JOBS,
        OPT_CHECK,
        OPT_VERSION,
        OPT_HELP
    };
    static const struct option longopts[] = {
        {"uid", required_argument, NULL, OPT_UID},
        {"gid", required_argument, NULL, OPT_GID},
        {"backend", required_argument, NULL, OPT_BACKEND},
        {"no-seccomp", no_argument, NULL, OPT_NO_SECCOMP},
        {"jobs-per-helper", required_argument, NULL, OPT_JOBS},
        {"check", no_argument, NULL, OPT_CHECK},
        {"version", no_argument, NULL, OPT_VERSION},
        {"help", no_argument, NULL, OPT_HELP},
        {NULL, 0, NULL, 0},
    };
    const char *env;
    int c, rc;

    memset(o, 0, sizeof(*o));
    o->mode = CPS_MODE_RUN;
    o->uid = (uint32_t)geteuid();
    o->gid = (uint32_t)getegid();
    o->backend = CPS_BACKEND_USERNS;
    o->seccomp = true;
    o->jobs_per_helper = 1;

    env = getenv(CPS_ENV_SANDBOX);
    if (env != NULL && env[0] != '\0') {
        rc = parse_backend(CPS_ENV_SANDBOX, env, &o->backend, err);
        if (rc < 0)
            return rc;
    }

    env = getenv(CPS_ENV_SCRATCH);
    if (env != NULL && env[0] != '\0') {
        rc = parse_scratch(env, &o->disk_scratch, err);
        if (rc < 0)
            return rc;
    }

    env = getenv(CPS_HELLO_FEATURES_ENV);
    if (env != NULL && env[0] != '\0') {
        rc = parse_hello_features(env, &o->hello_features, err);
        if (rc < 0)
            return rc;
    }

    /* --check hands the rest of the command line to the check module as is. */
    if (argc >= 2 && strcmp(argv[1], "--check") == 0) {
        o->mode = CPS_MODE_CHECK;
        o->check_argc = argc - 1;
        o->check_argv = argv + 1;
        return 0;
    }

    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "+", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_UID:
            rc = parse_id("--uid", optarg, &o->uid, err);
            if (rc < 0)
                return rc;
            break;
        case OPT_GID:
            rc = parse_id("--gid", optarg, &o->gid, err);
            if (rc < 0)
                return rc;
            break;
        case OPT_BACKEND:
            rc = parse_backend("--backend", optarg, &o->backend, err);
            if (rc < 0)
                return rc;
            break;
        case OPT_NO_SECCOMP:
            o->seccomp = false;
            break;
        case OPT_JOBS:
            rc = parse_jobs(optarg, &o->jobs_per_helper, err);
            if (rc < 0)
                return rc;
            break;
        case OPT_CHECK:
            return cps__error_set(err, CPS_STAGE_USAGE, EINVAL, NULL,
                                  "--check must be the first argument");
        case OPT_VERSION:
            o->mode = CPS_MODE_VERSION;
            break;
        case OPT_HELP:
            o->mode = CPS_MODE_HELP;
            break;
        default:
            return cps__error_set(err, CPS_STAGE_USAGE, EINVAL, "see --help",
                                  "unknown or incomplete option \"%s\"", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return cps__error_set(err, CPS_STAGE_USAGE, EINVAL, "see --help",
                              "unexpected argument \"%s\"", argv[optind]);
    /* The user and user-session keyrings belong to the uid and the user
     * namespace (keyrings(7)), both of which the jobs of a reusing helper
     * share: one job could leave a key for the next. Only the default seccomp
     * filter refuses keyctl, add_key and request_key. */
    if (o->jobs_per_helper > 1 && !o->seccomp)
        return cps__error_set(err, CPS_STAGE_USAGE, EINVAL, "drop --no-seccomp, or serve one job",
                              "--jobs-per-helper %u needs the default seccomp filter: the jobs "
                              "of one helper share the uid's keyrings, and only the filter "
                              "refuses keyctl, add_key and request_key (--no-seccomp)",
                              o->jobs_per_helper);
    return 0;
}
