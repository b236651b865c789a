/* batch.h - cachepot-dist-run --batch: many jobs, optionally through a pool. */
#ifndef CPS_RUN_BATCH_H
#define CPS_RUN_BATCH_H

#include "run_args.h"

/* Run every job of a->batch (see --help); returns the CLI's exit status. */
int run_batch(const struct run_args *a);

#endif
