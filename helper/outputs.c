/* outputs.c - output files from the root to the peer. */
#include "outputs.h"

#include <errno.h>
#include <fcntl.h>
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

/* What a file's chunks reuse: the read buffer and the CBOR around it, so a
 * chunk costs a read and a sendmsg, no allocation and no copy in O. */
struct chunker {
    uint8_t buf[CPS_MAX_CHUNK];
    struct cps_data_frame frame;
};

static int send_missing(int sock, char *path, struct cps_error *err)
{
    struct cps_msg m;

    memset(&m, 0, sizeof(m));
    m.type = CPS_MSG_OUTPUT;
    m.u.output.path = path;
    m.u.output.missing = true;
    return cps__msg_send(sock, &m, err);
}

static int send_chunk(int sock, struct chunker *c, const struct cps_msg *m, struct cps_error *err)
{
    struct iovec parts[3];
    int rc = cps__data_frame_encode(m, &c->frame, err);

    if (rc < 0)
        return rc;
    parts[0] = (struct iovec){.iov_base = c->frame.head, .iov_len = c->frame.head_len};
    parts[1] = (struct iovec){.iov_base = c->buf, .iov_len = m->u.output.data_len};
    parts[2] = (struct iovec){.iov_base = c->frame.tail, .iov_len = c->frame.tail_len};
    return cps__frame_writev(sock, parts, 3, err);
}

static int send_file(int sock, int fd, char *path, const struct stat *st, struct chunker *c,
                     struct cps_error *err)
{
    uint64_t size = (uint64_t)st->st_size, sent = 0;
    uint8_t *buf = c->buf;
    struct cps_msg m;
    int rc;

    memset(&m, 0, sizeof(m));
    m.type = CPS_MSG_OUTPUT;
    m.u.output.path = path;
    m.u.output.mode = st->st_mode & 07777;
    m.u.output.size = size;
    m.u.output.data = buf;
    /* The file is read once, front to back: ask for the largest readahead
     * (posix_fadvise(2)); advice only, so its failure does not matter. */
    posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    do {
        size_t want = size - sent < CPS_MAX_CHUNK ? (size_t)(size - sent) : CPS_MAX_CHUNK;
        size_t have = 0;

        while (have < want) {
            ssize_t n = read(fd, buf + have, want - have);

            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0)
                return cps__error_set(err, "outputs", errno, NULL, "reading output %s", path);
            if (n == 0)
                return cps__error_set(err, "outputs", EIO, NULL,
                                      "output %s shrank while it was read (%llu of %llu bytes)",
                                      path, (unsigned long long)(sent + have),
                                      (unsigned long long)size);
            have += (size_t)n;
        }
        sent += have;
        m.u.output.data_len = have;
        m.u.output.end = sent == size;
        rc = send_chunk(sock, c, &m, err);
        if (rc < 0)
            return rc;
    } while (sent < size);
    return 0;
}

int cps__outputs_send(int sock, int root_fd, const struct cps_job *job, uint64_t *budget,
                      struct cps_error *err)
{
    struct chunker *c = malloc(sizeof(*c));
    int rc = 0;

    if (c == NULL)
        return cps__error_set(err, "outputs", ENOMEM, NULL, "output buffer");
    for (size_t i = 0; i < job->outputc && rc == 0; i++) {
        char *path = job->outputs[i];
        struct stat st;
        int fd = cps__root_open(root_fd, path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK, 0);

        if (fd < 0) {
            cps__log_debug("output %s missing: %s", path, strerror(-fd));
            rc = send_missing(sock, path, err);
            continue;
        }
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
            cps__log_debug("output %s missing: not a regular file", path);
            close(fd);
            rc = send_missing(sock, path, err);
            continue;
        }
        if ((uint64_t)st.st_size > *budget) {
            close(fd);
            rc = cps__error_set(err, "outputs", EFBIG, "raise limits.max_output_bytes",
                                "output %s (%llu bytes) exceeds what is left of "
                                "max_output_bytes (%llu bytes)",
                                path, (unsigned long long)st.st_size, (unsigned long long)*budget);
            break;
        }
        *budget -= (uint64_t)st.st_size;
        rc = send_file(sock, fd, path, &st, c, err);
        close(fd);
    }
    free(c);
    return rc;
}
