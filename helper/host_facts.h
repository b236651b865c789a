/*
 * host_facts.h - small facts about the host that job launch (hostcaps.c,
 * bwrap.c, overlay_fuse.c) and the --check probes (check/) share: the kernel
 * version, where an executable is on PATH, which filesystem types the kernel
 * knows. None of these needs a namespace or a mount, so they are cheap enough
 * for every helper start as well as for --check.
 */
#ifndef CPS_HELPER_HOST_FACTS_H
#define CPS_HELPER_HOST_FACTS_H

#include <stdbool.h>
#include <stddef.h>

struct cps_kernel_version {
    unsigned major;
    unsigned minor;
    unsigned patch;
    char release[65]; /* uname(2) release, e.g. "6.18.44-fc-v595" */
};

/* Parse a uname release (borrowed) such as "5.10.0-28-amd64" or "6.1": the
 * leading MAJOR.MINOR[.PATCH] numbers; anything after them is ignored. Returns
 * 0, or -EINVAL when the text does not start with MAJOR.MINOR. */
int cps__kernel_release_parse(const char *release, struct cps_kernel_version *out);

/* uname(2) + cps__kernel_release_parse. Returns 0 or -errno. */
int cps__kernel_version(struct cps_kernel_version *out);

/* True when v is at least major.minor. */
bool cps__kernel_at_least(const struct cps_kernel_version *v, unsigned major, unsigned minor);

/*
 * Find an executable the way execvp(3) would: a name containing '/' is taken
 * as is; otherwise each directory of $PATH (or "/usr/local/bin:/usr/bin:/bin"
 * when PATH is unset) is tried in order. The file must be a regular file that
 * this process may execute (access(2) X_OK). On success the path is copied to
 * out (size bytes). Returns 0, -ENOENT when nothing was found, -ENAMETOOLONG.
 */
int cps__find_executable(const char *name, char *out, size_t size);

/* Is fstype listed in /proc/filesystems? Returns 1, 0, or -errno when the file
 * cannot be read. A filesystem built as a module that is not loaded yet is not
 * listed; a real mount would load it, which only --check tries. */
int cps__filesystem_listed(const char *fstype);

#endif
