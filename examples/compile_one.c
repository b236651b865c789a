/*
 * compile_one.c - the smallest worker: compile one preprocessed file in the
 * sandbox with libcachepot-sandbox and write the object next to it.
 *
 *   compile_one TOOLCHAIN_DIR in.i out.o
 *
 * The README quotes this file; CMake builds it so that it keeps compiling.
 */
#include <stdio.h>
#include <unistd.h>

#include "cachepot-sandbox.h"

static int print_stream(void *user, enum cps_stream_id id, const void *data, size_t len)
{
    (void)user;
    return fwrite(data, 1, len, id == CPS_STDOUT ? stdout : stderr) == len ? 0 : -1;
}

int main(int argc, char **argv)
{
    const char *cc[] = {"gcc", "-x", "cpp-output", "-c", "in.i", "-o", "out.o"};
    struct cps_job_spec *job = cps_job_new();
    struct cps_run_options *opts = cps_run_options_new();
    struct cps_result *res = NULL;
    struct cps_error err = {0};
    char cwd[4096];
    int rc;

    if (argc != 4 || !job || !opts || !getcwd(cwd, sizeof(cwd))) {
        fprintf(stderr, "usage: compile_one TOOLCHAIN_DIR in.i OUTDIR\n");
        return 2;
    }
    opts->on_stream = print_stream;
    opts->out_dir = argv[3]; /* out.o lands in OUTDIR/build/out.o */
    if ((rc = cps_job_set_toolchain(job, argv[1], &err)) < 0 ||
        (rc = cps_job_set_cwd(job, "/build", &err)) < 0 ||
        (rc = cps_job_add_input(job, argv[2], "in.i", 0644, &err)) < 0 ||
        (rc = cps_job_add_output(job, "/build/out.o", &err)) < 0 ||
        (rc = cps_job_add_env(job, "PATH", "/usr/bin:/bin", &err)) < 0 ||
        (rc = cps_job_set_argv(job, sizeof(cc) / sizeof(cc[0]), cc, &err)) < 0 ||
        (rc = cps_run(job, opts, &res, &err)) < 0) {
        fprintf(stderr, "sandbox failed at stage %s: %s\n%s%s\n", err.stage, err.message,
                err.hint[0] ? "hint: " : "", err.hint);
        rc = 125;
    } else {
        printf("gcc exited %d in %.1f ms (backend %s, overlay %s)\n", res->exit_code,
               res->wall_us / 1000.0, res->backend, res->overlay);
        rc = res->signal ? 128 + res->signal : res->exit_code;
    }
    cps_result_free(res);
    cps_run_options_free(opts);
    cps_job_free(job);
    return rc;
}
