/* cancel.h - cancel tokens: an eventfd that stays readable once fired. */
#ifndef CPS_PARENT_CANCEL_H
#define CPS_PARENT_CANCEL_H

#include "cachepot-sandbox.h"

/* The fd a run polls for POLLIN (borrowed), or -1 for a NULL token. */
int cps__cancel_fd(const struct cps_cancel_token *token);

#endif
