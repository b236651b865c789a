#!/bin/sh
# test_reuse_old_helper.sh - this CLI's --batch --reuse N against a helper that
# does not support reuse (the previous release's, which refuses
# --jobs-per-helper with a usage error before hello), run by run-real.sh:
# the pool never gets a helper ready, and every job still runs, cold, on a
# helper spawned without the flag (docs/COMPATIBILITY.md, rule 6).
set -u
run=$CPS_BIN/cachepot-dist-run
W=$(mktemp -d "${TMPDIR:-/tmp}/cps-reuse-old-XXXXXX")
trap 'rm -rf "$W"' EXIT
for i in 1 2 3 4; do echo "echo job$i"; done >"$W/jobs"
"$run" --toolchain "$CPS_TEST_TOOLCHAIN" --out-dir "$W" --batch "$W/jobs" --pool 1 --reuse 3 \
    >"$W/stdout" 2>"$W/stderr"
st=$?
if [ $st -eq 0 ] && [ "$(grep -c '^job[1-4]$' "$W/stdout")" -eq 4 ] &&
    grep -q 'batch: 4 jobs, 0 failed, 0 warm, 4 cold' "$W/stderr"; then
    echo "ok: --reuse 3 with a helper without reuse: 4 jobs, all cold, exit 0"
    exit 0
fi
echo "FAIL: --reuse 3 with a helper without reuse (exit $st)"
sed 's/^/  stdout: /' "$W/stdout"
sed 's/^/  stderr: /' "$W/stderr"
exit 1
