/* job_spec.c - building a job description, and its wire form for one run. */
#include "job_spec.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "errtext.h"
#include "error.h"
#include "cps_limits.h"
#include "paths.h"

#define DEFAULT_CWD "/build"

CPS_API struct cps_job_spec *cps_job_new(void)
{
    struct cps_job_spec *job = calloc(1, sizeof(*job));

    if (!job)
        return NULL;
    job->cwd = strdup(DEFAULT_CWD);
    if (!job->cwd) {
        free(job);
        return NULL;
    }
    job->overlay = CPS_OVERLAY_AUTO;
    return job;
}

static void free_strv(const char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        cps__free_const(v[i]);
    free(v);
}

CPS_API void cps_job_free(struct cps_job_spec *job)
{
    if (!job)
        return;
    free(job->toolchain);
    free(job->build_dir);
    free_strv(job->argv, job->argc);
    for (size_t i = 0; i < job->envc; i++) {
        cps__free_const(job->env[i].name);
        cps__free_const(job->env[i].value);
    }
    free(job->env);
    free(job->cwd);
    for (size_t i = 0; i < job->inputc; i++) {
        free(job->inputs[i].host_path);
        free(job->inputs[i].sandbox_path);
    }
    free(job->inputs);
    for (size_t i = 0; i < job->outputc; i++) {
        free(job->outputs[i].given);
        free(job->outputs[i].name);
    }
    free(job->outputs);
    free(job);
}

static int nomem(struct cps_error *err, const char *what)
{
    return cps__error_set(err, CPS_STAGE_JOB, ENOMEM, NULL, "out of memory setting %s", what);
}

/* Replace *slot with a copy of value (value must be a non-empty host path). */
static int set_host_dir(char **slot, const char *value, const char *what, struct cps_error *err)
{
    char *copy;

    if (!value || value[0] == '\0')
        return cps__error_set(err, CPS_STAGE_JOB, EINVAL, NULL, "%s must not be empty", what);
    if (strlen(value) > CPS_MAX_PATH)
        return cps__error_set(err, CPS_STAGE_JOB, ENAMETOOLONG, NULL, "%s is longer than %d bytes",
                              what, CPS_MAX_PATH);
    copy = strdup(value);
    if (!copy)
        return nomem(err, what);
    free(*slot);
    *slot = copy;
    return 0;
}

CPS_API int cps_job_set_toolchain(struct cps_job_spec *job, const char *dir, struct cps_error *err)
{
    return set_host_dir(&job->toolchain, dir, "the toolchain dir", err);
}

CPS_API int cps_job_set_build_dir(struct cps_job_spec *job, const char *dir, struct cps_error *err)
{
    if (!dir) {
        free(job->build_dir);
        job->build_dir = NULL;
        return 0;
    }
    return set_host_dir(&job->build_dir, dir, "the build dir", err);
}

CPS_API int cps_job_set_argv(struct cps_job_spec *job, size_t argc, const char *const *argv,
                             struct cps_error *err)
{
    const char **copy;

    if (argc < 1 || argc > CPS_MAX_ARGV)
        return cps__error_set(err, CPS_STAGE_JOB, EINVAL, NULL,
                              "argv needs 1 to %d entries, not %zu", CPS_MAX_ARGV, argc);
    copy = calloc(argc, sizeof(*copy));
    if (!copy)
        return nomem(err, "argv");
    for (size_t i = 0; i < argc; i++) {
        copy[i] = argv[i] ? strdup(argv[i]) : NULL;
        if (!copy[i]) {
            free_strv(copy, i);
            if (!argv[i])
                return cps__error_set(err, CPS_STAGE_JOB, EINVAL, NULL, "argv[%zu] is NULL", i);
            return nomem(err, "argv");
        }
    }
    free_strv(job->argv, job->argc);
    job->argv = copy;
    job->argc = argc;
    return 0;
}

CPS_API int cps_job_add_env(struct cps_job_spec *job, const char *name, const char *value,
                            struct cps_error *err)
{
    struct cps_env_pair *env;
    char *n, *v;

    if (!name || !value || name[0] == '\0' || strchr(name, '='))
        return cps__error_set(err, CPS_STAGE_JOB, EINVAL, NULL,
                              "environment name \"%s\" must be non-empty without '='",
                              name ? name : "(null)");
    if (job->envc >= CPS_MAX_ENV)
        return cps__error_set(err, CPS_STAGE_JOB, E2BIG, NULL, "more than %d environment variables",
                              CPS_MAX_ENV);
    env = realloc(job->env, (job->envc + 1) * sizeof(*env));
    if (!env)
        return nomem(err, "env");
    job->env = env;
    n = strdup(name);
    v = strdup(value);
    if (!n || !v) {
        free(n);
        free(v);
        return nomem(err, "env");
    }
    job->env[job->envc++] = (struct cps_env_pair){.name = n, .value = v};
    return 0;
}

CPS_API int cps_job_set_cwd(struct cps_job_spec *job, const char *path, struct cps_error *err)
{
    char *resolved;
    int r;

    if (!path || path[0] != '/')
        return cps__error_set(err, CPS_STAGE_JOB, EINVAL, NULL, "cwd \"%s\" must be absolute",
                              path ? path : "(null)");
    r = cps__path_resolve("/", path, &resolved, err);
    if (r < 0)
        return r;
    free(job->cwd);
    job->cwd = resolved;
    return 0;
}

CPS_API int cps_job_add_input(struct cps_job_spec *job, const char *host_path,
                              const char *sandbox_path, unsigned mode, struct cps_error *err)
{
    struct cps_spec_input *in;
    char *h, *s, *check;
    int r;

    if (!host_path || host_path[0] == '\0' || !sandbox_path)
        return cps__error_set(err, CPS_STAGE_JOB, EINVAL, NULL,
                              "input needs a host and a sandbox path");
    if (mode > 07777)
        return cps__error_set(err, CPS_STAGE_JOB, EINVAL, NULL, "input %s: mode %o is not a mode",
                              host_path, mode);
    if (job->inputc >= CPS_MAX_INPUTS)
        return cps__error_set(err, CPS_STAGE_JOB, E2BIG, NULL, "more than %d inputs",
                              CPS_MAX_INPUTS);
    /* Refuse ".." now rather than at run time; the cwd may still change. */
    r = cps__path_resolve("/", sandbox_path, &check, err);
    if (r < 0)
        return r;
    free(check);
    in = realloc(job->inputs, (job->inputc + 1) * sizeof(*in));
    if (!in)
        return nomem(err, "inputs");
    job->inputs = in;
    h = strdup(host_path);
    s = strdup(sandbox_path);
    if (!h || !s) {
        free(h);
        free(s);
        return nomem(err, "inputs");
    }
    job->inputs[job->inputc++] =
        (struct cps_spec_input){.host_path = h, .sandbox_path = s, .mode = mode};
    return 0;
}

CPS_API int cps_job_add_output(struct cps_job_spec *job, const char *path, struct cps_error *err)
{
    struct cps_spec_output *out;
    char *given, *name;
    int r;

    if (!path)
        return cps__error_set(err, CPS_STAGE_JOB, EINVAL, NULL, "output path is NULL");
    if (job->outputc >= CPS_MAX_OUTPUTS)
        return cps__error_set(err, CPS_STAGE_JOB, E2BIG, NULL, "more than %d outputs",
                              CPS_MAX_OUTPUTS);
    r = cps__path_output_name(path, &name, err);
    if (r < 0)
        return r;
    out = realloc(job->outputs, (job->outputc + 1) * sizeof(*out));
    given = strdup(path);
    if (!out || !given) {
        free(name);
        free(given);
        if (out)
            job->outputs = out;
        return nomem(err, "outputs");
    }
    job->outputs = out;
    job->outputs[job->outputc++] = (struct cps_spec_output){.given = given, .name = name};
    return 0;
}

CPS_API int cps_job_set_limit(struct cps_job_spec *job, enum cps_limit which, uint64_t value,
                              struct cps_error *err)
{
    struct cps_job_limits *l = &job->limits;

    switch (which) {
    case CPS_LIMIT_TIMEOUT_MS:
        l->timeout_ms = value;
        return 0;
    case CPS_LIMIT_MAX_OUTPUT_BYTES:
        l->max_output_bytes = value;
        return 0;
    case CPS_LIMIT_CPU_SECONDS:
        l->cpu_seconds = value;
        return 0;
    case CPS_LIMIT_ADDRESS_SPACE:
        l->address_space = value;
        return 0;
    case CPS_LIMIT_FILE_SIZE:
        l->file_size = value;
        return 0;
    case CPS_LIMIT_OPEN_FILES:
        l->open_files = value;
        return 0;
    case CPS_LIMIT_PROCESSES:
        l->processes = value;
        return 0;
    case CPS_LIMIT_TMP_BYTES:
        l->tmp_bytes = value;
        return 0;
    case CPS_LIMIT_SCRATCH_BYTES:
        l->scratch_bytes = value;
        return 0;
    }
    return cps__error_set(err, CPS_STAGE_JOB, EINVAL, NULL, "unknown limit %d", (int)which);
}

CPS_API int cps_job_set_backend(struct cps_job_spec *job, const char *backend,
                                struct cps_error *err)
{
    enum cps_backend b;

    if (!backend) {
        job->backend = 0;
        return 0;
    }
    if (cps__backend_parse(backend, strlen(backend), &b) < 0)
        return cps__error_set(err, CPS_STAGE_JOB, EINVAL, "valid backends: userns, bubblewrap",
                              "unknown sandbox backend \"%s\"", backend);
    job->backend = b;
    return 0;
}

CPS_API int cps_job_set_overlay(struct cps_job_spec *job, const char *overlay,
                                struct cps_error *err)
{
    enum cps_overlay o;

    if (!overlay || cps__overlay_parse(overlay, strlen(overlay), &o) < 0)
        return cps__error_set(err, CPS_STAGE_JOB, EINVAL,
                              "valid overlay modes: auto, native, fuse, bind",
                              "unknown overlay mode \"%s\"", overlay ? overlay : "(null)");
    job->overlay = o;
    return 0;
}

CPS_API void cps_job_set_uid(struct cps_job_spec *job, uint32_t uid)
{
    job->has_uid = true;
    job->uid = uid;
}

CPS_API void cps_job_set_gid(struct cps_job_spec *job, uint32_t gid)
{
    job->has_gid = true;
    job->gid = gid;
}

CPS_API void cps_job_set_seccomp(struct cps_job_spec *job, bool on)
{
    job->has_seccomp = true;
    job->seccomp = on;
}

void cps__wire_job_free(struct cps_wire_job *w)
{
    if (w->input_paths)
        free_strv(w->input_paths, w->job.inputc);
    if (w->output_paths)
        free_strv(w->output_paths, w->job.outputc);
    free(w->decl);
    free(w->toolchain);
    free(w->input_dev);
    free(w->input_ino);
    memset(w, 0, sizeof(*w));
}

/* stat the inputs: sizes go into the job frame, identities are checked when the
 * files are opened for sending (a file replaced in between would otherwise send
 * a different size than declared). */
static int stat_inputs(const struct cps_job_spec *spec, struct cps_wire_job *w,
                       struct cps_error *err)
{
    for (size_t i = 0; i < spec->inputc; i++) {
        const char *host = spec->inputs[i].host_path;
        struct stat st;

        if (stat(host, &st) < 0)
            return cps__error_set(err, CPS_STAGE_INPUT, errno, NULL, "stat input %s: %s", host,
                                  cps__errtext(errno));
        if (!S_ISREG(st.st_mode))
            return cps__error_set(err, CPS_STAGE_INPUT, EINVAL, NULL,
                                  "input %s is not a regular file", host);
        w->decl[i].size = (uint64_t)st.st_size;
        w->input_dev[i] = st.st_dev;
        w->input_ino[i] = st.st_ino;
        w->bytes_in += (uint64_t)st.st_size;
    }
    return 0;
}

int cps__wire_job_build(const struct cps_job_spec *spec, const char *build_dir,
                        struct cps_wire_job *w, struct cps_error *err)
{
    struct cps_job *j = &w->job;
    int r;

    memset(w, 0, sizeof(*w));
    if (!spec->toolchain)
        return cps__error_set(err, CPS_STAGE_JOB, EINVAL, "set a toolchain dir",
                              "the job has no toolchain");
    if (spec->argc == 0)
        return cps__error_set(err, CPS_STAGE_JOB, EINVAL, "set a command", "the job has no argv");
    w->input_paths = calloc(spec->inputc + 1, sizeof(char *));
    w->output_paths = calloc(spec->outputc + 1, sizeof(char *));
    w->decl = calloc(spec->inputc + 1, sizeof(*w->decl));
    w->input_dev = calloc(spec->inputc + 1, sizeof(*w->input_dev));
    w->input_ino = calloc(spec->inputc + 1, sizeof(*w->input_ino));
    j->inputc = spec->inputc;
    j->outputc = spec->outputc;
    if (!w->input_paths || !w->output_paths || !w->decl || !w->input_dev || !w->input_ino) {
        cps__wire_job_free(w);
        return nomem(err, "the job");
    }
    for (size_t i = 0; i < spec->inputc; i++) {
        char *path;

        r = cps__path_resolve(spec->cwd, spec->inputs[i].sandbox_path, &path, err);
        if (r < 0)
            goto fail;
        w->input_paths[i] = path;
        w->decl[i].path = path;
        w->decl[i].mode = spec->inputs[i].mode;
    }
    for (size_t i = 0; i < spec->outputc; i++) {
        char *path;

        r = cps__path_resolve(spec->cwd, spec->outputs[i].given, &path, err);
        if (r < 0)
            goto fail;
        w->output_paths[i] = path;
    }
    r = stat_inputs(spec, w, err);
    if (r < 0)
        goto fail;
    /* The wire wants an absolute normalized path; realpath(3) also tells early
     * (and in the caller's terms) that the toolchain does not exist. */
    w->toolchain = realpath(spec->toolchain, NULL);
    if (!w->toolchain) {
        r = cps__error_set(err, CPS_STAGE_JOB, errno,
                           "package a compiler with cachepot-dist-toolchain",
                           "toolchain dir %s: %s", spec->toolchain, cps__errtext(errno));
        goto fail;
    }
    j->toolchain = w->toolchain;
    j->build_dir = (char *)(uintptr_t)build_dir;
    j->argv = spec->argv;
    j->argc = spec->argc;
    j->env = spec->env;
    j->envc = spec->envc;
    j->cwd = spec->cwd;
    j->outputs = w->output_paths;
    j->inputs = w->decl;
    j->backend = spec->backend;
    j->overlay = spec->overlay;
    j->has_uid = spec->has_uid;
    j->uid = spec->uid;
    j->has_gid = spec->has_gid;
    j->gid = spec->gid;
    j->has_seccomp = spec->has_seccomp;
    j->seccomp = spec->seccomp;
    j->limits = spec->limits;
    return 0;
fail:
    cps__wire_job_free(w);
    return r;
}
