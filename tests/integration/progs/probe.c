/*
 * probe: print what the sandbox looks like from inside, one fact per line:
 *   status: <line>     CapInh/CapPrm/CapEff/CapBnd/CapAmb/NoNewPrivs/Seccomp of /proc/self/status
 *   iface: <name>      every interface in /proc/net/dev
 *   pid: <n>           every numeric entry of /proc
 *   fd: <n>            every open fd (from /proc/self/fd, minus the dir's own)
 *   uid: <u> gid: <g>
 *   hostname: <name>
 */
#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void status(void)
{
    static const char *keys[] = {
        "CapInh:", "CapPrm:", "CapEff:", "CapBnd:", "CapAmb:", "NoNewPrivs:", "Seccomp:"};
    char line[256];
    FILE *f = fopen("/proc/self/status", "r");

    if (f == NULL) {
        printf("status: unreadable\n");
        return;
    }
    while (fgets(line, sizeof(line), f) != NULL)
        for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
            if (strncmp(line, keys[i], strlen(keys[i])) == 0)
                printf("status: %s", line);
    fclose(f);
}

static void ifaces(void)
{
    char line[512];
    FILE *f = fopen("/proc/net/dev", "r");
    int n = 0;

    if (f == NULL) {
        printf("iface: unreadable\n");
        return;
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        char *colon = strchr(line, ':'), *p = line;

        if (++n <= 2 || colon == NULL)
            continue;
        *colon = '\0';
        while (*p == ' ')
            p++;
        printf("iface: %s\n", p);
    }
    fclose(f);
}

static void list_numeric(const char *dir, const char *label, int skip)
{
    struct dirent *e;
    DIR *d = opendir(dir);

    if (d == NULL) {
        printf("%s: unreadable\n", label);
        return;
    }
    while ((e = readdir(d)) != NULL)
        if (isdigit((unsigned char)e->d_name[0]) && atoi(e->d_name) != skip)
            printf("%s: %s\n", label, e->d_name);
    closedir(d);
}

int main(void)
{
    char host[256] = "";
    DIR *d;

    status();
    ifaces();
    list_numeric("/proc", "pid", -1);
    d = opendir("/proc/self/fd");
    if (d != NULL) {
        int own = dirfd(d);
        struct dirent *e;

        while ((e = readdir(d)) != NULL)
            if (isdigit((unsigned char)e->d_name[0]) && atoi(e->d_name) != own)
                printf("fd: %s\n", e->d_name);
        closedir(d);
    }
    printf("uid: %u gid: %u\n", (unsigned)getuid(), (unsigned)getgid());
    gethostname(host, sizeof(host));
    printf("hostname: %s\n", host);
    return 0;
}
