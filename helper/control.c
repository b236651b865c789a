/* control.c - records and blobs on the O <-> I seqpacket socket. */
#include "control.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "error.h"

static int send_record(int fd, const void *buf, size_t len, struct cps_error *err)
{
    ssize_t n;

    do {
        n = send(fd, buf, len, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    if (n < 0)
        return cps__error_set(err, CPS_STAGE_CONTROL, errno, NULL, "send on the control socket");
    if ((size_t)n != len)
        return cps__error_set(err, CPS_STAGE_CONTROL, EPROTO, NULL,
                              "short send on the control socket (%zd of %zu bytes)", n, len);
    return 0;
}

/* Receive one record of exactly len bytes. MSG_TRUNC makes recv return the real
 * length of a longer record, so a mismatch is detected instead of truncated. */
static int recv_record(int fd, void *buf, size_t len, struct cps_error *err)
{
    ssize_t n;

    do {
        n = recv(fd, buf, len, MSG_TRUNC);
    } while (n < 0 && errno == EINTR);
    if (n < 0)
        return cps__error_set(err, CPS_STAGE_CONTROL, errno, NULL, "recv on the control socket");
    if (n == 0)
        return cps__error_set(err, CPS_STAGE_CONTROL, ECONNRESET, NULL, "control socket closed");
    if ((size_t)n != len)
        return cps__error_set(err, CPS_STAGE_CONTROL, EPROTO, NULL,
                              "control record of %zd bytes, expected %zu", n, len);
    return 0;
}

int cps__ctl_send(int fd, const struct cps_ctl_record *r, struct cps_error *err)
{
    return send_record(fd, r, sizeof(*r), err);
}

int cps__ctl_recv(int fd, struct cps_ctl_record *r, struct cps_error *err)
{
    return recv_record(fd, r, sizeof(*r), err);
}

int cps__ctl_send_blob(int fd, const uint8_t *buf, size_t len, struct cps_error *err)
{
    uint64_t total = len;
    size_t off = 0;
    int rc;

    rc = send_record(fd, &total, sizeof(total), err);
    while (rc == 0 && off < len) {
        size_t n = len - off < CPS_CTL_BLOB_CHUNK ? len - off : CPS_CTL_BLOB_CHUNK;

        rc = send_record(fd, buf + off, n, err);
        off += n;
    }
    return rc;
}

int cps__ctl_recv_blob(int fd, size_t max, uint8_t **buf, size_t *len, struct cps_error *err)
{
    uint64_t total;
    uint8_t *data;
    size_t off = 0;
    int rc;

    *buf = NULL;
    *len = 0;
    rc = recv_record(fd, &total, sizeof(total), err);
    if (rc < 0)
        return rc;
    if (total == 0 || total > max)
        return cps__error_set(err, CPS_STAGE_CONTROL, EPROTO, NULL, "control blob of %llu bytes",
                              (unsigned long long)total);
    data = malloc(total);
    if (data == NULL)
        return cps__error_set(err, CPS_STAGE_CONTROL, ENOMEM, NULL, "control blob of %llu bytes",
                              (unsigned long long)total);
    while (off < total) {
        size_t n = total - off < CPS_CTL_BLOB_CHUNK ? total - off : CPS_CTL_BLOB_CHUNK;

        rc = recv_record(fd, data + off, n, err);
        if (rc < 0) {
            free(data);
            return rc;
        }
        off += n;
    }
    *buf = data;
    *len = total;
    return 0;
}
