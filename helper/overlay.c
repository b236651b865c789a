/* overlay.c - dispatch on the job's overlay mode, and auto's fallback. */
#include "overlay.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "error.h"
#include "log.h"

struct cps_overlay_mode_ops {
    uint32_t mode;
    int (*check)(const struct cps_overlay_state *o, struct cps_error *err);
    int (*mount)(struct cps_overlay_state *o, struct cps_error *err);
    int (*unmount)(struct cps_overlay_state *o, struct cps_error *err);
};

static int native_check(const struct cps_overlay_state *o, struct cps_error *err)
{
    return cps__overlay_native_check(&o->paths, err);
}

static int native_mount(struct cps_overlay_state *o, struct cps_error *err)
{
    return cps__overlay_native_mount(&o->paths, err);
}

static int native_unmount(struct cps_overlay_state *o, struct cps_error *err)
{
    return cps__overlay_native_unmount(&o->paths, err);
}

/* In the order auto tries them: the cheapest and most faithful first. */
static const struct cps_overlay_mode_ops modes[] = {
    {CPS_OVERLAY_NATIVE, native_check, native_mount, native_unmount},
    {CPS_OVERLAY_FUSE, cps__overlay_fuse_check, cps__overlay_fuse_mount, cps__overlay_fuse_unmount},
    {CPS_OVERLAY_BIND, cps__overlay_bind_check, cps__overlay_bind_mount, cps__overlay_bind_unmount},
};

#define NMODES (sizeof(modes) / sizeof(modes[0]))

static const struct cps_overlay_mode_ops *find(uint32_t mode)
{
    for (size_t i = 0; i < NMODES; i++)
        if (modes[i].mode == mode)
            return &modes[i];
    return NULL;
}

/* "name: message" appended to buf (size bytes), "; "-separated. */
static void add_reason(char *buf, size_t size, uint32_t mode, const struct cps_error *e)
{
    size_t len = strlen(buf);

    if (len + 1 < size)
        snprintf(buf + len, size - len, "%s%s: %s", len ? "; " : "",
                 cps__overlay_name((enum cps_overlay)mode), e->message);
}

int cps__overlay_plan(struct cps_overlay_state *o, struct cps_error *err)
{
    char why[CPS_ERROR_MESSAGE_MAX - 96] = "";
    const struct cps_overlay_mode_ops *ops;
    struct cps_error e;
    struct stat st;

    o->planned = 0;
    o->mode = 0;
    /* Every mode needs the toolchain: say so once, not once per mode. */
    if (stat(o->paths.toolchain, &st) < 0)
        return cps__error_set(err, CPS_STAGE_OVERLAY, errno,
                              "the worker must unpack the toolchain first", "toolchain dir %s: %s",
                              o->paths.toolchain, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return cps__error_set(err, CPS_STAGE_OVERLAY, ENOTDIR, NULL,
                              "toolchain %s is not a directory", o->paths.toolchain);
    if (o->requested != CPS_OVERLAY_AUTO) {
        ops = find(o->requested);
        if (ops == NULL)
            return cps__error_set(err, CPS_STAGE_OVERLAY, ENOTSUP, "use the overlay mode auto",
                                  "overlay mode \"%s\" is not supported by this helper",
                                  cps__overlay_name((enum cps_overlay)o->requested));
        if (ops->check(o, err) < 0)
            return -(err->errnum ? err->errnum : EIO);
        o->planned = o->requested;
        return 0;
    }
    for (size_t i = 0; i < NMODES; i++) {
        if (modes[i].check(o, &e) == 0) {
            o->planned |= modes[i].mode;
            continue;
        }
        cps__log_info("overlay auto: not trying %s: %s", cps__overlay_name(modes[i].mode),
                      e.message);
        add_reason(why, sizeof(why), modes[i].mode, &e);
    }
    if (o->planned == 0)
        return cps__error_set(
            err, CPS_STAGE_OVERLAY, ENOTSUP,
            "run cachepot-dist-sandbox --check on this host to see what to change",
            "no overlay mode can run this job: %s", why);
    return 0;
}

/* CACHEPOT_TEST_FAIL_OVERLAY lists mode's name. */
static bool test_hook_refuses(uint32_t mode)
{
    const char *list = getenv(CPS_ENV_TEST_FAIL_OVERLAY);
    const char *name = cps__overlay_name((enum cps_overlay)mode);
    size_t n = strlen(name);

    for (const char *p = list; p != NULL && *p != '\0';) {
        const char *end = strchrnul(p, ',');

        if ((size_t)(end - p) == n && memcmp(p, name, n) == 0)
            return true;
        p = *end ? end + 1 : end;
    }
    return false;
}

static int mount_one(const struct cps_overlay_mode_ops *ops, struct cps_overlay_state *o,
                     struct cps_error *err)
{
    if (test_hook_refuses(ops->mode))
        return cps__error_set(
            err, CPS_STAGE_OVERLAY, EPERM,
            "unset " CPS_ENV_TEST_FAIL_OVERLAY ", a hook for tests only",
            "mount of overlay mode %s refused by the test hook " CPS_ENV_TEST_FAIL_OVERLAY,
            cps__overlay_name((enum cps_overlay)ops->mode));
    return ops->mount(o, err);
}

int cps__overlay_mount(struct cps_overlay_state *o, struct cps_error *err)
{
    char why[CPS_ERROR_MESSAGE_MAX - 96] = "";
    struct cps_error e;
    int rc = -ENOTSUP;

    if (o->requested != CPS_OVERLAY_AUTO) {
        const struct cps_overlay_mode_ops *ops = find(o->requested);

        if (ops == NULL || o->planned != o->requested)
            return cps__error_set(err, CPS_STAGE_OVERLAY, EINVAL, NULL,
                                  "overlay mode %u was not planned", (unsigned)o->requested);
        rc = mount_one(ops, o, err);
        if (rc == 0)
            o->mode = ops->mode;
        return rc;
    }
    for (size_t i = 0; i < NMODES; i++) {
        if (!(o->planned & modes[i].mode))
            continue;
        rc = mount_one(&modes[i], o, &e);
        if (rc == 0) {
            o->mode = modes[i].mode;
            cps__log_info("overlay auto: mounted %s", cps__overlay_name(modes[i].mode));
            return 0;
        }
        cps__log_info("overlay auto: %s failed: %s", cps__overlay_name(modes[i].mode), e.message);
        add_reason(why, sizeof(why), modes[i].mode, &e);
    }
    return cps__error_set(err, CPS_STAGE_OVERLAY, rc < 0 ? -rc : ENOTSUP,
                          "run cachepot-dist-sandbox --check on this host to see what to change",
                          "no overlay mode could be mounted: %s", why);
}

int cps__overlay_unmount(struct cps_overlay_state *o, struct cps_error *err)
{
    const struct cps_overlay_mode_ops *ops;
    int rc;

    if (o->mode == 0)
        return 0;
    ops = find(o->mode);
    if (ops == NULL)
        return cps__error_set(err, CPS_STAGE_CLEANUP, EINVAL, NULL, "overlay mode %u",
                              (unsigned)o->mode);
    rc = ops->unmount(o, err);
    o->mode = 0;
    return rc;
}
