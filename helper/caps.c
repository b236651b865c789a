/* caps.c - capabilities of the compiler child. */
#include "caps.h"

#include <cap-ng.h>
#include <errno.h>
#include <linux/securebits.h>
#include <sys/prctl.h>

#include "error.h"

int cps__caps_drop_all(struct cps_error *err)
{
    const unsigned long bits = SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP |
                               SECBIT_NO_SETUID_FIXUP_LOCKED | SECBIT_KEEP_CAPS_LOCKED |
                               SECBIT_NO_CAP_AMBIENT_RAISE | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED;
    int rc;

    /* Needs CAP_SETPCAP, so it comes before the sets are cleared. */
    if (prctl(PR_SET_SECUREBITS, bits, 0, 0, 0) < 0)
        return cps__error_set(err, "caps", errno, NULL, "prctl(PR_SET_SECUREBITS, 0x%lx)", bits);
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
        return cps__error_set(err, "caps", errno, NULL, "clearing the ambient set");
    capng_clear(CAPNG_SELECT_ALL);
    rc = capng_apply(CAPNG_SELECT_ALL);
    if (rc < 0)
        return cps__error_set(err, "caps", EPERM, NULL,
                              "capng_apply(CAPNG_SELECT_ALL) failed with %d", rc);
    /* Read back what the kernel has, so that a partial drop is an error. */
    if (capng_get_caps_process() < 0)
        return cps__error_set(err, "caps", errno, NULL, "reading back the capabilities");
    if (capng_have_capabilities(CAPNG_SELECT_CAPS) != CAPNG_NONE)
        return cps__error_set(err, "caps", EPERM, NULL,
                              "capabilities left after dropping all of them");
    if (prctl(PR_CAPBSET_READ, CAP_SYS_ADMIN, 0, 0, 0) != 0)
        return cps__error_set(err, "caps", EPERM, NULL,
                              "CAP_SYS_ADMIN is still in the bounding set");
    return 0;
}
