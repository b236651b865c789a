/* run_report.h - what cachepot-dist-run says about a run: exit status,
 * stderr messages, the --json summary. */
#ifndef CPS_RUN_REPORT_H
#define CPS_RUN_REPORT_H

#include "cachepot-sandbox.h"

/* The CLI's exit status for a run that returned ret (and res when ret == 0). */
int run_exit_status(int ret, const struct cps_result *res);

/* Print the library's error with stage and hint on stderr. */
void run_print_error(const struct cps_error *err);

/* One line about the run on stderr (--verbose). */
void run_print_summary(const struct cps_result *res);

/* Write the summary as JSON to path (res may be NULL when ret < 0). Returns 0
 * or -1 after printing why. */
int run_write_json(const char *path, int ret, const struct cps_result *res,
                   const struct cps_error *err, int exit_status);

#endif
