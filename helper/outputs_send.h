/*
 * outputs_send.h - returning the job's output files after it ended.
 *
 * Each requested path is opened with openat2(RESOLVE_IN_ROOT |
 * RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS) relative to the root, O_NOFOLLOW
 * and O_NONBLOCK (a FIFO named as an output must not block the helper). It is
 * "missing" when it cannot be opened that way for a reason of the job's view
 * (cps__root_errno_is_view: absent, reached through a symlink, a component
 * that is a file, unreadable in the view) or is not a regular file (fstat).
 * Any other failure (EMFILE, EIO, ...) is the worker's: an error of stage
 * "outputs", never "missing". Otherwise it is sent
 * in chunks of at most CPS_MAX_CHUNK bytes; the size is fstat's. The data goes
 * from the file to the socket with sendfile(2), never through a buffer here.
 */
#ifndef CPS_HELPER_OUTPUTS_SEND_H
#define CPS_HELPER_OUTPUTS_SEND_H

#include <stdint.h>

#include "error.h"
#include "proto.h"

/*
 * Send job->outputs (borrowed) in order. *budget is what is left of
 * limits.max_output_bytes after the streams; a file that does not fit ends
 * the sending with -EFBIG, stage "outputs". Peer errors: stage "frame".
 */
int cps__outputs_send(int sock, int root_fd, const struct cps_job *job, uint64_t *budget,
                      struct cps_error *err);

#endif
