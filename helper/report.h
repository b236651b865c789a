/* report.h - the exit frame of a job that ran. */
#ifndef CPS_HELPER_REPORT_H
#define CPS_HELPER_REPORT_H

#include <sys/resource.h>

#include "error.h"
#include "pump.h"
#include "timings.h"

/*
 * Build and send exit: code or signal from r (a job O killed is reported as
 * SIGKILL with limit "timeout", "output" or "cancel"; SIGXCPU and SIGXFSZ as
 * limits "cpu" and "file_size"), wall time from r, user/sys/max RSS from ru
 * (the rusage of I, which includes every process of the job it reaped), the
 * backend and overlay mode used, and the timings t.
 */
int cps__report_exit(int sock, const struct cps_pump_result *r, const struct rusage *ru,
                     uint32_t backend, uint32_t overlay, const struct cps_timings *t,
                     struct cps_error *err);

#endif
