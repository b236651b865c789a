/*
 * cachepot-sandbox.h - the one public header of libcachepot-sandbox.
 *
 * A worker of a distributed compile farm links this library to run compile jobs
 * in the cachepot-dist-sandbox helper. The library never forks: it spawns the
 * helper with posix_spawn and talks to it over one AF_UNIX socket (protocol:
 * docs/PROTOCOL.md). Every function is thread safe unless its comment says
 * otherwise. Functions return 0 or a negative errno value and fill the caller's
 * struct cps_error.
 *
 * Ownership: "borrowed" means the library does not keep the pointer after the
 * call returns; "taken" means the library frees it; "new" means the caller frees
 * the result with the matching _free function.
 *
 * (The parent issue owns the rest of this header; struct cps_error is shared
 * with common/ and the helper and must stay as it is.)
 */
#ifndef CACHEPOT_SANDBOX_H
#define CACHEPOT_SANDBOX_H

#ifdef __cplusplus
extern "C" {
#endif

#define CPS_ERROR_STAGE_MAX   32
#define CPS_ERROR_MESSAGE_MAX 1024
#define CPS_ERROR_HINT_MAX    512

/*
 * What went wrong, where, and what to do about it. stage is a short word such as
 * "spawn", "hello", "decode", "unshare", "uid_map", "overlay", "exec"; errnum is a
 * positive errno value (0 when none applies); message says what was attempted with
 * which paths and facts; hint names the knob to turn (may be empty).
 */
struct cps_error {
    char stage[CPS_ERROR_STAGE_MAX];
    int errnum;
    char message[CPS_ERROR_MESSAGE_MAX];
    char hint[CPS_ERROR_HINT_MAX];
};

#ifdef __cplusplus
}
#endif

#endif /* CACHEPOT_SANDBOX_H */
