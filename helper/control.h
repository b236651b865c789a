/*
 * control.h - the O <-> I control channel: an AF_UNIX SOCK_SEQPACKET
 * socketpair created before I is forked (docs/ARCHITECTURE.md).
 *
 * O -> I: the job, as the CBOR bytes of the job frame, sent as a blob: one
 * 8-byte length record, then the bytes in records of at most
 * CPS_CTL_BLOB_CHUNK (a seqpacket record must fit the socket's send buffer,
 * wmem_max by default, so a 1 MiB job cannot travel as one record).
 * I -> O: fixed-size struct cps_ctl_record records.
 * EOF on either end means the other process is gone.
 */
#ifndef CPS_HELPER_CONTROL_H
#define CPS_HELPER_CONTROL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>

#include "error.h"

#define CPS_CTL_BLOB_CHUNK (64u * 1024u)

enum cps_ctl_kind {
    CPS_CTL_SETUP_FAILED = 1, /* error: a step of I or of the job's child failed */
    CPS_CTL_EXEC_FAILED,      /* error: exec of the job failed; message lists paths tried */
    CPS_CTL_STARTED,          /* the job's program is running (exec succeeded) */
    CPS_CTL_EXITED,           /* wait_status: the job's process ended; the namespace is empty */
};

struct cps_ctl_record {
    uint32_t kind;
    int32_t wait_status;    /* CPS_CTL_EXITED */
    uint64_t rootfs_usec;   /* CPS_CTL_STARTED: /proc, /dev, /tmp, pivot_root in I */
    uint64_t prep_usec;     /* CPS_CTL_STARTED: I's /proc, /dev, /tmp trees made before the
                               job (rootfs_prep.h); 0: not made, classic path */
    uint64_t exec_usec;     /* CPS_CTL_STARTED: fork of the child until its exec succeeded */
    struct rusage usage;    /* CPS_CTL_EXITED: I's RUSAGE_CHILDREN once the job's processes
                               were reaped, so that O need not wait for I's exit to report it */
    uint32_t ipc_left;      /* CPS_CTL_EXITED, helper serving several jobs: 1 when I could not
                               empty the job's IPC namespace (ipc_clear.h; error says why) */
    struct cps_error error; /* CPS_CTL_SETUP_FAILED, CPS_CTL_EXEC_FAILED; CPS_CTL_EXITED with
                               ipc_left */
};

/* Send / receive one record. recv returns 0, -ECONNRESET on EOF (peer gone),
 * -EPROTO on a record of the wrong size, or -errno; err->stage "control". */
int cps__ctl_send(int fd, const struct cps_ctl_record *r, struct cps_error *err);
int cps__ctl_recv(int fd, struct cps_ctl_record *r, struct cps_error *err);

/* Send buf[0..len) (borrowed) as a blob; receive one (new, free()), at most max bytes. */
int cps__ctl_send_blob(int fd, const uint8_t *buf, size_t len, struct cps_error *err);
int cps__ctl_recv_blob(int fd, size_t max, uint8_t **buf, size_t *len, struct cps_error *err);

#endif
