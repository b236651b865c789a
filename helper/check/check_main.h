/*
 * check_main.h - `cachepot-dist-sandbox --check [--json] [--tmpdir DIR]`: probe the
 * host without running a job and say, for each backend x overlay mode, whether
 * it works here, why not, and what to change. docs/CHECK.md documents the
 * output (human and JSON) with samples.
 *
 * (Not named check.h: helper/ is on the include path of the unit tests, and
 * a helper/check.h would shadow libcheck's <check.h>.)
 */
#ifndef CPS_HELPER_CHECK_MAIN_H
#define CPS_HELPER_CHECK_MAIN_H

/* Version of the JSON document's shape ("check_version"); bumped when a field
 * changes meaning or goes away (adding fields does not bump it). */
#define CPS_CHECK_JSON_VERSION 1

/*
 * Run the check. argv[0..argc) are the arguments after "--check" (borrowed; a
 * leading "--check" itself is skipped too, so argv + 1 of the helper's own
 * argv also works). Writes the report to stdout, diagnostics to stderr.
 * Returns the process exit code: 0 when at least one backend x mode works,
 * 1 when none does, 2 on a usage error. --help prints the usage and returns 0.
 * Must be called from a single-threaded process (it forks probe children).
 */
int cps__check_main(int argc, char **argv);

#endif
