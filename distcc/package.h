/*
 * package.h - running cachepot-dist-toolchain to package one compiler.
 *
 * The packager is a shell script (scripts/cachepot-dist-toolchain); it is
 * spawned with posix_spawn, a fixed system PATH and LC_ALL=C, its stdout
 * (the toolchain id) read from a pipe and its stderr kept in a file that is
 * shown only when it fails (its warnings would otherwise reach the client).
 */
#ifndef CPD_PACKAGE_H
#define CPD_PACKAGE_H

#include "cachepot-sandbox.h"

/* Package compiler (a host path) into out_dir (must not exist), with tmp_dir
 * as the packager's TMPDIR and log_path for its stderr. Fills id (64 hex
 * digits + NUL). 0 or -errno (stage "toolchain"). */
int cpd_package(const char *packager, const char *compiler, const char *out_dir,
                const char *tmp_dir, const char *log_path, char id[65], struct cps_error *err);

#endif
