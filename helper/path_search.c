/* path_search.c - argv[0] looked up in the job's PATH, for both backends. */
#include "path_search.h"

#include <errno.h>
#include <linux/limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "error.h"

/* Append "path (strerror(e))" to msg (size bytes, ", "-separated) for the
 * "tried ..." list of an exec failure; stops adding once msg is full. */
static void note_tried(char *msg, size_t size, const char *path, int e)
{
    size_t len = strlen(msg);

    if (len + 1 >= size)
        return;
    snprintf(msg + len, size - len, "%s%s (%s)", len ? ", " : "", path, strerror(e));
}

static const char *job_path(const struct cps_job *job)
{
    const char *value = NULL;

    for (size_t i = 0; i < job->envc; i++)
        if (strcmp(job->env[i].name, "PATH") == 0)
            value = job->env[i].value;
    return value;
}

int cps__path_search(const struct cps_job *job, cps_path_try_fn try, void *arg,
                     struct cps_error *err)
{
    char tried[CPS_ERROR_MESSAGE_MAX - 128] = "", full[PATH_MAX];
    const char *name = job->argv[0], *path_env = job_path(job), *p;
    bool eacces = false;
    int rc;

    if (strchr(name, '/') != NULL) {
        rc = try(name, arg);
        if (rc == 0)
            return 0;
        note_tried(tried, sizeof(tried), name, -rc);
        return cps__error_set(err, CPS_STAGE_EXEC, -rc,
                              "check argv[0] and the toolchain's contents",
                              "exec %s failed: tried %s", name, tried);
    }
    p = path_env != NULL ? path_env : CPS_EXEC_DEFAULT_PATH;
    for (;;) {
        const char *end = strchrnul(p, ':');
        int len = (int)(end - p);

        /* An empty PATH element means the current directory (POSIX). */
        if (len == 0)
            snprintf(full, sizeof(full), "%s", name);
        else
            snprintf(full, sizeof(full), "%.*s/%s", len, p, name);
        rc = try(full, arg);
        if (rc == 0)
            return 0;
        note_tried(tried, sizeof(tried), full, -rc);
        if (rc == -EACCES)
            eacces = true;
        else if (rc != -ENOENT && rc != -ENOTDIR)
            break;
        if (*end == '\0')
            break;
        p = end + 1;
    }
    if (eacces && (rc == -ENOENT || rc == -ENOTDIR))
        rc = -EACCES;
    return cps__error_set(err, CPS_STAGE_EXEC, -rc,
                          "set PATH in the job's environment, or give argv[0] as an absolute path",
                          "exec %s failed with PATH=%s%s: tried %s", name,
                          path_env != NULL ? path_env : CPS_EXEC_DEFAULT_PATH,
                          path_env != NULL ? "" : " (the job has no PATH; default)", tried);
}
