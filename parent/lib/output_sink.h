/* output_sink.h - receiving output files: callbacks or the out-dir writer. */
#ifndef CPS_PARENT_OUTPUT_SINK_H
#define CPS_PARENT_OUTPUT_SINK_H

#include "cachepot-sandbox.h"
#include "job_spec.h"
#include "proto.h"

struct cps_output_sink {
    const struct cps_job_spec *spec;    /* borrowed */
    const struct cps_wire_job *wire;    /* borrowed */
    const struct cps_run_options *opts; /* borrowed */
    int dirfd;                          /* out_dir, or -1 */
    int fd;                             /* the file being written, or -1 */
    size_t idx;                         /* current entry of job.outputs */
    bool in_file;                       /* chunks of outputs[idx] are arriving */
    uint64_t size;                      /* its declared size */
    uint64_t got;
    unsigned mode;
    size_t received, missing;
    uint64_t bytes;
};

/* Prepare the sink (opens out_dir when it is used). Returns 0 or -errno. */
int cps__output_sink_init(struct cps_output_sink *s, const struct cps_job_spec *spec,
                          const struct cps_wire_job *wire, const struct cps_run_options *opts,
                          struct cps_error *err);
/* Take one output frame (borrowed). Returns 0, or -errno with stage "protocol"
 * (out of order, sizes wrong), "output" (writing failed) or "callback". */
int cps__output_sink_frame(struct cps_output_sink *s, const struct cps_output *o,
                           struct cps_error *err);
/* Close fds; a partly written file is removed. */
void cps__output_sink_close(struct cps_output_sink *s);

#endif
