"""Strict decoding of untrusted frames and canonical encoding (docs/PROTOCOL.md,
"Encoding" and "Decoding untrusted frames"; common/proto_decode.c and
common/proto_encode.c)."""

import errno

import cbor2

from . import limits, schema
from .errors import SandboxError
from .scan import scan_frame

_VERSION_HINT = "install a cachepot-dist-sandbox helper from the same release as the library"


def decode(payload):
    """One frame payload (bytes-like, borrowed) as a message dict, or
    SandboxError stage "decode": EMSGSIZE (size), EPROTONOSUPPORT (a hello of
    another protocol version) or EPROTO (every other rule). The rules are
    applied in the order of docs/PROTOCOL.md, so the first broken one is the
    one reported, as by the C decoder."""
    size = len(payload)
    if size == 0 or size > limits.MAX_FRAME:
        raise SandboxError("decode", errno.EMSGSIZE,
                           f"frame: {size} bytes, not 1..{limits.MAX_FRAME}")
    scan = scan_frame(payload)
    # Version negotiation comes before every other rule: a hello from a
    # helper of another protocol version may look like anything else.
    if scan.is_hello and scan.has_protocol and scan.protocol != limits.PROTOCOL_VERSION:
        raise SandboxError("decode", errno.EPROTONOSUPPORT,
                           f"helper speaks protocol {scan.protocol}, this side speaks "
                           f"{limits.PROTOCOL_VERSION}", _VERSION_HINT)
    if scan.violation:
        raise SandboxError("decode", errno.EPROTO, scan.violation)
    try:
        # Only now: the item is small, definite, shallow and free of tags,
        # floats and simple values other than booleans.
        root = cbor2.loads(bytes(payload))
    except (cbor2.CBORDecodeError, ValueError, TypeError) as e:
        raise SandboxError("decode", errno.EPROTO, f"frame: cbor2 could not load it ({e})") from e
    ctx = schema._Ctx("decode", errno.EPROTO, scan.duplicates)
    return schema.rules(ctx, schema.body(ctx, root))


def check(msg):
    """msg (a dict with a "type") checked as the decoder would check it, as a
    new dict in canonical key order; SandboxError stage "encode", EINVAL."""
    ctx = schema._Ctx("encode", errno.EINVAL)
    return schema.rules(ctx, schema.body(ctx, msg))


def canonical(msg):
    """msg checked as check() does, as the map encode() writes (a new dict):
    keys in the documented order, optional keys with their default value left
    out (job.overlay "auto", job.limits entries of 0, an empty job.limits).
    So the optional keys of a job map from here are the ones on the wire."""
    m = check(msg)
    if m["type"] != "job":
        return m
    if m.get("overlay") == "auto":
        del m["overlay"]
    if "limits" in m:
        lim = {k: v for k, v in m["limits"].items() if v != 0}
        if lim:
            m["limits"] = lim
        else:
            del m["limits"]
    return m


def encode(msg):
    """The canonical payload of msg (new bytes): definite lengths, shortest
    integers and lengths, keys in the documented order. The message is checked
    first with the decoder's rules (SandboxError stage "encode", EINVAL)."""
    return dump(canonical(msg))


def dump(m):
    """The payload of m, a map canonical() returned (new bytes)."""
    # cbor2 writes a dict in insertion order (canonical=False), integers and
    # lengths in their shortest form, and only definite lengths; check() left
    # nothing in m but str, bytes, bool, int >= 0, list and dict.
    payload = cbor2.dumps(m)
    if len(payload) > limits.MAX_FRAME:
        raise SandboxError("encode", errno.EMSGSIZE,
                           f"{m['type']}: frame of {len(payload)} bytes is larger than "
                           f"{limits.MAX_FRAME}")
    return payload
