/* output_sink.c - receiving output files: callbacks or the out-dir writer. */
#include "output_sink.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "errtext.h"
#include "error.h"

int cps__output_sink_init(struct cps_output_sink *s, const struct cps_job_spec *spec,
                          const struct cps_wire_job *wire, const struct cps_run_options *opts,
                          struct cps_error *err)
{
    memset(s, 0, sizeof(*s));
    s->spec = spec;
    s->wire = wire;
    s->opts = opts;
    s->dirfd = -1;
    s->fd = -1;
    if (!opts->on_output && opts->out_dir && spec->outputc > 0) {
        s->dirfd = open(opts->out_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (s->dirfd < 0)
            return cps__error_set(err, CPS_STAGE_OUTPUT, errno, "create the out dir first",
                                  "open out dir %s: %s", opts->out_dir, cps__errtext(errno));
    }
    return 0;
}

/*
 * Walk to the directory holding the last component of path (a writable copy,
 * relative, normalized, no "..": see cps__path_output_name) below dirfd,
 * opening every directory with O_NOFOLLOW so that a symlink planted in the out
 * dir cannot lead the write elsewhere. create: make missing directories.
 * Returns a new fd (or dirfd itself) and *leaf, or -errno.
 */
static int walk_to_parent(int dirfd, char *path, bool create, const char **leaf)
{
    char *p = path, *slash;
    int dfd = dirfd;

    while ((slash = strchr(p, '/'))) {
        int next;
        *slash = '\0';
        if (create && mkdirat(dfd, p, 0755) < 0 && errno != EEXIST)
            next = -1;
        else
            next = openat(dfd, p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (next < 0) {
            int e = errno;
            if (dfd != dirfd)
                close(dfd);
            return -e;
        }
        if (dfd != dirfd)
            close(dfd);
        dfd = next;
        p = slash + 1;
    }
    *leaf = p;
    return dfd;
}

/* Create name below dirfd. The file is created with O_EXCL after unlinking
 * what was there, so neither a symlink nor a hard link redirects the write. */
static int open_below(int dirfd, const char *name, unsigned mode)
{
    cps_cleanup_free char *copy = strdup(name);
    const char *leaf = NULL;
    int dfd, fd;

    if (!copy)
        return -ENOMEM;
    dfd = walk_to_parent(dirfd, copy, true, &leaf);
    if (dfd < 0)
        return dfd;
    if (unlinkat(dfd, leaf, 0) < 0 && errno != ENOENT)
        fd = -errno;
    else if ((fd = openat(dfd, leaf, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                          mode & 0777)) < 0)
        fd = -errno;
    if (dfd != dirfd)
        close(dfd);
    return fd;
}

static void remove_below(int dirfd, const char *name)
{
    cps_cleanup_free char *copy = strdup(name);
    const char *leaf = NULL;
    int dfd;

    if (!copy)
        return;
    dfd = walk_to_parent(dirfd, copy, false, &leaf);
    if (dfd >= 0) {
        unlinkat(dfd, leaf, 0);
        if (dfd != dirfd)
            close(dfd);
    }
}

static int write_all(int fd, const uint8_t *data, size_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, data, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        data += w;
        len -= (size_t)w;
    }
    return 0;
}

static int protocol_error(struct cps_error *err, const char *what, const char *path)
{
    return cps__error_set(err, CPS_STAGE_PROTOCOL, EPROTO, NULL, "helper sent output %s %s", path,
                          what);
}

static int begin_file(struct cps_output_sink *s, const struct cps_output *o, struct cps_error *err)
{
    const struct cps_spec_output *spec_out = &s->spec->outputs[s->idx];

    s->in_file = true;
    s->size = o->size;
    s->got = 0;
    s->mode = o->mode;
    if (s->dirfd < 0)
        return 0;
    s->fd = open_below(s->dirfd, spec_out->name, o->mode);
    if (s->fd < 0)
        return cps__error_set(err, CPS_STAGE_OUTPUT, -s->fd, NULL, "create %s/%s: %s",
                              s->opts->out_dir, spec_out->name, cps__errtext(-s->fd));
    return 0;
}

static int deliver(struct cps_output_sink *s, const struct cps_output *o, struct cps_error *err)
{
    const struct cps_spec_output *spec_out = &s->spec->outputs[s->idx];

    if (s->opts->on_output) {
        if (s->opts->on_output(s->opts->user, spec_out->given, s->mode, s->size, o->data,
                               o->data_len, o->end) != 0)
            return cps__error_set(err, CPS_STAGE_CALLBACK, ECANCELED, NULL,
                                  "the output callback refused %s", spec_out->given);
    } else if (s->fd >= 0) {
        int r = write_all(s->fd, o->data, o->data_len);
        if (r < 0)
            return cps__error_set(err, CPS_STAGE_OUTPUT, -r, NULL, "write %s/%s: %s",
                                  s->opts->out_dir, spec_out->name, cps__errtext(-r));
    }
    return 0;
}

static int end_file(struct cps_output_sink *s, struct cps_error *err)
{
    const struct cps_spec_output *spec_out = &s->spec->outputs[s->idx];

    if (s->fd >= 0) {
        int r = close(s->fd);
        s->fd = -1;
        if (r < 0)
            return cps__error_set(err, CPS_STAGE_OUTPUT, errno, NULL, "close %s/%s: %s",
                                  s->opts->out_dir, spec_out->name, cps__errtext(errno));
    }
    s->in_file = false;
    s->received++;
    s->idx++;
    return 0;
}

int cps__output_sink_frame(struct cps_output_sink *s, const struct cps_output *o,
                           struct cps_error *err)
{
    int r;

    if (s->idx >= s->wire->job.outputc)
        return protocol_error(err, "that was not requested (or twice)", o->path);
    if (strcmp(o->path, s->wire->output_paths[s->idx]) != 0)
        return protocol_error(err, "out of order", o->path);
    if (o->missing) {
        if (s->in_file)
            return protocol_error(err, "as missing after sending part of it", o->path);
        s->missing++;
        s->idx++;
        if (s->opts->on_missing &&
            s->opts->on_missing(s->opts->user, s->spec->outputs[s->idx - 1].given) != 0)
            return cps__error_set(err, CPS_STAGE_CALLBACK, ECANCELED, NULL,
                                  "the missing-output callback refused %s", o->path);
        return 0;
    }
    if (!s->in_file) {
        r = begin_file(s, o, err);
        if (r < 0)
            return r;
    } else if (o->size != s->size) {
        return protocol_error(err, "with a size that changed between chunks", o->path);
    }
    if (o->data_len > s->size - s->got)
        return protocol_error(err, "with more bytes than its size", o->path);
    s->got += o->data_len;
    s->bytes += o->data_len;
    if (o->end && s->got != s->size)
        return protocol_error(err, "with fewer bytes than its size", o->path);
    r = deliver(s, o, err);
    if (r < 0)
        return r;
    return o->end ? end_file(s, err) : 0;
}

void cps__output_sink_close(struct cps_output_sink *s)
{
    if (s->fd >= 0) {
        close(s->fd);
        s->fd = -1;
        /* Never leave a truncated file that looks like a result. */
        if (s->dirfd >= 0 && s->idx < s->spec->outputc)
            remove_below(s->dirfd, s->spec->outputs[s->idx].name);
    }
    if (s->dirfd >= 0)
        close(s->dirfd);
    s->dirfd = -1;
}
