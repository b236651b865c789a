#!/usr/bin/env bash
# scripts/fuzz.sh SECONDS [TARGET]
#
# Build the libFuzzer targets (clang, ASan+UBSan, -DCPS_FUZZ=ON) in their own
# build directory and run them for SECONDS in total: TARGET is fuzz_decode,
# fuzz_frames or fuzz_helper; without it all run, SECONDS split between them. Each run
# starts from a scratch corpus seeded from tests/vectors/ (the vectors as they
# are for fuzz_decode, with a length header for fuzz_frames), so the repository
# is never written to. fuzz_helper (the helper's request path: hello, job,
# inputs, outputs) starts from tests/fuzz/corpus-helper/, whole sessions
# made from the vectors. Exits non-zero when a target crashes, leaks, times out
# or allocates more than -malloc_limit_mb; the input that did it is kept in
# $CPS_FUZZ_BUILD_DIR/artifacts/.
#
# Environment: CPS_FUZZ_BUILD_DIR (default <repo>/build-fuzz), CC (default
# clang), CPS_FUZZ_ARGS (extra libFuzzer flags, e.g. "-jobs=1" or "-seed=1").
set -euo pipefail

usage() {
    echo "usage: $0 SECONDS [fuzz_decode|fuzz_frames|fuzz_helper]" >&2
    exit 2
}

seconds=${1:-}
[[ $seconds =~ ^[0-9]+$ && $seconds -gt 0 ]] || usage
all_targets=(fuzz_decode fuzz_frames fuzz_helper)
if [[ $# -ge 2 ]]; then
    case $2 in
    fuzz_decode | fuzz_frames | fuzz_helper) targets=("$2") ;;
    *) usage ;;
    esac
else
    targets=("${all_targets[@]}")
fi

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${CPS_FUZZ_BUILD_DIR:-$root/build-fuzz}
export CC=${CC:-clang}

mkdir -p "$build"
cmake -S "$root" -B "$build" -DCPS_FUZZ=ON -DCPS_SANITIZE=ON \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$build/configure.log" 2>&1 ||
    {
        cat "$build/configure.log" >&2
        exit 1
    }
cmake --build "$build" --target "${targets[@]}" -j"$(nproc)"

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$build/artifacts"

# A frame: 4-byte big-endian length, then the payload.
frame() {
    local f=$1 len
    len=$(stat -c %s "$f")
    printf '%b' "$(printf '\\x%02x\\x%02x\\x%02x\\x%02x' $((len >> 24 & 255)) \
        $((len >> 16 & 255)) $((len >> 8 & 255)) $((len & 255)))"
    cat "$f"
}

seed() {
    local target=$1 dir=$2 f i=0
    mkdir -p "$dir"
    if [[ $target == fuzz_helper ]]; then
        cp "$root"/tests/fuzz/corpus-helper/* "$dir/"
        return
    fi
    for f in "$root"/tests/vectors/*.cbor "$root"/tests/vectors/invalid/*.cbor; do
        i=$((i + 1))
        if [[ $target == fuzz_decode ]]; then
            cp "$f" "$dir/seed-$i"
        else
            # First byte: the chunk size the harness delivers the stream in.
            { printf '\x03'; frame "$f"; } >"$dir/seed-$i"
        fi
    done
    if [[ $target == fuzz_frames ]]; then
        # A whole session: hello, job, input, stdout, output, exit.
        {
            printf '\x00'
            for f in hello job_full input input_empty stdout stderr output output_missing \
                exit_code; do
                frame "$root/tests/vectors/$f.cbor"
            done
        } >"$dir/seed-session"
    fi
}

per_target=$((seconds / ${#targets[@]}))
[[ $per_target -gt 0 ]] || per_target=1
status=0
for target in "${targets[@]}"; do
    corpus="$scratch/$target"
    seed "$target" "$corpus"
    echo "== $target: ${per_target}s from $(find "$corpus" -type f | wc -l) seeds"
    # shellcheck disable=SC2086 # CPS_FUZZ_ARGS is a list of flags
    if ! "$build/tests/fuzz/$target" "$corpus" -max_total_time="$per_target" -max_len=65536 \
        -timeout=60 -malloc_limit_mb=128 -print_final_stats=1 \
        -dict="$root/tests/fuzz/protocol.dict" \
        -artifact_prefix="$build/artifacts/$target-" ${CPS_FUZZ_ARGS:-}; then
        echo "== $target FAILED; reproducer in $build/artifacts/" >&2
        status=1
    fi
done
exit $status
