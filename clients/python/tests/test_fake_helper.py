"""The session against tests/parent/fake_helper.c: a helper that speaks the
protocol without a sandbox (its job's argv picks what it does), and helpers
that misbehave: garbage, another protocol version, a crash, a hang, silence, a
helper that vanishes. Whatever happens, the helper is reaped when the session
ends and the error says what went wrong."""

import errno
import hashlib
import os
import signal
import threading

import pytest

import cachepot_sandbox as cs
from cachepot_sandbox import features


def fake_job(tmp_path, *argv, **kwargs):
    return cs.Job(str(tmp_path), list(argv), **kwargs)


def gone(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def run_fake(fakes, mode, job, **kwargs):
    return cs.run(job, helper=str(fakes / mode), **kwargs)


def test_exit_codes_and_signals(fakes, tmp_path):
    assert run_fake(fakes, "ok", fake_job(tmp_path, "exit", "7")).exit.code == 7
    res = run_fake(fakes, "ok", fake_job(tmp_path, "signal", "11"))
    assert res.exit.signal == 11 and res.exit.code is None
    res = run_fake(fakes, "ok", fake_job(tmp_path, "timeout"))
    assert res.exit.timed_out and res.exit.signal == signal.SIGKILL
    assert res.exit.limit == "timeout"
    assert res.exit.helper_version == "0.0.0-fake" and res.exit.timings == [("fake", 7)]


def test_inputs_come_back_as_outputs_in_chunks(fakes, tmp_path):
    big = os.urandom(200_000)  # four chunks
    host = tmp_path / "host.bin"
    host.write_bytes(big)
    job = fake_job(tmp_path, "echo", cwd="/build",
                   inputs=[cs.Input("a.bin", host_path=host), cs.Input("/build/b.txt", data=b"b"),
                           cs.Input("empty", data=b"")],
                   outputs=["a.bin", "b.txt", "empty", "nothing"])
    out = tmp_path / "out"
    out.mkdir()
    chunks = []
    with cs.Session(job, helper=str(fakes / "ok")) as s:
        sink = cs.OutputDir(out)
        for ev in s:
            if isinstance(ev, cs.Output):
                chunks.append((ev.name, len(ev.data), ev.end))
            sink.event(ev)
        sink.close()
        assert isinstance(s.exit, cs.Exit) and s.exit.code == 0
    assert (out / "a.bin").read_bytes() == big
    assert (out / "b.txt").read_bytes() == b"b"
    assert (out / "empty").read_bytes() == b""
    assert not (out / "nothing").exists()
    a_chunks = [c for c in chunks if c[0] == "a.bin"]
    assert len(a_chunks) == 4 and all(n <= 65536 for _, n, _ in a_chunks)
    assert [end for _, _, end in a_chunks] == [False, False, False, True]
    res = run_fake(fakes, "ok", job, out_dir=str(out))
    assert res.outputs == ["a.bin", "b.txt", "empty"] and res.missing == ["nothing"]
    assert res.stderr == b"echoing\n"


def test_stdout_streams_in_bounded_chunks(fakes, tmp_path):
    total = 5 * 1024 * 1024 + 17
    job = fake_job(tmp_path, "stdout", str(total))
    sizes, digest = [], hashlib.sha256()
    with cs.Session(job, helper=str(fakes / "ok")) as s:
        for ev in s:
            if isinstance(ev, cs.Stdout):
                sizes.append(len(ev.data))
                digest.update(ev.data)
    assert sum(sizes) == total and max(sizes) <= 65536 and len(sizes) >= total // 65536
    expected = hashlib.sha256(bytes((ord("a") + i % 26) for i in range(65536)) * (total // 65536)
                              + bytes((ord("a") + i % 26) for i in range(total % 65536)))
    assert digest.hexdigest() == expected.hexdigest()
    # run(): to a file as it arrives, or captured up to the limit.
    with open(tmp_path / "stdout", "wb") as f:
        res = run_fake(fakes, "ok", job, stdout=f)
    assert os.path.getsize(tmp_path / "stdout") == total and res.stdout == b""
    res = run_fake(fakes, "ok", job, capture_limit=1000)
    assert len(res.stdout) == 1000 and res.stdout_truncated


def test_helper_starts_clean(fakes, tmp_path, monkeypatch):
    """Only fds 0-3, no blocked or ignored signal, only the helper's own
    variables, even when the worker has an inheritable fd, blocks a signal and
    ignores another."""
    r, w = os.pipe()
    os.set_inheritable(r, True)
    old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
    old_handler = signal.signal(signal.SIGUSR2, signal.SIG_IGN)
    monkeypatch.setenv("CPS_SECRET", "x")
    monkeypatch.setenv("CACHEPOT_LOG", "warn")
    try:
        res = run_fake(fakes, "ok", fake_job(tmp_path, "introspect", uid=0, gid=0,
                                              backend="userns", seccomp=False))
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
        signal.signal(signal.SIGUSR2, old_handler)
        os.close(r)
        os.close(w)
    line = res.stdout.decode()
    assert "fds=0,1,2,3, " in line, line
    assert "SigBlk:\t0000000000000000" in line, line
    # glibc's posix_spawn sets its two internal signals (32, 33) to SIG_IGN in
    # the child on purpose (sysdeps/unix/sysv/linux/spawni.c); no API can name
    # them. Every other signal must be at its default.
    ignored = int(line.split("SigIgn:\t")[1].split()[0], 16)
    assert ignored & ~0x180000000 == 0, line
    assert "argv=--uid,0,--gid,0,--backend,userns,--no-seccomp " in line, line
    env = line.split(" env=")[1].strip().rstrip(",").split(",")
    assert "CPS_SECRET" not in env and "CACHEPOT_LOG" in env
    # Asked for hello.features (the real-helper test checks that it came).
    assert "CACHEPOT_HELLO_FEATURES" in env
    assert set(env) <= {"PATH", "CACHEPOT_LOG", "CACHEPOT_SANDBOX", "CACHEPOT_BWRAP",
                        "CACHEPOT_SCRATCH", "CACHEPOT_HELLO_FEATURES"}, env


def test_no_fork(fakes, tmp_path):
    forks = []
    os.register_at_fork(before=lambda: forks.append(1))
    run_fake(fakes, "ok", fake_job(tmp_path, "exit", "0"))
    assert forks == []


def expect_error(fakes, mode, job, stage, err, piece, **kwargs):
    with pytest.raises(cs.SandboxError) as e:
        with cs.Session(job, helper=str(fakes / mode), **kwargs) as s:
            pid = s._proc.pid
            for _ in s:
                pass
    assert gone(pid), "the helper was not reaped"
    assert e.value.stage == stage and e.value.errno == err, e.value
    assert piece in e.value.message, e.value.message
    return e.value


def test_unannounced_job_key_refused(fakes, tmp_path):
    """A job key the helper did not announce is never sent: the job is refused
    before it goes out, with the key and the release that has it, and the
    helper is killed and reaped. Without the key the same helper runs jobs; a
    hello without features (0.1.0) takes every 0.1.0 key."""
    job = fake_job(tmp_path, "exit", "3", limits={"scratch_bytes": 1 << 20})
    helper = str(fakes / "noscratch")
    with pytest.raises(cs.SandboxError) as e:
        with cs.Session(job, helper=helper) as s:
            pid = s._proc.pid
            for _ in s:
                pass
    assert gone(pid), "the helper was not reaped"
    assert not s._job_queued, "the job was sent"
    assert s.hello["features"] == [n for n in features.NAMES
                                   if n != "job.limits.scratch_bytes"]
    err = e.value
    assert err.stage == "job" and err.errno == errno.EOPNOTSUPP, err
    assert err.message == (f"helper {helper} (pid {pid}) of release 0.0.0-fake does not "
                           "understand job.limits.scratch_bytes, which this job sets; helpers "
                           "of release 0.1.0 and later do"), err.message
    assert err.hint == ("install a helper of release 0.1.0 or later on this host, or leave "
                        "those keys unset"), err.hint
    # run() reports it the same way.
    with pytest.raises(cs.SandboxError) as e:
        run_fake(fakes, "noscratch", job)
    assert e.value.stage == "job" and e.value.errno == errno.EOPNOTSUPP
    assert "job.limits.scratch_bytes" in e.value.message

    job.set_limit("scratch_bytes", 0)
    job.set_limit("timeout_ms", 5000)
    assert run_fake(fakes, "noscratch", job).exit.code == 3

    job.set_limit("scratch_bytes", 1 << 20)
    with cs.Session(job, helper=str(fakes / "oldhello")) as s:
        for _ in s:
            pass
    assert "features" not in s.hello and s.exit.code == 3


def test_wrong_protocol(fakes, tmp_path):
    e = expect_error(fakes, "wrongproto", fake_job(tmp_path, "x"), "hello",
                     errno.EPROTONOSUPPORT, "helper speaks protocol 2, this side speaks 1")
    assert "same release" in e.hint


def test_garbage(fakes, tmp_path):
    expect_error(fakes, "garbage", fake_job(tmp_path, "x"), "hello", errno.EPROTO,
                 "did not send a valid hello")


def test_crash_mid_job(fakes, tmp_path):
    build = tmp_path / "build"
    build.mkdir()
    precious = tmp_path / "precious"
    precious.write_text("keep")
    job = fake_job(tmp_path, "crash", str(precious), build_dir=str(build))
    seen = []
    with pytest.raises(cs.SandboxError) as e:
        with cs.Session(job, helper=str(fakes / "crash")) as s:
            for ev in s:
                seen.append(ev)
    assert e.value.stage == "helper" and e.value.errno == errno.ECONNABORTED
    assert "killed by signal 11" in e.value.message, e.value.message
    assert len(seen) == 1 and seen[0].data == b"about to crash\n"
    # What the helper left (with a mode-000 dir and a symlink out) is gone; the
    # symlink's target is untouched.
    assert os.listdir(build) == [] and precious.read_text() == "keep"


def test_vanish(fakes, tmp_path):
    expect_error(fakes, "vanish", fake_job(tmp_path, "x"), "helper", errno.ECONNABORTED,
                 "exited with status 0 before the job finished")


def test_timeout_of_a_hung_helper(fakes, tmp_path):
    expect_error(fakes, "hang", fake_job(tmp_path, "x"), "timeout", errno.ETIMEDOUT,
                 "did not finish within the run timeout of 1 s", timeout=1)
    expect_error(fakes, "silent", fake_job(tmp_path, "x"), "timeout", errno.ETIMEDOUT,
                 "run timeout", timeout=1)


def test_cancel_from_another_thread(fakes, tmp_path):
    # "pid" prints its pid, waits for cancel, then reports a SIGKILL exit.
    job = fake_job(tmp_path, "pid")
    with pytest.raises(cs.SandboxError) as e:
        with cs.Session(job, helper=str(fakes / "ok")) as s:
            for ev in s:
                if isinstance(ev, cs.Stdout):
                    threading.Thread(target=s.cancel).start()
    assert e.value.stage == "cancel" and e.value.errno == errno.ECANCELED
    # A helper that ignores the cancel is killed after the grace period.
    token = cs.CancelToken()
    threading.Timer(0.3, token.cancel).start()
    expect_error(fakes, "hang", fake_job(tmp_path, "x"), "cancel", errno.ECANCELED,
                 "cancelled", cancel=token)
    # A token fired before the run cancels it at once.
    expect_error(fakes, "ok", fake_job(tmp_path, "exit", "0"), "cancel", errno.ECANCELED,
                 "cancelled", cancel=token)
    token.close()


def test_leaving_the_block_early_kills_and_reaps(fakes, tmp_path):
    with cs.Session(fake_job(tmp_path, "stdout", "10000000"), helper=str(fakes / "ok")) as s:
        pid = s._proc.pid
        for ev in s:
            break
    assert gone(pid)


def test_spawn_failure(tmp_path):
    with pytest.raises(cs.SandboxError) as e:
        cs.run(fake_job(tmp_path, "x"), helper=str(tmp_path / "no-such-helper"))
    assert e.value.stage == "spawn" and e.value.errno == errno.ENOENT and e.value.hint


def test_sixteen_jobs_from_eight_threads(fakes, tmp_path):
    results, errors = {}, []

    def worker(t):
        try:
            for k in range(2):
                data = f"thread {t} job {k}\n".encode() * (1000 * (t + 1))
                out = tmp_path / f"out{t}-{k}"
                out.mkdir()
                job = fake_job(tmp_path, "echo", inputs=[cs.Input("f", data=data)],
                               outputs=["f"])
                run_fake(fakes, "ok", job, out_dir=str(out))
                results[(t, k)] = (out / "f").read_bytes() == data
        except Exception as e:  # reported below with its thread
            errors.append((t, e))

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    assert len(results) == 16 and all(results.values())
