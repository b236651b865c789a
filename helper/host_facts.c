/* host_facts.c - kernel version, PATH lookup on the host, /proc/filesystems. */
#include "host_facts.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

/* What execvp(3) in glibc uses when PATH is unset, minus the current directory
 * (a helper must never run a program from wherever it was started). */
#define DEFAULT_PATH "/usr/local/bin:/usr/bin:/bin"

static int parse_number(const char **p, unsigned *out)
{
    unsigned long v = 0;
    const char *s = *p;

    if (*s < '0' || *s > '9')
        return -EINVAL;
    while (*s >= '0' && *s <= '9') {
        v = v * 10 + (unsigned long)(*s - '0');
        if (v > 1000000)
            return -EINVAL;
        s++;
    }
    *out = (unsigned)v;
    *p = s;
    return 0;
}

int cps__kernel_release_parse(const char *release, struct cps_kernel_version *out)
{
    const char *p = release;

    memset(out, 0, sizeof(*out));
    snprintf(out->release, sizeof(out->release), "%s", release);
    if (parse_number(&p, &out->major) < 0 || *p++ != '.' || parse_number(&p, &out->minor) < 0)
        return -EINVAL;
    if (*p == '.') {
        p++;
        if (parse_number(&p, &out->patch) < 0)
            out->patch = 0;
    }
    return 0;
}

int cps__kernel_version(struct cps_kernel_version *out)
{
    struct utsname u;

    if (uname(&u) < 0)
        return -errno;
    return cps__kernel_release_parse(u.release, out);
}

bool cps__kernel_at_least(const struct cps_kernel_version *v, unsigned major, unsigned minor)
{
    return v->major > major || (v->major == major && v->minor >= minor);
}

static bool is_executable_file(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

int cps__find_executable(const char *name, char *out, size_t size)
{
    const char *path;
    size_t name_len = strlen(name);

    if (name_len == 0)
        return -ENOENT;
    if (strchr(name, '/')) {
        if (name_len >= size)
            return -ENAMETOOLONG;
        if (!is_executable_file(name))
            return -ENOENT;
        memcpy(out, name, name_len + 1);
        return 0;
    }
    path = getenv("PATH");
    if (!path)
        path = DEFAULT_PATH;
    while (*path) {
        const char *end = strchrnul(path, ':');
        size_t dir_len = (size_t)(end - path);

        /* An empty entry means the current directory to execvp(3); a helper
         * does not search there. */
        if (dir_len > 0 && dir_len + 1 + name_len < size) {
            memcpy(out, path, dir_len);
            out[dir_len] = '/';
            memcpy(out + dir_len + 1, name, name_len + 1);
            if (is_executable_file(out))
                return 0;
        }
        path = *end ? end + 1 : end;
    }
    out[0] = '\0';
    return -ENOENT;
}

int cps__filesystem_listed(const char *fstype)
{
    FILE *f = fopen("/proc/filesystems", "re");
    char line[256];
    int found = 0;

    if (!f)
        return -errno;
    /* Lines are "nodev\tNAME" or "\tNAME". */
    while (!found && fgets(line, sizeof(line), f)) {
        char *name = strchr(line, '\t');

        if (!name)
            continue;
        name++;
        name[strcspn(name, "\n")] = '\0';
        found = strcmp(name, fstype) == 0;
    }
    fclose(f);
    return found;
}
