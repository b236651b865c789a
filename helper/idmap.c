/* idmap.c - uid/gid maps and the user namespace diagnostics. */
#include "idmap.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "error.h"

const char cps__userns_hint[] =
    "allow unprivileged user namespaces: sysctl user.max_user_namespaces > 0, "
    "kernel.unprivileged_userns_clone=1 (Debian kernels before 6.x), "
    "kernel.apparmor_restrict_unprivileged_userns=0 (Ubuntu 23.10+) or an AppArmor "
    "profile allowing userns for this helper; or use the bubblewrap backend";

/* Read a one-line /proc/sys value into out, "(absent)" when there is none. */
static void read_knob(const char *path, char *out, size_t size)
{
    ssize_t n;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    snprintf(out, size, "(absent)");
    if (fd < 0) {
        if (errno != ENOENT)
            snprintf(out, size, "(unreadable: %s)", strerror(errno));
        return;
    }
    n = read(fd, out, size - 1);
    close(fd);
    if (n <= 0) {
        snprintf(out, size, "(unreadable)");
        return;
    }
    out[n] = '\0';
    out[strcspn(out, "\n")] = '\0';
}

void cps__userns_facts(char *buf, size_t size)
{
    char max_ns[32], clone[32], apparmor[32];
    struct utsname u;

    read_knob("/proc/sys/user/max_user_namespaces", max_ns, sizeof(max_ns));
    read_knob("/proc/sys/kernel/unprivileged_userns_clone", clone, sizeof(clone));
    read_knob("/proc/sys/kernel/apparmor_restrict_unprivileged_userns", apparmor, sizeof(apparmor));
    if (uname(&u) < 0)
        snprintf(u.release, sizeof(u.release), "?");
    snprintf(buf, size,
             "user.max_user_namespaces=%s, kernel.unprivileged_userns_clone=%s, "
             "kernel.apparmor_restrict_unprivileged_userns=%s, kernel %s",
             max_ns, clone, apparmor, u.release);
}

static int write_file(enum cps_stage stage, const char *path, const char *text, uid_t outer_uid,
                      struct cps_error *err)
{
    size_t len = strlen(text);
    char facts[512];
    ssize_t n;
    int fd, saved;

    fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
        n = write(fd, text, len);
        saved = n < 0 ? errno : 0;
        if (n >= 0 && (size_t)n != len)
            saved = EIO;
        close(fd);
        if (saved == 0)
            return 0;
    } else {
        saved = errno;
    }
    cps__userns_facts(facts, sizeof(facts));
    return cps__error_set(
        err, stage, saved, cps__userns_hint, "writing \"%.*s\" to %s as euid %u failed: %s (%s)",
        (int)strcspn(text, "\n"), text, path, (unsigned)outer_uid, strerror(saved), facts);
}

int cps__idmap_write(uid_t outer_uid, gid_t outer_gid, uint32_t inside_uid, uint32_t inside_gid,
                     struct cps_error *err)
{
    char line[64];
    int rc;

    rc = write_file(CPS_STAGE_SETGROUPS, "/proc/self/setgroups", "deny", outer_uid, err);
    if (rc < 0)
        return rc;
    snprintf(line, sizeof(line), "%u %u 1\n", inside_uid, (unsigned)outer_uid);
    rc = write_file(CPS_STAGE_UID_MAP, "/proc/self/uid_map", line, outer_uid, err);
    if (rc < 0)
        return rc;
    snprintf(line, sizeof(line), "%u %u 1\n", inside_gid, (unsigned)outer_gid);
    return write_file(CPS_STAGE_GID_MAP, "/proc/self/gid_map", line, outer_uid, err);
}
