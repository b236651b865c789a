/* names.c - wire names of backends and overlay modes. */
#include <errno.h>
#include <string.h>

#include "proto.h"

static const struct {
    enum cps_backend value;
    const char *name;
} backends[] = {
    {CPS_BACKEND_USERNS, "userns"},
    {CPS_BACKEND_BUBBLEWRAP, "bubblewrap"},
};

static const struct {
    enum cps_overlay value;
    const char *name;
} overlays[] = {
    {CPS_OVERLAY_AUTO, "auto"},
    {CPS_OVERLAY_NATIVE, "native"},
    {CPS_OVERLAY_FUSE, "fuse"},
    {CPS_OVERLAY_BIND, "bind"},
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static bool name_is(const char *name, size_t len, const char *want)
{
    return name && strlen(want) == len && memcmp(name, want, len) == 0;
}

const char *cps__backend_name(enum cps_backend b)
{
    for (size_t i = 0; i < COUNT(backends); i++)
        if (backends[i].value == b)
            return backends[i].name;
    return "unknown";
}

int cps__backend_parse(const char *name, size_t len, enum cps_backend *out)
{
    for (size_t i = 0; i < COUNT(backends); i++) {
        if (name_is(name, len, backends[i].name)) {
            *out = backends[i].value;
            return 0;
        }
    }
    return -EINVAL;
}

const char *cps__overlay_name(enum cps_overlay o)
{
    for (size_t i = 0; i < COUNT(overlays); i++)
        if (overlays[i].value == o)
            return overlays[i].name;
    return "unknown";
}

int cps__overlay_parse(const char *name, size_t len, enum cps_overlay *out)
{
    for (size_t i = 0; i < COUNT(overlays); i++) {
        if (name_is(name, len, overlays[i].name)) {
            *out = overlays[i].value;
            return 0;
        }
    }
    return -EINVAL;
}
