#!/usr/bin/env bash
# bench/clients.sh [-n JOBS] [--rounds R]: the per-job cost of each client of
# the helper, side by side in one run: the C library, the Rust crate and the
# Python module (clients/python/bench_jobs.py, when present). Each client runs
# its own loop with the same options and output (bench/jobs_c.c,
# clients/rust/examples/bench_jobs.rs, clients/python/bench_jobs.py): N
# /bin/true jobs one after another (a static true in a prepared root, as
# bench/run.sh), a fresh helper per job, one build dir, timed around the
# run call. The clients are interleaved round by round in rotating order, as
# uid 65534 and as root. Prints the mean µs per job and the ratio to the C
# library's. A benchmark, not a test: it asserts nothing. Run as root on an
# otherwise idle machine.
#
# Environment: CPS_BENCH_BUILD_DIR (default build-bench, shared with run.sh),
# CPS_BENCH_USERS (default "nobody root"), CPS_BENCH_PYTHON (default
# clients/python/bench_jobs.py; its directory is copied with it).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build=${CPS_BENCH_BUILD_DIR:-$top/build-bench}
N=100
ROUNDS=3
while [[ $# -gt 0 ]]; do
    case $1 in
    -n) N=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    *) echo "usage: $0 [-n JOBS] [--rounds R]" >&2; exit 2 ;;
    esac
done
USERS=${CPS_BENCH_USERS:-nobody root}
log() { echo "clients: $*" >&2; }
[[ $(id -u) -eq 0 ]] || { echo "$0: run as root (it measures as root and as uid 65534)" >&2; exit 1; }

# ---- 1. build: the project and driver in Release, the Rust bench in release ----
log "building the C library, helper and bench-jobs-c (Release) in $build"
mkdir -p "$build"
if ! { cmake -S "$top/bench" -B "$build" -DCMAKE_BUILD_TYPE=Release &&
    cmake --build "$build" -j 2 --target bench-jobs-c bench-true cachepot-dist-sandbox; } \
    >"$build/clients-build.log" 2>&1; then
    tail -n 30 "$build/clients-build.log" >&2
    exit 1
fi
helper=$(find "$build" -name cachepot-dist-sandbox -type f -perm -u+x | head -n1)

rust_bin=""
cargo=$(command -v /usr/bin/cargo || command -v cargo || true)
if [[ -n $cargo ]]; then
    log "building clients/rust/examples/bench_jobs.rs (release) with $cargo"
    rustc_env=()
    [[ -x $(dirname "$cargo")/rustc ]] && rustc_env=(RUSTC="$(dirname "$cargo")/rustc")
    (cd "$top/clients/rust" && env "${rustc_env[@]}" CARGO_TARGET_DIR="$build/cargo-target" \
        "$cargo" build --offline --release --example bench_jobs >&2)
    rust_bin=$build/cargo-target/release/examples/bench_jobs
else
    log "SKIP Rust: cargo not found (scripts/install-deps.sh installs it)"
fi
py_bench=${CPS_BENCH_PYTHON:-$top/clients/python/bench_jobs.py}
if [[ ! -f $py_bench ]]; then
    log "SKIP Python: $py_bench is not in this tree"
    py_bench=""
fi

# ---- 2. a world-traversable scratch dir (uid 65534 cannot enter the repo) ------
T=$(mktemp -d /tmp/cps-clients.XXXXXX)
chmod 755 "$T"
trap 'rm -rf "$T"' EXIT
mkdir -p "$T/bin" "$T/lib" "$T/root"/{bin,proc,dev,tmp}
chmod 1777 "$T/root/tmp"
cp "$build/bench-jobs-c" "$helper" "$T/bin/"
cp "$build/bench-true" "$T/root/bin/true"
find "$build" -name 'libcachepot*.so*' -exec cp -P {} "$T/lib/" \;
[[ -n $rust_bin ]] && cp "$rust_bin" "$T/bin/bench_jobs-rust"
[[ -n $py_bench ]] && cp -r "$(dirname "$py_bench")" "$T/python"
chmod -R a+rX "$T"
HELPER=$T/bin/cachepot-dist-sandbox
ROOT=$T/root

as_user() {
    local user=$1
    shift
    local envs=(PATH=/usr/sbin:/usr/bin:/sbin:/bin LD_LIBRARY_PATH="$T/lib" HOME="$T/u-$user"
        PYTHONDONTWRITEBYTECODE=1 TMPDIR="$T/u-$user/tmp")
    if [[ $user == root ]]; then
        env -i "${envs[@]}" "$@"
    else
        setpriv --reuid=65534 --regid=65534 --clear-groups env -i "${envs[@]}" "$@"
    fi
}

# One measurement: prints the mean µs per job of N jobs.
measure() {
    local user=$1 client=$2 round=$3 U=$T/u-$1
    case $client in
    c)
        as_user "$user" "$T/bin/bench-jobs-c" --helper "$HELPER" --toolchain "$ROOT" \
            --build-dir "$U/b-c" --jobs "$N" 2>/dev/null | sed -n 's/^per_job_us //p' ;;
    rust)
        as_user "$user" "$T/bin/bench_jobs-rust" --helper "$HELPER" --toolchain "$ROOT" \
            --build-dir "$U/b-rust" --jobs "$N" 2>/dev/null | sed -n 's/^per_job_us //p' ;;
    python)
        as_user "$user" python3 "$T/python/bench_jobs.py" --helper "$HELPER" --toolchain "$ROOT" \
            --build-dir "$U/b-python" --jobs "$N" 2>/dev/null | sed -n 's/^per_job_us //p' ;;
    esac
}

clients=(c)
[[ -n $rust_bin ]] && clients+=(rust)
[[ -n $py_bench ]] && clients+=(python)
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
declare -A sum
for user in $USERS; do
    U=$T/u-$user
    mkdir -p "$U/tmp"
    [[ $user == root ]] || chown -R 65534:65534 "$U"
    for ((r = 0; r < ROUNDS; r++)); do
        for ((i = 0; i < ${#clients[@]}; i++)); do
            c=${clients[(i + r) % ${#clients[@]}]}
            v=$(measure "$user" "$c" "$r")
            [[ -n $v ]] || { log "[$user] $c failed in round $r"; exit 1; }
            log "[$user] round $((r + 1))/$ROUNDS $c: $v us/job"
            sum[$user.$c]=$(python3 -c "print(${sum[$user.$c]:-0} + $v)")
        done
    done
done
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

echo "per-job cost of a /bin/true job, a fresh helper per job; $N jobs x $ROUNDS rounds per client,"
echo "clients interleaved; load average $load_start at the start, $load_end at the end"
printf '%-8s %-8s %14s %10s\n' user client "us/job (mean)" "x C lib"
for user in $USERS; do
    c_mean=$(python3 -c "print(${sum[$user.c]} / $ROUNDS)")
    for c in "${clients[@]}"; do
        python3 -c "m = ${sum[$user.$c]} / $ROUNDS; print('%-8s %-8s %14.0f %9.2fx' % ('$user', '$c', m, m / $c_mean))"
    done
done
