/*
 * compiler.h - the real compiler behind the name distccd ran us as.
 *
 * distccd runs the shim by the compiler's name: "gcc" through DISTCCD_PATH, or
 * the DISTCC_CMDLIST entry whose last word matches the client's compiler
 * (serve.c, dcc_remap_compiler), e.g. /usr/lib/cachepot-distcc/gcc, a link to
 * the shim. The shim looks that name up on its own search path (not PATH,
 * which distccd set to the shim's dir), skipping itself.
 */
#ifndef CPD_COMPILER_H
#define CPD_COMPILER_H

#include "cachepot-sandbox.h"
#include "config.h"

struct cpd_compiler {
    char name[256];  /* basename of argv[0], e.g. "g++" */
    char path[4096]; /* where it is on the host, e.g. "/usr/bin/g++" (not resolved) */
};

/* Find argv0's compiler. 0 or -errno (stage "compiler"). */
int cpd_compiler_find(const struct cpd_config *cfg, const char *argv0, struct cpd_compiler *cc,
                      struct cps_error *err);

/* Is name a plain compiler name (letters, digits, "._+-", not "." or "..")? */
int cpd_compiler_name_ok(const char *name);

#endif
