/*
 * toolchain.h - the toolchain root a job runs on.
 *
 * An operator may prepare a root per compiler name: CACHEPOT_DISTCC_TOOLCHAINS/
 * NAME (default /etc/cachepot-distcc/toolchains/gcc, ...) is a directory or a
 * link to one. Without it, the first job of a compiler packages the host's
 * compiler with cachepot-dist-toolchain into the cache dir:
 *
 *   CACHE/roots/<toolchain id>/        finished roots, never written again
 *   CACHE/compilers/<name>-<key>       symlink -> ../roots/<id>; <key> hashes the
 *                                      compiler's host path and the identity
 *                                      (dev, inode, size, mtime, ctime) of the
 *                                      file it resolves to, so an upgrade makes
 *                                      a new key
 *   CACHE/locks/<name>-<key>.lock      flock(2) while packaging
 *   CACHE/tmp/                         roots being built, the packager's TMPDIR
 *
 * A root is built under tmp/ and renamed into roots/ when complete, and the
 * compilers/ link is made (symlink + rename) after that, so a job only ever
 * sees a finished root. Jobs that start together wait on the lock; the first
 * builds, the others find the link when they get the lock.
 */
#ifndef CPD_TOOLCHAIN_H
#define CPD_TOOLCHAIN_H

#include "cachepot-sandbox.h"
#include "config.h"

struct cpd_toolchain {
    char root[4096]; /* host directory: the sandbox's read-only root */
    char exe[4096];  /* the compiler's path inside the root */
    char how[32];    /* "operator", "cache" or "packaged" (this job built it) */
};

/* The root for the compiler argv0 names. 0 or -errno (stages "compiler",
 * "toolchain", "cache"). */
int cpd_toolchain_resolve(const struct cpd_config *cfg, const char *argv0, struct cpd_toolchain *tc,
                          struct cps_error *err);

#endif
