/*
 * cachepot-distcc-compiler - what distccd runs instead of the compiler.
 *
 * distccd execs NAME ARGS with NAME a link to this program (DISTCC_CMDLIST or
 * DISTCCD_PATH, docs/DISTCC.md). The compile runs in the cachepot sandbox on a
 * root holding only that compiler; the object (and pump mode's deps file) come
 * back to distccd's temp files; stdout, stderr and the exit status are the
 * compiler's. Any setup failure ends the job with a message naming the stage:
 * the compiler never runs outside the sandbox.
 */
#include <stdio.h>
#include <string.h>

#include "cachepot-sandbox.h"
#include "config.h"
#include "error.h"
#include "jobfiles.h"
#include "run.h"
#include "toolchain.h"

static const char help_text[] =
    "usage: NAME COMPILER-ARGS...\n"
    "       cachepot-distcc-compiler --help | --version\n"
    "\n"
    "What distccd runs instead of a compiler: NAME is a link to this program named\n"
    "after the compiler (gcc, g++, cc, c++, clang, clang++, or a triplet form), listed\n"
    "in DISTCC_CMDLIST. The compile runs in the cachepot-dist-sandbox helper on a root\n"
    "holding only that compiler; the object (and a pump-mode deps file) come back to\n"
    "distccd's temp files; stdout, stderr and the exit status are the compiler's. A\n"
    "setup failure prints its stage and a hint and exits 1: the compiler never runs\n"
    "outside the sandbox. See docs/DISTCC.md.\n"
    "\n"
    "  --help     print this text\n"
    "  --version  print the version\n"
    "\n"
    "Environment (the one distccd passes on):\n"
    "  TMPDIR                      distccd's temp dir; keep it outside /tmp\n"
    "  CACHEPOT_DISTCC_CACHE       the toolchain cache (default /var/cache/cachepot-distcc\n"
    "                              if writable, else $TMPDIR/cachepot-distcc-UID)\n"
    "  CACHEPOT_DISTCC_TOOLCHAINS  operator roots, one entry per compiler name\n"
    "                              (default /etc/cachepot-distcc/toolchains)\n"
    "  CACHEPOT_DISTCC_PATH        where the real compilers are (default\n"
    "                              /usr/local/bin:/usr/bin:/bin)\n"
    "  CACHEPOT_DISTCC_PACKAGER    the packager (default " CPD_PACKAGER_PATH ")\n"
    "  CACHEPOT_DISTCC_TIMINGS     append one line of per-job timings to this file\n"
    "  CACHEPOT_SANDBOX_HELPER, CACHEPOT_SANDBOX, CACHEPOT_SCRATCH, CACHEPOT_LOG\n"
    "                              the helper and its knobs (cachepot-dist-sandbox(1))\n"
    "\n"
    "Exit status: the compiler's; 128+N if it was killed by signal N; 1 if the sandbox\n"
    "could not be set up; 2 for a usage error.\n";

/* Run under its own name: --help, --version, or a usage error (2). */
static int own_name(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--help") == 0) {
        fputs(help_text, stdout);
        return 0;
    }
    if (argc == 2 && strcmp(argv[1], "--version") == 0) {
        printf("cachepot-distcc-compiler %s\n", cps_version());
        return 0;
    }
    fputs(help_text, stderr);
    return 2;
}

int main(int argc, char **argv)
{
    struct cpd_config cfg;
    struct cpd_jobfiles jf;
    struct cpd_toolchain tc;
    struct cps_error err;
    const char *base;
    int status = 1;

    if (argc < 1)
        return own_name(0, argv);
    base = strrchr(argv[0], '/');
    base = base ? base + 1 : argv[0];
    if (strcmp(base, "cachepot-distcc-compiler") == 0)
        return own_name(argc, argv);
    if (cpd_config_load(&cfg, &err) < 0 || cpd_jobfiles_plan(&cfg, argc, argv, &jf, &err) < 0) {
        cpd_print_error(&err);
        return 1;
    }
    if (cpd_toolchain_resolve(&cfg, argv[0], &tc, &err) < 0)
        cpd_print_error(&err);
    else
        status = cpd_run_job(&jf, &tc);
    cpd_jobfiles_free(&jf);
    return status;
}
