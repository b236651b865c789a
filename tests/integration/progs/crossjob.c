/*
 * crossjob: the job program of the helper-reuse escape tests
 * (tests/integration/test_reuse_escape.c, docs/REUSE.md "Tests it needs").
 * The first job of a reusing helper runs `crossjob leave WHAT MARK`, which
 * tries to leave state for the next job and reports what it managed to
 * leave; the second runs `crossjob find WHAT`, which looks for that state.
 *
 *   leave WHAT MARK   WHAT: files ipc quota procs sockets counters keys hostname
 *                     all.
 *                     One line per attempt: "made ITEM" or "failed ITEM ERRNO",
 *                     then one "exists ITEM" / "gone ITEM ERRNO" line per item
 *                     checked at the end of the job (the proof that the job
 *                     really left it). MARK (with "cps-leak" in it) goes into
 *                     the argv of every process left behind, so that the host
 *                     side can look for them.
 *   leave-hang WHAT MARK   the same, then "ready" and sleeps until killed.
 *   find WHAT         one line per check: "clean ITEM [detail]" or
 *                     "FOUND ITEM detail". Any FOUND is an escape.
 *   forks MAX         forks children that wait (up to MAX) until a fork fails,
 *                     prints "forked N ERRNO", lets them go and exits 0.
 *   forks-kill MAX    the same, then kills itself with SIGKILL (a SIGKILL
 *                     that no memory limit caused).
 *   hog N MB          N children each touch MB MiB; prints one
 *                     "child signal S" or "child exit C" line per child.
 *   hold ROLE MARK    (internal) the processes left behind: sleep forever.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <mqueue.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <unistd.h>

#define IPC_KEY  ((key_t)0x43505331) /* "CPS1": a fixed key the next job can look up */
#define MQ_NAME  "/cps-leak-mq"
#define ABSTRACT "cps-leak-abstract"
#define INFLIGHT "cps-leak-inflight-%d"
/* Sockets left in SCM_RIGHTS loops: each is freed only by the kernel's unix
 * garbage collector, which runs asynchronously after the close (a few ms
 * for hundreds here); 400 loops hold 800 fds in flight, within the job's
 * default RLIMIT_NOFILE of 1024 that bounds them (too_many_unix_fds). */
#define INFLIGHT_COUNT 400
#define TCP_PORT       47231
#define TCP_PORT2      47233 /* for 0.0.0.0: 127.0.0.1 holds TCP_PORT */
#define UDP_PORT       47232
#define HOST_NAME      "cps-leak-host"
#define POISON         "cps-leak-poison\n"
#define MARKER_FILE    "/etc/marker-toolchain"
/* A lower-layer file owned by the job's uid, in a dir of its own (the test
 * makes both), so that protected_hardlinks lets uid 65534 link to it and
 * overlayfs can copy its parent up (an unmapped owner is EOVERFLOW). */
#define LINKABLE      "/own/linkable"
#define LINKABLE_TEXT "linkable lower-layer file\n"

/* No glibc wrappers for the key syscalls (libkeyutils has them). */
#define KEY_SPEC_USER_KEYRING         (-4)
#define KEY_SPEC_USER_SESSION_KEYRING (-5)
#define KEYCTL_GET_KEYRING_ID         0
#define KEYCTL_SEARCH                 10

static const char *en(int e)
{
    const char *n = strerrorname_np(e);

    return n != NULL ? n : "E?";
}

static void made(const char *item, int rc)
{
    if (rc < 0)
        printf("failed %s %s\n", item, en(errno));
    else
        printf("made %s\n", item);
}

/* ---- files ---------------------------------------------------------------- */

/* Every path the first job tries to leave; the second job looks at each, and
 * walks its whole tree for any name with "cps-leak" in it. /work is the cwd;
 * /work/src/second.txt and /work/src/link.txt are the second job's inputs,
 * /work/out/result.o its declared output, which it never writes. */
static const char *const leak_files[] = {
    "/tmp/cps-leak-tmp",   "/work/cps-leak-cwd", "/dev/shm/cps-leak-shm", "/work/cps-leak-sym",
    "/work/cps-leak-hard", "/etc/cps-leak-etc",  "/cps-leak-root",        "/work/src/second.txt",
    "/work/src/link.txt",  "/work/out/result.o",
};

static int write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    ssize_t n;

    if (fd < 0)
        return -1;
    n = write(fd, text, strlen(text));
    close(fd);
    return n == (ssize_t)strlen(text) ? 0 : -1;
}

static void leave_files(void)
{
    int fd;

    made("/tmp/cps-leak-tmp", write_file("/tmp/cps-leak-tmp", POISON));
    made("/work/cps-leak-cwd", write_file("cps-leak-cwd", POISON));
    made("/dev/shm/cps-leak-shm", write_file("/dev/shm/cps-leak-shm", POISON));
    /* A symlink and a hard link to a file of the lower layer (the toolchain). */
    made("/work/cps-leak-sym", symlink(MARKER_FILE, "/work/cps-leak-sym"));
    made("/work/cps-leak-hard", link(LINKABLE, "/work/cps-leak-hard"));
    made("/etc/cps-leak-etc", write_file("/etc/cps-leak-etc", POISON));
    made("/cps-leak-root", write_file("/cps-leak-root", POISON));
    /* The lower-layer file itself, through the hard link if there is one. */
    fd = open("/work/cps-leak-hard", O_WRONLY | O_APPEND | O_CLOEXEC);
    if (fd < 0)
        fd = open(LINKABLE, O_WRONLY | O_APPEND | O_CLOEXEC);
    made("append " LINKABLE, fd < 0 ? -1 : (int)write(fd, POISON, strlen(POISON)));
    if (fd >= 0)
        close(fd);
    fd = open(MARKER_FILE, O_WRONLY | O_APPEND | O_CLOEXEC);
    made("append " MARKER_FILE, fd < 0 ? -1 : (int)write(fd, POISON, strlen(POISON)));
    if (fd >= 0)
        close(fd);
    /* The next job's inputs and output, made before it can make them. */
    mkdir("/work/src", 0777);
    mkdir("/work/out", 0777);
    made("/work/src/second.txt", write_file("/work/src/second.txt", POISON));
    made("/work/src/link.txt", symlink("/tmp/cps-leak-tmp", "/work/src/link.txt"));
    made("/work/out/result.o", write_file("/work/out/result.o", POISON));
}

static void check_files_left(void)
{
    struct stat st;

    for (size_t i = 0; i < sizeof(leak_files) / sizeof(leak_files[0]); i++) {
        if (lstat(leak_files[i], &st) == 0)
            printf("exists %s\n", leak_files[i]);
        else
            printf("gone %s %s\n", leak_files[i], en(errno));
    }
}

static int walk_found;

static int walk_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    if (strncmp(path, "/proc/", 6) == 0 || strcmp(path, "/proc") == 0)
        return FTW_SKIP_SUBTREE;
    if (strstr(path + ftw->base, "cps-leak") != NULL) {
        printf("FOUND walk %s\n", path);
        walk_found++;
    }
    return FTW_CONTINUE;
}

/* The whole content must be want (NULL: the file must not exist). */
static void expect_content(const char *path, const char *want)
{
    char buf[4096];
    ssize_t n;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

    if (fd < 0) {
        printf("FOUND %s not its own file: %s\n", path, en(errno));
        return;
    }
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    buf[n < 0 ? 0 : n] = '\0';
    if (want == NULL || strcmp(buf, want) != 0)
        printf("FOUND %s content \"%.64s\"\n", path, buf);
    else
        printf("clean %s its own content\n", path);
}

static void find_files(void)
{
    struct stat st;

    for (size_t i = 0; i < sizeof(leak_files) / sizeof(leak_files[0]); i++) {
        const char *p = leak_files[i];

        if (strncmp(p, "/work/src/", 10) == 0)
            continue; /* the job's own inputs: checked by content below */
        if (lstat(p, &st) == 0)
            printf("FOUND %s mode %o size %lld\n", p, (unsigned)st.st_mode, (long long)st.st_size);
        else
            printf("clean %s %s\n", p, en(errno));
    }
    /* The second job's inputs hold what the test sent (see the test). */
    expect_content("/work/src/second.txt", "input of the second job\n");
    expect_content("/work/src/link.txt", "link input of the second job\n");
    expect_content(MARKER_FILE, "cachepot test toolchain\n");
    expect_content(LINKABLE, LINKABLE_TEXT);
    walk_found = 0;
    nftw("/", walk_one, 32, FTW_PHYS | FTW_ACTIONRETVAL);
    if (walk_found == 0)
        printf("clean walk no cps-leak name under /\n");
}

/* ---- SysV IPC and POSIX message queues ------------------------------------- */

/*
 * POSIX message queues are charged to the user's RLIMIT_MSGQUEUE (in the
 * ucounts of the uid in its user namespace, Linux 5.14), which reuse keeps;
 * the charge is dropped when the queue's inode goes, i.e. when the IPC
 * namespace is freed, in a work item after its last process. Make queues of
 * the largest default size until the limit refuses one (EMFILE); unlink them
 * again when clean is true. The number made: the next job must get as many.
 */
static int mq_fill(bool clean)
{
    struct mq_attr attr = {.mq_maxmsg = 10, .mq_msgsize = 8192};
    char name[64];
    int n = 0;

    for (; n < 64; n++) {
        mqd_t q;

        snprintf(name, sizeof(name), "/cps-leak-fill-%d", n);
        q = mq_open(name, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600, &attr);
        if (q == (mqd_t)-1)
            break;
        mq_close(q);
    }
    printf("mq-fill %d %s\n", n, en(errno));
    for (int i = 0; clean && i < n; i++) {
        snprintf(name, sizeof(name), "/cps-leak-fill-%d", i);
        mq_unlink(name);
    }
    return n;
}

/*
 * SHM_LOCK charges a segment's size to the uid's RLIMIT_MEMLOCK (ucounts,
 * Linux 5.14) until the segment is destroyed, with its IPC namespace. Lock
 * 1 MiB segments until the limit refuses one; the number locked.
 */
static int shm_lock_fill(bool clean)
{
    int ids[64], n = 0;

    for (; n < 64; n++) {
        ids[n] = shmget(IPC_PRIVATE, 1 << 20, IPC_CREAT | 0600);
        if (ids[n] < 0)
            break;
        if (shmctl(ids[n], SHM_LOCK, NULL) < 0) {
            int e = errno;

            shmctl(ids[n], IPC_RMID, NULL);
            errno = e;
            break;
        }
    }
    printf("shm-lock %d %s\n", n, en(errno));
    for (int i = 0; clean && i < n; i++)
        shmctl(ids[i], IPC_RMID, NULL);
    return n;
}

static void leave_ipc(void)
{
    struct sembuf up = {.sem_num = 0, .sem_op = 42, .sem_flg = 0};
    struct {
        long type;
        char text[32];
    } msg = {.type = 1, .text = "cps-leak-msg"};
    struct mq_attr attr = {.mq_maxmsg = 4, .mq_msgsize = 64};
    int shm, q, sem;
    mqd_t mq;

    shm = shmget(IPC_KEY, 4096, IPC_CREAT | 0666);
    if (shm >= 0) {
        char *p = shmat(shm, NULL, 0);

        if (p != (void *)-1) {
            strcpy(p, "cps-leak-shm-data");
            shmdt(p);
        }
    }
    made("shm", shm);
    q = msgget(IPC_KEY, IPC_CREAT | 0666);
    made("msg", q < 0 ? -1 : msgsnd(q, &msg, sizeof(msg.text), IPC_NOWAIT));
    sem = semget(IPC_KEY, 1, IPC_CREAT | 0666);
    made("sem", sem < 0 ? -1 : semop(sem, &up, 1));
    mq = mq_open(MQ_NAME, O_CREAT | O_RDWR | O_CLOEXEC, 0666, &attr);
    made("mq", mq == (mqd_t)-1 ? -1 : mq_send(mq, "cps-leak-mq", 11, 0));
    if (mq != (mqd_t)-1)
        mq_close(mq);
}

static void report(const char *item, bool found, int e, const char *detail)
{
    if (found)
        printf("FOUND %s %s\n", item, detail);
    else
        printf("clean %s %s\n", item, en(e));
}

/* Lines after the header of /proc/sysvipc/<kind>: every object of the namespace. */
static void sysvipc_list(const char *kind, bool leave)
{
    char path[64], line[512];
    int n = 0;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/sysvipc/%s", kind);
    f = fopen(path, "r");
    if (f == NULL) {
        printf("%s %s %s\n", leave ? "gone" : "clean", path, en(errno));
        return;
    }
    while (fgets(line, sizeof(line), f) != NULL)
        if (n++ > 0 && !leave)
            printf("FOUND %s %s", path, line);
    fclose(f);
    if (leave)
        printf("%s %s %d objects\n", n > 1 ? "exists" : "gone", path, n > 1 ? n - 1 : 0);
    else if (n <= 1)
        printf("clean %s empty\n", path);
}

static void check_ipc_left(void)
{
    mqd_t mq;

    printf("%s shm\n", shmget(IPC_KEY, 0, 0) >= 0 ? "exists" : "gone");
    printf("%s msg\n", msgget(IPC_KEY, 0) >= 0 ? "exists" : "gone");
    printf("%s sem\n", semget(IPC_KEY, 0, 0) >= 0 ? "exists" : "gone");
    mq = mq_open(MQ_NAME, O_RDONLY | O_CLOEXEC);
    printf("%s mq\n", mq != (mqd_t)-1 ? "exists" : "gone");
    if (mq != (mqd_t)-1)
        mq_close(mq);
    sysvipc_list("shm", true);
    sysvipc_list("msg", true);
    sysvipc_list("sem", true);
}

static void find_ipc(void)
{
    int id;
    mqd_t mq;

    id = shmget(IPC_KEY, 0, 0);
    report("shm", id >= 0, errno, "by key");
    id = msgget(IPC_KEY, 0);
    report("msg", id >= 0, errno, "by key");
    id = semget(IPC_KEY, 0, 0);
    report("sem", id >= 0, errno, "by key");
    mq = mq_open(MQ_NAME, O_RDONLY | O_CLOEXEC);
    report("mq", mq != (mqd_t)-1, errno, "by name");
    if (mq != (mqd_t)-1)
        mq_close(mq);
    sysvipc_list("shm", false);
    sysvipc_list("msg", false);
    sysvipc_list("sem", false);
}

/* ---- processes ------------------------------------------------------------- */

static void hold(const char *role, const char *mark)
{
    execl("/proc/self/exe", "crossjob", "hold", role, mark, (char *)NULL);
    _exit(127);
}

static void leave_procs(const char *mark)
{
    int pipefd[2];
    pid_t p;

    /* A daemon: double fork, setsid, stdio on /dev/null. */
    p = fork();
    if (p == 0) {
        int null = open("/dev/null", O_RDWR);

        setsid();
        if (fork() == 0) {
            dup2(null, 0);
            dup2(null, 1);
            dup2(null, 2);
            hold("daemon", mark);
        }
        _exit(0);
    }
    made("daemon", p < 0 ? -1 : (int)waitpid(p, NULL, 0));
    /* A process that ignores SIGTERM and SIGHUP (the dispositions survive
     * exec), keeping the job's stdout and stderr. */
    p = fork();
    if (p == 0) {
        signal(SIGTERM, SIG_IGN);
        signal(SIGHUP, SIG_IGN);
        hold("noterm", mark);
    }
    made("noterm", p < 0 ? -1 : 0);
    /* A new session holding both ends of a pipe (and stdout). */
    if (pipe(pipefd) < 0) {
        made("pipe", -1);
        return;
    }
    p = fork();
    if (p == 0) {
        setsid();
        hold("pipe", mark);
    }
    made("pipe", p < 0 ? -1 : 0);
    close(pipefd[0]);
    close(pipefd[1]);
}

/* The command line of pid with NULs as spaces, into buf. */
static void cmdline_of(const char *pid, char *buf, size_t size)
{
    char path[64];
    ssize_t n;
    int fd;

    snprintf(path, sizeof(path), "/proc/%s/cmdline", pid);
    buf[0] = '\0';
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    n = read(fd, buf, size - 1);
    close(fd);
    if (n < 0)
        n = 0;
    for (ssize_t i = 0; i < n; i++)
        if (buf[i] == '\0')
            buf[i] = ' ';
    buf[n] = '\0';
}

/* Count the processes left behind, as seen at the end of the first job. The
 * children are not yet reparented: wait for the three holders to exec. */
static void check_procs_left(void)
{
    const char *roles[] = {"hold daemon", "hold noterm", "hold pipe"};

    for (size_t r = 0; r < 3; r++) {
        bool seen = false;

        for (int tries = 0; tries < 2000 && !seen; tries++) {
            struct dirent *e;
            DIR *d = opendir("/proc");
            char buf[512];

            while (d != NULL && (e = readdir(d)) != NULL && !seen) {
                if (e->d_name[0] < '1' || e->d_name[0] > '9')
                    continue;
                cmdline_of(e->d_name, buf, sizeof(buf));
                seen = strstr(buf, roles[r]) != NULL;
            }
            if (d != NULL)
                closedir(d);
            if (!seen)
                usleep(1000);
        }
        printf("%s %s\n", seen ? "exists" : "gone", roles[r]);
    }
}

/* Only PID 1 and this process and its ancestors (bubblewrap's reaper under
 * that backend) may be visible. */
static void find_procs(void)
{
    pid_t self = getpid(), chain[16];
    size_t nchain = 0;
    struct dirent *e;
    DIR *d = opendir("/proc");
    char buf[512];
    int others = 0;

    for (pid_t p = getppid(); p > 1 && nchain < 16;) {
        char path[64], line[256];
        FILE *f;

        chain[nchain++] = p;
        snprintf(path, sizeof(path), "/proc/%d/status", (int)p);
        f = fopen(path, "r");
        p = 0;
        while (f != NULL && fgets(line, sizeof(line), f) != NULL)
            if (strncmp(line, "PPid:", 5) == 0)
                p = (pid_t)atoi(line + 5);
        if (f != NULL)
            fclose(f);
    }
    cmdline_of("1", buf, sizeof(buf));
    printf("clean pid1 \"%s\"\n", buf);
    while (d != NULL && (e = readdir(d)) != NULL) {
        pid_t p;
        bool mine = false;

        if (e->d_name[0] < '1' || e->d_name[0] > '9')
            continue;
        p = (pid_t)atoi(e->d_name);
        mine = p == 1 || p == self;
        for (size_t i = 0; i < nchain; i++)
            mine = mine || p == chain[i];
        cmdline_of(e->d_name, buf, sizeof(buf));
        if (!mine || strstr(buf, "cps-leak") != NULL) {
            printf("FOUND pid %d \"%s\"\n", (int)p, buf);
            others++;
        }
    }
    if (d != NULL)
        closedir(d);
    if (others == 0)
        printf("clean procs only pid 1, %zu ancestor(s) and itself\n", nchain);
}

/* ---- sockets --------------------------------------------------------------- */

static socklen_t abstract_addr(struct sockaddr_un *a, const char *name)
{
    memset(a, 0, sizeof(*a));
    a->sun_family = AF_UNIX;
    memcpy(a->sun_path + 1, name, strlen(name));
    return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(name));
}

static int listen_abstract(const char *name)
{
    struct sockaddr_un a;
    socklen_t len = abstract_addr(&a, name);
    int s = socket(AF_UNIX, SOCK_STREAM, 0);

    if (s < 0)
        return -1;
    if (bind(s, (struct sockaddr *)&a, len) < 0 || listen(s, 8) < 0) {
        int e = errno;

        close(s);
        errno = e;
        return -1;
    }
    return s;
}

static int connect_abstract(const char *name)
{
    struct sockaddr_un a;
    socklen_t len = abstract_addr(&a, name);
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), rc;

    if (s < 0)
        return -1;
    rc = connect(s, (struct sockaddr *)&a, len);
    if (rc < 0) {
        int e = errno;

        close(s);
        errno = e;
        return -1;
    }
    close(s);
    return 0;
}

static int inet_socket(int type, uint32_t addr, int port, bool do_listen)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    int s = socket(AF_INET, type, 0), one = 1;

    if (s < 0)
        return -1;
    a.sin_addr.s_addr = htonl(addr);
    /* Not for UDP: there SO_REUSEADDR on both sides lets a second bind share
     * the port, which would hide a socket left by the first job. */
    if (type == SOCK_STREAM)
        setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(s, (struct sockaddr *)&a, sizeof(a)) < 0 || (do_listen && listen(s, 8) < 0)) {
        int e = errno;

        close(s);
        errno = e;
        return -1;
    }
    return s;
}

/*
 * An abstract socket whose only reference is in flight: its fd and the
 * receiving end of a socketpair are sent into that same socketpair, and every
 * descriptor is closed. Only the kernel's unix garbage collector frees it.
 */
static int leave_inflight(const char *name)
{
    char dummy = 'x';
    union {
        char buf[CMSG_SPACE(2 * sizeof(int))];
        struct cmsghdr align;
    } u;
    struct iovec iov = {.iov_base = &dummy, .iov_len = 1};
    struct msghdr mh = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf)};
    struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
    int sp[2], s = listen_abstract(name), fds[2];
    ssize_t n;

    if (s < 0)
        return -1;
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sp) < 0) {
        close(s);
        return -1;
    }
    fds[0] = s;
    fds[1] = sp[0];
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(fds));
    memcpy(CMSG_DATA(cm), fds, sizeof(fds));
    n = sendmsg(sp[1], &mh, 0);
    close(s);
    close(sp[0]);
    close(sp[1]);
    return n == 1 ? 0 : -1;
}

static int leave_inflights(void)
{
    char name[64];

    for (int i = 0; i < INFLIGHT_COUNT; i++) {
        snprintf(name, sizeof(name), INFLIGHT, i);
        if (leave_inflight(name) < 0)
            return -1;
    }
    return 0;
}

/* How many of the in-flight sockets' names still take a connection. */
static int inflights_bound(void)
{
    char name[64];
    int n = 0;

    for (int i = 0; i < INFLIGHT_COUNT; i++) {
        snprintf(name, sizeof(name), INFLIGHT, i);
        n += connect_abstract(name) == 0;
    }
    return n;
}

/* One counter of the "Ip:" lines of /proc/net/snmp (per network namespace),
 * or -1. */
static long long ip_counter(const char *name)
{
    char head[1024], vals[1024], *hs, *vs, *h, *v;
    long long found = -1;
    FILE *f = fopen("/proc/net/snmp", "r");

    if (f == NULL)
        return -1;
    while (fgets(head, sizeof(head), f) != NULL && fgets(vals, sizeof(vals), f) != NULL) {
        if (strncmp(head, "Ip:", 3) != 0)
            continue;
        h = strtok_r(head + 3, " \n", &hs);
        v = strtok_r(vals + 3, " \n", &vs);
        while (h != NULL && v != NULL && found < 0) {
            if (strcmp(h, name) == 0)
                found = atoll(v);
            h = strtok_r(NULL, " \n", &hs);
            v = strtok_r(NULL, " \n", &vs);
        }
    }
    fclose(f);
    return found;
}

#define NOROUTE_SENDS 1234

/*
 * The network namespace's own counters are not sockets: they outlive every
 * process. With no interface up, each datagram to 127.0.0.1 fails with
 * ENETUNREACH and adds one to Ip OutNoRoutes: a number the next job in the
 * same namespace could read.
 */
static void leave_counter(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(9)};
    long long before = ip_counter("OutNoRoutes");
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), unreach = 0;

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (int i = 0; s >= 0 && i < NOROUTE_SENDS; i++)
        if (sendto(s, "x", 1, 0, (struct sockaddr *)&a, sizeof(a)) < 0 && errno == ENETUNREACH)
            unreach++;
    if (s >= 0)
        close(s);
    printf("counter OutNoRoutes %lld -> %lld (%d sends unreachable)\n", before,
           ip_counter("OutNoRoutes"), unreach);
}

static void leave_sockets(const char *mark)
{
    int abs_s, tcp_lo, tcp_any, udp;
    pid_t p;

    abs_s = listen_abstract(ABSTRACT);
    made("abstract", abs_s);
    tcp_lo = inet_socket(SOCK_STREAM, INADDR_LOOPBACK, TCP_PORT, true);
    made("tcp-127.0.0.1", tcp_lo);
    tcp_any = inet_socket(SOCK_STREAM, INADDR_ANY, TCP_PORT2, true);
    made("tcp-0.0.0.0", tcp_any);
    udp = inet_socket(SOCK_DGRAM, INADDR_ANY, UDP_PORT, false);
    made("udp-0.0.0.0", udp);
    made("inflight", leave_inflights());
    /* Right after the close, before the collector ran: the loops are there. */
    printf("inflight %d of %d bound after the close\n", inflights_bound(), INFLIGHT_COUNT);
    /* The bound sockets stay open in a process in a new session. */
    p = fork();
    if (p == 0) {
        setsid();
        hold("sockets", mark);
    }
    made("socket-holder", p < 0 ? -1 : 0);
    if (abs_s >= 0)
        close(abs_s);
    if (tcp_lo >= 0)
        close(tcp_lo);
    if (tcp_any >= 0)
        close(tcp_any);
    if (udp >= 0)
        close(udp);
}

static void check_sockets_left(void)
{
    int rc = connect_abstract(ABSTRACT);

    printf(rc == 0 ? "exists abstract\n" : "gone abstract %s\n", en(errno));
    /* The collector may have freed them by now: a count, not a proof. */
    printf("inflight %d of %d still bound at the end\n", inflights_bound(), INFLIGHT_COUNT);
}

/* Bind must work again: the name or port is free. */
static void find_bind(const char *item, int s)
{
    if (s < 0 && errno == EADDRINUSE) {
        printf("FOUND %s still bound (bind: EADDRINUSE)\n", item);
        return;
    }
    printf("clean %s bind: %s\n", item, s < 0 ? en(errno) : "ok");
    if (s >= 0)
        close(s);
}

/* Before this job's own connects (find sockets) move it. */
static void find_counter(void)
{
    long long noroutes = ip_counter("OutNoRoutes");

    if (noroutes != 0)
        printf("FOUND counter Ip OutNoRoutes %lld (a fresh network namespace has 0)\n", noroutes);
    else
        printf("clean counter Ip OutNoRoutes 0\n");
}

static void find_sockets(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(TCP_PORT)};
    char line[512];
    int s, rc;
    FILE *f;

    rc = connect_abstract(ABSTRACT);
    report("abstract connect", rc == 0, errno, "connected");
    rc = inflights_bound();
    if (rc > 0)
        printf("FOUND inflight %d of %d still bound (the unix GC has not freed them)\n", rc,
               INFLIGHT_COUNT);
    else
        printf("clean inflight none of %d bound\n", INFLIGHT_COUNT);
    find_bind("abstract", listen_abstract(ABSTRACT));
    s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    rc = s < 0 ? -1 : connect(s, (struct sockaddr *)&a, sizeof(a));
    report("tcp connect 127.0.0.1", rc == 0, errno, "connected");
    if (s >= 0)
        close(s);
    find_bind("tcp 127.0.0.1", inet_socket(SOCK_STREAM, INADDR_LOOPBACK, TCP_PORT, true));
    find_bind("tcp 0.0.0.0", inet_socket(SOCK_STREAM, INADDR_ANY, TCP_PORT2, true));
    find_bind("udp 0.0.0.0", inet_socket(SOCK_DGRAM, INADDR_ANY, UDP_PORT, false));
    f = fopen("/proc/net/unix", "r");
    rc = 0;
    while (f != NULL && fgets(line, sizeof(line), f) != NULL)
        if (strstr(line, "cps-leak") != NULL) {
            printf("FOUND /proc/net/unix %s", line);
            rc++;
        }
    if (f != NULL)
        fclose(f);
    if (rc == 0)
        printf("clean /proc/net/unix no cps-leak name\n");
}

/* ---- keyrings -------------------------------------------------------------- */

static void leave_keys(void)
{
    long rc;

    rc = syscall(SYS_add_key, "user", "cps-leak-u", "x", (size_t)1, KEY_SPEC_USER_KEYRING);
    made("add_key @u", (int)rc);
    rc = syscall(SYS_add_key, "user", "cps-leak-us", "x", (size_t)1, KEY_SPEC_USER_SESSION_KEYRING);
    made("add_key @us", (int)rc);
    rc = syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_USER_KEYRING, 1);
    made("keyctl @u", (int)rc);
}

static void find_keys(void)
{
    char line[512];
    long rc;
    FILE *f;

    rc = syscall(SYS_keyctl, KEYCTL_SEARCH, KEY_SPEC_USER_KEYRING, "user", "cps-leak-u", 0);
    report("keyctl search @u", rc >= 0, errno, "key found");
    rc =
        syscall(SYS_keyctl, KEYCTL_SEARCH, KEY_SPEC_USER_SESSION_KEYRING, "user", "cps-leak-us", 0);
    report("keyctl search @us", rc >= 0, errno, "key found");
    rc = syscall(SYS_request_key, "user", "cps-leak-u", NULL, 0);
    report("request_key", rc >= 0, errno, "key found");
    f = fopen("/proc/keys", "r");
    rc = 0;
    while (f != NULL && fgets(line, sizeof(line), f) != NULL)
        if (strstr(line, "cps-leak") != NULL) {
            printf("FOUND /proc/keys %s", line);
            rc++;
        }
    if (f != NULL)
        fclose(f);
    if (rc == 0)
        printf("clean /proc/keys no cps-leak key\n");
}

/* ---- hostname -------------------------------------------------------------- */

static void leave_hostname(void)
{
    made("sethostname", sethostname(HOST_NAME, strlen(HOST_NAME)));
    made("setdomainname", setdomainname(HOST_NAME, strlen(HOST_NAME)));
}

static void find_hostname(bool leave)
{
    struct utsname u;

    uname(&u);
    if (leave) {
        printf("%s hostname %s\n", strcmp(u.nodename, HOST_NAME) == 0 ? "exists" : "gone",
               u.nodename);
        return;
    }
    printf("%s hostname %s\n", strstr(u.nodename, "cps-leak") ? "FOUND" : "clean", u.nodename);
    printf("%s domainname %s\n", strstr(u.domainname, "cps-leak") ? "FOUND" : "clean",
           u.domainname);
}

/* ---- limits ---------------------------------------------------------------- */

static int forks(long max)
{
    int gate[2];
    long n = 0;
    int e = 0;

    if (pipe(gate) < 0)
        return 1;
    while (n < max) {
        pid_t p = fork();

        if (p < 0) {
            e = errno;
            break;
        }
        if (p == 0) {
            char c;

            close(gate[1]);
            while (read(gate[0], &c, 1) < 0 && errno == EINTR)
                ;
            _exit(0);
        }
        n++;
    }
    printf("forked %ld %s\n", n, e ? en(e) : "max");
    fflush(stdout);
    close(gate[1]);
    while (wait(NULL) > 0 || errno == EINTR)
        ;
    return 0;
}

static int hog(int n, long mb)
{
    for (int i = 0; i < n; i++) {
        if (fork() == 0) {
            size_t len = (size_t)mb << 20;
            char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

            if (p == MAP_FAILED)
                _exit(3);
            for (size_t off = 0; off < len; off += 4096)
                p[off] = 1;
            /* Hold it until every sibling has touched its share. */
            sleep(2);
            _exit(0);
        }
    }
    for (int st; wait(&st) > 0;) {
        if (WIFSIGNALED(st))
            printf("child signal %d\n", WTERMSIG(st));
        else
            printf("child exit %d\n", WEXITSTATUS(st));
    }
    return 0;
}

/* ---- main ------------------------------------------------------------------ */

static bool is(const char *what, const char *name)
{
    return strcmp(what, "all") == 0 || strcmp(what, name) == 0;
}

static int leave(const char *what, const char *mark)
{
    if (strstr(mark, "cps-leak") == NULL)
        return 2;
    if (is(what, "files"))
        leave_files();
    if (is(what, "ipc"))
        leave_ipc();
    if (is(what, "procs"))
        leave_procs(mark);
    if (is(what, "sockets"))
        leave_sockets(mark);
    if (is(what, "counters"))
        leave_counter();
    if (is(what, "quota")) {
        mq_fill(false);
        shm_lock_fill(false);
    }
    if (is(what, "keys"))
        leave_keys();
    if (is(what, "hostname"))
        leave_hostname();
    fflush(stdout);
    /* What is left at the end of the job: the proof that the attempt worked. */
    if (is(what, "files"))
        check_files_left();
    if (is(what, "ipc"))
        check_ipc_left();
    if (is(what, "procs"))
        check_procs_left();
    if (is(what, "sockets"))
        check_sockets_left();
    if (is(what, "hostname"))
        find_hostname(true);
    fflush(stdout);
    return 0;
}

static int find(const char *what)
{
    /* "done" says that every check ran (a crash would leave it out). */
    if (is(what, "files"))
        find_files();
    if (is(what, "ipc"))
        find_ipc();
    if (is(what, "counters"))
        find_counter();
    /* The test compares these counts with the first job's. */
    if (is(what, "quota")) {
        mq_fill(true);
        shm_lock_fill(true);
    }
    if (is(what, "procs"))
        find_procs();
    if (is(what, "sockets"))
        find_sockets();
    if (is(what, "keys"))
        find_keys();
    if (is(what, "hostname"))
        find_hostname(false);
    printf("done %s\n", what);
    return 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc == 4 && strcmp(argv[1], "leave") == 0)
        return leave(argv[2], argv[3]);
    if (argc == 4 && strcmp(argv[1], "leave-hang") == 0) {
        int rc = leave(argv[2], argv[3]);

        printf("ready\n");
        fflush(stdout);
        for (;;)
            pause();
        return rc;
    }
    if (argc == 3 && strcmp(argv[1], "find") == 0)
        return find(argv[2]);
    if (argc == 3 && strcmp(argv[1], "forks") == 0)
        return forks(atol(argv[2]));
    if (argc == 3 && strcmp(argv[1], "forks-kill") == 0) {
        forks(atol(argv[2]));
        raise(SIGKILL);
    }
    if (argc == 4 && strcmp(argv[1], "hog") == 0)
        return hog(atoi(argv[2]), atol(argv[3]));
    if (argc == 4 && strcmp(argv[1], "hold") == 0) {
        for (;;)
            pause();
    }
    fprintf(stderr, "usage: crossjob leave|leave-hang WHAT MARK | find WHAT | forks MAX | "
                    "hog N MB\n");
    return 2;
}
