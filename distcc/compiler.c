/* compiler.c - finding the real compiler on the shim's search path. */
#include "compiler.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"

int cpd_compiler_name_ok(const char *name)
{
    size_t n = strlen(name);

    if (n == 0 || n >= 256 || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return 0;
    return strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._+-") == n;
}

int cpd_compiler_find(const struct cpd_config *cfg, const char *argv0, struct cpd_compiler *cc,
                      struct cps_error *err)
{
    const char *base = strrchr(argv0, '/');
    const char *p = cfg->search_path;
    char self[PATH_MAX], real[PATH_MAX];

    base = base ? base + 1 : argv0;
    if (!cpd_compiler_name_ok(base))
        return cpd_fail(err, "compiler", EINVAL, "link the shim under the compiler's name",
                        "compiler name \"%s\" (from %s) is not a plain name", base, argv0);
    snprintf(cc->name, sizeof cc->name, "%s", base);
    if (!realpath("/proc/self/exe", self))
        return cpd_fail(err, "compiler", errno, NULL, "resolving /proc/self/exe");
    while (*p) {
        size_t len = strcspn(p, ":");

        if (len > 0 && p[0] == '/' &&
            snprintf(cc->path, sizeof cc->path, "%.*s/%s", (int)len, p, base) <
                (int)sizeof cc->path &&
            access(cc->path, X_OK) == 0 && realpath(cc->path, real) && strcmp(real, self) != 0)
            return 0;
        p += len;
        if (*p == ':')
            p++;
    }
    cc->path[0] = '\0';
    return cpd_fail(err, "compiler", ENOENT,
                    "install the compiler on this host, or set CACHEPOT_DISTCC_PATH to where it is",
                    "%s not found in %s (CACHEPOT_DISTCC_PATH)", base, cfg->search_path);
}
