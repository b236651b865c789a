/*
 * rlimits.h - job limits: the documented defaults and the rlimits of the
 * compiler child. docs/HELPER.md lists the same numbers.
 */
#ifndef CPS_HELPER_RLIMITS_H
#define CPS_HELPER_RLIMITS_H

#include "error.h"
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

/*
 * The largest values the kernel can take for two limits; a job's larger
 * value is lowered to them (docs/PROTOCOL.md, job.limits), which changes
 * nothing the job could notice:
 * - processes: pids.max accepts at most PID_MAX_LIMIT (4,194,304 on 64-bit
 *   kernels, kernel/cgroup/pids.c; EINVAL above, ERANGE above 2^63-1), and
 *   no system runs more tasks than that.
 * - tmp_bytes, scratch_bytes: bubblewrap refuses a --size above 2^63-1
 *   (its MAX_TMPFS_BYTES), and tmpfs's page count of a size within 4 KiB
 *   of 2^64 wraps to 0, "unlimited". 2^63-1 bytes is 8 EiB.
 * Every other limit is fine up to 2^64-1 (RLIM_INFINITY; a timeout that
 * saturates; memory.max, which the kernel clamps itself).
 */
#define CPS_MAX_PROCESSES   4194304ull
#define CPS_MAX_TMPFS_BYTES 9223372036854775807ull /* 2^63-1 */

/* Copy in (borrowed) to out with every 0 replaced by its default, and the
 * values above the maxima lowered to them (logged at info level). */
void cps__limits_resolve(const struct cps_job_limits *in, struct cps_job_limits *out);

/* Apply the rlimits of resolved limits l to the calling process: CPU, AS,
 * FSIZE, NOFILE, NPROC, and CORE 0. Stage "rlimits". */
int cps__rlimits_apply(const struct cps_job_limits *l, struct cps_error *err);

#endif
