"""The events of a session, in the order the helper sends them."""


class Stdout:
    """A chunk the compiler wrote to stdout (1..65536 bytes)."""
    __slots__ = ("data",)

    def __init__(self, data):
        self.data = data

    def __repr__(self):
        return f"Stdout({self.data!r})"


class Stderr:
    """A chunk the compiler wrote to stderr (1..65536 bytes)."""
    __slots__ = ("data",)

    def __init__(self, data):
        self.data = data

    def __repr__(self):
        return f"Stderr({self.data!r})"


class Output:
    """One chunk of an output file. path: as given to Job.add_output; name:
    where it belongs below an out dir; size: the whole file's; end: the last
    chunk (a 0-byte file is one chunk with empty data)."""
    __slots__ = ("path", "name", "mode", "size", "data", "end")

    def __init__(self, path, name, mode, size, data, end):
        self.path = path
        self.name = name
        self.mode = mode
        self.size = size
        self.data = data
        self.end = end

    def __repr__(self):
        return (f"Output({self.path!r}, mode={self.mode:o}, size={self.size}, "
                f"data=<{len(self.data)} bytes>, end={self.end})")


class OutputMissing:
    """The compiler did not produce this output (not an error); also sent for
    an output the helper stopped sending (e.g. the output limit ended the job)."""
    __slots__ = ("path", "name")

    def __init__(self, path, name):
        self.path = path
        self.name = name

    def __repr__(self):
        return f"OutputMissing({self.path!r})"


class Exit:
    """How the compiler ended and what it cost: the last event of a job that
    ran. code is None when signal is set; limit is "" or the limit that ended
    the job ("timeout", "output", "cancel", "cpu", "file_size", ...);
    timings: [(stage, usec)] on the helper's clock."""
    __slots__ = ("code", "signal", "timed_out", "limit", "wall_us", "user_us", "sys_us",
                 "max_rss_kb", "backend", "overlay", "timings", "helper_version")

    def __init__(self, msg, helper_version):
        self.code = msg.get("code")
        self.signal = msg.get("signal")
        self.timed_out = msg["timed_out"]
        self.limit = msg.get("limit", "")
        self.wall_us = msg["wall_us"]
        self.user_us = msg["user_us"]
        self.sys_us = msg["sys_us"]
        self.max_rss_kb = msg["max_rss_kb"]
        self.backend = msg["backend"]
        self.overlay = msg["overlay"]
        self.timings = [(stage, usec) for stage, usec in msg["timings"]]
        self.helper_version = helper_version

    def __repr__(self):
        how = f"code={self.code}" if self.signal is None else f"signal={self.signal}"
        return f"Exit({how}, timed_out={self.timed_out}, limit={self.limit!r})"
