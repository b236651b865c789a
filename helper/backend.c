/* backend.c - dispatch of the run step on the sandbox backend. */
#include "backend.h"

#include <errno.h>

#include "error.h"

int cps__backend_check(uint32_t backend, struct cps_error *err)
{
    if (backend == CPS_BACKEND_USERNS)
        return 0;
    return cps__error_set(err, "backend", ENOTSUP,
                          "spawn the helper with --backend userns (or CACHEPOT_SANDBOX=userns)",
                          "the %s backend is not supported by this helper build",
                          cps__backend_name((enum cps_backend)backend));
}

int cps__backend_launch(uint32_t backend, struct cps_launch *l, pid_t *pid, struct cps_error *err)
{
    if (backend == CPS_BACKEND_USERNS)
        return cps__backend_userns_launch(l, pid, err);
    return cps__backend_check(backend, err);
}
