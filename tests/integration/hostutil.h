/* hostutil.h - host-side helpers shared by the integration test programs. */
#ifndef CPS_TESTS_HOSTUTIL_H
#define CPS_TESTS_HOSTUTIL_H

#include <stddef.h>

/* The whole file as a NUL-terminated string (new; free()); *len_out, if not
 * NULL, gets its length. Fails the test when the file cannot be opened. */
char *it_read_file(const char *path, size_t *len_out);

/* Run argv (PATH lookup) and wait: its exit status, 128+N for signal N, or -1
 * when it could not be spawned. */
int it_run(const char *const argv[]);

/* Run cmd with /bin/sh -c; fails the test unless it exits 0. */
void it_sh(const char *cmd);

/* Make a fresh world-traversable dir from template (e.g. "/tmp/cps-it-XXXXXX")
 * into dir, or exit 1: it runs as an unchecked fixture, outside any test. */
void it_make_dir(char *dir, size_t size, const char *template);

/* rm -rf dir. */
void it_remove_dir(const char *dir);

#endif
