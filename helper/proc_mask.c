/* proc_mask.c - which /proc files to cover (proc_mask.h). */
#include "proc_mask.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "error.h"

/* World-readable (on some kernel) but privilege-dependent or host-wide. */
static const char *const named[] = {"keys",        "key-users",   "timer_list",
                                    "sched_debug", "timer_stats", "latency_stats"};

static bool is_named(const char *name)
{
    for (size_t i = 0; i < sizeof(named) / sizeof(named[0]); i++)
        if (strcmp(name, named[i]) == 0)
            return true;
    return false;
}

static int add(struct cps_proc_masks *m, const char *name, enum cps_stage stage,
               struct cps_error *err)
{
    if (m->count == CPS_PROC_MASK_MAX)
        return cps__error_set(err, stage, E2BIG, NULL,
                              "more than %d root-only files in /proc (at %s): raise "
                              "CPS_PROC_MASK_MAX",
                              CPS_PROC_MASK_MAX, name);
    snprintf(m->names[m->count++], sizeof(m->names[0]), "%s", name);
    return 0;
}

/* Is the entry name of dirfd one to cover? Regular files by the rule; the
 * directories at the top of /proc are world-readable. Anything else (a
 * device, a FIFO) is a cover someone put on the host's /proc: the job's fresh
 * /proc has the real file there, so it is covered too. */
static bool wanted(int dirfd, const char *name)
{
    struct stat st;

    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || S_ISDIR(st.st_mode) ||
        S_ISLNK(st.st_mode))
        return false;
    if (!S_ISREG(st.st_mode))
        return true;
    return (st.st_mode & S_IROTH) == 0 || is_named(name);
}

int cps__proc_masks_find(int proc_fd, struct cps_proc_masks *m, enum cps_stage stage,
                         struct cps_error *err)
{
    /* A few hundred bytes of dirents per call; about 60 entries come before
     * the processes. */
    char buf[2048] __attribute__((aligned(8)));
    bool done = false;
    int fd, rc = 0;

    m->count = 0;
    fd = openat(proc_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return cps__error_set(err, stage, errno, NULL, "opening /proc to list it");
    while (!done && rc == 0) {
        long n = syscall(SYS_getdents64, fd, buf, sizeof(buf));

        if (n < 0) {
            rc = cps__error_set(err, stage, errno, NULL, "listing /proc");
            break;
        }
        if (n == 0)
            break;
        for (long off = 0; off < n && !done && rc == 0;) {
            const struct dirent64 *d = (const struct dirent64 *)(buf + off);

            off += d->d_reclen;
            /* "self" opens the list of processes (proc_pid_readdir). */
            if (strcmp(d->d_name, "self") == 0 || isdigit((unsigned char)d->d_name[0])) {
                done = true;
                break;
            }
            if (d->d_type == DT_DIR || d->d_type == DT_LNK)
                continue;
            if (wanted(fd, d->d_name))
                rc = add(m, d->d_name, stage, err);
        }
    }
    close(fd);
    return rc;
}
