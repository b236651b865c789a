/* path.c - the one path rule of the protocol. */
#include <string.h>

#include "limits.h"
#include "proto.h"

/*
 * Paths on the wire are absolute and normalized so that the helper never has
 * to interpret "..", "." or "//" while it resolves them against the sandbox
 * root: a path like "/out/../../etc/passwd" is refused at the door instead of
 * relying on every later openat() to contain it.
 */
bool cps__path_is_normal(const char *path, size_t len)
{
    size_t i = 1;

    if (!path || len == 0 || len > CPS_MAX_PATH || path[0] != '/')
        return false;
    if (memchr(path, '\0', len))
        return false;
    if (len == 1)
        return true;
    if (path[len - 1] == '/')
        return false;
    while (i < len) {
        const char *c = path + i;
        const char *end = memchr(c, '/', len - i);
        size_t clen = end ? (size_t)(end - c) : len - i;

        if (clen == 0)
            return false;
        if (clen == 1 && c[0] == '.')
            return false;
        if (clen == 2 && c[0] == '.' && c[1] == '.')
            return false;
        i += clen + 1;
    }
    return true;
}
