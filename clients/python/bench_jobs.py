#!/usr/bin/env python3
"""bench_jobs.py - per-job cost of the Python client, for bench/clients.sh.

    python3 clients/python/bench_jobs.py --helper PATH --toolchain DIR \
        --build-dir DIR --jobs N [--argv /bin/true] [--cwd /build] [--warmup 1]

Runs N tiny jobs one after another through cachepot_sandbox.run() (each one a
fresh helper: spawn, hello, job, exec, exit, reap), with env PATH=/bin and the
given argv (default /bin/true, which must exist in the toolchain), and prints
exactly one line on stdout:

    per_job_us <float>

the mean wall-clock microseconds of one run() call over the N jobs (after
--warmup uncounted ones). The median and the fastest job go to stderr. Exit
status 0, or 1 with the SandboxError on stderr when a job fails or exits non-zero.
It needs Debian's python3-cbor2; run under a python3 without it, it runs
itself again under /usr/bin/python3. The build dir is created if missing and
serves the jobs one at a time.
"""

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

try:
    import cbor2  # noqa: F401  (only to see that it is there)
except ImportError:
    # "python3" may be another interpreter (pyenv, a venv) without Debian's
    # python3-cbor2: run again under Debian's, once. exec, not fork.
    if sys.executable != "/usr/bin/python3" and os.access("/usr/bin/python3", os.X_OK):
        print("bench_jobs: no cbor2 in this python3, using /usr/bin/python3", file=sys.stderr)
        os.execv("/usr/bin/python3", ["/usr/bin/python3", os.path.abspath(__file__)]
                 + sys.argv[1:])
    raise

import cachepot_sandbox as cs  # noqa: E402  (after the path above)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--helper", required=True)
    ap.add_argument("--toolchain", required=True)
    ap.add_argument("--build-dir", required=True)
    ap.add_argument("--jobs", type=int, required=True)
    ap.add_argument("--argv", default="/bin/true", help="the command, split on blanks")
    ap.add_argument("--cwd", default="/build")
    ap.add_argument("--warmup", type=int, default=1)
    args = ap.parse_args()
    if args.jobs < 1:
        ap.error("--jobs must be at least 1")

    job = cs.Job(args.toolchain, args.argv.split(), build_dir=args.build_dir, cwd=args.cwd,
                 env={"PATH": "/bin"})
    times = []
    try:
        for i in range(args.warmup + args.jobs):
            t0 = time.perf_counter_ns()
            res = cs.run(job, helper=args.helper)
            elapsed = time.perf_counter_ns() - t0
            if res.exit.code != 0:
                print(f"bench_jobs: job {i} exited with {res.exit!r}: {res.stderr!r}",
                      file=sys.stderr)
                return 1
            if i >= args.warmup:
                times.append(elapsed / 1000)
    except cs.SandboxError as e:
        print(f"bench_jobs: {e}", file=sys.stderr)
        return 1
    print(f"bench_jobs: {args.jobs} jobs, median {statistics.median(times):.1f} us, "
          f"fastest {min(times):.1f} us", file=sys.stderr)
    print(f"per_job_us {sum(times) / len(times):.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
