/* writeback.c - writing the sandbox's outputs to distccd's temp files. */
#include "writeback.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "error.h"

int cpd_writeback_init(struct cpd_writeback *wb, const struct cpd_jobfiles *jf,
                       struct cps_job_spec *job, struct cps_error *err)
{
    int r;

    memset(wb, 0, sizeof *wb);
    wb->fd = -1;
    wb->files[wb->count++] = &jf->object;
    if (jf->deps.host)
        wb->files[wb->count++] = &jf->deps;
    for (size_t i = 0; i < wb->count; i++)
        if ((r = cps_job_add_output(job, wb->files[i]->sandbox, err)) < 0)
            return r;
    return 0;
}

/* The library names an output as it was given; compare without leading '/'
 * so that either spelling of the absolute path matches. */
static const struct cpd_path_pair *find(const struct cpd_writeback *wb, const char *path)
{
    path += strspn(path, "/");
    for (size_t i = 0; i < wb->count; i++) {
        const char *s = wb->files[i]->sandbox;
        if (strcmp(s + strspn(s, "/"), path) == 0)
            return wb->files[i];
    }
    return NULL;
}

static int fail(struct cpd_writeback *wb, int e, const char *what, const char *path)
{
    cpd_fail(&wb->err, "outputs", e, NULL, "%s %s", what, path);
    wb->failed = 1;
    cpd_writeback_close(wb);
    return -1;
}

int cpd_writeback_output(void *user, const char *path, unsigned mode, uint64_t size,
                         const void *data, size_t len, bool last)
{
    struct cpd_writeback *wb = user;
    const struct cpd_path_pair *f = find(wb, path);
    const char *p = data;

    if (!f)
        return fail(wb, EPROTO, "unexpected output", path);
    if (wb->fd < 0) {
        /* distccd created the object (O_EXCL, 0600) and reads it after we exit;
         * it removed the deps file before the job, so that one is created. */
        wb->fd = open(f->host, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (wb->fd < 0)
            return fail(wb, errno, "opening", f->host);
    }
    while (len > 0) {
        ssize_t w = write(wb->fd, p, len);

        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return fail(wb, errno, "writing", f->host);
        p += w;
        len -= (size_t)w;
    }
    if (last) {
        int fd = wb->fd;

        wb->fd = -1;
        if (close(fd) < 0)
            return fail(wb, errno, "closing", f->host);
    }
    return 0;
}

void cpd_writeback_close(struct cpd_writeback *wb)
{
    if (wb->fd >= 0)
        close(wb->fd);
    wb->fd = -1;
}
