/* path.c - the one path rule of the protocol. */
#include <string.h>

#include "cps_limits.h"
#include "proto.h"

/*
 * Paths on the wire are absolute and normalized so that the helper never has
 * to interpret "..", "." or "//" while it resolves them against the sandbox
 * root: a path like "/out/../../etc/passwd" is refused at the door instead of
 * relying on every later openat() to contain it.
 */
const char *cps__path_problem(const char *path, size_t len)
{
    size_t i = 1;

    if (!path || len == 0)
        return "path is empty";
    if (len > CPS_MAX_PATH)
        return "path is longer than " CPS_STRINGIFY(CPS_MAX_PATH) " bytes";
    if (memchr(path, '\0', len))
        return "path contains NUL";
    if (path[0] != '/')
        return "path is not absolute";
    if (len == 1)
        return NULL;
    if (path[len - 1] == '/')
        return "path ends with '/'";
    while (i < len) {
        const char *c = path + i;
        const char *end = memchr(c, '/', len - i);
        size_t clen = end ? (size_t)(end - c) : len - i;

        if (clen == 0)
            return "path has an empty component (\"//\")";
        if (clen == 1 && c[0] == '.')
            return "path has a \".\" component";
        if (clen == 2 && c[0] == '.' && c[1] == '.')
            return "path has a \"..\" component";
        i += clen + 1;
    }
    return NULL;
}

bool cps__path_is_normal(const char *path, size_t len)
{
    return cps__path_problem(path, len) == NULL;
}
