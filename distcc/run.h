/*
 * run.h - one distccd job in the sandbox: the job spec from the planned files
 * and the toolchain, the run, and the compiler's status as ours.
 */
#ifndef CPD_RUN_H
#define CPD_RUN_H

#include "cachepot-sandbox.h"
#include "jobfiles.h"
#include "toolchain.h"

/* Run the job; returns the exit status for main (or re-raises the compiler's
 * fatal signal). On a setup failure prints err and returns 1. */
int cpd_run_job(const struct cpd_jobfiles *jf, const struct cpd_toolchain *tc);

#endif
