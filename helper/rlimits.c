/* rlimits.c - limit defaults and setrlimit for the compiler child. */
#include "rlimits.h"

#include <errno.h>
#include <sys/resource.h>

#include "error.h"
#include "log.h"

static void clamp(uint64_t *v, uint64_t max, const char *key)
{
    if (*v > max) {
        cps__log_info("limits.%s %llu is above the most the kernel takes, %llu: using %llu", key,
                      (unsigned long long)*v, (unsigned long long)max, (unsigned long long)max);
        *v = max;
    }
}

void cps__limits_resolve(const struct cps_job_limits *in, struct cps_job_limits *out)
{
    *out = *in;
    if (out->timeout_ms == 0)
        out->timeout_ms = CPS_DEFAULT_TIMEOUT_MS;
    if (out->max_output_bytes == 0)
        out->max_output_bytes = CPS_DEFAULT_MAX_OUTPUT_BYTES;
    /* CPU time cannot usefully exceed the wall clock of a single-threaded
     * compiler; the timeout is the real bound, this catches a busy loop in a
     * multi-threaded one a little earlier. */
    if (out->cpu_seconds == 0)
        out->cpu_seconds = out->timeout_ms / 1000 + (out->timeout_ms % 1000 != 0);
    if (out->file_size == 0)
        out->file_size = CPS_DEFAULT_FILE_SIZE;
    if (out->open_files == 0)
        out->open_files = CPS_DEFAULT_OPEN_FILES;
    if (out->processes == 0)
        out->processes = CPS_DEFAULT_PROCESSES;
    if (out->tmp_bytes == 0)
        out->tmp_bytes = CPS_DEFAULT_TMP_BYTES;
    if (out->scratch_bytes == 0)
        out->scratch_bytes = CPS_DEFAULT_SCRATCH_BYTES;
    clamp(&out->processes, CPS_MAX_PROCESSES, "processes");
    clamp(&out->tmp_bytes, CPS_MAX_TMPFS_BYTES, "tmp_bytes");
    clamp(&out->scratch_bytes, CPS_MAX_TMPFS_BYTES, "scratch_bytes");
}

static int set(int resource, const char *name, rlim_t soft, rlim_t hard, struct cps_error *err)
{
    struct rlimit r = {.rlim_cur = soft, .rlim_max = hard};
    struct rlimit cur;

    /* Never raise a hard limit the helper was started with: lowering is
     * always allowed, raising needs CAP_SYS_RESOURCE in the initial namespace. */
    if (getrlimit(resource, &cur) == 0 && cur.rlim_max != RLIM_INFINITY) {
        if (r.rlim_max > cur.rlim_max)
            r.rlim_max = cur.rlim_max;
        if (r.rlim_cur > r.rlim_max)
            r.rlim_cur = r.rlim_max;
    }
    if (setrlimit(resource, &r) < 0)
        return cps__error_set(err, CPS_STAGE_RLIMITS, errno, NULL, "setrlimit(%s, %llu)", name,
                              (unsigned long long)soft);
    return 0;
}

int cps__rlimits_apply(const struct cps_job_limits *l, struct cps_error *err)
{
    rlim_t as = l->address_space ? (rlim_t)l->address_space : RLIM_INFINITY;
    rlim_t cpu = (rlim_t)l->cpu_seconds;
    int rc;

    /* Soft CPU limit sends SIGXCPU, the hard one a second later SIGKILL. */
    rc = set(RLIMIT_CPU, "RLIMIT_CPU", cpu, cpu == RLIM_INFINITY ? cpu : cpu + 1, err);
    if (rc == 0)
        rc = set(RLIMIT_AS, "RLIMIT_AS", as, as, err);
    if (rc == 0)
        rc = set(RLIMIT_FSIZE, "RLIMIT_FSIZE", (rlim_t)l->file_size, (rlim_t)l->file_size, err);
    if (rc == 0)
        rc = set(RLIMIT_NOFILE, "RLIMIT_NOFILE", (rlim_t)l->open_files, (rlim_t)l->open_files, err);
    if (rc == 0)
        rc = set(RLIMIT_NPROC, "RLIMIT_NPROC", (rlim_t)l->processes, (rlim_t)l->processes, err);
    /* No core dumps: they would land in the job's cwd and count as its writes. */
    if (rc == 0)
        rc = set(RLIMIT_CORE, "RLIMIT_CORE", 0, 0, err);
    return rc;
}
