/* hostutil.h - host-side helpers shared by the integration test programs. */
#ifndef CPS_TESTS_HOSTUTIL_H
#define CPS_TESTS_HOSTUTIL_H

#include <stdbool.h>
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

/* The host side of a case that runs the helper on a copy of the test
 * toolchain (test_backends.c, test_reuse.c, test_reuse_escape.c). */
struct it_sandbox_dirs {
    bool unpriv;         /* CPS_IT_MODE=unpriv: the helper runs as uid 65534 */
    char dir[64];        /* the case's world-traversable temp dir (it_make_dir) */
    char helper[512];    /* the helper to run */
    char toolchain[256]; /* dir/toolchain: a copy of the test toolchain */
    char build[256];     /* dir/build: empty, owned by the job's user */
};

/* Fill d (d->dir already made): the helper is `helper` itself, or for uid
 * 65534 a copy in d->dir (the repository may sit where uid 65534 cannot
 * enter); the toolchain is copied from `toolchain`; the build dir is made. */
void it_sandbox_dirs_setup(struct it_sandbox_dirs *d, const char *helper, const char *toolchain);

/* Fail the test unless nothing of the case is left on the host: no mount
 * under d->dir (by path: tests running in parallel mount elsewhere), no
 * process naming d->dir, an empty build dir. */
void it_sandbox_dirs_assert_clean(const struct it_sandbox_dirs *d);

/* true when path holds nothing but . and ..; fails the test if it cannot be read. */
bool it_dir_empty(const char *path);

#endif
