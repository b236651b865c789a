/* backend.c - dispatch of the run step on the sandbox backend. */
#include "backend.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "error.h"

/* The files bwrap must cover in its fresh /proc, from the host's /proc: the
 * same kernel, so the same top-level files (proc_mask.h). */
static int bwrap_proc_masks(struct cps_bwrap *bw, struct cps_error *err)
{
    int fd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc;

    if (fd < 0)
        return cps__error_set(err, CPS_STAGE_BUBBLEWRAP, errno, NULL, "open /proc");
    rc = cps__proc_masks_find(fd, &bw->proc_masks, CPS_STAGE_BUBBLEWRAP, err);
    close(fd);
    return rc;
}

int cps__backend_prepare(uint32_t backend, struct cps_backend_prep *bp)
{
    memset(bp, 0, sizeof(*bp));
    bp->backend = backend;
    if (backend == CPS_BACKEND_BUBBLEWRAP)
        bp->bwrap_rc = cps__bwrap_probe(&bp->bwrap, &bp->bwrap_err);
    if (backend == CPS_BACKEND_BUBBLEWRAP && bp->bwrap_rc == 0)
        bp->bwrap_rc = bwrap_proc_masks(&bp->bwrap, &bp->bwrap_err);
    return 0;
}

int cps__backend_check(const struct cps_backend_prep *bp, struct cps_error *err)
{
    if (bp->backend == CPS_BACKEND_USERNS)
        return 0;
    if (bp->backend == CPS_BACKEND_BUBBLEWRAP) {
        if (bp->bwrap_rc == 0)
            return 0;
        *err = bp->bwrap_err;
        return bp->bwrap_rc;
    }
    return cps__error_set(err, CPS_STAGE_BACKEND, ENOTSUP,
                          "spawn the helper with --backend userns or bubblewrap",
                          "the %s backend is not supported by this helper build",
                          cps__backend_name((enum cps_backend)bp->backend));
}

int cps__backend_launch(const struct cps_backend_prep *bp, struct cps_launch *l, pid_t *pid,
                        struct cps_error *err)
{
    int rc = cps__backend_check(bp, err);

    if (rc < 0)
        return rc;
    if (bp->backend == CPS_BACKEND_BUBBLEWRAP)
        return cps__backend_bwrap_launch(&bp->bwrap, l, pid, err);
    return cps__backend_userns_launch(l, pid, err);
}
