#!/bin/sh
# test_cli.sh fake|real - cachepot-dist-run's exit status for each outcome
# (0, 1, 124 timeout, 125 helper failure, 128+N signal), streamed output, the
# out dir, --json and --help.
#   fake: CPS_RUN_BIN and CPS_FAKE_HELPER name the CLI and the fake helper.
#   real: run by run-real.sh (CPS_BIN/cachepot-dist-run, CACHEPOT_SANDBOX_HELPER,
#         CPS_TEST_TOOLCHAIN set).
set -u
kind=$1
failures=0
W=$(mktemp -d "${TMPDIR:-/tmp}/cps-cli-XXXXXX")
trap 'rm -rf "$W"' EXIT

if [ "$kind" = fake ]; then
    run=$CPS_RUN_BIN
    for m in ok crash; do ln -s "$CPS_FAKE_HELPER" "$W/$m"; done
    tc=$W
    # The library finds the helper through the environment, as documented.
    CACHEPOT_SANDBOX_HELPER=$W/ok
    export CACHEPOT_SANDBOX_HELPER
else
    run=$CPS_BIN/cachepot-dist-run
    tc=$CPS_TEST_TOOLCHAIN
fi

# expect STATUS DESCRIPTION CLI-ARGS...: run the CLI, check its exit status.
expect() {
    want=$1
    what=$2
    shift 2
    "$run" "$@" >"$W/stdout" 2>"$W/stderr"
    got=$?
    if [ "$got" -ne "$want" ]; then
        echo "FAIL: $what: exit $got, want $want" >&2
        sed 's/^/  stderr: /' "$W/stderr" >&2
        failures=$((failures + 1))
    else
        echo "ok: $what: exit $got"
    fi
}

check() {
    if eval "$2"; then
        echo "ok: $1"
    else
        echo "FAIL: $1" >&2
        failures=$((failures + 1))
    fi
}

if [ "$kind" = fake ]; then
    expect 0 "exit 0" --toolchain "$tc" -- exit 0
    expect 1 "exit 1" --toolchain "$tc" -- exit 1
    expect 124 "job timed out" --toolchain "$tc" --timeout 1 -- timeout
    expect 137 "killed by SIGKILL" --toolchain "$tc" -- signal 9
    expect 125 "helper crashed" --toolchain "$tc" --helper "$W/crash" -- exit 0
    check "crash message names stage helper and the signal" \
        "grep -q 'helper: .*killed by signal 11' '$W/stderr'"
    echo payload >"$W/in.txt"
    mkdir "$W/out"
    expect 0 "outputs to --out-dir" --toolchain "$tc" --input "$W/in.txt:in.txt" \
        --output in.txt --output missing.o --out-dir "$W/out" --json "$W/s.json" -- echo
    check "output written as given" "cmp -s '$W/in.txt' '$W/out/in.txt'"
    check "missing output is a warning" "grep -q 'warning: output missing.o was not produced' '$W/stderr'"
    check "json has status, timings, backend" \
        "grep -q '\"status\": 0' '$W/s.json' && grep -q '\"timings_us\": {\"spawn\"' '$W/s.json' && grep -q '\"backend\": \"userns\"' '$W/s.json'"
else
    expect 0 "exit 0" --toolchain "$tc" -- sh -c 'exit 0'
    expect 1 "exit 1" --toolchain "$tc" -- sh -c 'exit 1'
    expect 124 "job timed out" --toolchain "$tc" --timeout 1 -- sh -c 'sleep 60'
    expect 137 "killed by SIGKILL" --toolchain "$tc" -- sh -c 'kill -9 $$'
    expect 143 "killed by SIGTERM" --toolchain "$tc" -- sh -c 'kill -15 $$'
    printf 'line one\nline two\n' >"$W/in.txt"
    mkdir "$W/out"
    expect 3 "streams, outputs, exit 3" --toolchain "$tc" --input "$W/in.txt:in.txt" \
        --output out.txt --output sub/dir/out2.txt --out-dir "$W/out" --json "$W/s.json" \
        -- sh -c 'cat in.txt > out.txt; mkdir -p sub/dir; echo two > sub/dir/out2.txt; echo to-stdout; echo to-stderr >&2; exit 3'
    check "stdout streamed" "grep -qx to-stdout '$W/stdout'"
    check "stderr streamed" "grep -qx to-stderr '$W/stderr'"
    check "output written" "cmp -s '$W/in.txt' '$W/out/out.txt'"
    check "nested output written" "grep -qx two '$W/out/sub/dir/out2.txt'"
    check "json summary" "grep -q '\"status\": 3' '$W/s.json' && grep -q '\"overlay\": \"' '$W/s.json'"
fi
expect 125 "missing helper" --toolchain "$tc" --helper "$W/no-such-helper" -- true
check "missing helper message has stage and hint" \
    "grep -q '^cachepot-dist-run: spawn: ' '$W/stderr' && grep -q 'hint: ' '$W/stderr'"
expect 125 "missing toolchain" --toolchain "$W/no-such-toolchain" -- true
expect 125 "usage error" --toolchain "$tc"
"$run" --help >"$W/help"
for word in --toolchain --input --output --out-dir --cwd --env --timeout --sandbox --overlay \
    --build-dir --helper --json --verbose CACHEPOT_SANDBOX CACHEPOT_SANDBOX_HELPER CACHEPOT_LOG \
    CACHEPOT_SCRATCH CACHEPOT_BWRAP \
    124 125 128+N; do
    check "--help documents $word" "grep -q -- '$word' '$W/help'"
done

if [ "$failures" -ne 0 ]; then
    echo "$failures failure(s)" >&2
    exit 1
fi
echo "all CLI checks passed ($kind)"
