"""Jobs through the real helper built by this repository, in the busybox test
toolchain (tests/toolchain/make-test-toolchain.sh): inputs and outputs
byte-identical, streaming, the helper's error frames, the job's own limits,
cancel and the whole-exchange timeout. run-tests.sh runs them as root and as
uid 65534."""

import errno
import hashlib
import os
import threading

import pytest

import cachepot_sandbox as cs
from cachepot_sandbox import features

ENV = {"PATH": "/bin:/usr/bin"}


def sh(toolchain, script, **kwargs):
    return cs.Job(toolchain, ["sh", "-c", script], env=ENV, **kwargs)


def gone(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_files_in_and_out_byte_identical(helper, toolchain, tmp_path):
    data = os.urandom(300_000)
    host = tmp_path / "in.bin"
    host.write_bytes(data)
    job = sh(toolchain, "cp in.bin out.bin && sha256sum in.bin",
             inputs=[cs.Input("in.bin", host_path=host),
                     cs.Input("sub/tool.sh", data=b"#!/bin/sh\necho tool\n", mode=0o755)],
             outputs=["out.bin", "sub/tool.sh", "never.o"])
    out = tmp_path / "out"
    out.mkdir()
    res = cs.run(job, str(out), helper=helper)
    assert res.exit.code == 0, res.stderr
    assert (out / "out.bin").read_bytes() == data
    assert (out / "sub/tool.sh").stat().st_mode & 0o777 == 0o755
    assert res.stdout.split()[0].decode() == hashlib.sha256(data).hexdigest()
    assert res.outputs == ["out.bin", "sub/tool.sh"] and res.missing == ["never.o"]
    assert res.exit.backend in ("userns", "bubblewrap")
    assert res.exit.overlay in ("native", "fuse", "bind")


def test_hello_announces_features(helper, toolchain):
    """The module asks the helper for hello.features (CACHEPOT_HELLO_FEATURES=1),
    and this repository's helper announces every optional job key there is;
    a job with optional keys then runs."""
    job = sh(toolchain, "exit 5", limits={"timeout_ms": 60000, "processes": 4096})
    with cs.Session(job, helper=helper) as s:
        for _ in s:
            pass
    assert s.hello["features"] == list(features.NAMES)
    assert s.exit.code == 5


def test_streams_arrive_in_chunks_as_written(helper, toolchain, tmp_path):
    total = 1_000_000
    job = sh(toolchain, f"yes abcdefghi | head -c {total}; echo done >&2")
    sizes, err = [], b""
    with cs.Session(job, helper=helper) as s:
        for ev in s:
            if isinstance(ev, cs.Stdout):
                sizes.append(len(ev.data))
            elif isinstance(ev, cs.Stderr):
                err += ev.data
    assert sum(sizes) == total and max(sizes) <= 65536 and len(sizes) >= total // 65536
    assert err == b"done\n" and s.exit.code == 0


def test_exit_status_and_signal(helper, toolchain):
    assert cs.run(sh(toolchain, "exit 42"), helper=helper).exit.code == 42
    res = cs.run(sh(toolchain, "kill -9 $$"), helper=helper)
    assert res.exit.signal == 9 and res.exit.code is None and not res.exit.timed_out


def test_error_frame(helper, toolchain):
    job = cs.Job(toolchain, ["no-such-compiler"], env=ENV)
    with pytest.raises(cs.SandboxError) as e:
        cs.run(job, helper=helper)
    assert e.value.stage == "exec" and e.value.errno == errno.ENOENT
    assert "no-such-compiler" in e.value.message and e.value.hint


def test_job_timeout_limit(helper, toolchain):
    res = cs.run(sh(toolchain, "sleep 30", limits={"timeout_ms": 300}), helper=helper)
    assert res.exit.timed_out and res.exit.signal == 9 and res.exit.limit == "timeout"


def test_cancel_from_another_thread(helper, toolchain, tmp_path):
    build = tmp_path / "build"
    job = sh(toolchain, "echo started; sleep 30", build_dir=str(build))
    with pytest.raises(cs.SandboxError) as e:
        with cs.Session(job, helper=helper) as s:
            pid = s._proc.pid
            for ev in s:
                if isinstance(ev, cs.Stdout):
                    threading.Thread(target=s.cancel).start()
    assert e.value.stage == "cancel" and e.value.errno == errno.ECANCELED
    assert s.exit is not None and s.exit.limit == "cancel" and s.exit.signal == 9
    assert gone(pid) and os.listdir(build) == []


def test_whole_exchange_timeout(helper, toolchain):
    with pytest.raises(cs.SandboxError) as e:
        with cs.Session(sh(toolchain, "sleep 30"), helper=helper, timeout=1.5) as s:
            pid = s._proc.pid
            for _ in s:
                pass
    assert e.value.stage == "timeout" and e.value.errno == errno.ETIMEDOUT
    assert gone(pid)


def test_concurrent_jobs(helper, toolchain, tmp_path):
    results, errors = {}, []

    def worker(t):
        try:
            for k in range(2):
                data = os.urandom(10_000 * (t + 1))
                out = tmp_path / f"out{t}-{k}"
                out.mkdir()
                job = sh(toolchain, "cp in out", inputs=[cs.Input("in", data=data)],
                         outputs=["out"])
                res = cs.run(job, str(out), helper=helper)
                results[(t, k)] = res.exit.code == 0 and (out / "out").read_bytes() == data
        except Exception as e:  # reported below with its thread
            errors.append((t, e))

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    assert len(results) == 8 and all(results.values())
