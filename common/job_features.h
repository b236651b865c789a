/*
 * job_features.h - the optional job keys a helper understands (hello.features),
 * so that a parent never sends a key the helper did not announce.
 * docs/COMPATIBILITY.md gives the rules; docs/PROTOCOL.md the wire form.
 */
#ifndef CPS_JOB_FEATURES_H
#define CPS_JOB_FEATURES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cps_job;

/* One bit per optional job key; the wire name is "job.<key>" or
 * "job.limits.<key>". New keys get the next bit and a row in features.c. */
enum cps_feature {
    CPS_FEATURE_BACKEND = 1u << 0,
    CPS_FEATURE_OVERLAY = 1u << 1,
    CPS_FEATURE_UID = 1u << 2,
    CPS_FEATURE_GID = 1u << 3,
    CPS_FEATURE_SECCOMP = 1u << 4,
    CPS_FEATURE_TIMEOUT_MS = 1u << 5,
    CPS_FEATURE_MAX_OUTPUT_BYTES = 1u << 6,
    CPS_FEATURE_CPU_SECONDS = 1u << 7,
    CPS_FEATURE_ADDRESS_SPACE = 1u << 8,
    CPS_FEATURE_FILE_SIZE = 1u << 9,
    CPS_FEATURE_OPEN_FILES = 1u << 10,
    CPS_FEATURE_PROCESSES = 1u << 11,
    CPS_FEATURE_TMP_BYTES = 1u << 12,
    CPS_FEATURE_SCRATCH_BYTES = 1u << 13,
};

/* Every feature this build knows (and so understands, as a helper). */
#define CPS_FEATURES_ALL ((uint32_t)((1u << 14) - 1))
/* What a hello without "features" means: the keys every helper since 0.1.0,
 * the first release, understands. */
#define CPS_FEATURES_0_1_0 CPS_FEATURES_ALL

/* The environment variable by which a parent asks the helper for
 * hello.features; a helper that was not asked sends the hello of 0.1.0,
 * which a parent of 0.1.0 (strict about unknown keys) still accepts. */
#define CPS_HELLO_FEATURES_ENV "CACHEPOT_HELLO_FEATURES"

/* Number of rows of the table; row i has bit 1 << i. */
size_t cps__feature_count(void);
/* Wire name of bit 1 << i (static), NULL past the table. */
const char *cps__feature_name(size_t i);
/* The first helper release that understands bit 1 << i (static). */
const char *cps__feature_since(size_t i);
/* The bit of a wire name (len bytes), or 0 when this side does not know it. */
uint32_t cps__feature_parse(const char *name, size_t len);
/* The optional keys job (borrowed) puts on the wire: exactly what
 * cps__msg_encode writes beyond the required keys. */
uint32_t cps__job_features(const struct cps_job *job);

#endif
