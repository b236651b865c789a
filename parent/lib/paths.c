/* paths.c - resolving and naming the caller's paths. */
#include "paths.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "cps_limits.h"
#include "proto.h"

/* Append the components of path to buf (which holds "" or "/a/b"), dropping
 * "." and empty ones. Returns false on a ".." component. */
static bool append_components(char *buf, size_t *len, const char *path)
{
    const char *p = path;

    while (*p) {
        const char *end = strchr(p, '/');
        size_t clen = end ? (size_t)(end - p) : strlen(p);

        if (clen == 2 && p[0] == '.' && p[1] == '.')
            return false;
        if (clen > 0 && !(clen == 1 && p[0] == '.')) {
            buf[(*len)++] = '/';
            memcpy(buf + *len, p, clen);
            *len += clen;
            buf[*len] = '\0';
        }
        p += clen;
        if (*p == '/')
            p++;
    }
    return true;
}

int cps__path_resolve(const char *base, const char *path, char **out, struct cps_error *err)
{
    size_t cap = strlen(base) + strlen(path) + 3;
    size_t len = 0;
    char *buf;

    *out = NULL;
    if (path[0] == '\0')
        return cps__error_set(err, CPS_STAGE_JOB, EINVAL, NULL, "empty sandbox path");
    buf = malloc(cap);
    if (!buf)
        return cps__error_set(err, CPS_STAGE_JOB, ENOMEM, NULL, "resolve %s", path);
    buf[0] = '\0';
    if ((path[0] != '/' && !append_components(buf, &len, base)) ||
        !append_components(buf, &len, path)) {
        free(buf);
        return cps__error_set(err, CPS_STAGE_JOB, EINVAL, "name sandbox files without \"..\"",
                              "sandbox path %s has a \"..\" component", path);
    }
    if (len == 0) {
        buf[len++] = '/';
        buf[len] = '\0';
    }
    if (!cps__path_is_normal(buf, len)) {
        free(buf);
        return cps__error_set(err, CPS_STAGE_JOB, EINVAL, NULL,
                              "sandbox path %s is not valid (at most %d bytes, no NUL)", path,
                              CPS_MAX_PATH);
    }
    *out = buf;
    return 0;
}

int cps__path_output_name(const char *path, char **out, struct cps_error *err)
{
    size_t len = 0;
    char *buf = malloc(strlen(path) + 2);

    *out = NULL;
    if (!buf)
        return cps__error_set(err, CPS_STAGE_JOB, ENOMEM, NULL, "output %s", path);
    buf[0] = '\0';
    if (!append_components(buf, &len, path)) {
        free(buf);
        return cps__error_set(err, CPS_STAGE_JOB, EINVAL, "name outputs without \"..\"",
                              "output path %s has a \"..\" component", path);
    }
    if (len == 0) {
        free(buf);
        return cps__error_set(err, CPS_STAGE_JOB, EINVAL, NULL, "output path \"%s\" names no file",
                              path);
    }
    /* Drop the leading "/" that append_components() put before the first component. */
    memmove(buf, buf + 1, len);
    *out = buf;
    return 0;
}
