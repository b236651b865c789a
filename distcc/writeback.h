/*
 * writeback.h - the compiler's outputs back to distccd's temp files.
 *
 * The library hands each output file in chunks (cps_output_fn); the shim
 * writes them to the host paths distccd collects (jobfiles.h), opened with
 * O_NOFOLLOW, and to nothing else.
 */
#ifndef CPD_WRITEBACK_H
#define CPD_WRITEBACK_H

#include <stdbool.h>
#include <stdint.h>

#include "cachepot-sandbox.h"
#include "jobfiles.h"

#define CPD_MAX_WRITEBACK 2

struct cpd_writeback {
    const struct cpd_path_pair *files[CPD_MAX_WRITEBACK];
    size_t count;
    int fd;     /* the file being written, -1 between files */
    int failed; /* a write failed: err holds why */
    struct cps_error err;
};

/* Start with the job's object and (pump mode) deps file; add them as outputs. */
int cpd_writeback_init(struct cpd_writeback *wb, const struct cpd_jobfiles *jf,
                       struct cps_job_spec *job, struct cps_error *err);

/* cps_output_fn; user is the struct cpd_writeback. */
int cpd_writeback_output(void *user, const char *path, unsigned mode, uint64_t size,
                         const void *data, size_t len, bool last);

/* Close what is still open (after a failed run). */
void cpd_writeback_close(struct cpd_writeback *wb);

#endif
