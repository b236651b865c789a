/* outputs_send.c - output files from the root to the peer. */
#include "outputs_send.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "error.h"
#include "frame.h"
#include "log.h"
#include "proto_stream.h"
#include "rootpath.h"

static int send_missing(int sock, const char *path, struct cps_error *err)
{
    struct cps_msg m;

    memset(&m, 0, sizeof(m));
    m.type = CPS_MSG_OUTPUT;
    m.u.output.path = path;
    m.u.output.missing = true;
    return cps__msg_send(sock, &m, err);
}

/*
 * A chunk's data goes from the file into the socket with sendfile(2): no
 * buffer in O and no copy through it (the job's writable layer is a tmpfs or
 * overlay, whose pages the kernel hands to the AF_UNIX socket by reference).
 * Only the CBOR around the data is written here.
 */
static int send_chunk(int sock, int fd, const struct cps_msg *m, struct cps_data_frame *f,
                      struct cps_error *err)
{
    const struct cps_output *o = &m->u.output;
    struct iovec head, tail;
    size_t got;
    int rc = cps__data_frame_encode(m, f, err);

    if (rc < 0)
        return rc;
    head = (struct iovec){.iov_base = f->head, .iov_len = f->head_len};
    rc = cps__frame_write_spliced(sock, f->tail_len, &head, 1, fd, false, o->data_len, &got, err);
    if (rc < 0)
        return rc;
    if (got < o->data_len) {
        /* The file shrank under us (only a process still writing to the
         * root could do that) or could not be read. Zeros completed the
         * frame; "end: false" keeps the parent from taking it as the file's
         * last chunk, and the error that follows ends the job. */
        struct cps_msg not_last = *m;
        char why[sizeof(err->message)];

        snprintf(why, sizeof(why), "%s", err->message);
        not_last.u.output.end = false;
        rc = cps__data_frame_encode(&not_last, f, err);
        tail = (struct iovec){.iov_base = f->tail, .iov_len = f->tail_len};
        if (rc == 0)
            rc = cps__frame_write_rest(sock, &tail, 1, err);
        if (rc < 0)
            return rc;
        return cps__error_set(err, CPS_STAGE_OUTPUTS, EIO, NULL,
                              "output %s shrank or could not be read while it was sent (%s)",
                              o->path, why);
    }
    tail = (struct iovec){.iov_base = f->tail, .iov_len = f->tail_len};
    return cps__frame_write_rest(sock, &tail, 1, err);
}

static int send_file(int sock, int fd, const char *path, const struct stat *st,
                     struct cps_data_frame *f, struct cps_error *err)
{
    /* The encoder checks a chunk's data pointer but reads only its length:
     * the bytes themselves come from the file. */
    static uint8_t from_file;
    uint64_t size = (uint64_t)st->st_size, sent = 0;
    struct cps_msg m;
    int flags, rc;

    memset(&m, 0, sizeof(m));
    m.type = CPS_MSG_OUTPUT;
    m.u.output.path = path;
    m.u.output.mode = st->st_mode & 07777;
    m.u.output.size = size;
    m.u.output.data = &from_file;
    /* O_NONBLOCK was for opening (a FIFO must not block); a regular file
     * read without it never gives EAGAIN to sendfile. The file is read once,
     * front to back: ask for the largest readahead (posix_fadvise(2), advice
     * only). */
    flags = fcntl(fd, F_GETFL);
    if (flags >= 0)
        fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
    posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    do {
        m.u.output.data_len = size - sent < CPS_MAX_CHUNK ? (size_t)(size - sent) : CPS_MAX_CHUNK;
        m.u.output.end = sent + m.u.output.data_len == size;
        rc = send_chunk(sock, fd, &m, f, err);
        if (rc < 0)
            return rc;
        sent += m.u.output.data_len;
    } while (sent < size);
    return 0;
}

int cps__outputs_send(int sock, int root_fd, const struct cps_job *job, uint64_t *budget,
                      struct cps_error *err)
{
    struct cps_data_frame *f = malloc(sizeof(*f));
    int rc = 0;

    if (f == NULL)
        return cps__error_set(err, CPS_STAGE_OUTPUTS, ENOMEM, NULL, "output buffer");
    for (size_t i = 0; i < job->outputc && rc == 0; i++) {
        const char *path = job->outputs[i];
        struct stat st;
        int fd = cps__root_open(root_fd, path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK, 0);

        if (fd < 0 && !cps__root_errno_is_view(-fd)) {
            rc = cps__error_set(err, CPS_STAGE_OUTPUTS, -fd, NULL, "opening output %s: %s", path,
                                strerror(-fd));
            break;
        }
        if (fd < 0) {
            cps__log_debug("output %s missing: %s", path, strerror(-fd));
            rc = send_missing(sock, path, err);
            continue;
        }
        if (fstat(fd, &st) < 0) {
            rc = cps__error_set(err, CPS_STAGE_OUTPUTS, errno, NULL, "fstat of output %s", path);
            close(fd);
            break;
        }
        if (!S_ISREG(st.st_mode)) {
            cps__log_debug("output %s missing: not a regular file", path);
            close(fd);
            rc = send_missing(sock, path, err);
            continue;
        }
        if ((uint64_t)st.st_size > *budget) {
            close(fd);
            rc = cps__error_set(err, CPS_STAGE_OUTPUTS, EFBIG, "raise limits.max_output_bytes",
                                "output %s (%llu bytes) exceeds what is left of "
                                "max_output_bytes (%llu bytes)",
                                path, (unsigned long long)st.st_size, (unsigned long long)*budget);
            break;
        }
        *budget -= (uint64_t)st.st_size;
        rc = send_file(sock, fd, path, &st, f, err);
        close(fd);
    }
    free(f);
    return rc;
}
