/* caps.c - capabilities of the compiler child. */
#include "caps.h"

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
/* More than any kernel defines (40 in 6.18); the loops stop at the first
 * number the kernel does not know. */
#define CAP_SCAN_MAX 64

/*
 * Plain prctl(2) and capset(2) rather than libcap-ng's capng_apply: to drop
 * the bounding set it reads /proc/PID/status to learn the current sets
 * (three opens and reads of that file per job), which made this step a
 * visible part of the job's exec (docs/MEASUREMENTS.md); these calls only
 * talk to the kernel. libcap-ng stays in use where the current sets matter
 * (overlay_fuse.c).
 */
static int drop_bounding_set(struct cps_error *err)
{
    int cap;

    /* PR_CAPBSET_DROP needs CAP_SETPCAP: before capset clears it. A number
     * past the kernel's last capability fails with EINVAL, ending the scan. */
    for (cap = 0; cap < CAP_SCAN_MAX; cap++) {
        if (prctl(PR_CAPBSET_DROP, (unsigned long)cap, 0, 0, 0) == 0)
            continue;
        if (errno == EINVAL && cap > 0)
            return 0;
        return cps__error_set(err, CPS_STAGE_CAPS, errno, NULL, "prctl(PR_CAPBSET_DROP, %d)", cap);
    }
    return 0;
}

/* Read back what the kernel has, so that a partial drop is an error: every
 * set from capget(2); of the bounding and ambient sets, which have no bulk
 * read, the capability a sandbox escape needs first (each PR_CAPBSET_DROP
 * above already reported its own success, and capset(2) empties the ambient
 * set with P and I, Linux 4.3). */
static int verify_empty(struct cps_error *err)
{
    struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct data[CAP_WORDS];

    if (syscall(SYS_capget, &hdr, data) < 0)
        return cps__error_set(err, CPS_STAGE_CAPS, errno, NULL, "reading back the capabilities");
    for (int i = 0; i < CAP_WORDS; i++)
        if (data[i].effective != 0 || data[i].permitted != 0 || data[i].inheritable != 0)
            return cps__error_set(err, CPS_STAGE_CAPS, EPERM, NULL,
                                  "capabilities left after dropping all of them");
    if (prctl(PR_CAPBSET_READ, CAP_SYS_ADMIN, 0, 0, 0) != 0)
        return cps__error_set(err, CPS_STAGE_CAPS, EPERM, NULL,
                              "CAP_SYS_ADMIN is still in the bounding set");
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, CAP_SYS_ADMIN, 0, 0) != 0)
        return cps__error_set(err, CPS_STAGE_CAPS, EPERM, NULL,
                              "CAP_SYS_ADMIN is still in the ambient set");
    return 0;
}

int cps__caps_drop_all(struct cps_error *err)
{
    const unsigned long bits = SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP |
                               SECBIT_NO_SETUID_FIXUP_LOCKED | SECBIT_KEEP_CAPS_LOCKED |
                               SECBIT_NO_CAP_AMBIENT_RAISE | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED;
    struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct none[CAP_WORDS];
    int rc;

    /* Needs CAP_SETPCAP, so it comes before the sets are cleared. */
    if (prctl(PR_SET_SECUREBITS, bits, 0, 0, 0) < 0)
        return cps__error_set(err, CPS_STAGE_CAPS, errno, NULL, "prctl(PR_SET_SECUREBITS, 0x%lx)",
                              bits);
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
        return cps__error_set(err, CPS_STAGE_CAPS, errno, NULL, "clearing the ambient set");
    rc = drop_bounding_set(err);
    if (rc < 0)
        return rc;
    /* Effective, permitted and inheritable all empty (capset(2)). */
    memset(none, 0, sizeof(none));
    if (syscall(SYS_capset, &hdr, none) < 0)
        return cps__error_set(err, CPS_STAGE_CAPS, errno, NULL, "capset: clearing every set");
    return verify_empty(err);
}
