/*
 * proc_mask.h - the /proc files a job must read nothing from, although their
 * mode lets it.
 *
 * A helper started by root maps the job's uid to host uid 0, the owner of
 * every file at the top of /proc. Files the kernel makes readable by their
 * owner only (mode 0400: kpageflags, kpagecount, kpagecgroup, slabinfo,
 * timer_list, pagetypeinfo, vmallocinfo, ...) are read-protected by that mode
 * alone, not by a capability check, so the job could read physical page
 * flags, slab and vmalloc layout (kernel addresses), and host timers. Some
 * world-readable files show what the reader's uid may see: /proc/keys lists
 * the keys of every keyring host uid 0 may view (_uid.0, ...), /proc/key-users
 * their quotas. A job has no use for any of them.
 *
 * Each of these is covered with a bind of /dev/null (reads give EOF). The
 * list is made from the running kernel's /proc, not fixed: every regular file
 * at the top of /proc without the read bit for others, every entry that is
 * neither file, directory nor link (a cover on the host's /proc, which the
 * bubblewrap backend lists from), plus the named ones
 * that are world-readable, or were on older kernels (timer_list was 0444,
 * sched_debug and timer_stats existed, latency_stats with CONFIG_LATENCYTOP).
 * So a vendor kernel's own root-only file is masked too (this CI host's
 * kernel has /proc/program_cpu, 0400, per-program CPU times of the host).
 */
#ifndef CPS_HELPER_PROC_MASK_H
#define CPS_HELPER_PROC_MASK_H

#include <linux/limits.h>
#include <stddef.h>

#include "error.h"

/* Room for every root-only top-level file a kernel has (12 on Linux 6.18
 * with everything built in); more is an error, never a silent skip. */
#define CPS_PROC_MASK_MAX 32

struct cps_proc_masks {
    size_t count;
    char names[CPS_PROC_MASK_MAX][NAME_MAX + 1]; /* entries of /proc, no '/' */
};

/*
 * Fill m with the entries of the procfs open at proc_fd (borrowed, a
 * directory fd; O_PATH is not enough, it is read) to mask. Reads only the
 * entries that are not processes: procfs lists them before "self" and the
 * PIDs (fs/proc/root.c, proc_root_readdir), so a host /proc with thousands of
 * processes costs no more than a fresh one. Returns 0, or -errno with err
 * (stage): -E2BIG when more than CPS_PROC_MASK_MAX entries qualify.
 */
int cps__proc_masks_find(int proc_fd, struct cps_proc_masks *m, enum cps_stage stage,
                         struct cps_error *err);

#endif
