/*
 * rlimits.h - job limits: the documented defaults and the rlimits of the
 * compiler child. docs/HELPER.md lists the same numbers.
 */
#ifndef CPS_HELPER_RLIMITS_H
#define CPS_HELPER_RLIMITS_H

#include "cachepot-sandbox.h"
#include "proto.h"

#define CPS_DEFAULT_TIMEOUT_MS       (10u * 60u * 1000u)         /* 10 minutes */
#define CPS_DEFAULT_MAX_OUTPUT_BYTES (4ull * 1024 * 1024 * 1024) /* 4 GiB */
#define CPS_DEFAULT_FILE_SIZE        (4ull * 1024 * 1024 * 1024) /* 4 GiB */
#define CPS_DEFAULT_OPEN_FILES       1024u
#define CPS_DEFAULT_PROCESSES        256u
#define CPS_DEFAULT_TMP_BYTES        (256ull * 1024 * 1024) /* 256 MiB */
/* As much as one output file may be (file_size): the tmpfs only takes the
 * memory the job really writes. */
#define CPS_DEFAULT_SCRATCH_BYTES (4ull * 1024 * 1024 * 1024) /* 4 GiB */
/* address_space 0: unlimited; cpu_seconds 0: the timeout rounded up. */

/* Copy in (borrowed) to out with every 0 replaced by its default. */
void cps__limits_resolve(const struct cps_job_limits *in, struct cps_job_limits *out);

/* Apply the rlimits of resolved limits l to the calling process: CPU, AS,
 * FSIZE, NOFILE, NPROC, and CORE 0. Stage "rlimits". */
int cps__rlimits_apply(const struct cps_job_limits *l, struct cps_error *err);

#endif
