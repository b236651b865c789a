"""The golden vectors of tests/vectors/: every valid frame decodes to the value
its README shows and re-encodes byte for byte; every invalid frame is refused
with the errno and message the README's table gives for the C decoder."""

import errno
import json
import os
import re

import pytest

import cachepot_sandbox as cs
from cachepot_sandbox import features


def _readme(vectors_dir):
    with open(os.path.join(vectors_dir, "README.md"), encoding="utf-8") as f:
        return f.read()


def _from_diag(text):
    """The README's diagnostic notation is JSON plus h'..' byte strings."""
    text = re.sub(r"h'([0-9a-f]*)'", r'{"__bytes__": "\1"}', text)

    def hook(d):
        return bytes.fromhex(d["__bytes__"]) if set(d) == {"__bytes__"} else d

    return json.loads(text, object_hook=hook)


def valid_vectors(vectors_dir):
    # A heading, optional prose (no heading, no fence), then the fenced value.
    found = re.findall(r"^### (\S+\.cbor) \((\d+) bytes\)\n(?:(?!###|```)[^\n]*\n)*"
                       r"```\n(.*?)\n```", _readme(vectors_dir), re.S | re.M)
    return [(name, int(size), _from_diag(diag)) for name, size, diag in found]


def invalid_vectors(vectors_dir):
    rows = re.findall(r"^\| `([^`]+\.cbor)` \| [^|]* \| `-(E[A-Z]+)` \"((?:[^\"\\]|\\.)*)\" \|$",
                      _readme(vectors_dir), re.M)
    return [(name, getattr(errno, err), piece.replace('\\"', '"')) for name, err, piece in rows]


def _normal(expected):
    """What the decoder makes of a hello: known capability and feature names
    in the canonical order (docs/PROTOCOL.md, hello)."""
    if expected.get("type") == "hello":
        expected = dict(expected)
        expected["backends"] = [b for b in ("userns", "bubblewrap") if b in expected["backends"]]
        expected["overlay_modes"] = [o for o in ("native", "fuse", "bind")
                                     if o in expected["overlay_modes"]]
        if "features" in expected:
            expected["features"] = [f for f in features.NAMES if f in expected["features"]]
    return expected


def test_readme_lists_every_vector(vectors_dir):
    valid = {name for name, _, _ in valid_vectors(vectors_dir)}
    invalid = {name for name, _, _ in invalid_vectors(vectors_dir)}
    on_disk = {n for n in os.listdir(vectors_dir) if n.endswith(".cbor")}
    on_disk_invalid = set(os.listdir(os.path.join(vectors_dir, "invalid")))
    assert valid == on_disk and len(valid) >= 14 and "hello_features.cbor" in valid
    assert invalid == on_disk_invalid and len(invalid) >= 27


def test_valid_vectors_decode_and_reencode(vectors_dir):
    for name, size, expected in valid_vectors(vectors_dir):
        with open(os.path.join(vectors_dir, name), "rb") as f:
            raw = f.read()
        assert len(raw) == size, name
        msg = cs.decode(raw)
        assert msg == _normal(expected), name
        # Canonical key order: the README lists keys in it.
        assert list(msg) == list(expected), name
        assert cs.encode(msg) == raw, name
        # The decoder's result does not depend on the order of keys given to
        # the encoder.
        shuffled = dict(reversed(list(msg.items())))
        assert cs.encode(shuffled) == raw, name


def test_hello_features_vector_names_every_known_key(vectors_dir):
    """hello_features.cbor is the hello of a helper that understands every
    optional job key common/job_features.c knows: the same names, in the same
    order, as features.TABLE, so the two tables cannot drift apart."""
    with open(os.path.join(vectors_dir, "hello_features.cbor"), "rb") as f:
        hello = cs.decode(f.read())
    assert hello["features"] == list(features.NAMES)
    assert features.announced(hello) == features.NAMES


def test_invalid_vectors_are_refused(vectors_dir):
    for name, err, piece in invalid_vectors(vectors_dir):
        with open(os.path.join(vectors_dir, "invalid", name), "rb") as f:
            raw = f.read()
        with pytest.raises(cs.SandboxError) as e:
            cs.decode(raw)
        assert e.value.stage == "decode", name
        assert e.value.errno == err, (name, e.value)
        assert piece in e.value.message, (name, e.value.message)
