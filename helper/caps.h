/* caps.h - dropping every capability of the compiler child. */
#ifndef CPS_HELPER_CAPS_H
#define CPS_HELPER_CAPS_H

#include "error.h"

/*
 * Lock the securebits so that uid 0 inside the sandbox regains nothing at
 * execve (SECBIT_NOROOT, capabilities(7)), then clear the effective,
 * permitted, inheritable, ambient and bounding sets, and verify. Must run
 * before PR_SET_NO_NEW_PRIVS-dependent steps (seccomp). Stage "caps".
 */
int cps__caps_drop_all(struct cps_error *err);

#endif
