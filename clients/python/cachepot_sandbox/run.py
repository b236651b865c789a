"""run(): one job, outputs into a directory, stdout and stderr returned."""

import time

from .events import Exit, Output, OutputMissing, Stderr, Stdout
from .outdir import OutputDir
from .session import Session


class Result:
    """A job that ran (whatever its exit status). exit: the Exit event (code,
    signal, timed_out, limit, usage, backend, overlay, timings). stdout and
    stderr: what was captured (see run()); *_truncated: more came than the
    capture limit kept. outputs: names written below out_dir; missing: paths
    the compiler did not produce. total_us: the whole run()."""

    def __init__(self):
        self.exit = None
        self.stdout = b""
        self.stderr = b""
        self.stdout_truncated = False
        self.stderr_truncated = False
        self.outputs = []
        self.missing = []
        self.total_us = 0

    @property
    def code(self):
        return self.exit.code

    @property
    def signal(self):
        return self.exit.signal

    def __repr__(self):
        return f"Result({self.exit!r}, outputs={self.outputs!r}, missing={self.missing!r})"


class _Capture:
    def __init__(self, sink, limit):
        self.sink = sink
        self.limit = limit
        self.parts = []
        self.kept = 0
        self.truncated = False

    def add(self, data):
        if self.sink is not None:
            self.sink.write(data)
            return
        room = self.limit - self.kept
        if len(data) > room:
            self.truncated = True
            data = data[:room]
        if data:
            self.parts.append(data)
            self.kept += len(data)

    def value(self):
        return b"".join(self.parts)


def run(job, out_dir=None, *, helper=None, timeout=None, cancel=None, stdout=None, stderr=None,
        capture_limit=16 * 1024 * 1024):
    """Run job and return a Result, or raise SandboxError (see Session).

    Output files are written below out_dir as they arrive (never outside it,
    never through a symlink; see OutputDir); with out_dir None they are
    discarded. stdout/stderr: binary file objects that get the chunks as they
    arrive; when None, up to capture_limit bytes of each are kept in the
    Result. Memory stays bounded: one frame and the capture limits.
    """
    t0 = time.monotonic()
    res = Result()
    out = _Capture(stdout, capture_limit)
    err = _Capture(stderr, capture_limit)
    sink = OutputDir(out_dir) if out_dir is not None and job.outputs else None
    try:
        with Session(job, helper=helper, timeout=timeout, cancel=cancel) as session:
            for ev in session:
                if isinstance(ev, Stdout):
                    out.add(ev.data)
                elif isinstance(ev, Stderr):
                    err.add(ev.data)
                elif isinstance(ev, Output):
                    if sink is not None:
                        sink.event(ev)
                    if ev.end:
                        res.outputs.append(ev.name)
                elif isinstance(ev, OutputMissing):
                    if sink is not None:
                        sink.event(ev)
                    res.missing.append(ev.path)
                elif isinstance(ev, Exit):
                    res.exit = ev
    finally:
        if sink is not None:
            sink.close()
    res.stdout, res.stdout_truncated = out.value(), out.truncated
    res.stderr, res.stderr_truncated = err.value(), err.truncated
    res.total_us = int((time.monotonic() - t0) * 1e6)
    return res
