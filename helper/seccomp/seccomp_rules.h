/*
 * seccomp_rules.h - the default seccomp filter built from its rules with
 * libseccomp. The helper does not call this at run time: cps-seccomp-gen
 * calls it at build time and writes the program into seccomp_program.c
 * (see ../seccomp_filter.h); the tests call it to check that the built-in
 * program is what the rules give.
 */
#ifndef CPS_HELPER_SECCOMP_RULES_H
#define CPS_HELPER_SECCOMP_RULES_H

#include "seccomp_filter.h"

/* Build the filter for this machine's architecture into out (owned: release
 * with cps__seccomp_free). Returns 0 or -errno (stage "seccomp"). */
int cps__seccomp_build(struct cps__seccomp *out, struct cps_error *err);

#endif
