/* caps.c - capabilities of the compiler child. */
#include "caps.h"

#include <cap-ng.h>
#include <errno.h>
#include <linux/capability.h>
#include <linux/securebits.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "error.h"

/* Capability sets are two 32-bit words in the version 3 ABI (Linux 2.6.26). */
#define CAP_WORDS 2

int cps__caps_drop_all(struct cps_error *err)
{
    const unsigned long bits = SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP |
                               SECBIT_NO_SETUID_FIXUP_LOCKED | SECBIT_KEEP_CAPS_LOCKED |
                               SECBIT_NO_CAP_AMBIENT_RAISE | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED;
    struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct data[CAP_WORDS];
    int rc;

    /* Needs CAP_SETPCAP, so it comes before the sets are cleared. */
    if (prctl(PR_SET_SECUREBITS, bits, 0, 0, 0) < 0)
        return cps__error_set(err, "caps", errno, NULL, "prctl(PR_SET_SECUREBITS, 0x%lx)", bits);
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
        return cps__error_set(err, "caps", errno, NULL, "clearing the ambient set");
    /* libcap-ng clears the effective, permitted, inheritable, ambient and
     * bounding sets (the bounding drop needs CAP_SETPCAP, which it orders
     * itself). */
    capng_clear(CAPNG_SELECT_ALL);
    rc = capng_apply(CAPNG_SELECT_ALL);
    if (rc < 0)
        return cps__error_set(err, "caps", EPERM, NULL,
                              "capng_apply(CAPNG_SELECT_ALL) failed with %d", rc);
    /* Read back what the kernel has, so that a partial drop is an error. With
     * capget(2) and prctl(2): capng_get_caps_process() would parse
     * /proc/PID/status once more on every job. libcap-ng runs here in a child
     * that shares I's memory until exec (exec.c): I is single-threaded and
     * suspended meanwhile, so its allocations cannot race. */
    hdr.version = _LINUX_CAPABILITY_VERSION_3;
    hdr.pid = 0;
    if (syscall(SYS_capget, &hdr, data) < 0)
        return cps__error_set(err, "caps", errno, NULL, "reading back the capabilities");
    for (int i = 0; i < CAP_WORDS; i++)
        if (data[i].effective != 0 || data[i].permitted != 0 || data[i].inheritable != 0)
            return cps__error_set(err, "caps", EPERM, NULL,
                                  "capabilities left after dropping all of them");
    if (prctl(PR_CAPBSET_READ, CAP_SYS_ADMIN, 0, 0, 0) != 0)
        return cps__error_set(err, "caps", EPERM, NULL,
                              "CAP_SYS_ADMIN is still in the bounding set");
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, CAP_SYS_ADMIN, 0, 0) != 0)
        return cps__error_set(err, "caps", EPERM, NULL,
                              "CAP_SYS_ADMIN is still in the ambient set");
    return 0;
}
