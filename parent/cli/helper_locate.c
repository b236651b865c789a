/* helper_locate.c - the helper of the build tree the CLI runs from. */
#include "helper_locate.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

const char *helper_locate_build_tree(void)
{
    static char helper[PATH_MAX];
    char exe[PATH_MAX], marker[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    char *slash;

    if (n <= 0)
        return NULL;
    exe[n] = '\0';
    slash = strrchr(exe, '/');
    if (!slash)
        return NULL;
    *slash = '\0'; /* exe now names BUILD/parent */
    /* Both must hold: an installed CLI (e.g. /usr/bin) has no CMakeCache.txt
     * one level up, and a copy of the CLI elsewhere has no helper beside it,
     * so either keeps the installed helper. */
    if ((size_t)snprintf(marker, sizeof(marker), "%s/../CMakeCache.txt", exe) >= sizeof(marker) ||
        (size_t)snprintf(helper, sizeof(helper), "%s/../helper/cachepot-dist-sandbox", exe) >=
            sizeof(helper))
        return NULL;
    if (access(marker, R_OK) != 0 || access(helper, X_OK) != 0)
        return NULL;
    return helper;
}
