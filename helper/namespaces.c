/* namespaces.c - unshare, parent watch, hostname, private root. */
#include "namespaces.h"

#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "error.h"
#include "idmap.h"

int cps__ns_watch_parent(int sig, pid_t expected_parent, int sock, struct cps_error *err)
{
    struct pollfd p = {.fd = sock, .events = POLLRDHUP};

    if (prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0) < 0)
        return cps__error_set(err, CPS_STAGE_PARENT, errno, NULL, "prctl(PR_SET_PDEATHSIG)");
    if (getppid() != expected_parent)
        return cps__error_set(err, CPS_STAGE_PARENT, ECONNRESET, NULL,
                              "the parent (pid %d) exited before the helper was ready",
                              (int)expected_parent);
    if (poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)))
        return cps__error_set(err, CPS_STAGE_PARENT, ECONNRESET, NULL,
                              "the parent closed fd 3 before the helper was ready");
    return 0;
}

int cps__ns_unshare(struct cps_error *err)
{
    const int flags =
        CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWCGROUP;
    char facts[512];
    int saved;

    if (unshare(flags) == 0)
        return 0;
    saved = errno;
    cps__userns_facts(facts, sizeof(facts));
    return cps__error_set(err, CPS_STAGE_UNSHARE, saved, saved == EINVAL ? NULL : cps__userns_hint,
                          "unshare(USER|NS|NET|IPC|UTS|CGROUP) as euid %u failed: %s (%s%s)",
                          (unsigned)geteuid(), strerror(saved), facts,
                          saved == ENOSPC ? "; ENOSPC: a namespace count limit was reached" : "");
}

int cps__ns_set_hostname(struct cps_error *err)
{
    if (sethostname(CPS_SANDBOX_HOSTNAME, strlen(CPS_SANDBOX_HOSTNAME)) < 0)
        return cps__error_set(err, CPS_STAGE_HOSTNAME, errno, NULL, "sethostname(\"%s\")",
                              CPS_SANDBOX_HOSTNAME);
    return 0;
}

int cps__ns_make_root_private(struct cps_error *err)
{
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        return cps__error_set(err, CPS_STAGE_MOUNT, errno, NULL,
                              "making / MS_REC|MS_PRIVATE in the new mount namespace");
    return 0;
}
