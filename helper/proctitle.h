/*
 * proctitle.h - what /proc/PID/cmdline of I says.
 *
 * I is a fork of the helper, so its argument area holds the helper's argv:
 * its host path and options. I is PID 1 of the job's PID namespace and
 * /proc/1/cmdline is readable by every process there (unlike environ, exe or
 * maps, which need ptrace access, refused to a job without I's capabilities).
 * The area is I's own copy (copy-on-write), so I may overwrite it; the helper
 * O keeps its argv.
 */
#ifndef CPS_HELPER_PROCTITLE_H
#define CPS_HELPER_PROCTITLE_H

#include "error.h"

/* What I's cmdline says instead. */
#define CPS_INIT_TITLE "cachepot-sandbox-init"

/*
 * Overwrite the calling process's whole argument area (arg_start..arg_end of
 * /proc/self/stat, proc_pid_stat(5)) with title, cut to fit, and zeros; the
 * last byte stays NUL, so the kernel returns the area as is (get_mm_cmdline)
 * and cmdline reads "title" followed by NULs. Returns 0 or -errno with err
 * (stage "proc"); the area is then left alone.
 */
int cps__proctitle_set(const char *title, struct cps_error *err);

#endif
