/*
 * scan.h - the allocation-free pre-scan of an untrusted frame, run before
 * cbor_load(). libcbor 0.8's cbor_load allocates room for every element an
 * array or map *declares* before reading them, so a 9-byte frame declaring
 * 2^28 elements asks for gigabytes; its getters also abort on unexpected
 * types. The pre-scan walks the bytes with cbor_stream_decode (which only
 * calls back, never allocates) and refuses anything the protocol does not
 * use, so that cbor_load only ever sees small, definite, shallow items.
 */
#ifndef CPS_COMMON_SCAN_H
#define CPS_COMMON_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Upper bound on the number of data items in one frame (every element of
 * every array, every key and value of every map, the maps and arrays
 * themselves). The largest legal message, a job with CPS_MAX_INPUTS inputs,
 * CPS_MAX_ARGV arguments and CPS_MAX_ENV variables, has about 36,000. The cap
 * bounds what cbor_load allocates for one frame to a few MiB. */
#define CPS_MAX_ITEMS 65536

struct cps_scan {
    /* The first rule the frame breaks, or "" when it breaks none. */
    char violation[256];
    /* Peek at the top-level map, collected even past a violation so that a
     * hello of another protocol version is recognised however the rest of it
     * looks: "type" is the text "hello", "protocol" is an unsigned integer. */
    bool is_hello;
    bool has_protocol;
    uint64_t protocol;
};

/*
 * Walk buf[0..len) (borrowed). Returns true when it is exactly one CBOR data
 * item that is a map and follows every rule: definite lengths, no tags, no
 * floats, null or undefined, nesting of at most CPS_MAX_DEPTH, no declared
 * count or length larger than the bytes left, at most CPS_MAX_ITEMS items, no
 * trailing bytes. Otherwise fills scan->violation and returns false.
 */
bool cps__scan_frame(const uint8_t *buf, size_t len, struct cps_scan *scan);

#endif
