/*
 * stream_stdio.h - the cps_stream_fn of programs that pass a job's output on
 * as it arrives: cachepot-dist-run and cachepot-distcc-compiler.
 */
#ifndef CPS_CLI_STREAM_STDIO_H
#define CPS_CLI_STREAM_STDIO_H

#include <stddef.h>

#include "cachepot-sandbox.h"

/*
 * Write one chunk of the job's stdout (stderr) to our fd 1 (2), whole
 * (retrying EINTR and short writes). If our side is gone (EPIPE, a closed
 * capture file), the chunk is dropped and the job goes on: its result and
 * outputs still matter. Always returns 0; user is unused.
 */
int cps_cli_stream_to_stdio(void *user, enum cps_stream_id id, const void *data, size_t len);

#endif
