/* job_spec.h - the job as the caller described it, and its wire form. */
#ifndef CPS_PARENT_JOB_SPEC_H
#define CPS_PARENT_JOB_SPEC_H

#include <sys/types.h>

#include "cachepot-sandbox.h"
#include "proto.h"

struct cps_spec_input {
    char *host_path;    /* as given */
    char *sandbox_path; /* as given: absolute, or relative to the cwd */
    uint32_t mode;
};

struct cps_spec_output {
    char *given; /* as given: absolute, or relative to the cwd */
    char *name;  /* given with leading "/" and "." components dropped */
};

struct cps_job_spec {
    char *toolchain;
    char *build_dir; /* NULL: a fresh temporary one per run */
    const char **argv;
    size_t argc;
    struct cps_env_pair *env;
    size_t envc;
    char *cwd;
    struct cps_spec_input *inputs;
    size_t inputc;
    struct cps_spec_output *outputs;
    size_t outputc;
    uint32_t backend; /* 0: the helper's */
    uint32_t overlay;
    bool has_uid, has_gid, has_seccomp;
    uint32_t uid, gid;
    bool seccomp;
    struct cps_job_limits limits;
};

/*
 * The wire form of one run: every path resolved against the cwd, input sizes
 * from stat(2) (host_sizes[i] and host files opened later are checked against
 * them). Strings point into spec (borrowed) or into the struct's own arrays.
 */
struct cps_wire_job {
    struct cps_job job;          /* argv/env/toolchain borrowed from the spec */
    const char **input_paths;    /* new, resolved sandbox paths */
    const char **output_paths;   /* new, resolved sandbox paths */
    struct cps_input_decl *decl; /* new, job.inputs */
    char *toolchain;             /* new, realpath of the spec's toolchain */
    dev_t *input_dev;            /* identity of each input at stat time */
    ino_t *input_ino;
    uint64_t bytes_in;
};

/* Build the wire job for a run in build_dir (borrowed, absolute and free of
 * symlinks: the helper takes normalized paths only). Returns 0 or -errno
 * (stage "job" or "input"). */
int cps__wire_job_build(const struct cps_job_spec *spec, const char *build_dir,
                        struct cps_wire_job *w, struct cps_error *err);
void cps__wire_job_free(struct cps_wire_job *w);

#endif
