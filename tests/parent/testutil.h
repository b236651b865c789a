/* testutil.h - shared helpers of the parent library's tests. */
#ifndef CPS_TEST_PARENT_UTIL_H
#define CPS_TEST_PARENT_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cachepot-sandbox.h"

/* A fresh directory under $TMPDIR or /tmp (mode 0755), path into buf. */
void tu_mkdtemp(char *buf, size_t size);
/* The real-helper suites' per-case fixture: a fresh work dir into buf, and
 * the test toolchain ($CPS_TEST_TOOLCHAIN) returned. */
const char *tu_fixture_setup(char *buf, size_t size);
/* rm -rf, without following symlinks. */
void tu_rmtree(const char *path);
/* Write len bytes to path (created 0644). */
void tu_write_file(const char *path, const void *data, size_t len);
/* Read a whole file (new, NUL-terminated); *len its size; NULL if missing. */
uint8_t *tu_read_file(const char *path, size_t *len);
bool tu_exists(const char *path);
/* Fill buf with a reproducible pattern derived from seed. */
void tu_pattern(uint8_t *buf, size_t len, unsigned seed);
/* True when this process has no child at all (none running, no zombie). */
bool tu_no_children(void);

/* Collects stdout/stderr of a run. */
struct tu_streams {
    uint8_t *out, *err;
    size_t out_len, err_len;
};
int tu_collect_stream(void *user, enum cps_stream_id id, const void *data, size_t len);
void tu_streams_free(struct tu_streams *s);

/* A job running `sh -c script` in toolchain with PATH=/bin (new). */
struct cps_job_spec *tu_sh_job(const char *toolchain, const char *script);
/* The pool's counters now. */
struct cps_pool_stats tu_pool_stats(struct cps_pool *pool);
void tu_sleep_ms(long ms);

/* A directory of symlinks named after the fake helper's modes. */
void tu_fake_helpers(char *dir, size_t size, const char *fake_helper);

#endif
