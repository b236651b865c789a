/* seccomp_filter.c - the default seccomp filter of the compiler child: load it, hand it over. */
#include "seccomp_filter.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/seccomp.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#define STAGE CPS_STAGE_SECCOMP

/* The rules live in helper/seccomp/seccomp_rules.c; cps-seccomp-gen runs
 * them through libseccomp at build time and writes the program into
 * seccomp_program.c. Building it at run time cost CPU at every helper start
 * (libseccomp's rule database, optimiser and export; docs/MEASUREMENTS.md),
 * and linking libseccomp one more shared library to load. */
int cps__seccomp_prepare(struct cps__seccomp *out, struct cps_error *err)
{
    (void)err;
    out->insns = cps__seccomp_program;
    out->len = cps__seccomp_program_len;
    out->owned = false;
    return 0;
}

int cps__seccomp_load(const struct cps__seccomp *sc, struct cps_error *err)
{
    if (!sc->insns || sc->len == 0)
        return cps__error_set(err, STAGE, EINVAL, NULL, "no filter prepared");
    /* Without no_new_privs the kernel accepts a filter only from a caller with
     * CAP_SYS_ADMIN, and such a caller could then exec a setuid program under
     * a filter it did not expect (seccomp(2)). The sandbox promises both, so
     * insist on the order. */
    int nnp = prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);
    if (nnp != 1)
        return cps__error_set(err, STAGE, nnp < 0 ? errno : EPERM, NULL,
                              "no_new_privs is not set; set it before loading the filter");

    /* sock_fprog's pointer is not const; the kernel only copies the program. */
    struct sock_fprog prog = {.len = sc->len, .filter = (struct sock_filter *)(uintptr_t)sc->insns};
    /*
     * No flags: the child is single-threaded (no TSYNC needed), and without
     * SECCOMP_FILTER_FLAG_SPEC_ALLOW the kernel keeps its speculative store
     * bypass policy (before Linux 5.16 the default, spec_store_bypass_disable=
     * seccomp, turns the mitigation on for filtered tasks: a little slower,
     * and the safe choice). seccomp(2) is Linux 3.17; prctl works from 3.5.
     */
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) == 0)
        return 0;
    if (errno == ENOSYS && prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) == 0)
        return 0;
    return cps__error_set(err, STAGE, errno,
                          "the kernel needs CONFIG_SECCOMP_FILTER; or run the job with seccomp off",
                          "install the seccomp filter (%u instructions)", (unsigned)sc->len);
}

void cps__seccomp_free(struct cps__seccomp *sc)
{
    if (sc->owned)
        free((void *)(uintptr_t)sc->insns);
    sc->insns = NULL;
    sc->len = 0;
    sc->owned = false;
}

int cps__seccomp_to_memfd(const struct cps__seccomp *sc, struct cps_error *err)
{
    if (!sc->insns || sc->len == 0)
        return cps__error_set(err, STAGE, EINVAL, NULL, "no filter prepared");
    int fd = memfd_create("cps-seccomp", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0)
        return cps__error_set(err, STAGE, errno, NULL, "memfd_create for the filter");
    size_t size = (size_t)sc->len * sizeof(struct sock_filter);
    size_t done = 0;
    while (done < size) {
        ssize_t n = write(fd, (const char *)sc->insns + done, size - done);
        if (n < 0) {
            int e = errno;
            close(fd);
            return cps__error_set(err, STAGE, e, NULL, "write the filter to a memfd");
        }
        done += (size_t)n;
    }
    /* Sealed so that whoever reads it (bubblewrap) gets exactly this program. */
    if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0 ||
        lseek(fd, 0, SEEK_SET) < 0) {
        int e = errno;
        close(fd);
        return cps__error_set(err, STAGE, e, NULL, "seal the filter memfd");
    }
    return fd;
}
