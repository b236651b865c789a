/*
 * namespaces.h - the helper's namespaces: parent watch, unshare, hostname,
 * making "/" private.
 */
#ifndef CPS_HELPER_NAMESPACES_H
#define CPS_HELPER_NAMESPACES_H

#include <sys/types.h>

#include "error.h"

#define CPS_SANDBOX_HOSTNAME "cachepot-sandbox"

/*
 * Ask for sig when the parent dies (PR_SET_PDEATHSIG), then check that the
 * parent is still expected_parent and that sock (the peer's socket) is not hung
 * up: the death signal is tied to the parent *thread* and is racy (prctl(2)),
 * so the socket's EOF is the robust signal and this only closes the window
 * before the signal was armed. Stage "parent"; -ECONNRESET when the parent is gone.
 */
int cps__ns_watch_parent(int sig, pid_t expected_parent, int sock, struct cps_error *err);

/*
 * unshare(USER|NS|NET|IPC|UTS|CGROUP). The PID namespace is not unshared
 * here but created by the clone of I (init.c): after unshare(CLONE_NEWPID)
 * every later child of O would land in the job's namespace, and once its PID 1
 * is gone O could not create any process at all (fork fails with ENOMEM),
 * which breaks helpers O itself must run (fuse-overlayfs, bwrap) and
 * LeakSanitizer's exit-time thread. Stage "unshare"; the message lists the
 * user namespace knobs.
 */
int cps__ns_unshare(struct cps_error *err);

/* Set the UTS namespace's hostname to CPS_SANDBOX_HOSTNAME. Stage "hostname". */
int cps__ns_set_hostname(struct cps_error *err);

/* mount("/", MS_REC|MS_PRIVATE): no mount of the helper may propagate back to
 * the host's mount namespace (a shared "/" is the systemd default). Stage "mount". */
int cps__ns_make_root_private(struct cps_error *err);

#endif
