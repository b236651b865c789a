/* proto_internal.h - what the encoder and decoder of proto.h share. */
#ifndef CPS_COMMON_PROTO_INTERNAL_H
#define CPS_COMMON_PROTO_INTERNAL_H

#include "proto.h"

/*
 * The rules of docs/PROTOCOL.md that can be checked on the C struct (text
 * valid UTF-8 and within its limit, paths normalized, counts and ranges).
 * The decoder calls it on what it decoded (errnum EPROTO, stage "decode"), the
 * encoder on what it is asked to send (EINVAL, "encode"), so both sides
 * refuse exactly the same messages. Returns 0 or -errnum.
 */
int cps__msg_check(const struct cps_msg *msg, int errnum, enum cps_stage stage,
                   struct cps_error *err);

#endif
