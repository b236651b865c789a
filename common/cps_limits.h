/*
 * cps_limits.h - every bound of protocol version 1. docs/PROTOCOL.md and
 * docs/protocol.cddl quote these numbers; change them together.
 */
#ifndef CPS_COMMON_CPS_LIMITS_H
#define CPS_COMMON_CPS_LIMITS_H

#define CPS_PROTOCOL_VERSION 1

#define CPS_MAX_FRAME       (1024u * 1024u) /* bytes of CBOR in one frame */
#define CPS_MAX_CHUNK       (64u * 1024u)   /* bytes of data in one stdout/stderr/input/output frame */
#define CPS_MAX_DEPTH       4               /* nesting of arrays/maps, the top-level map is depth 1 */
#define CPS_MAX_PATH        4095            /* bytes of a path (PATH_MAX - 1) */
#define CPS_MAX_TEXT        (128u * 1024u)  /* bytes of any other text string (one argv entry, ...) */
#define CPS_MAX_SHORT_TEXT  256             /* names: type, stage, backend, overlay, helper_version */
#define CPS_MAX_MESSAGE     4096            /* bytes of an error message or hint */
#define CPS_MAX_ARGV        4096            /* entries of job.argv (at least 1) */
#define CPS_MAX_ENV         1024            /* pairs in job.env */
#define CPS_MAX_OUTPUTS     256             /* entries of job.outputs */
#define CPS_MAX_INPUTS      4096            /* entries of job.inputs */
#define CPS_MAX_TIMINGS     64              /* entries of exit.timings */
#define CPS_MAX_CAPS        16              /* entries of hello.backends / hello.overlay_modes */
#define CPS_MAX_FEATURES    64              /* entries of hello.features */
#define CPS_MAX_JOBS_PER_HELPER 1000        /* --jobs-per-helper, and hello.reuse */
/* Once the first byte of a frame arrived, the helper waits at most this long
 * for the rest of it (docs/PROTOCOL.md, Transport): stage "frame", ETIMEDOUT. */
#define CPS_FRAME_DEADLINE_MS 10000

/* For quoting a limit inside a string literal. */
#define CPS_STRINGIFY_(x) #x
#define CPS_STRINGIFY(x)  CPS_STRINGIFY_(x)

#endif
