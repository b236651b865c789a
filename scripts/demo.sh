#!/bin/sh
# demo.sh - the main job, end to end (README command 1: `sudo ./scripts/demo.sh`):
#   1. installs the Debian packages that are missing (apt-get, quiet),
#   2. builds the project in build-demo/,
#   3. packages the host gcc with cachepot-dist-toolchain,
#   4. as an unprivileged user (nobody, via setpriv) preprocesses demo/hello.c
#      on the host, compiles it inside the sandbox with cachepot-dist-run,
#      links it on the host and runs it,
#   5. prints what happened with the timings of the sandboxed compile.
# Everything temporary lives in one world-traversable mktemp dir, removed at the
# end. Run as a regular user (packages already installed) it does the same with
# that user in place of nobody.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${CPS_DEMO_BUILD_DIR:-$top/build-demo}

if [ -t 1 ]; then
    say() { printf '\033[1m== %s\033[0m\n' "$*"; }
else
    say() { printf '== %s\n' "$*"; }
fi
die() { echo "demo: $*" >&2; exit 1; }
ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f ms", (b - a) / 1e6 }'; }
now() { date +%s%N; }

# 1. Packages (the same list as the tests use: one place to keep it).
"$top/scripts/install-deps.sh" || die "could not install the packages the project needs"

# 2. Build (Release, warnings as errors: the tests build Debug with sanitizers).
say "building in $build"
t0=$(now)
log=$(mktemp)
if ! { cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=Release -DCPS_TESTS=OFF -DCPS_WERROR=ON &&
    cmake --build "$build" -j "$(nproc)"; } >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    die "build failed"
fi
rm -f "$log"
echo "   built in $(ms "$t0" "$(now)")"

# Everything the unprivileged user needs, under one world-traversable dir.
T=$(mktemp -d "${TMPDIR:-/tmp}/cachepot-demo-XXXXXX")
trap 'rm -rf "$T"' EXIT
trap 'exit 130' INT TERM HUP
chmod 755 "$T"
mkdir -m 755 "$T/bin" "$T/lib"
cp "$build/helper/cachepot-dist-sandbox" "$build/parent/cachepot-dist-run" "$T/bin/"
cp -L "$build/parent/libcachepot-sandbox.so.0" "$T/lib/"
cp "$top/scripts/cachepot-dist-toolchain" "$T/bin/"
chmod -R a+rX "$T/bin" "$T/lib"

if [ "$(id -u)" -eq 0 ]; then
    as_user() { setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all -- "$@"; }
    who="nobody (uid 65534)"
else
    as_user() { "$@"; }
    who="$(id -un) (uid $(id -u))"
fi
mkdir -m 755 "$T/work"
cp "$top/demo/hello.c" "$T/work/"
[ "$(id -u)" -ne 0 ] || chown -R 65534:65534 "$T/work"

# 3. Toolchain.
say "packaging the host gcc ($(gcc -dumpfullversion)) with cachepot-dist-toolchain"
t0=$(now)
id=$("$T/bin/cachepot-dist-toolchain" --out "$T/toolchain" gcc)
echo "   toolchain id $id"
echo "   $(du -sh "$T/toolchain" | cut -f1) in $(find "$T/toolchain" | wc -l) entries, made in $(ms "$t0" "$(now)")"

# 4. The job, as the unprivileged user.
say "as $who: preprocess on the host, compile in the sandbox, link and run on the host"
cat >"$T/work/job.sh" <<'JOB'
set -eu
cd "$1/work"
export TMPDIR="$1/work" LD_LIBRARY_PATH="$1/lib" CACHEPOT_SANDBOX_HELPER="$1/bin/cachepot-dist-sandbox"
gcc -E hello.c -o hello.i
echo "   host:    gcc -E hello.c -o hello.i ($(wc -c <hello.i) bytes)"
echo "   sandbox: gcc -O2 -x cpp-output -c hello.i -o hello.o"
"$1/bin/cachepot-dist-run" --toolchain "$1/toolchain" \
    --input hello.i:/build/hello.i --output hello.o --cwd /build --out-dir . \
    --json run.json -- gcc -O2 -x cpp-output -c hello.i -o hello.o
echo "   host:    gcc hello.o -o hello"
gcc hello.o -o hello
echo "   host:    ./hello"
./hello | sed 's/^/            /'
JOB
as_user sh "$T/work/job.sh" "$T"

# 5. What happened.
json=$T/work/run.json
field() { sed -n "s/.*\"$1\": \\([^,}]*\\).*/\\1/p" "$json" | head -n 1 | tr -d '"'; }
us() { awk -v v="$(field "$1")" 'BEGIN { printf "%7.1f ms", v / 1000 }'; }
say "what happened in the sandbox (from cachepot-dist-run --json)"
echo "   exit status       $(field status), backend $(field backend), overlay $(field overlay)"
echo "   spawn + hello     $(us spawn)   helper started, namespaces ready"
echo "   setup + teardown  $(us setup)   job + input sent, overlay, /proc /dev /tmp, pivot_root, exec, cleanup"
echo "   compile (gcc)     $(us run)"
echo "   outputs           $(us outputs)   hello.o sent back"
echo "   total             $(us total)"
echo "   bytes in/out      $(sed -n 's/.*"bytes": {"in": \([0-9]*\), "out": \([0-9]*\)}.*/\1 \/ \2/p' "$json")"
say "done; temporary files removed"
