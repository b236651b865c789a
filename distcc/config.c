/* config.c - the shim's environment knobs and their defaults. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

#ifndef CPD_PACKAGER_PATH
#define CPD_PACKAGER_PATH "/usr/local/bin/cachepot-dist-toolchain"
#endif

static const char *env_or(const char *name, const char *fallback)
{
    const char *v = getenv(name);
    return v && v[0] ? v : fallback;
}

int cpd_config_load(struct cpd_config *cfg, struct cps_error *err)
{
    /* distccd names its temp files after $TMPDIR, falling back to /tmp
     * (dcc_get_tmp_top in distcc 3.4's tempfile.c); we inherit its environment. */
    const char *tmp = env_or("TMPDIR", "/tmp");
    size_t n = strlen(tmp);

    if (tmp[0] != '/')
        return cpd_fail(err, "config", EINVAL, "start distccd with an absolute TMPDIR",
                        "TMPDIR %s is not an absolute path", tmp);
    if (n >= sizeof cfg->tmp_top)
        return cpd_fail(err, "config", ENAMETOOLONG, "start distccd with a shorter TMPDIR",
                        "TMPDIR is %zu bytes long", n);
    memcpy(cfg->tmp_top, tmp, n + 1);
    while (n > 1 && cfg->tmp_top[n - 1] == '/')
        cfg->tmp_top[--n] = '\0';
    cfg->search_path = env_or("CACHEPOT_DISTCC_PATH", "/usr/local/bin:/usr/bin:/bin");
    cfg->roots_dir = env_or("CACHEPOT_DISTCC_TOOLCHAINS", "/etc/cachepot-distcc/toolchains");
    cfg->cache_dir = env_or("CACHEPOT_DISTCC_CACHE", NULL);
    cfg->packager = env_or("CACHEPOT_DISTCC_PACKAGER", CPD_PACKAGER_PATH);
    return 0;
}
