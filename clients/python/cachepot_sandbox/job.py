"""Job: what to run in the sandbox, and its frame on the wire.

The same model as the C library's struct cps_job_spec (parent/lib/job_spec.c):
every setter checks its argument at once; relative sandbox paths are resolved
against the cwd when the job is sent; the host files are read when the job
runs, checked to be the files whose sizes the job frame announced.
"""

import errno
import os
import stat

from . import codec
from . import limits as lim
from .errors import SandboxError
from .features import job_features
from .paths import output_name, resolve

LIMITS = ("timeout_ms", "max_output_bytes", "cpu_seconds", "address_space", "file_size",
          "open_files", "processes", "tmp_bytes", "scratch_bytes")


def _bad(message, hint="", err=errno.EINVAL):
    raise SandboxError("job", err, message, hint)


class Input:
    """One file written into the sandbox before the run: from host_path (read
    when the job runs) or from data (bytes-like, borrowed until the run ends)."""

    __slots__ = ("sandbox_path", "host_path", "data", "mode")

    def __init__(self, sandbox_path, host_path=None, data=None, mode=0o644):
        if (host_path is None) == (data is None):
            _bad(f"input {sandbox_path}: give exactly one of a host path and data")
        if isinstance(mode, bool) or not isinstance(mode, int) or not 0 <= mode <= lim.MAX_MODE:
            _bad(f"input {sandbox_path}: mode {mode!r} is not a mode")
        if data is not None:
            data = memoryview(data).cast("B")
        resolve("/", sandbox_path)  # refuse ".." now; the cwd may still change
        self.sandbox_path = sandbox_path
        self.host_path = os.fspath(host_path) if host_path is not None else None
        self.data = data
        self.mode = mode


class Output:
    """A file asked back: path as given (absolute, or relative to the cwd);
    name is where it lands below an out dir."""

    __slots__ = ("path", "name")

    def __init__(self, path):
        self.path = path
        self.name = output_name(path)


class Job:
    """A compile job. toolchain: host dir of the read-only toolchain (the
    sandbox root). argv: the command (argv[0] looked up in the job's PATH).
    build_dir: host dir for the helper's upper/ work/ target/ (None: a fresh one
    under $TMPDIR per run, removed afterwards; one build dir serves one run at a
    time). env: exactly the compiler's environment, a mapping or (name, value)
    pairs. cwd: sandbox working directory. inputs: Input objects; outputs:
    paths. limits: {name: value} of LIMITS (0: the helper's default).
    backend "userns"/"bubblewrap" or None (the helper's); overlay "auto",
    "native", "fuse" or "bind"; uid, gid, seccomp: None for the helper's."""

    def __init__(self, toolchain, argv, *, build_dir=None, cwd="/build", env=(), inputs=(),
                 outputs=(), limits=None, backend=None, overlay="auto", uid=None, gid=None,
                 seccomp=None):
        self.toolchain = os.fspath(toolchain)
        self.build_dir = os.fspath(build_dir) if build_dir is not None else None
        self.set_argv(argv)
        self.set_cwd(cwd)
        self.env = []
        for name, value in (env.items() if hasattr(env, "items") else env):
            self.add_env(name, value)
        self.inputs = []
        for item in inputs:
            self.inputs.append(item if isinstance(item, Input) else Input(*item))
        self.outputs = []
        for path in outputs:
            self.add_output(path)
        self.limits = {}
        for name, value in (limits or {}).items():
            self.set_limit(name, value)
        if backend is not None and backend not in lim.BACKENDS:
            _bad(f"unknown backend {backend!r}", "valid backends: userns, bubblewrap")
        if overlay not in lim.OVERLAY_MODES + ("auto",):
            _bad(f"unknown overlay mode {overlay!r}", "valid overlay modes: auto, native, fuse, bind")
        for name, value in (("uid", uid), ("gid", gid)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                      or not 0 <= value <= lim.MAX_ID):
                _bad(f"{name} {value!r} is not an id")
        self.backend = backend
        self.overlay = overlay
        self.uid = uid
        self.gid = gid
        self.seccomp = None if seccomp is None else bool(seccomp)

    def set_argv(self, argv):
        argv = list(argv)
        if not 1 <= len(argv) <= lim.MAX_ARGV:
            _bad(f"argv needs 1 to {lim.MAX_ARGV} entries, not {len(argv)}")
        for i, arg in enumerate(argv):
            if not isinstance(arg, str):
                _bad(f"argv[{i}] is {type(arg).__name__}, not str")
        self.argv = argv

    def set_cwd(self, cwd):
        if not isinstance(cwd, str) or not cwd.startswith("/"):
            _bad(f'cwd "{cwd}" must be absolute')
        self.cwd = resolve("/", cwd)

    def add_env(self, name, value):
        if not isinstance(name, str) or not isinstance(value, str) or name == "" or "=" in name:
            _bad(f"environment variable {name!r} needs a non-empty name without '=' and a "
                 "str value")
        if len(self.env) >= lim.MAX_ENV:
            _bad(f"more than {lim.MAX_ENV} environment variables", err=errno.E2BIG)
        self.env.append([name, value])

    def add_input(self, sandbox_path, host_path=None, data=None, mode=0o644):
        if len(self.inputs) >= lim.MAX_INPUTS:
            _bad(f"more than {lim.MAX_INPUTS} inputs", err=errno.E2BIG)
        self.inputs.append(Input(sandbox_path, host_path=host_path, data=data, mode=mode))

    def add_output(self, path):
        if len(self.outputs) >= lim.MAX_OUTPUTS:
            _bad(f"more than {lim.MAX_OUTPUTS} outputs", err=errno.E2BIG)
        self.outputs.append(Output(path))

    def set_limit(self, name, value):
        if name not in LIMITS:
            _bad(f"unknown limit {name!r}", "limits: " + ", ".join(LIMITS))
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= lim.UINT64_MAX:
            _bad(f"limit {name}: {value!r} is not an unsigned 64-bit integer")
        self.limits[name] = value



class WireJob:
    """A job made ready to send: paths resolved, inputs stat()ed, the job frame
    encoded (and so checked with the decoder's rules), and features: the
    optional keys that frame carries (feature names, table order), which the
    helper must have announced."""

    def __init__(self, job, build_dir):
        self.input_paths = [resolve(job.cwd, i.sandbox_path) for i in job.inputs]
        self.output_paths = [resolve(job.cwd, o.path) for o in job.outputs]
        self.input_ids = []
        sizes = []
        for item in job.inputs:
            if item.data is not None:
                sizes.append(item.data.nbytes)
                self.input_ids.append(None)
                continue
            # The size goes into the job frame; the identity is checked when the
            # file is opened for sending (a file replaced in between would
            # otherwise send a different size than declared).
            try:
                st = os.stat(item.host_path)
            except OSError as e:
                raise SandboxError("input", e.errno,
                                   f"stat input {item.host_path}: {e.strerror}") from e
            if not stat.S_ISREG(st.st_mode):
                raise SandboxError("input", errno.EINVAL,
                                   f"input {item.host_path} is not a regular file")
            sizes.append(st.st_size)
            self.input_ids.append((st.st_dev, st.st_ino, st.st_size))
        self.bytes_in = sum(sizes)
        try:
            toolchain = os.path.realpath(job.toolchain, strict=True)
        except OSError as e:
            raise SandboxError("job", e.errno, f"toolchain dir {job.toolchain}: {e.strerror}",
                               "package a compiler with cachepot-dist-toolchain") from e
        msg = {
            "type": "job",
            "toolchain": toolchain,
            "build_dir": build_dir,
            "argv": job.argv,
            "env": job.env,
            "cwd": job.cwd,
            "outputs": self.output_paths,
            "inputs": [{"path": p, "mode": i.mode, "size": s}
                       for p, i, s in zip(self.input_paths, job.inputs, sizes)],
        }
        if job.backend is not None:
            msg["backend"] = job.backend
        msg["overlay"] = job.overlay
        for key in ("uid", "gid", "seccomp"):
            if getattr(job, key) is not None:
                msg[key] = getattr(job, key)
        msg["limits"] = {k: job.limits[k] for k in LIMITS if k in job.limits}
        try:
            wire = codec.canonical(msg)
            self.features = job_features(wire)
            self.payload = codec.dump(wire)
        except SandboxError as e:
            raise SandboxError("job", e.errno, e.message, e.hint) from None
