/*
 * session pgrp|tty: what a job can do to its process group and its
 * controlling terminal (docs/SECURITY.md, "Network, IPC, processes").
 *
 *   pgrp  prints "sid S pgid G", then renices its whole process group
 *         (setpriority(PRIO_PGRP, 0, 19)) and sends SIGTERM to it
 *         (kill(0, SIGTERM)), ignoring SIGTERM itself, and prints what each
 *         call returned. Outside the sandbox these reach every process of the
 *         caller's group: the host test puts a sentinel there.
 *   tty   opens /dev/tty (the controlling terminal), and if that works reads
 *         what is waiting on it (at most 5 s) and tries TIOCSTI on it; prints
 *         "open /dev/tty: ERRNO-NAME" or "open /dev/tty: ok", then "read: TEXT"
 *         and "TIOCSTI: ok|ERRNO-NAME".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <unistd.h>

static const char *result(int rc)
{
    return rc == 0 ? "ok" : strerrorname_np(errno);
}

static int pgrp(void)
{
    int rc;

    printf("sid %d pgid %d\n", (int)getsid(0), (int)getpgid(0));
    signal(SIGTERM, SIG_IGN);
    rc = setpriority(PRIO_PGRP, 0, 19);
    printf("setpriority: %s\n", result(rc));
    rc = kill(0, SIGTERM);
    printf("kill: %s\n", result(rc));
    return 0;
}

static int tty(void)
{
    struct pollfd p;
    char buf[256];
    ssize_t n;
    int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);

    if (fd < 0) {
        printf("open /dev/tty: %s\n", strerrorname_np(errno));
        return 0;
    }
    printf("open /dev/tty: ok\n");
    fflush(stdout);
    /* The wait only keeps a broken sandbox from hanging the test. */
    p = (struct pollfd){.fd = fd, .events = POLLIN};
    if (poll(&p, 1, 5000) == 1 && (n = read(fd, buf, sizeof(buf) - 1)) >= 0) {
        buf[n] = '\0';
        buf[strcspn(buf, "\n")] = '\0';
        printf("read: %s\n", buf);
    } else {
        printf("read: nothing\n");
    }
    printf("TIOCSTI: %s\n", result(ioctl(fd, TIOCSTI, "\n")));
    close(fd);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "pgrp") == 0)
        return pgrp();
    if (argc == 2 && strcmp(argv[1], "tty") == 0)
        return tty();
    fprintf(stderr, "usage: session pgrp|tty\n");
    return 2;
}
