"""Session: one exchange with a spawned helper, driven by one poll() loop
(parent/lib/helper_session.c), as a context manager that yields events."""

import errno
import os
import select
import socket
import time

from . import builddir, codec, features, limits
from .cancel import CancelToken
from .errors import SandboxError
from .events import Exit, Output, OutputMissing, Stderr, Stdout
from .frames import FrameReader, frame
from .helper import HelperProc, helper_path
from .job import WireJob

# A helper does its job-independent setup before hello (milliseconds); one
# that stays silent this long is hung or is not a helper.
HELLO_TIMEOUT = 30.0
# After cancel, the helper kills the job and reports; then we stop waiting.
CANCEL_GRACE = 5.0
# A helper that closed its socket is exiting: give it this long to finish.
EXIT_GRACE = 5.0
# A helper that sent its last frame only cleans up; after this long it is killed.
CLEANUP_GRACE = 10.0
# Frames read per wakeup before the loop looks at the other fds again.
READ_BURST = 64

NOT_A_HELPER = "is this a cachepot-dist-sandbox helper?"
HELPER_HINT = ("run with CACHEPOT_LOG=debug to see the helper's log; check that "
               "CACHEPOT_SANDBOX_HELPER or the helper option names the cachepot-dist-sandbox "
               "executable")

_WAIT_HELLO, _RUNNING, _FINISHED = range(3)


class Session:
    """Run one job. Use it as a context manager and iterate over it:

        with Session(job, helper=path, timeout=60) as s:
            for ev in s:
                ...  # Stdout, Stderr, Output, OutputMissing, then Exit

    Spawning happens on entry; leaving the block always ends and reaps the
    helper, closes the socket and removes what a killed helper left in the
    build dir. Iteration raises SandboxError for an error frame (the helper's
    stage, errno, message and hint), a broken protocol, a helper that died, a
    cancel (stage "cancel", ECANCELED) or the whole-exchange timeout (stage
    "timeout", ETIMEDOUT, seconds from spawn to reap). Nothing happens between
    two steps of the iteration: a slow consumer slows the helper down (the
    socket fills up) and memory stays bounded by one frame. cancel() and the
    token may be used from any thread; they take effect at the next step.
    """

    def __init__(self, job, *, helper=None, timeout=None, cancel=None):
        self.job = job
        self.helper = helper_path(helper)
        self.timeout = timeout
        self._token = cancel
        self._own_token = None  # cancel(): this session only, polled from the start
        self._cancel_early = False
        self._proc = None
        self._build_dir = None
        self._temp_build = job.build_dir is None
        self._wire = None
        self.hello = None
        self.exit = None
        self._started = False

    # ---- lifecycle ----

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.close()

    def start(self):
        if self._started:
            raise SandboxError("spawn", errno.EINVAL, "the session was started already")
        self._started = True
        self._t0 = time.monotonic()
        self._deadline = self._t0 + self.timeout if self.timeout else None
        self._build_dir = (builddir.make_temp() if self._temp_build
                           else builddir.prepare(self.job.build_dir))
        try:
            self._wire = WireJob(self.job, self._build_dir)
            self._proc = HelperProc(self.helper, self.job)
        except BaseException:
            self._cleanup_build_dir()
            raise
        self._own_token = CancelToken()
        if self._cancel_early:
            self._own_token.cancel()
        self._reader = FrameReader(limits.MAX_FRAME)
        self._phase = _WAIT_HELLO
        self._max_chunk = limits.MAX_CHUNK
        self._max_frame = limits.MAX_FRAME
        self._wbuf = None
        self._write_closed = False
        self._job_queued = False
        self._next_input = 0
        self._in_fd = None
        self._in_left = 0
        self._in_off = 0
        self._in_open = False
        self._stop = None  # the SandboxError a cancel ends with
        self._cancel_sent = False
        self._grace_deadline = None
        self._last_frame_seen = False
        self._out_idx = 0
        self._out_in_file = False
        self._out_size = 0
        self._out_got = 0
        self.outputs_received = 0
        self.outputs_missing = 0
        self.bytes_out = 0

    def close(self):
        """End the session: a helper that sent its last frame gets CLEANUP_GRACE
        seconds to clean up and exit, any other is killed; then it is reaped."""
        if self._proc is not None:
            grace = CLEANUP_GRACE if self._last_frame_seen else 0
            if self._deadline is not None:
                grace = max(0.0, min(grace, self._deadline - time.monotonic()))
            self._proc.finish(grace)
            self._proc = None
        if self._in_fd is not None:
            os.close(self._in_fd)
            self._in_fd = None
        if self._own_token is not None:
            self._own_token.close()
            self._own_token = None
        self._cleanup_build_dir()
        self._phase = _FINISHED

    def _cleanup_build_dir(self):
        if self._build_dir is None:
            return
        builddir.clean(self._build_dir)
        if self._temp_build:
            builddir.remove_tree(self._build_dir)
        self._build_dir = None

    def cancel(self):
        """Stop the job (thread safe; before start too). The iteration then
        raises SandboxError stage "cancel" once the helper has stopped (or after
        CANCEL_GRACE s)."""
        self._cancel_early = True
        token = self._own_token
        if token is not None:
            token.cancel()

    # ---- ending ----

    def _finish(self, err, last_frame_seen=False):
        """The exchange is over with err; a helper that did not send its last
        frame is killed now."""
        self._phase = _FINISHED
        self._last_frame_seen = last_frame_seen
        if not last_frame_seen and self._proc is not None:
            self._proc.kill()
        raise err

    def _begin_stop(self, err):
        if self._stop is not None:
            return
        self._stop = err
        self._grace_deadline = time.monotonic() + CANCEL_GRACE
        if self._phase == _WAIT_HELLO:
            self._finish(err)
        self._fill_wbuf()

    # ---- writing ----

    def _queue(self, msg_payload):
        if len(msg_payload) > self._max_frame:
            raise SandboxError("job", errno.EMSGSIZE,
                               f"a frame of {len(msg_payload)} bytes is larger than the helper "
                               f"accepts ({self._max_frame})", "send fewer or shorter arguments")
        self._wbuf = memoryview(frame(msg_payload))

    def _open_input(self):
        item = self.job.inputs[self._next_input]
        ident = self._wire.input_ids[self._next_input]
        self._in_off = 0
        if item.data is not None:
            self._in_left = item.data.nbytes
            return
        try:
            self._in_fd = os.open(item.host_path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOCTTY)
            st = os.fstat(self._in_fd)
        except OSError as e:
            raise SandboxError("input", e.errno, f"open input {item.host_path}: {e.strerror}")
        if (st.st_dev, st.st_ino, st.st_size) != ident:
            raise SandboxError("input", errno.EAGAIN,
                               f"input {item.host_path} changed after the job was announced",
                               "do not modify inputs while a job runs")
        self._in_left = st.st_size

    def _input_chunk(self):
        item = self.job.inputs[self._next_input]
        if not self._in_open:
            self._open_input()
            self._in_open = True
        want = min(self._in_left, self._max_chunk)
        if item.data is not None:
            chunk = item.data[self._in_off:self._in_off + want]
        else:
            parts, have = [], 0
            while have < want:
                try:
                    got = os.read(self._in_fd, want - have)
                except InterruptedError:
                    continue
                except OSError as e:
                    raise SandboxError("input", e.errno,
                                       f"read input {item.host_path}: {e.strerror}") from e
                if not got:
                    raise SandboxError("input", errno.EAGAIN, f"read input {item.host_path}: "
                                       "file shrank while it was sent")
                parts.append(got)
                have += len(got)
            chunk = b"".join(parts)
        self._in_left -= want
        self._in_off += want
        end = self._in_left == 0
        self._queue(codec.encode({"type": "input", "path": self._wire.input_paths[self._next_input],
                                  "data": chunk, "end": end}))
        if end:
            if self._in_fd is not None:
                os.close(self._in_fd)
                self._in_fd = None
            self._in_open = False
            self._next_input += 1

    def _fill_wbuf(self):
        """Put the next frame in the write buffer, if there is one to send."""
        if self._wbuf is not None or self._write_closed or self._phase != _RUNNING:
            return
        if not self._job_queued:
            self._job_queued = True
            try:
                self._queue(self._wire.payload)
            except SandboxError as e:
                self._finish(e)
        elif self._stop is not None:
            if not self._cancel_sent:
                self._cancel_sent = True
                self._queue(codec.encode({"type": "cancel"}))
        elif self._next_input < len(self.job.inputs):
            try:
                self._input_chunk()
            except SandboxError as e:
                # A local failure (an input that cannot be read) stops the job.
                self._begin_stop(e)

    def _write_some(self):
        sock = self._proc.sock
        while self._wbuf is not None:
            try:
                # MSG_NOSIGNAL: a closed peer is EPIPE, never SIGPIPE, whatever
                # the worker did with the signal.
                n = sock.send(self._wbuf, socket.MSG_NOSIGNAL)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                # The helper stopped reading (it died, or it sent an error and
                # closed). Keep reading: its last frame or its EOF says which.
                self._write_closed = True
                self._wbuf = None
                return
            self._wbuf = self._wbuf[n:]
            if not self._wbuf:
                self._wbuf = None
                self._fill_wbuf()

    # ---- reading ----

    def _protocol_error(self, err):
        if self._phase == _WAIT_HELLO:
            self._bad_hello(err)
        self._finish(SandboxError("protocol", err.errno, err.message, HELPER_HINT))

    def _bad_hello(self, err):
        who = self._proc.describe()
        if err.errno == errno.EPROTONOSUPPORT:
            self._finish(SandboxError("hello", errno.EPROTONOSUPPORT, f"{who}: {err.message}",
                                      err.hint))
        self._finish(SandboxError("hello", errno.EPROTO, f"{who} did not send a valid hello "
                                  f"({err.message}): {NOT_A_HELPER}", HELPER_HINT))

    def _helper_gone(self):
        self._proc._wait_exit(EXIT_GRACE)
        self._proc.try_reap()
        who, how = self._proc.describe(), self._proc.status_text()
        if self._stop is not None:
            self._finish(self._stop, True)
        if self._phase == _WAIT_HELLO:
            self._finish(SandboxError("hello", errno.ECONNABORTED,
                                      f"{who} {how} before saying hello: {NOT_A_HELPER}",
                                      HELPER_HINT))
        self._finish(SandboxError("helper", errno.ECONNABORTED,
                                  f"{who} {how} before the job finished", HELPER_HINT))

    def _helper_error(self, m):
        self._finish(SandboxError(m["stage"], m["errno"] or errno.EIO, m["message"], m["hint"]),
                     True)

    def _hello_frame(self, m):
        if m["type"] == "error":
            self._helper_error(m)
        if m["type"] != "hello":
            self._finish(SandboxError("hello", errno.EPROTO,
                                      f"{self._proc.describe()} sent another message before "
                                      f"hello: {NOT_A_HELPER}", HELPER_HINT))
        self.hello = m
        self._check_features(m)
        if 0 < m["max_chunk"] < self._max_chunk:
            self._max_chunk = m["max_chunk"]
        if 0 < m["max_frame"] < self._max_frame:
            self._max_frame = m["max_frame"]
        self._phase = _RUNNING
        self._fill_wbuf()

    def _check_features(self, hello):
        """A helper refuses a job key it does not know ("unknown key"), which
        would fail every job with a message that does not say why; so no key
        the helper did not announce is sent, and a job that needs one is
        refused here, before it is sent, naming the keys and the first
        release that has them (docs/COMPATIBILITY.md)."""
        known = features.announced(hello)
        missing = [name for name in self._wire.features if name not in known]
        if missing:
            message, hint = features.unannounced_error(missing, self._proc.describe(),
                                                       hello["helper_version"])
            self._finish(SandboxError("job", errno.EOPNOTSUPP, message, hint))

    def _output_frame(self, m):
        """Check the order and sizes of output frames (parent/lib/output_sink.c)
        and turn them into events."""
        def bad(what):
            self._finish(SandboxError("protocol", errno.EPROTO,
                                      f"helper sent output {m['path']} {what}", HELPER_HINT))

        wire = self._wire.output_paths
        if self._out_idx >= len(wire):
            bad("that was not requested (or twice)")
        if m["path"] != wire[self._out_idx]:
            bad("out of order")
        spec = self.job.outputs[self._out_idx]
        if m.get("missing"):
            if self._out_in_file:
                bad("as missing after sending part of it")
            self._out_idx += 1
            self.outputs_missing += 1
            return OutputMissing(spec.path, spec.name)
        if not self._out_in_file:
            self._out_in_file = True
            self._out_size = m["size"]
            self._out_got = 0
        elif m["size"] != self._out_size:
            bad("with a size that changed between chunks")
        data = m["data"]
        if len(data) > self._out_size - self._out_got:
            bad("with more bytes than its size")
        self._out_got += len(data)
        self.bytes_out += len(data)
        if m["end"] and self._out_got != self._out_size:
            bad("with fewer bytes than its size")
        if m["end"]:
            self._out_in_file = False
            self._out_idx += 1
            self.outputs_received += 1
        return Output(spec.path, spec.name, m["mode"], m["size"], data, m["end"])

    def _settle_outputs(self):
        """Outputs the helper did not send (it may stop early, e.g. when the
        output limit ended the job) count as missing."""
        while self._out_idx < len(self._wire.output_paths):
            spec = self.job.outputs[self._out_idx]
            self._out_in_file = False
            self._out_idx += 1
            self.outputs_missing += 1
            yield OutputMissing(spec.path, spec.name)

    def _running_frame(self, m):
        t = m["type"]
        if t in ("stdout", "stderr"):
            self.bytes_out += len(m["data"])
            if self._stop is None:
                yield (Stdout if t == "stdout" else Stderr)(m["data"])
        elif t == "output":
            ev = self._output_frame(m)
            if self._stop is None:
                yield ev
        elif t == "exit":
            self.exit = Exit(m, self.hello["helper_version"])
            self._last_frame_seen = True
            if self._stop is not None:
                self._finish(self._stop, True)
            yield from self._settle_outputs()
            self._phase = _FINISHED
            yield self.exit
        elif t == "error":
            if self._stop is not None:
                self._finish(self._stop, True)
            self._helper_error(m)
        else:
            self._finish(SandboxError("protocol", errno.EPROTO,
                                      f"helper sent a message of type {t} during the job",
                                      HELPER_HINT))

    def _read_some(self):
        """Yield the events of the frames that are there. Sets self._more when
        more may be waiting after READ_BURST frames."""
        self._more = False
        for _ in range(READ_BURST):
            try:
                payload = self._reader.feed(self._proc.sock)
            except SandboxError as e:
                if e.errno == errno.ECONNRESET:
                    self._helper_gone()
                self._protocol_error(e)
            if payload is None:
                return
            try:
                m = codec.decode(payload)
            except SandboxError as e:
                self._protocol_error(e)
            del payload
            if self._phase == _WAIT_HELLO:
                self._hello_frame(m)
            else:
                yield from self._running_frame(m)
            if self._phase == _FINISHED:
                return
        self._more = True

    # ---- the loop ----

    def __iter__(self):
        if not self._started:
            raise SandboxError("spawn", errno.EINVAL, "start the session first (use it in a "
                               "with statement)")
        return self._events()

    def _next_deadline(self):
        d = self._deadline
        if self._phase == _WAIT_HELLO:
            h = self._t0 + HELLO_TIMEOUT
            d = h if d is None or h < d else d
        if self._stop is not None and (d is None or self._grace_deadline < d):
            d = self._grace_deadline
        return d

    def _on_deadline(self, now):
        who = self._proc.describe()
        if self._deadline is not None and now >= self._deadline:
            self._finish(SandboxError("timeout", errno.ETIMEDOUT,
                                      f"{who} did not finish within the run timeout of "
                                      f"{self.timeout:g} s; killed it",
                                      "raise the run timeout, or the job's own timeout"))
        if self._stop is not None:
            self._finish(self._stop)
        self._finish(SandboxError("hello", errno.ETIMEDOUT, f"{who} did not say hello within "
                                  f"{HELLO_TIMEOUT:g} s: {NOT_A_HELPER}", HELPER_HINT))

    def _events(self):
        proc = self._proc
        while self._phase != _FINISHED:
            now = time.monotonic()
            d = self._next_deadline()
            if d is not None and now >= d:
                self._on_deadline(now)
            poller = select.poll()
            poller.register(proc.sock, select.POLLIN | (select.POLLOUT if self._wbuf else 0))
            if proc.pidfd is not None:
                poller.register(proc.pidfd, select.POLLIN)
            tokens = [t.fileno() for t in (self._token, self._own_token)
                      if t is not None and t.fileno() is not None] if self._stop is None else []
            for fd in tokens:
                poller.register(fd, select.POLLIN)
            wait = None if d is None else max(0, min(60000, int((d - now) * 1000) + 1))
            ready = dict(poller.poll(wait))
            if any(ready.get(fd) for fd in tokens):
                self._begin_stop(SandboxError("cancel", errno.ECANCELED,
                                              "the run was cancelled"))
            sock_ev = ready.get(proc.sock.fileno(), 0)
            if self._phase != _FINISHED and sock_ev & select.POLLOUT:
                self._write_some()
            if self._phase != _FINISHED and sock_ev & (select.POLLIN | select.POLLHUP
                                                       | select.POLLERR):
                yield from self._read_some()
            if (self._phase != _FINISHED and proc.pidfd is not None
                    and ready.get(proc.pidfd, 0) & select.POLLIN):
                # The helper exited: what it wrote before is still in the socket.
                while True:
                    yield from self._read_some()
                    if self._phase == _FINISHED or not self._more:
                        break
                if self._phase != _FINISHED:
                    self._helper_gone()

