/*
 * path_search.h - the job's argv[0] looked up the way execvp(3) does. One
 * search serves both backends: the userns backend execve()s each candidate in
 * the pivoted root (exec.c); the bubblewrap backend checks each candidate in
 * the prepared root before bwrap runs (backend_bwrap.c), because bwrap reports
 * a failed exec the way a failing job looks. Both report a missing program
 * with the same message.
 */
#ifndef CPS_HELPER_PATH_SEARCH_H
#define CPS_HELPER_PATH_SEARCH_H

#include "error.h"
#include "proto.h"

/* Used when the job's environment has no PATH: confstr(_CS_PATH) of POSIX. */
#define CPS_EXEC_DEFAULT_PATH "/bin:/usr/bin"

/* One candidate path, as the job's execve would get it (relative ones from
 * the job's cwd): 0 when it is the program (the search stops there), else
 * -errno saying why not. arg is the search's, borrowed. */
typedef int (*cps_path_try_fn)(const char *candidate, void *arg);

/*
 * Try job->argv[0] as is when it contains '/'; else "DIR/argv[0]" for each
 * DIR of the job's PATH (CPS_EXEC_DEFAULT_PATH when its environment has
 * none) in order, an empty DIR meaning the current directory (POSIX):
 * ENOENT, ENOTDIR and EACCES go on to the next directory (EACCES is reported
 * if nothing else works), other errors stop. Returns 0 when try accepted a
 * candidate; else -errno with err (stage "exec", the message lists every path
 * tried with its error).
 */
int cps__path_search(const struct cps_job *job, cps_path_try_fn try, void *arg,
                     struct cps_error *err);

#endif
