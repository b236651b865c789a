/* rootfs_contents.c - the sandbox's /dev contents and the /proc entries made read-only. */
#include "rootfs_contents.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"

const char *const cps__dev_nodes[] = {"null", "zero", "full", "random", "urandom", "tty"};
const size_t cps__dev_nodes_count = sizeof(cps__dev_nodes) / sizeof(cps__dev_nodes[0]);

int cps__dev_populate(int dev_fd, struct cps_error *err)
{
    static const char *const links[][2] = {
        {"fd", "/proc/self/fd"},
        {"stdin", "/proc/self/fd/0"},
        {"stdout", "/proc/self/fd/1"},
        {"stderr", "/proc/self/fd/2"},
    };

    for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++)
        if (symlinkat(links[i][1], dev_fd, links[i][0]) < 0)
            return cps__error_set(err, CPS_STAGE_DEV, errno, NULL, "symlink /dev/%s", links[i][0]);
    if (mkdirat(dev_fd, "shm", 0700) < 0 || fchmodat(dev_fd, "shm", 01777, 0) < 0)
        return cps__error_set(err, CPS_STAGE_DEV, errno, NULL, "mkdir /dev/shm");
    return 0;
}

/*
 * Files of the fresh /proc that are owned by host root and whose writers the
 * kernel checks by uid, not by capability: sysctls (kernel.core_pattern and
 * kernel.modprobe run a program as host root), sysrq-trigger (reboot, crash),
 * IRQ affinity, PCI config space. A helper started by root maps the job's uid
 * to host uid 0, which owns them; dropping every capability does not help
 * (proc_sys_permission, write_sysrq_trigger). Each is bind-mounted over
 * itself and remounted read-only, as bubblewrap and OCI runtimes do; the job
 * cannot undo it (no CAP_SYS_ADMIN, and the seccomp filter denies mount).
 * Done for an unprivileged helper too: its job has no business there either.
 */
const char *const cps__proc_read_only[] = {"sys", "sysrq-trigger", "irq", "bus", "fs"};
const size_t cps__proc_read_only_count =
    sizeof(cps__proc_read_only) / sizeof(cps__proc_read_only[0]);
