/* inputs.c - input files and job directories inside the root. */
#include "inputs.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "log.h"
#include "rootpath.h"
#include "parent_session.h"

/* Open (create or truncate) the file of decl in the root. Returns fd or -errno. */
static int open_input(int root_fd, const struct cps_input_decl *decl, struct cps_error *err)
{
    char parent[PATH_MAX];
    const char *name;
    int dir, fd;

    if (cps__path_split(decl->path, parent, &name) < 0)
        return cps__error_set(err, CPS_STAGE_INPUTS, EINVAL, NULL, "input path %s names no file",
                              decl->path);
    dir = cps__root_mkdirs(root_fd, parent, CPS_STAGE_INPUTS, err);
    if (dir < 0)
        return dir;
    fd = cps__root_open(dir, name, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, 0600);
    close(dir);
    if (fd < 0)
        return cps__error_set(err, CPS_STAGE_INPUTS, -fd, NULL, "creating input %s: %s%s",
                              decl->path, strerror(-fd),
                              fd == -ELOOP ? " (a symlink is there; it is never followed)" : "");
    return fd;
}

static int write_all(int fd, const uint8_t *data, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

static int receive_one(int sock, int sigfd, int fd, const struct cps_input_decl *decl,
                       struct cps_error *err)
{
    uint64_t have = 0;
    struct cps_msg m;
    bool end = false;
    int rc;

    while (!end) {
        rc = cps__session_read(sock, sigfd, CPS_MSG_INPUT, &m, NULL, NULL, err);
        if (rc < 0)
            return rc;
        if (strcmp(m.u.input.path, decl->path) != 0) {
            rc = cps__error_set(err, CPS_STAGE_PROTOCOL, EPROTO, NULL,
                                "input frame for %s while %s was expected", m.u.input.path,
                                decl->path);
        } else if (m.u.input.data_len > decl->size - have) {
            rc = cps__error_set(err, CPS_STAGE_PROTOCOL, EPROTO, NULL,
                                "input %s: more than its declared %llu bytes", decl->path,
                                (unsigned long long)decl->size);
        } else {
            rc = write_all(fd, m.u.input.data, m.u.input.data_len);
            if (rc < 0)
                rc = cps__error_set(err, CPS_STAGE_INPUTS, -rc,
                                    rc == -ENOSPC || rc == -EDQUOT
                                        ? "the inputs do not fit the job's scratch space: raise "
                                          "limits.scratch_bytes, or use CACHEPOT_SCRATCH=disk"
                                        : NULL,
                                    "writing input %s: %s", decl->path, strerror(-rc));
            have += m.u.input.data_len;
            end = m.u.input.end;
        }
        cps__msg_free(&m);
        if (rc < 0)
            return rc;
    }
    if (have != decl->size)
        return cps__error_set(err, CPS_STAGE_PROTOCOL, EPROTO, NULL,
                              "input %s: %llu bytes, declared %llu", decl->path,
                              (unsigned long long)have, (unsigned long long)decl->size);
    /* The mode is exactly the job's, not reduced by the umask. */
    if (fchmod(fd, decl->mode & 07777) < 0)
        return cps__error_set(err, CPS_STAGE_INPUTS, errno, NULL, "chmod %04o %s",
                              (unsigned)decl->mode, decl->path);
    return 0;
}

int cps__inputs_receive(int sock, int sigfd, int root_fd, const struct cps_job *job,
                        struct cps_error *err)
{
    for (size_t i = 0; i < job->inputc; i++) {
        int fd = open_input(root_fd, &job->inputs[i], err);
        int rc;

        if (fd < 0)
            return fd;
        rc = receive_one(sock, sigfd, fd, &job->inputs[i], err);
        if (close(fd) < 0 && rc == 0)
            rc = cps__error_set(err, CPS_STAGE_INPUTS, errno, NULL, "closing input %s",
                                job->inputs[i].path);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int cps__inputs_make_dirs(int root_fd, const struct cps_job *job, struct cps_error *err)
{
    char parent[PATH_MAX];
    const char *name;
    int fd;

    fd = cps__root_mkdirs(root_fd, job->cwd, CPS_STAGE_INPUTS, err);
    if (fd < 0)
        return fd;
    close(fd);
    /* An output's directory is made so that the compiler can write there,
     * but an output is only a request: when its directory cannot exist in
     * the job's view (a symlink on the way, never followed; a component that
     * is a file; a read-only toolchain dir, /proc) the job runs anyway and the
     * output is "missing" (outputs_send.c finds nothing there either). Only a
     * fault of the worker (ENOSPC of the scratch, EIO, ...) fails the job. */
    for (size_t i = 0; i < job->outputc; i++) {
        if (cps__path_split(job->outputs[i], parent, &name) < 0)
            continue;
        fd = cps__root_mkdirs(root_fd, parent, CPS_STAGE_INPUTS, err);
        if (fd < 0 && cps__root_errno_is_view(-fd)) {
            cps__log_debug("output %s: its directory cannot be made (%s): it will be missing",
                           job->outputs[i], err->message);
            continue;
        }
        if (fd < 0)
            return fd;
        close(fd);
    }
    return 0;
}
