/* paths.h - resolving and naming the caller's paths. */
#ifndef CPS_PARENT_PATHS_H
#define CPS_PARENT_PATHS_H

#include "cachepot-sandbox.h"

/*
 * Resolve path (absolute, or relative to base, an absolute normalized path)
 * into a normalized absolute sandbox path (new). "." and empty components are
 * dropped; ".." is refused (-EINVAL): the caller names files inside the sandbox
 * explicitly, and refusing ".." keeps output names inside the out dir too.
 */
int cps__path_resolve(const char *base, const char *path, char **out, struct cps_error *err);

/* The out-dir name of an output path as given (new): leading "/" and "."
 * components dropped, ".." refused (-EINVAL), empty result refused. */
int cps__path_output_name(const char *path, char **out, struct cps_error *err);

#endif
