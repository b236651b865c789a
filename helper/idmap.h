/*
 * idmap.h - setgroups "deny", uid_map and gid_map of the helper's user
 * namespace, and the host facts a failure message needs.
 */
#ifndef CPS_HELPER_IDMAP_H
#define CPS_HELPER_IDMAP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"

/*
 * Map inside_uid/inside_gid to outer_uid/outer_gid (the helper's EFFECTIVE ids,
 * read before unshare(CLONE_NEWUSER): afterwards they read as the overflow id).
 * A single mapping of the caller's own ids is the only one an unprivileged
 * process may write (user_namespaces(7)); setgroups must say "deny" before an
 * unprivileged gid_map write (Linux 3.19, CVE-2014-8989). Stages "setgroups",
 * "uid_map", "gid_map"; the message lists the user namespace knobs.
 */
int cps__idmap_write(uid_t outer_uid, gid_t outer_gid, uint32_t inside_uid, uint32_t inside_gid,
                     struct cps_error *err);

/*
 * Describe the host's user namespace knobs and their values into buf, e.g.
 * "user.max_user_namespaces=0, kernel.unprivileged_userns_clone=(absent),
 * kernel.apparmor_restrict_unprivileged_userns=1, euid=1000, kernel 6.8.0".
 */
void cps__userns_facts(char *buf, size_t size);

/* The hint for a refused user namespace: which knob to turn. */
extern const char cps__userns_hint[];

#endif
