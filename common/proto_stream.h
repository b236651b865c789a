/*
 * proto_stream.h - the data messages (stdout, stderr, one chunk of an output
 * file) without copying their data: an encoder that writes only the CBOR
 * around the data, and a recogniser that reads a received frame in place.
 *
 * The general encoder and decoder (proto.h) copy every chunk into a fresh
 * buffer (and the decoder builds a libcbor item tree first): at 64 KiB per
 * frame that is several mallocs, memcpys and page faults per chunk, which
 * dominated streaming a large stdout. These functions produce and accept
 * exactly the canonical bytes of the general encoder, so the wire format does
 * not change; anything else is left to the general decoder.
 */
#ifndef CPS_COMMON_PROTO_STREAM_H
#define CPS_COMMON_PROTO_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "cps_limits.h"
#include "proto.h"

/*
 * Longest CBOR that precedes the data of a data message: for an output chunk
 * the map head, the keys "type", "path", "mode", "size", "data", the value
 * "output", a path of up to CPS_MAX_PATH bytes with its 3-byte head, a mode
 * (3 bytes), a size (9) and the byte-string head (5).
 */
#define CPS_DATA_HEAD_MAX (CPS_MAX_PATH + 64)
/* Longest CBOR after the data: an output chunk's "end" key and its boolean. */
#define CPS_DATA_TAIL_MAX 8

/* The canonical encoding of one data message is head, data, tail. */
struct cps_data_frame {
    uint8_t head[CPS_DATA_HEAD_MAX];
    size_t head_len;
    uint8_t tail[CPS_DATA_TAIL_MAX];
    size_t tail_len;
};

/*
 * Encode the parts of msg (borrowed: a CPS_MSG_STDOUT, CPS_MSG_STDERR or a
 * CPS_MSG_OUTPUT chunk that is not "missing") around its data into *f, so that
 * head + msg's data + tail is byte for byte what cps__msg_encode() produces.
 * The data pointer itself is not read. Returns 0, or -EINVAL (stage "encode")
 * for another message type or a message the decoder would refuse (the rules of
 * cps__msg_encode: chunk size, empty stream chunk, data larger than size, mode,
 * path).
 */
int cps__data_frame_encode(const struct cps_msg *msg, struct cps_data_frame *f,
                           struct cps_error *err);

/*
 * Recognise payload[0..len) (borrowed) as the canonical encoding of a valid
 * stdout or stderr message or output chunk (the bytes cps__data_frame_encode
 * and cps__msg_encode produce: keys in canonical order, shortest heads,
 * definite lengths, nothing after the message) that obeys every rule of
 * cps__msg_decode. On true, *msg is filled with its data pointing INTO
 * payload and, for an output chunk, its path copied NUL-terminated into
 * path_buf; msg then owns nothing and must not be passed to cps__msg_free.
 * Returns false for every other payload, which the caller hands to
 * cps__msg_decode (that accepts or refuses it with its usual errors). Never
 * reads outside payload[0..len); never allocates.
 */
bool cps__data_frame_view(const uint8_t *payload, size_t len, struct cps_msg *msg,
                          char path_buf[CPS_MAX_PATH + 1]);

#endif
