"""The decoder's strictness beyond the golden vectors, and the encoder's
canonical form and refusals. Frames are built by hand from RFC 8949 heads so
that they can break the rules cbor2 would not break."""

import errno

import cbor2
import pytest

import cachepot_sandbox as cs
from cachepot_sandbox import codec, features, limits, schema


def head(major, n, width=None):
    """A CBOR head; width forces a longer-than-needed argument (1, 2, 4, 8)."""
    if width is None:
        width = 0 if n < 24 else 1 if n < 256 else 2 if n < 65536 else 4 if n < 2**32 else 8
    if width == 0:
        return bytes([major << 5 | n])
    ai = {1: 24, 2: 25, 4: 26, 8: 27}[width]
    return bytes([major << 5 | ai]) + n.to_bytes(width, "big")


def text(s, width=None):
    raw = s.encode() if isinstance(s, str) else s
    return head(3, len(raw), width) + raw


def bstr(b, width=None):
    return head(2, len(b), width) + b


def refused(payload, piece, err=errno.EPROTO):
    with pytest.raises(cs.SandboxError) as e:
        cs.decode(payload)
    assert e.value.stage == "decode"
    assert e.value.errno == err, e.value
    assert piece in e.value.message, e.value.message
    return e.value


def test_longer_integer_and_length_forms_are_accepted():
    canonical = cs.encode({"type": "stdout", "data": b"hi"})
    for width in (1, 2, 4, 8):
        payload = head(5, 2, width) + text("type", width) + text("stdout") + text("data") + \
            bstr(b"hi", width)
        assert cs.decode(payload) == {"type": "stdout", "data": b"hi"}
        assert cs.encode(cs.decode(payload)) == canonical


def test_keys_in_any_order_are_accepted():
    payload = head(5, 2) + text("data") + bstr(b"x") + text("type") + text("stderr")
    assert cs.decode(payload) == {"type": "stderr", "data": b"x"}


def test_frame_size_bounds():
    refused(b"", "frame: 0 bytes", errno.EMSGSIZE)
    refused(b"\xa0" * (limits.MAX_FRAME + 1), "not 1..1048576", errno.EMSGSIZE)


def test_declared_counts_are_checked_against_what_enclosing_containers_expect():
    # A map of 1 pair whose value is an array of 3 arrays, each declaring 2
    # items, followed by 3 bytes: each declaration alone fits, together they
    # do not.
    payload = head(5, 1) + text("argv") + head(4, 3) + head(4, 2) + b"\x00\x00\x00"
    refused(payload, "the enclosing containers still expect")


def test_item_cap():
    n = limits.MAX_ITEMS + 1
    payload = head(5, 1) + text("argv") + head(4, n) + b"\x00" * n
    refused(payload, "more than 65536 items in one frame")


def test_forbidden_items():
    base = head(5, 2) + text("type") + text("stdout") + text("data")
    refused(base + b"\xf7", "undefined")
    refused(base + b"\xf0", "malformed CBOR")  # an unassigned simple value
    refused(base + b"\x5f\x41a\xff", "indefinite-length byte string")
    refused(base + b"\xfb" + b"\x00" * 8, "floating-point number")
    refused(base + b"\xc6\x41a", "tag 6")


def test_text_must_be_utf8():
    surrogate = b"\xed\xa0\x80"
    payload = head(5, 2) + text("type") + text("error") + text("stage") + text(b"st" + surrogate)
    refused(payload, "error.stage: text is not valid UTF-8")
    too_big = b"\xf4\x90\x80\x80"  # above U+10FFFF
    payload = head(5, 2) + text("type") + text("job") + text("argv") + head(4, 1) + \
        text(b"x" + too_big)
    refused(payload, "job.argv[0]: text is not valid UTF-8")


def test_non_text_key_and_nested_duplicate():
    payload = head(5, 2) + text("type") + text("cancel") + head(0, 1) + head(0, 1)
    refused(payload, "cancel: map key 1 is an unsigned integer, not a text string")
    decl = head(5, 3) + text("path") + text("/a") + text("mode") + head(0, 420) + \
        text("path") + text("/b")
    payload = (head(5, 8) + text("type") + text("job") + text("toolchain") + text("/t") +
               text("build_dir") + text("/b") + text("argv") + head(4, 1) + text("cc") +
               text("env") + head(4, 0) + text("cwd") + text("/") + text("outputs") +
               head(4, 0) + text("inputs") + head(4, 1) + decl)
    refused(payload, 'job.inputs[0]: duplicate key "path"')


def test_version_comes_first():
    # A hello of protocol 3 that also carries a tag and a float.
    payload = head(5, 4) + text("type") + text("hello") + text("protocol") + head(0, 3) + \
        text("new") + b"\xc1\x00" + text("f") + b"\xf9\x3c\x00"
    e = refused(payload, "helper speaks protocol 3, this side speaks 1", errno.EPROTONOSUPPORT)
    assert e.hint


def test_output_rules():
    chunk = {"type": "output", "path": "/o", "mode": 0o644, "size": 2, "data": b"abc",
             "end": True}
    payload = cbor2.dumps(chunk)
    refused(payload, "output.data: chunk of 3 bytes is larger than the file size 2")
    missing = {"type": "output", "path": "/o", "missing": True, "size": 1}
    refused(cbor2.dumps(missing), 'output: key "size" is not allowed with "missing"')
    refused(cbor2.dumps({"type": "output", "path": "/o", "missing": False}),
            "output.missing: must be true when present")


def test_hello_skips_unknown_capabilities():
    hello = {"type": "hello", "protocol": 1, "helper_version": "9", "backends": ["future",
             "bubblewrap", "userns"], "overlay_modes": ["bind", "zfs"], "max_frame": 1,
             "max_chunk": 1, "uid": 0, "gid": 0, "backend": "userns", "seccomp": False}
    m = cs.decode(cbor2.dumps(hello))
    assert m["backends"] == ["userns", "bubblewrap"] and m["overlay_modes"] == ["bind"]
    hello["backend"] = "future"
    refused(cbor2.dumps(hello), 'hello.backend: unknown backend "future"')


HELLO = {"type": "hello", "protocol": 1, "helper_version": "9", "backends": ["userns"],
         "overlay_modes": ["bind"], "max_frame": 1, "max_chunk": 1, "uid": 0, "gid": 0,
         "backend": "userns", "seccomp": False}


def test_hello_features_unknown_names_skipped():
    """As common/proto_decode.c: names this side does not know are skipped (a
    newer helper announces keys this parent never sends), the known ones come
    back once each in table order, and the encoder writes them so."""
    hello = dict(HELLO, features=["job.limits.future", "job.uid", "job.backend", "job.uid",
                                  "job.xyz"])
    m = cs.decode(cbor2.dumps(hello))
    assert m["features"] == ["job.backend", "job.uid"] and list(m)[-1] == "features"
    assert cs.encode(hello) == cbor2.dumps(dict(HELLO, features=["job.backend", "job.uid"]))
    empty = cs.decode(cbor2.dumps(dict(HELLO, features=["job.future"])))
    assert empty["features"] == [] and cs.encode(empty) == cbor2.dumps(dict(HELLO, features=[]))
    # Up to 64 names, none of them known, is a valid hello.
    m = cs.decode(cbor2.dumps(dict(HELLO, features=[f"job.k{i}" for i in range(64)])))
    assert m["features"] == []


def test_hello_without_features_stays_without():
    m = cs.decode(cbor2.dumps(HELLO))
    assert "features" not in m
    assert b"features" not in cs.encode(m)
    assert features.announced(m) == features.FEATURES_0_1_0 == features.NAMES


def test_hello_reuse_bounds():
    """hello.reuse (a helper serving several jobs) as common/proto_decode.c:
    1..1000 after "features", absent for a one-job helper."""
    for n in (1, 2, 1000):
        m = cs.decode(cbor2.dumps(dict(HELLO, features=[], reuse=n)))
        assert m["reuse"] == n and list(m)[-1] == "reuse"
        assert cs.encode(m) == cbor2.dumps(dict(HELLO, features=[], reuse=n))
    assert "reuse" not in cs.decode(cbor2.dumps(HELLO))
    for value, piece in ((0, "hello.reuse: 0 is not a number of jobs (1..1000)"),
                         (1001, "hello.reuse: 1001 is larger than 1000"),
                         (-1, "hello.reuse: expected an unsigned integer, got a negative integer"),
                         ("2", "hello.reuse: expected an unsigned integer, got a text string"),
                         (True, "hello.reuse: expected an unsigned integer")):
        refused(cbor2.dumps(dict(HELLO, reuse=value)), piece)


@pytest.mark.parametrize("value,piece", [
    ("job.uid", "hello.features: expected an array, got a text string"),
    ([f"job.k{i}" for i in range(65)], "hello.features: 65 entries, more than 64"),
    (["job.uid", ""], "hello.features[1]: text is empty"),
    (["job.uid", 7], "hello.features[1]: expected a text string, got an unsigned integer"),
    (["x" * 257], "hello.features[0]: text of 257 bytes is longer than the limit of 256 bytes"),
    (["job.\0uid"], "hello.features[0]: text contains NUL"),
    ([["job.uid"]], "hello.features[0]: expected a text string, got an array"),
])
def test_hello_features_bad_values_refused(value, piece):
    refused(cbor2.dumps(dict(HELLO, features=value)), piece)


def test_hello_features_bad_utf8_refused():
    payload = cbor2.dumps(dict(HELLO, features=["job.uid", "x"]))
    payload = payload[:-1] + b"\xff"
    refused(payload, "hello.features[1]: text is not valid UTF-8")


JOB = {"type": "job", "toolchain": "/t", "build_dir": "/b", "argv": ["cc"], "env": [],
       "cwd": "/", "outputs": [], "inputs": []}


@pytest.mark.parametrize("name", features.NAMES)
def test_job_features_match_the_encoded_keys(name):
    """features.job_features names exactly the optional keys the encoder
    writes: a job with one optional key set has that feature and only it, and
    its frame carries that key."""
    values = {"job.backend": "bubblewrap", "job.overlay": "fuse", "job.uid": 0, "job.gid": 0,
              "job.seccomp": True}
    job = dict(JOB)
    if name.startswith("job.limits."):
        key = name[len("job.limits."):]
        job["limits"] = {key: 7}
    else:
        key = name[len("job."):]
        job[key] = values[name]
    assert features.job_features(codec.canonical(JOB)) == []
    assert features.job_features(codec.canonical(job)) == [name]
    sent = cs.decode(cs.encode(job))
    assert (key in sent.get("limits", {})) if name.startswith("job.limits.") else key in sent


def test_job_features_leave_out_defaults():
    job = dict(JOB, overlay="auto", limits={key: 0 for key in cs.LIMITS})
    assert features.job_features(codec.canonical(job)) == []
    job = dict(JOB, overlay="bind", uid=5, limits={"timeout_ms": 0, "scratch_bytes": 1,
                                                   "tmp_bytes": 2})
    assert features.job_features(codec.canonical(job)) == [
        "job.overlay", "job.uid", "job.limits.tmp_bytes", "job.limits.scratch_bytes"]


def test_every_optional_job_key_is_a_feature():
    """A new optional job key without a row in features.TABLE would be sent to
    helpers that never announced it."""
    optional = {f"job.{k}" for k in schema.JOB_KEYS[schema.JOB_REQUIRED:] if k != "limits"}
    optional |= {f"job.limits.{k}" for k in schema.LIMIT_KEYS}
    assert optional == set(features.NAMES)


@pytest.mark.parametrize("value,extra", [(0, 0), (23, 0), (24, 1), (255, 1), (256, 2),
                                         (65535, 2), (65536, 4), (2**32 - 1, 4), (2**32, 8),
                                         (2**64 - 1, 8)])
def test_encoder_uses_shortest_integers(value, extra):
    def exit_frame(wall):
        return cs.encode({"type": "exit", "code": 0, "timed_out": False, "wall_us": wall,
                          "user_us": 0, "sys_us": 0, "max_rss_kb": 0, "backend": "userns",
                          "overlay": "bind", "timings": []})

    assert len(exit_frame(value)) - len(exit_frame(0)) == extra
    assert cs.decode(exit_frame(value))["wall_us"] == value


def test_encoder_leaves_out_defaults():
    base = {"type": "job", "toolchain": "/t", "build_dir": "/b", "argv": ["cc"], "env": [],
            "cwd": "/", "outputs": [], "inputs": []}
    with_defaults = dict(base, overlay="auto", limits={"timeout_ms": 0})
    assert cs.encode(with_defaults) == cs.encode(base)
    assert "limits" not in cs.decode(cs.encode(with_defaults))


@pytest.mark.parametrize("msg,piece", [
    ({"type": "stdout", "data": b""}, "stdout.data: chunk is empty"),
    ({"type": "stdout", "data": b"x" * 65537}, "chunk of 65537 bytes"),
    ({"type": "stdout", "data": "text"}, "expected a byte string"),
    ({"type": "input", "path": "/a/../b", "data": b"", "end": True}, '".." component'),
    ({"type": "input", "path": "/a", "data": b"", "end": 1}, "input.end: expected a boolean"),
    ({"type": "error", "stage": "x", "errno": -1, "message": "", "hint": ""},
     "expected an unsigned integer, got a negative integer"),
    ({"type": "error", "stage": "x", "errno": True, "message": "", "hint": ""},
     "error.errno: expected an unsigned integer, got a simple value"),
    ({"type": "error", "stage": "x\0", "errno": 1, "message": "", "hint": ""},
     "error.stage: text contains NUL"),
    ({"type": "error", "stage": "\udc80", "errno": 1, "message": "", "hint": ""},
     "error.stage: text is not valid UTF-8"),
    ({"type": "cancel", "force": True}, 'cancel: unknown key "force"'),
    ({"type": "shutdown"}, 'type: unknown message type "shutdown"'),
])
def test_encoder_refuses_what_the_decoder_refuses(msg, piece):
    with pytest.raises(cs.SandboxError) as e:
        cs.encode(msg)
    assert e.value.stage == "encode" and e.value.errno == errno.EINVAL
    assert piece in e.value.message, e.value.message


def test_mutated_vectors_are_decoded_or_refused_never_crash(vectors_dir):
    """Bit flips, truncations and insertions in every valid vector: the
    decoder returns a message that re-encodes to a frame decoding to the same
    message, or raises SandboxError; nothing else (no cbor2 exception, no
    memory error) gets out. A fixed seed keeps the run reproducible."""
    import os
    import random

    rng = random.Random(14)
    seeds = [open(os.path.join(vectors_dir, n), "rb").read()
             for n in sorted(os.listdir(vectors_dir)) if n.endswith(".cbor")]
    accepted = refused_count = 0
    for i in range(6000):
        frame = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 3)):
            op, pos = rng.randrange(3), rng.randrange(len(frame))
            if op == 0:
                frame[pos] ^= 1 << rng.randrange(8)
            elif op == 1:
                del frame[pos:]
            else:
                frame[pos:pos] = bytes([rng.randrange(256)])
            if not frame:
                frame = bytearray(b"\xa0")
        try:
            msg = cs.decode(bytes(frame))
        except cs.SandboxError as e:
            assert e.stage == "decode" and e.errno in (errno.EPROTO, errno.EMSGSIZE,
                                                         errno.EPROTONOSUPPORT), e
            refused_count += 1
            continue
        assert cs.decode(cs.encode(msg)) == msg
        accepted += 1
    assert accepted > 0 and refused_count > 0
