/*
 * seccomp_filter.h - the default seccomp filter of the compiler child.
 *
 * The filter is built in two steps so that nothing between fork and execve
 * allocates or takes a lock:
 *
 *   helper (single-threaded, before fork)    compiler child (after fork)
 *   cps__seccomp_prepare(&sc, err)           prctl(PR_SET_NO_NEW_PRIVS, 1)
 *                                            ... caps, rlimits ...
 *                                            cps__seccomp_load(&sc, err)
 *                                            execve(...)
 *   cps__seccomp_free(&sc)
 *
 * prepare() hands out the finished classic-BPF program, which
 * cps-seccomp-gen built with libseccomp from the rules in
 * helper/seccomp/seccomp_rules.c when the helper was compiled
 * (seccomp_program.c in the build dir); load() is one seccomp(2) call on that
 * memory. The split keeps the child's work to async-signal-safe system calls
 * and lets the same program be handed to bubblewrap (--seccomp FD).
 *
 * What the filter denies, and why, is documented next to each rule in
 * seccomp_filter.c and summarised in docs/SECURITY.md. (The file is not called
 * seccomp.h because helper/ is on the include path and would then shadow
 * libseccomp's <seccomp.h>.)
 */
#ifndef CPS_HELPER_SECCOMP_FILTER_H
#define CPS_HELPER_SECCOMP_FILTER_H

#include <linux/filter.h>

#include "error.h"

#include <stdbool.h>

/* A finished BPF program. Zero-initialise before prepare(); free with
 * cps__seccomp_free(). */
struct cps__seccomp {
    const struct sock_filter *insns; /* len instructions */
    unsigned short len;
    bool owned; /* insns was allocated (cps__seccomp_build) */
};

/* The default filter for this machine's architecture, generated at build
 * time by cps-seccomp-gen (seccomp_program.c). */
extern const struct sock_filter cps__seccomp_program[];
extern const unsigned short cps__seccomp_program_len;

/*
 * The default filter for this machine's architecture into out (the built-in
 * program: no allocation). Returns 0; err is kept for the interface's sake.
 */
int cps__seccomp_prepare(struct cps__seccomp *out, struct cps_error *err);

/*
 * Install sc (borrowed) in the calling thread. The caller must already have
 * set PR_SET_NO_NEW_PRIVS: load() checks it and refuses otherwise (-EPERM),
 * so that a privileged caller cannot install a filter and then gain privileges
 * through a setuid binary. Only prctl(2) and seccomp(2) are called, no
 * allocation: safe between fork and execve. err may be NULL (formatting the
 * message uses vsnprintf, which is safe in a child of a single-threaded
 * process).
 */
int cps__seccomp_load(const struct cps__seccomp *sc, struct cps_error *err);

/* Release what prepare() allocated; sc may be zeroed or already freed. */
void cps__seccomp_free(struct cps__seccomp *sc);

/*
 * Write sc (borrowed) into a new sealed memfd positioned at offset 0, the
 * format bubblewrap's --seccomp FD reads. Returns the fd (close-on-exec set;
 * the caller clears it for the fd it hands over) or -errno.
 */
int cps__seccomp_to_memfd(const struct cps__seccomp *sc, struct cps_error *err);

#endif
