/* helper_locate.h - which helper the CLI uses when none is named. */
#ifndef CPS_CLI_HELPER_LOCATE_H
#define CPS_CLI_HELPER_LOCATE_H

/*
 * The helper built next to this CLI when the CLI runs from a CMake build tree
 * (BUILD/parent/cachepot-dist-run beside BUILD/CMakeCache.txt and
 * BUILD/helper/cachepot-dist-sandbox), else NULL: the library then uses
 * $CACHEPOT_SANDBOX_HELPER or the installed helper. Returns a static buffer
 * (borrowed; valid until the next call).
 */
const char *helper_locate_build_tree(void);

#endif
