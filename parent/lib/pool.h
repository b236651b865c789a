/* pool.h - warm helpers kept ready per configuration (docs/POOL.md). */
#ifndef CPS_PARENT_POOL_H
#define CPS_PARENT_POOL_H

#include <stdbool.h>

#include "cachepot-sandbox.h"
#include "helper_proc.h"
#include "proto.h"

/*
 * Begin one run through pool. Returns false when the run must not use it: its
 * helper_path (borrowed, NULL: none asked for) differs from the pool's, or the
 * pool is being freed. After true, cps__pool_leave must follow; until then
 * cps_pool_free waits.
 */
bool cps__pool_enter(struct cps_pool *pool, const char *helper_path);

/* The pool's helper executable (borrowed; valid until cps_pool_free). */
const char *cps__pool_helper_path(const struct cps_pool *pool);

/*
 * Hand a warm helper of job's configuration (borrowed) to the caller: true and
 * *p filled (p->hello.seen; the caller owns it now and ends it with
 * cps__helper_finish), or false when none is ready and alive (the caller spawns
 * a cold one). Either way the configuration counts as used now, and the pool
 * thread is woken to refill it.
 */
bool cps__pool_take(struct cps_pool *pool, const struct cps_job *job, struct cps_helper_proc *p);

/*
 * Hand a helper whose job is over (its exit frame was read) to the pool thread,
 * which reaps it when it exits (killing it after a grace time), instead of the
 * run waiting for its last cleanup. A reusing helper after its last job is
 * counted retired once it exited 0. Returns true and takes *p (left with no
 * process), or false when the pool is stopping or out of memory: the caller
 * ends it with cps__helper_finish.
 */
bool cps__pool_retire(struct cps_pool *pool, struct cps_helper_proc *p);

/*
 * Hand a reusing helper back after its job (its exit frame was read, nothing
 * of the exchange is pending, and its hello promised more jobs: hello.reuse >
 * 1). It goes back to the pool thread as a starting helper of job's
 * configuration (job borrowed): its next hello makes it ready again, its EOF
 * means it ended (counted retired). Returns true and takes *p (left with no
 * process), or false when the pool is stopping or out of memory: the caller
 * retires or ends it.
 */
bool cps__pool_give_back(struct cps_pool *pool, const struct cps_job *job,
                         struct cps_helper_proc *p);

/* End a run begun with cps__pool_enter; warm/retried as in struct cps_result,
 * reused: the job ran on a helper that had served a job before. */
void cps__pool_leave(struct cps_pool *pool, bool ran, bool warm, bool retried, bool reused);

#endif
