/* ipc_clear.c - remove every IPC object of the caller's IPC namespace. */
#include "ipc_clear.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <unistd.h>

#include "cleanup.h"

#define STAGE CPS_STAGE_CLEANUP

/*
 * The *_INFO commands return the highest index in use (0 with none in use),
 * and *_STAT_ANY turns an index into the object's id without the read
 * permission *_STAT checks (Linux 4.17; svipc(7)): I holds CAP_IPC_OWNER and
 * CAP_SYS_ADMIN in the user namespace owning its IPC namespace, which
 * IPC_RMID needs for objects of other uids. An index with no object is
 * EINVAL; an object removed meanwhile is EIDRM or EINVAL.
 */
static int clear_shm(struct cps_error *err)
{
    struct shm_info info;
    struct shmid_ds ds;
    int max, id;

    max = shmctl(0, SHM_INFO, (struct shmid_ds *)(void *)&info);
    if (max < 0)
        return cps__error_set(err, STAGE, errno, NULL,
                              "shmctl(SHM_INFO) in the job's IPC namespace");
    for (int i = 0; i <= max; i++) {
        id = shmctl(i, SHM_STAT_ANY, &ds);
        if (id < 0 && (errno == EINVAL || errno == EIDRM))
            continue;
        if (id < 0)
            return cps__error_set(err, STAGE, errno, NULL, "shmctl(%d, SHM_STAT_ANY)", i);
        if (shmctl(id, IPC_RMID, NULL) < 0 && errno != EINVAL && errno != EIDRM)
            return cps__error_set(err, STAGE, errno, NULL, "shmctl(%d, IPC_RMID)", id);
    }
    /* Every process of the job is gone, so nothing is attached: IPC_RMID
     * destroyed each segment at once, and none may be left. */
    if (shmctl(0, SHM_INFO, (struct shmid_ds *)(void *)&info) < 0 || info.used_ids != 0)
        return cps__error_set(err, STAGE, EBUSY, NULL,
                              "%d SysV shared memory segments left in the job's IPC namespace",
                              info.used_ids);
    return 0;
}

static int clear_msg(struct cps_error *err)
{
    struct msginfo info;
    struct msqid_ds ds;
    int max, id;

    max = msgctl(0, MSG_INFO, (struct msqid_ds *)(void *)&info);
    if (max < 0)
        return cps__error_set(err, STAGE, errno, NULL,
                              "msgctl(MSG_INFO) in the job's IPC namespace");
    for (int i = 0; i <= max; i++) {
        id = msgctl(i, MSG_STAT_ANY, &ds);
        if (id < 0 && (errno == EINVAL || errno == EIDRM))
            continue;
        if (id < 0)
            return cps__error_set(err, STAGE, errno, NULL, "msgctl(%d, MSG_STAT_ANY)", i);
        if (msgctl(id, IPC_RMID, NULL) < 0 && errno != EINVAL && errno != EIDRM)
            return cps__error_set(err, STAGE, errno, NULL, "msgctl(%d, IPC_RMID)", id);
    }
    /* MSG_INFO: msgpool is the number of queues in use (msgctl(2)). */
    if (msgctl(0, MSG_INFO, (struct msqid_ds *)(void *)&info) < 0 || info.msgpool != 0)
        return cps__error_set(err, STAGE, EBUSY, NULL,
                              "%d SysV message queues left in the job's IPC namespace",
                              info.msgpool);
    return 0;
}

static int clear_sem(struct cps_error *err)
{
    struct seminfo info;
    struct semid_ds ds;
    int max, id;

    max = semctl(0, 0, SEM_INFO, &info);
    if (max < 0)
        return cps__error_set(err, STAGE, errno, NULL,
                              "semctl(SEM_INFO) in the job's IPC namespace");
    for (int i = 0; i <= max; i++) {
        id = semctl(i, 0, SEM_STAT_ANY, &ds);
        if (id < 0 && (errno == EINVAL || errno == EIDRM))
            continue;
        if (id < 0)
            return cps__error_set(err, STAGE, errno, NULL, "semctl(%d, SEM_STAT_ANY)", i);
        if (semctl(id, 0, IPC_RMID) < 0 && errno != EINVAL && errno != EIDRM)
            return cps__error_set(err, STAGE, errno, NULL, "semctl(%d, IPC_RMID)", id);
    }
    /* SEM_INFO: semusz is the number of sets in use (semctl(2)). */
    if (semctl(0, 0, SEM_INFO, &info) < 0 || info.semusz != 0)
        return cps__error_set(err, STAGE, EBUSY, NULL,
                              "%d SysV semaphore sets left in the job's IPC namespace",
                              info.semusz);
    return 0;
}

/*
 * POSIX queues have names only on an mqueue filesystem. A new mqueue mount
 * made from inside the IPC namespace shows that namespace's queues (ipc/
 * mqueue.c: one superblock per namespace), and a detached one (fsopen(2),
 * fsmount(2); Linux 5.2) needs no directory in I's tree and goes away with
 * its fd. unlinkat on it is mq_unlink(3).
 */
static int clear_mq(struct cps_error *err)
{
    cps_cleanup_close int fs = -1, mnt = -1;
    struct dirent *e;
    unsigned left = 0;
    DIR *d;
    int dfd;

    fs = fsopen("mqueue", FSOPEN_CLOEXEC);
    if (fs < 0)
        return cps__error_set(err, STAGE, errno, NULL, "fsopen(\"mqueue\") for the job's queues");
    if (fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
        return cps__error_set(err, STAGE, errno, NULL, "fsconfig create of mqueue");
    mnt = fsmount(fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOEXEC | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
    if (mnt < 0)
        return cps__error_set(err, STAGE, errno, NULL, "fsmount of mqueue");
    dfd = openat(mnt, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0 || (d = fdopendir(dfd)) == NULL) {
        int saved = errno;

        if (dfd >= 0)
            close(dfd);
        return cps__error_set(err, STAGE, saved, NULL, "open the mqueue mount");
    }
    for (int pass = 0; pass < 2; pass++) {
        left = 0;
        rewinddir(d);
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            left++;
            if (pass == 0 && unlinkat(mnt, e->d_name, 0) < 0 && errno != ENOENT) {
                int saved = errno;

                closedir(d);
                return cps__error_set(err, STAGE, saved, NULL, "unlink POSIX message queue /%s",
                                      e->d_name);
            }
        }
    }
    closedir(d);
    if (left > 0)
        return cps__error_set(err, STAGE, EBUSY, NULL,
                              "%u POSIX message queues left in the job's IPC namespace", left);
    return 0;
}

int cps__ipc_clear(struct cps_error *err)
{
    int rc;

    if ((rc = clear_shm(err)) < 0 || (rc = clear_msg(err)) < 0 || (rc = clear_sem(err)) < 0 ||
        (rc = clear_mq(err)) < 0)
        return rc;
    return 0;
}
