/*
 * ipc_clear.h - empty the caller's IPC namespace: every SysV object and every
 * POSIX message queue in it.
 *
 * Why (docs/REUSE.md "What a job leaves in the kept user namespace"): POSIX
 * queues are charged to RLIMIT_MSGQUEUE and SHM_LOCK'ed SysV segments to
 * RLIMIT_MEMLOCK of the creator's ucounts, i.e. of (user namespace, uid). A
 * helper serving several jobs keeps its user namespace, so the charges of a
 * job's objects would reach the next job. They die with the job's IPC
 * namespace, but only when the kernel frees it, in a work item after an RCU
 * grace period (ipc/namespace.c put_ipc_ns -> free_ipc, as in Linux 6.18):
 * with no signal to wait for, after the next hello (measured: FOUND.md of the
 * escape tests, reuse_escape_ipc_quota). Removing the
 * objects while the namespace still lives releases the charges at once:
 * IPC_RMID of a segment nobody attaches frees it (ipc/shm.c do_shm_rmid ->
 * shm_destroy -> user_shm_unlock), and unlinking a queue
 * nobody holds open evicts its inode (ipc/mqueue.c mqueue_evict_inode ->
 * dec_rlimit_ucounts).
 */
#ifndef CPS_HELPER_IPC_CLEAR_H
#define CPS_HELPER_IPC_CLEAR_H

#include "error.h"

/*
 * In I, after every other process of the job is reaped: remove every SysV
 * shared memory segment, message queue and semaphore set of the caller's IPC
 * namespace (IPC_RMID; found with the *_STAT_ANY commands, Linux 4.17), and
 * unlink every POSIX message queue (listed on a detached mqueue mount of the
 * namespace, which needs CAP_SYS_ADMIN in the user namespace owning the
 * mount namespace). Then checks that the namespace holds nothing. Returns 0,
 * or -errno with err (stage "cleanup") when something could not be removed
 * or is still there.
 */
int cps__ipc_clear(struct cps_error *err);

#endif
