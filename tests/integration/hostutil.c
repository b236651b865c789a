/* hostutil.c - host-side helpers shared by the integration test programs. */
#include "hostutil.h"
#include "client.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

char *it_read_file(const char *path, size_t *len_out)
{
    size_t cap = 8192, len = 0;
    char *buf = malloc(cap);
    ssize_t n;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    ck_assert_msg(fd >= 0, "open %s: %s", path, strerror(errno));
    while ((n = read(fd, buf + len, cap - len - 1)) > 0) {
        len += (size_t)n;
        if (cap - len < 2)
            buf = realloc(buf, cap *= 2);
    }
    close(fd);
    buf[len] = '\0';
    if (len_out)
        *len_out = len;
    return buf;
}

int it_run(const char *const argv[])
{
    pid_t pid;
    int st;

    /* posix_spawn(3) takes char *const[] for history's sake; it does not
     * write to the strings. */
    if (posix_spawnp(&pid, argv[0], NULL, NULL, (char *const *)(uintptr_t)argv, environ) != 0)
        return -1;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

void it_sh(const char *cmd)
{
    const char *argv[] = {"/bin/sh", "-c", cmd, NULL};

    ck_assert_msg(it_run(argv) == 0, "command failed: %s", cmd);
}

void it_make_dir(char *dir, size_t size, const char *template)
{
    snprintf(dir, size, "%s", template);
    if (mkdtemp(dir) == NULL || chmod(dir, 0755) < 0) {
        perror(template);
        exit(1);
    }
}

void it_remove_dir(const char *dir)
{
    const char *argv[] = {"rm", "-rf", dir, NULL};

    it_run(argv);
}

void it_sandbox_dirs_setup(struct it_sandbox_dirs *d, const char *helper, const char *toolchain)
{
    const char *mode = getenv("CPS_IT_MODE");
    char cmd[8192];

    d->unpriv = mode != NULL && strcmp(mode, "unpriv") == 0;
    if (d->unpriv) {
        snprintf(d->helper, sizeof(d->helper), "%s/helper", d->dir);
        snprintf(cmd, sizeof(cmd), "cp %s %s && chmod 755 %s", helper, d->helper, d->helper);
        it_sh(cmd);
    } else {
        snprintf(d->helper, sizeof(d->helper), "%s", helper);
    }
    snprintf(d->toolchain, sizeof(d->toolchain), "%s/toolchain", d->dir);
    snprintf(cmd, sizeof(cmd), "cp -a %s %s", toolchain, d->toolchain);
    it_sh(cmd);
    snprintf(d->build, sizeof(d->build), "%s/build", d->dir);
    ck_assert_int_eq(mkdir(d->build, 0755), 0);
    if (d->unpriv && geteuid() == 0)
        ck_assert_int_eq(chown(d->build, 65534, 65534), 0);
}

bool it_dir_empty(const char *path)
{
    struct dirent *e;
    bool empty = true;
    DIR *dir = opendir(path);

    ck_assert_msg(dir != NULL, "opendir %s", path);
    while ((e = readdir(dir)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            empty = false;
    closedir(dir);
    return empty;
}

void it_sandbox_dirs_assert_clean(const struct it_sandbox_dirs *d)
{
    char *mi = it_read_file("/proc/self/mountinfo", NULL);
    pid_t left;

    ck_assert_msg(strstr(mi, d->dir) == NULL, "a mount under %s is in the host's table:\n%s",
                  d->dir, mi);
    free(mi);
    left = find_process_with_arg(d->dir);
    ck_assert_msg(left == 0, "process %d still mentions %s", (int)left, d->dir);
    ck_assert_msg(it_dir_empty(d->build), "the build dir %s is not clean", d->build);
}
