"""cachepot_sandbox: run compile jobs in the cachepot-dist-sandbox helper.

The Python counterpart of libcachepot-sandbox (docs/PROTOCOL.md). The helper is
spawned with os.posix_spawn (never fork), its socket at fd 3; frames from it
are pre-scanned and checked as strictly as common/'s C decoder does before
cbor2 builds anything; outputs stream to a directory or to the caller, one
frame in memory at a time.

    from cachepot_sandbox import Job, Input, run
    job = Job("/var/lib/tc/gcc", ["gcc", "-c", "a.i", "-o", "a.o"],
              env={"PATH": "/usr/bin:/bin"}, inputs=[Input("a.i", host_path="/tmp/a.i")],
              outputs=["a.o"])
    res = run(job, "/tmp/results", helper="/usr/libexec/cachepot-dist-sandbox")
    print(res.exit.code, res.stderr.decode(), res.outputs)
"""

from .cancel import CancelToken
from .codec import decode, encode
from .errors import SandboxError
from .events import Exit, Output, OutputMissing, Stderr, Stdout
from .job import LIMITS, Input, Job
from .outdir import OutputDir
from .run import Result, run
from .session import Session

__version__ = "0.3.0"

__all__ = ["CancelToken", "Exit", "Input", "Job", "LIMITS", "Output", "OutputDir",
           "OutputMissing", "Result", "SandboxError", "Session", "Stderr", "Stdout", "decode",
           "encode", "run"]
