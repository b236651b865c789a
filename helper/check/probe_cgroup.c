/* probe_cgroup.c - is there a cgroup v2 hierarchy, and may this process create a child cgroup. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "probe.h"

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

#define DELEGATE_HINT                                                                              \
    "delegate a cgroup to the worker's user: systemd `Delegate=yes` in the worker's unit, or "     \
    "start it with `systemd-run --user --scope -p Delegate=yes ...`"

static bool is_cgroup2(const char *path)
{
    struct statfs s;

    return statfs(path, &s) == 0 && (unsigned long)s.f_type == CGROUP2_SUPER_MAGIC;
}

/* The "0::/path" line of /proc/self/cgroup (the v2 hierarchy). */
static int own_cgroup(char *out, size_t size)
{
    FILE *f = fopen("/proc/self/cgroup", "re");
    char line[PATH_MAX + 32];
    int ret = -ENOENT;

    if (!f)
        return -errno;
    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, "0::", 3) == 0) {
            line[strcspn(line, "\n")] = '\0';
            snprintf(out, size, "%s", line + 3);
            ret = 0;
            break;
        }
    }
    fclose(f);
    return ret;
}

void cps__probe_cgroup(struct cps_cgroup_facts *f, struct cps_probe_result *r)
{
    const char *mnt;
    char own[PATH_MAX];
    char child[PATH_MAX + 64];
    FILE *c;

    memset(f, 0, sizeof(*f));
    if (is_cgroup2("/sys/fs/cgroup")) {
        mnt = "/sys/fs/cgroup";
        snprintf(f->layout, sizeof(f->layout), "unified");
    } else if (is_cgroup2("/sys/fs/cgroup/unified")) {
        mnt = "/sys/fs/cgroup/unified";
        snprintf(f->layout, sizeof(f->layout), "hybrid");
    } else {
        struct stat st;

        snprintf(f->layout, sizeof(f->layout),
                 stat("/sys/fs/cgroup", &st) == 0 ? "legacy" : "none");
        cps__probe_set(r, CPS_PROBE_FAILED, ENOENT,
                       "boot with the unified hierarchy (systemd.unified_cgroup_hierarchy=1)",
                       "no cgroup v2 hierarchy at /sys/fs/cgroup or /sys/fs/cgroup/unified "
                       "(layout: %s)",
                       f->layout);
        return;
    }
    if (own_cgroup(own, sizeof(own)) < 0) {
        cps__probe_set(r, CPS_PROBE_FAILED, ENOENT, NULL,
                       "no \"0::\" line in /proc/self/cgroup (cgroup v2 at %s)", mnt);
        return;
    }
    if (snprintf(f->dir, sizeof(f->dir), "%s%s", mnt, strcmp(own, "/") == 0 ? "" : own) >=
        (int)sizeof(f->dir)) {
        cps__probe_set(r, CPS_PROBE_FAILED, ENAMETOOLONG, NULL, "cgroup path too long: %s%s", mnt,
                       own);
        f->dir[0] = '\0';
        return;
    }
    snprintf(child, sizeof(child), "%s/cgroup.controllers", f->dir);
    c = fopen(child, "re");
    if (c) {
        if (fgets(f->controllers, sizeof(f->controllers), c))
            f->controllers[strcspn(f->controllers, "\n")] = '\0';
        fclose(c);
    }
    snprintf(child, sizeof(child), "%s/cachepot-check-%d", f->dir, (int)getpid());
    if (mkdir(child, 0755) < 0) {
        int e = errno;

        cps__probe_set(r, CPS_PROBE_FAILED, e, DELEGATE_HINT,
                       "cgroup v2 (%s) at %s; creating a child cgroup of %s failed: %s", f->layout,
                       mnt, f->dir, strerror(e));
        return;
    }
    rmdir(child);
    f->writable = true;
    cps__probe_set(r, CPS_PROBE_OK, 0, NULL,
                   "cgroup v2 (%s) at %s; this process's cgroup %s accepts child cgroups "
                   "(controllers: %s)",
                   f->layout, mnt, f->dir, f->controllers[0] ? f->controllers : "none");
}
