/*
 * jobfiles.h - which host files a distccd job reads and writes, and where the
 * sandbox sees them.
 *
 * distccd 3.4 (serve.c) runs the compiler on files in its temp dir T ($TMPDIR,
 * else /tmp): the input T/distccd_XXXXXXXX.i (or .ii, ...), the object
 * T/distccd_XXXXXXXX.o, which distccd has already created (O_EXCL, 0600), and
 * in pump mode a whole tree T/distccd_XXXXXX/ holding the client's files under
 * their client paths, the compiler's cwd inside it, plus the deps file
 * T/distcc_XXXXXXXX.deps. Only these two outputs are collected by distccd;
 * the shim writes back nothing else.
 *
 * The sandbox sees every file at its host path, except paths under /tmp: the
 * sandbox mounts its own /tmp (docs/HELPER.md), which would hide them, so they
 * appear under CPD_TMP_PREFIX instead and the command line is rewritten to
 * match. Pump mode needs the tree at its host path (distccd rewrites that path
 * in the object's debug info, fix_debug_info.c), so there T must not be under
 * /tmp.
 */
#ifndef CPD_JOBFILES_H
#define CPD_JOBFILES_H

#include <stddef.h>

#include "cachepot-sandbox.h"
#include "config.h"

#define CPD_TMP_PREFIX "/.cachepot-distcc"

struct cpd_path_pair {
    char *host;    /* NULL: none */
    char *sandbox; /* absolute path inside the sandbox */
};

struct cpd_jobfiles {
    struct cpd_path_pair cwd;
    char *tree;                 /* pump mode: T/distccd_XXXXXX; else NULL */
    struct cpd_path_pair input; /* not pump mode: distccd's temp input */
    struct cpd_path_pair object;
    struct cpd_path_pair deps; /* pump mode: distccd's deps file; else host NULL */
    /* The compiler's argv for the sandbox, argv[0] left NULL for the caller. */
    char **argv;
    int argc;
};

/* Work out the job's files from distccd's argv and our cwd (jf new: free with
 * cpd_jobfiles_free). 0 or -errno (stages "args", "tmpdir"). */
int cpd_jobfiles_plan(const struct cpd_config *cfg, int argc, char *const *argv,
                      struct cpd_jobfiles *jf, struct cps_error *err);
void cpd_jobfiles_free(struct cpd_jobfiles *jf);

#endif
