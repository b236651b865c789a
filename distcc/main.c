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

#include "config.h"
#include "error.h"
#include "jobfiles.h"
#include "run.h"
#include "toolchain.h"

static int usage(void)
{
    fprintf(stderr,
            "usage: NAME COMPILER-ARGS...  (NAME: a link to cachepot-distcc-compiler named\n"
            "       after a compiler, run by distccd; see docs/DISTCC.md)\n");
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
        return usage();
    base = strrchr(argv[0], '/');
    base = base ? base + 1 : argv[0];
    if (strcmp(base, "cachepot-distcc-compiler") == 0)
        return usage();
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
