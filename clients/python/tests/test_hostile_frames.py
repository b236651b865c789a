"""A helper that breaks the protocol in the middle of a session: a small Python
program, spawned as the helper, that says a valid hello, reads the job and
then sends what a scripted scenario says. The session must refuse every
broken frame with stage "protocol" (or "hello" before the hello), kill and
reap the helper, and never allocate what a frame merely declares."""

import errno
import os
import sys
import textwrap

import pytest

import cachepot_sandbox as cs

HELLO = cs.encode({"type": "hello", "protocol": 1, "helper_version": "hostile",
                   "backends": ["userns"], "overlay_modes": ["bind"], "max_frame": 1048576,
                   "max_chunk": 65536, "uid": 0, "gid": 0, "backend": "userns",
                   "seccomp": True})
EXIT = cs.encode({"type": "exit", "code": 0, "timed_out": False, "wall_us": 1, "user_us": 1,
                  "sys_us": 1, "max_rss_kb": 1, "backend": "userns", "overlay": "bind",
                  "timings": []})


def frame(payload):
    return len(payload).to_bytes(4, "big") + payload


def out_chunk(path, size, data, end):
    return frame(cs.encode({"type": "output", "path": path, "mode": 0o644, "size": size,
                            "data": data, "end": end}))


def hostile_helper(tmp_path, before_job, after_job, then_exit=False):
    """An executable that writes before_job, reads one frame (the job), writes
    after_job, then exits (then_exit) or waits for EOF."""
    (tmp_path / "before").write_bytes(before_job)
    (tmp_path / "after").write_bytes(after_job)
    script = tmp_path / "hostile-helper"
    script.write_text(textwrap.dedent(f"""\
        #!{sys.executable}
        import os
        def send(name):
            with open({str(tmp_path)!r} + "/" + name, "rb") as f:
                data = f.read()
            while data:
                data = data[os.write(3, data):]
        def read_exact(n):
            buf = b""
            while len(buf) < n:
                got = os.read(3, n - len(buf))
                if not got:
                    raise SystemExit(0)
                buf += got
            return buf
        send("before")
        read_exact(int.from_bytes(read_exact(4), "big"))
        send("after")
        if {then_exit!r}:
            raise SystemExit(0)
        while os.read(3, 65536):
            pass
        """))
    script.chmod(0o755)
    return str(script)


def expect(tmp_path, before, after, stage, err, piece, outputs=(), then_exit=False):
    helper = hostile_helper(tmp_path, before, after, then_exit)
    job = cs.Job(str(tmp_path), ["cc"], outputs=outputs)
    with pytest.raises(cs.SandboxError) as e:
        with cs.Session(job, helper=helper, timeout=60) as s:
            pid = s._proc.pid
            for _ in s:
                pass
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert e.value.stage == stage and e.value.errno == err, e.value
    assert piece in e.value.message, e.value.message


def test_the_script_itself_is_a_working_helper(tmp_path):
    helper = hostile_helper(tmp_path, frame(HELLO), out_chunk("/build/a", 3, b"abc", True)
                            + frame(EXIT))
    res = cs.run(cs.Job(str(tmp_path), ["cc"], outputs=["a"]), helper=helper)
    assert res.exit.code == 0 and res.outputs == ["a"]


def test_frame_over_the_cap_is_refused_before_it_is_read(tmp_path):
    expect(tmp_path, frame(HELLO), (2**31).to_bytes(4, "big"), "protocol", errno.EMSGSIZE,
           "frame of 2147483648 bytes")
    expect(tmp_path, frame(HELLO), b"\0\0\0\0", "protocol", errno.EMSGSIZE, "frame of 0 bytes")


def test_eof_inside_a_frame(tmp_path):
    expect(tmp_path, frame(HELLO), b"\0\0\0\x10abc", "protocol", errno.EPROTO,
           "in the middle of a frame", then_exit=True)


def test_declared_sizes_are_not_believed(tmp_path):
    huge = bytes([0xA1, 0x64]) + b"type" + bytes([0x9A, 0x10, 0, 0, 0])
    expect(tmp_path, frame(HELLO), frame(huge), "protocol", errno.EPROTO,
           "declares 268435456 items")


def test_messages_out_of_place(tmp_path):
    stdout = frame(cs.encode({"type": "stdout", "data": b"x"}))
    expect(tmp_path, stdout, b"", "hello", errno.EPROTO, "sent another message before hello")
    expect(tmp_path, frame(HELLO), frame(HELLO), "protocol", errno.EPROTO,
           "message of type hello during the job")
    expect(tmp_path, frame(HELLO), frame(cs.encode({"type": "cancel"})), "protocol",
           errno.EPROTO, "message of type cancel")


def test_output_frames_must_match_the_job(tmp_path):
    outs = ["a", "b"]
    expect(tmp_path, frame(HELLO), out_chunk("/build/b", 1, b"b", True), "protocol",
           errno.EPROTO, "out of order", outs)
    expect(tmp_path, frame(HELLO), out_chunk("/build/a", 4, b"ab", False)
           + out_chunk("/build/a", 5, b"cd", True), "protocol", errno.EPROTO,
           "size that changed", outs)
    expect(tmp_path, frame(HELLO), out_chunk("/build/a", 3, b"ab", False)
           + out_chunk("/build/a", 3, b"cd", True), "protocol", errno.EPROTO,
           "more bytes than its size", outs)
    expect(tmp_path, frame(HELLO), out_chunk("/build/a", 3, b"ab", True), "protocol",
           errno.EPROTO, "fewer bytes than its size", outs)
    expect(tmp_path, frame(HELLO), out_chunk("/build/a", 1, b"a", True)
           + out_chunk("/build/b", 1, b"b", True) + out_chunk("/build/b", 1, b"b", True),
           "protocol", errno.EPROTO, "not requested (or twice)", outs)


def test_error_frame_carries_the_helpers_words(tmp_path):
    err = frame(cs.encode({"type": "error", "stage": "overlay", "errno": 95,
                           "message": "mount overlay on /x: not supported",
                           "hint": "use overlay mode bind"}))
    helper = hostile_helper(tmp_path, frame(HELLO), err)
    with pytest.raises(cs.SandboxError) as e:
        cs.run(cs.Job(str(tmp_path), ["cc"]), helper=helper)
    assert (e.value.stage, e.value.errno) == ("overlay", errno.EOPNOTSUPP)
    assert e.value.message == "mount overlay on /x: not supported"
    assert e.value.hint == "use overlay mode bind"
