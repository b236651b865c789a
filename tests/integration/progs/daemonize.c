/*
 * daemonize MARKER exit|sleep: double-fork a daemon that sleeps forever with
 * MARKER in its argv (so a test can look for it in the host's /proc), then
 * either exit at once or sleep forever itself.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    pid_t p;

    if (argc == 3 && strcmp(argv[1], "--forever") == 0) {
        for (;;)
            pause();
    }
    if (argc != 3)
        return 2;
    p = fork();
    if (p < 0)
        return 1;
    if (p == 0) {
        if (fork() == 0) {
            setsid();
            execl("/proc/self/exe", "daemonize", "--forever", argv[1], (char *)NULL);
            _exit(127);
        }
        _exit(0);
    }
    waitpid(p, NULL, 0);
    printf("daemon started\n");
    fflush(stdout);
    if (strcmp(argv[2], "sleep") == 0)
        for (;;)
            pause();
    return 0;
}
