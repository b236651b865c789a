#!/bin/sh
# test-driver.sh BUILD_DIR KIND [root|unpriv]: build the Rust crate's tests
# with cargo (offline, Debian's crates, target dir under BUILD_DIR) and run
# one of them. Registered in ctest by clients/rust/CMakeLists.txt.
#   vectors   tests/vectors.rs: the golden frames both ways
#   differential  tests/differential.rs: the crate's decoder against common/'s
#   fake      tests/fake.rs against the C library's fake helper (CPS_FAKE_HELPER)
#   examples  cargo build --examples (the sccache builder example, the bench)
#   imports   a program using only the crate imports posix_spawn, never fork & co.
#   real      tests/real.rs against the real helper, via tests/parent/run-real.sh
#   gcc       tests/gcc.rs: a real compile, via run-real.sh --toolchain gcc
# CPS_CARGO names cargo (CMake finds Debian's /usr/bin/cargo first). Without
# cargo the test says SKIP and exits 77; it never passes silently.
set -eu
build=$1
kind=$2
mode=${3:-}
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)

cargo=${CPS_CARGO:-}
[ -n "$cargo" ] && [ -x "$cargo" ] || cargo=$(command -v cargo || true)
if [ -z "$cargo" ]; then
    echo "SKIP: cargo not found (scripts/install-deps.sh installs Debian's cargo, rustc and librust-libc-dev)"
    exit 77
fi
# Debian's cargo with Debian's rustc (a rustup rustc earlier in PATH would
# hide what CI builds with).
if [ -x "$(dirname "$cargo")/rustc" ]; then
    RUSTC=$(dirname "$cargo")/rustc
    export RUSTC
fi
export CARGO_TARGET_DIR="$build/cargo-target"
# A one-shot test build: no debug info, no incremental cache (both cost
# build time that a test run does not get back).
export CARGO_PROFILE_DEV_DEBUG=0 CARGO_INCREMENTAL=0
manifest="$here/Cargo.toml"
# cargo reads .cargo/config.toml (the Debian registry, offline) from the
# directory it runs in and its parents, not from the manifest's.
cd "$here"
echo "using $cargo ($("$cargo" --version)), ${RUSTC:-rustc} ($("${RUSTC:-rustc}" --version))"

if [ "$kind" = examples ]; then
    exec "$cargo" build --offline --manifest-path "$manifest" --examples
fi
if [ "$kind" = imports ]; then
    # A program that uses the crate and nothing else (examples/bench_jobs.rs)
    # imports no call that creates a process but posix_spawn, and none that
    # changes the cwd, umask or environment. (signal and sigaction are
    # imported by std's own start-up: SIGPIPE ignored, the stack-overflow
    # handler; the crate installs no handler.)
    "$cargo" build --offline --manifest-path "$manifest" --example bench_jobs
    bin=$CARGO_TARGET_DIR/debug/examples/bench_jobs
    bad=$(nm -D --undefined-only "$bin" | awk '{print $NF}' | sed 's/@.*//' |
        grep -E '^(fork|vfork|_Fork|clone|clone3|system|popen|daemon|execv|execve|execvp|execl|execlp|chdir|fchdir|umask|setenv|putenv|unsetenv|clearenv)$' || true)
    if [ -n "$bad" ]; then
        echo "FAIL: $bin imports: $bad" >&2
        exit 1
    fi
    nm -D --undefined-only "$bin" | grep -Eq ' posix_spawn(@|$)' || {
        echo "FAIL: $bin does not import posix_spawn" >&2
        exit 1
    }
    echo "ok: $bin imports posix_spawn and no fork/vfork/clone/system/popen/exec, no chdir/umask/env changes"
    exit 0
fi

# Build every test target; take the executable of the one asked for.
json=$("$cargo" test --offline --manifest-path "$manifest" --no-run --message-format=json)
exe=$(printf '%s\n' "$json" | python3 -c '
import json, sys
want = sys.argv[1]
for line in sys.stdin:
    try:
        m = json.loads(line)
    except ValueError:
        continue
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] == want:
        print(m["executable"])
' "$kind")
if [ -z "$exe" ]; then
    echo "FAIL: cargo built no test executable named $kind" >&2
    exit 1
fi

export CPS_REQUIRE_HELPER=1
case $kind in
vectors)
    CPS_VECTORS_DIR="$top/tests/vectors" exec "$exe" ;;
differential)
    : "${CPS_C_DECODE:?CPS_C_DECODE must name the C decoder filter}"
    CPS_VECTORS_DIR="$top/tests/vectors" exec "$exe" --nocapture ;;
fake)
    : "${CPS_FAKE_HELPER:?CPS_FAKE_HELPER must name the fake helper}"
    # One test at a time: each checks that no child of the process is left.
    exec "$exe" --test-threads=1 ;;
real)
    exec "$top/tests/parent/run-real.sh" "$mode" --copy "$CPS_RUN_BIN" -- "$exe" --test-threads=1 ;;
gcc)
    exec "$top/tests/parent/run-real.sh" "$mode" --toolchain gcc --copy "$CPS_RUN_BIN" -- "$exe" --nocapture ;;
*)
    echo "$0: unknown kind $kind" >&2
    exit 2 ;;
esac
