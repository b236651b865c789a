/* job_paths.c - refusing sandbox paths hidden by the job's own mounts. */
#include "job_paths.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "error.h"

static const char *const mounted[] = {"/proc", "/dev", "/tmp"};

#define HINT                                                                                       \
    "put the job's cwd and inputs outside /proc, /dev and /tmp (e.g. below /build); the "          \
    "sandbox mounts fresh ones there"

/* The mount point path is at or below (at_ok: strictly below), or NULL. */
static const char *hidden_by(const char *path, bool at_ok)
{
    for (size_t i = 0; i < sizeof(mounted) / sizeof(mounted[0]); i++) {
        size_t n = strlen(mounted[i]);

        if (strncmp(path, mounted[i], n) != 0)
            continue;
        if (path[n] == '/' || (path[n] == '\0' && !at_ok))
            return mounted[i];
    }
    return NULL;
}

int cps__job_paths_check(const struct cps_job *job, struct cps_error *err)
{
    const char *m;

    if ((m = hidden_by(job->cwd, true)) != NULL)
        return cps__error_set(err, CPS_STAGE_JOB, EINVAL, HINT,
                              "cwd %s is below %s, which the sandbox mounts over the root after "
                              "making the cwd: the job could not enter it",
                              job->cwd, m);
    for (size_t i = 0; i < job->inputc; i++)
        if ((m = hidden_by(job->inputs[i].path, false)) != NULL)
            return cps__error_set(err, CPS_STAGE_JOB, EINVAL, HINT,
                                  "input %s is in %s, which the sandbox mounts over the root after "
                                  "writing the inputs: the job would not see it",
                                  job->inputs[i].path, m);
    return 0;
}
