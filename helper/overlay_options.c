/* overlay_options.c - paths that overlay mount options cannot carry (native and fuse modes). */
#include "overlay.h"

#include <errno.h>
#include <string.h>

#include "error.h"

int cps__overlay_refuse_option_chars(const struct cps_root_paths *p, const char *prefix,
                                     const char *options, const char *hint, struct cps_error *err)
{
    const char *paths[] = {p->toolchain, p->upper, p->work};

    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        const char *c = strpbrk(paths[i], ",:\\");

        if (c != NULL)
            return cps__error_set(err, CPS_STAGE_OVERLAY, EINVAL, hint,
                                  "%spath %s contains '%c', which %s options cannot carry", prefix,
                                  paths[i], *c, options);
    }
    return 0;
}
