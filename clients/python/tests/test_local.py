"""Job checks, path rules and the out-dir writer, without a helper."""

import errno
import os

import pytest

import cachepot_sandbox as cs
from cachepot_sandbox.paths import output_name, resolve


def test_resolve_and_output_names():
    assert resolve("/build", "a.o") == "/build/a.o"
    assert resolve("/build", "./sub//a.o") == "/build/sub/a.o"
    assert resolve("/build", "/abs/x") == "/abs/x"
    assert output_name("/build/./a.o") == "build/a.o"
    for bad in ("../x", "a/../../x", "/a/.."):
        with pytest.raises(cs.SandboxError) as e:
            output_name(bad)
        assert e.value.stage == "job" and e.value.errno == errno.EINVAL
    with pytest.raises(cs.SandboxError):
        output_name("/")


@pytest.mark.parametrize("kwargs,piece", [
    ({"argv": []}, "argv needs 1 to 4096 entries"),
    ({"cwd": "build"}, "must be absolute"),
    ({"env": {"A=B": "x"}}, "without '='"),
    ({"outputs": ["../escape"]}, '".." component'),
    ({"inputs": [("../x", None, b"")]}, '".." component'),
    ({"limits": {"walltime": 1}}, "unknown limit"),
    ({"limits": {"timeout_ms": -1}}, "is not an unsigned 64-bit integer"),
    ({"overlay": "zfs"}, "unknown overlay mode"),
    ({"backend": "docker"}, "unknown backend"),
    ({"uid": 2**32 - 1}, "is not an id"),
])
def test_job_refuses_bad_settings(kwargs, piece):
    args = {"argv": ["true"]}
    args.update(kwargs)
    with pytest.raises(cs.SandboxError) as e:
        cs.Job("/nonexistent", **args)
    assert e.value.stage == "job" and piece in e.value.message, e.value


def test_input_needs_exactly_one_source():
    with pytest.raises(cs.SandboxError):
        cs.Input("/a")
    with pytest.raises(cs.SandboxError):
        cs.Input("/a", host_path="/etc/hostname", data=b"x")
    with pytest.raises(cs.SandboxError):
        cs.Input("/a", data=b"x", mode=0o10000)


def _outputs(*names):
    job = cs.Job("/t", ["true"], outputs=names)
    return job.outputs


def test_out_dir_writes_in_chunks_and_never_follows_symlinks(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious")
    # A symlinked directory on the way, and a symlink where the file goes.
    os.symlink(elsewhere, out / "d")
    os.symlink(victim, out / "f")
    spec_d, spec_f, spec_deep = _outputs("d/x", "f", "sub/deeper/g")
    with cs.OutputDir(out) as sink:
        with pytest.raises(cs.SandboxError) as e:
            sink.event(cs.Output(spec_d.path, spec_d.name, 0o644, 1, b"x", True))
        assert e.value.stage == "output" and e.value.errno in (errno.ELOOP, errno.ENOTDIR)
        sink.event(cs.Output(spec_f.path, spec_f.name, 0o600, 6, b"abc", False))
        sink.event(cs.Output(spec_f.path, spec_f.name, 0o600, 6, b"def", True))
        sink.event(cs.Output(spec_deep.path, spec_deep.name, 0o755, 0, b"", True))
    assert os.listdir(elsewhere) == []
    assert victim.read_bytes() == b"precious"
    assert not os.path.islink(out / "f") and (out / "f").read_bytes() == b"abcdef"
    assert (out / "f").stat().st_mode & 0o777 == 0o600
    assert (out / "sub/deeper/g").read_bytes() == b""
    assert sink.written == ["f", "sub/deeper/g"]


def test_out_dir_removes_a_file_that_did_not_arrive_whole(tmp_path):
    (spec,) = _outputs("part.o")
    with cs.OutputDir(tmp_path) as sink:
        sink.event(cs.Output(spec.path, spec.name, 0o644, 10, b"12345", False))
        assert (tmp_path / "part.o").exists()
        sink.event(cs.OutputMissing(spec.path, spec.name))
        assert not (tmp_path / "part.o").exists()
        sink.event(cs.Output(spec.path, spec.name, 0o644, 10, b"12345", False))
    assert not (tmp_path / "part.o").exists()
