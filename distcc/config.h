/*
 * config.h - the shim's knobs, all from the environment distccd passes on.
 *
 * distccd starts the shim with its own environment, so an operator sets these
 * where distccd is started (systemd drop-in, /etc/default/distcc). Every knob
 * has a default that works without configuration (docs/DISTCC.md).
 */
#ifndef CPD_CONFIG_H
#define CPD_CONFIG_H

#include "cachepot-sandbox.h"

struct cpd_config {
    /* distccd's temp dir: $TMPDIR, else /tmp (distcc's tempfile.c), no trailing '/'. */
    char tmp_top[4096];
    /* Directories holding the real compilers: CACHEPOT_DISTCC_PATH, default
     * /usr/local/bin:/usr/bin:/bin. Borrowed from the environment. */
    const char *search_path;
    /* Operator-prepared roots, one entry per compiler name:
     * CACHEPOT_DISTCC_TOOLCHAINS, default /etc/cachepot-distcc/toolchains. */
    const char *roots_dir;
    /* Where first use packages compilers: CACHEPOT_DISTCC_CACHE, else NULL
     * (toolchain.c picks /var/cache/cachepot-distcc or a per-user dir in tmp_top). */
    const char *cache_dir;
    /* cachepot-dist-toolchain: CACHEPOT_DISTCC_PACKAGER, else the installed path. */
    const char *packager;
};

/* Read the environment into cfg. 0 or -errno (stage "config"). */
int cpd_config_load(struct cpd_config *cfg, struct cps_error *err);

#endif
