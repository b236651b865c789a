/* overlay.c - dispatch on the job's overlay mode. */
#include "overlay.h"

#include <errno.h>

#include "error.h"

struct mode_ops {
    uint32_t mode;
    int (*check)(const struct cps_root_paths *p, struct cps_error *err);
    int (*mount)(const struct cps_root_paths *p, struct cps_error *err);
    int (*unmount)(const struct cps_root_paths *p, struct cps_error *err);
};

static const struct mode_ops modes[] = {
    {CPS_OVERLAY_NATIVE, cps__overlay_native_check, cps__overlay_native_mount,
     cps__overlay_native_unmount},
};

static const struct mode_ops *find(uint32_t mode)
{
    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
        if (modes[i].mode == mode)
            return &modes[i];
    return NULL;
}

int cps__overlay_check(uint32_t mode, const struct cps_root_paths *p, uint32_t *mode_out,
                       struct cps_error *err)
{
    const struct mode_ops *ops;

    /* auto: the modes in order of preference; only native exists so far. */
    if (mode == CPS_OVERLAY_AUTO)
        mode = CPS_OVERLAY_NATIVE;
    ops = find(mode);
    if (ops == NULL)
        return cps__error_set(err, "overlay", ENOTSUP, "use the overlay mode native or auto",
                              "overlay mode \"%s\" is not supported by this helper",
                              cps__overlay_name((enum cps_overlay)mode));
    *mode_out = mode;
    return ops->check(p, err);
}

int cps__overlay_mount(uint32_t mode, const struct cps_root_paths *p, struct cps_error *err)
{
    const struct mode_ops *ops = find(mode);

    if (ops == NULL)
        return cps__error_set(err, "overlay", ENOTSUP, NULL, "overlay mode %u", (unsigned)mode);
    return ops->mount(p, err);
}

int cps__overlay_unmount(uint32_t mode, const struct cps_root_paths *p, struct cps_error *err)
{
    const struct mode_ops *ops = find(mode);

    if (ops == NULL)
        return cps__error_set(err, "cleanup", ENOTSUP, NULL, "overlay mode %u", (unsigned)mode);
    return ops->unmount(p, err);
}
