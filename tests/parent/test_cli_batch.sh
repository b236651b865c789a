#!/bin/sh
# test_cli_batch.sh - cachepot-dist-run --batch FILE [--pool N] [--jobs N] [--reuse N]
# against the real helper (run by run-real.sh: CPS_BIN/cachepot-dist-run,
# CACHEPOT_SANDBOX_HELPER and CPS_TEST_TOOLCHAIN set): word splitting, per-job
# lines, outputs per line, the summary, exit statuses, warm and cold helpers.
set -u
run=$CPS_BIN/cachepot-dist-run
tc=$CPS_TEST_TOOLCHAIN
failures=0
W=$(mktemp -d "${TMPDIR:-/tmp}/cps-batch-XXXXXX")
trap 'rm -rf "$W"' EXIT

check() {
    if eval "$2"; then
        echo "ok: $1"
    else
        echo "FAIL: $1" >&2
        sed 's/^/  stderr: /' "$W/stderr" >&2
        failures=$((failures + 1))
    fi
}

# Line numbers matter: outputs go to OUT/<line>/.
cat >"$W/jobs" <<'JOBS'
# comment, then an empty line

sh -c 'echo one > o.txt'
sh -c "echo \"two  spaces\" > o.txt"
sh -c exit\ 3
echo  'a b'   "c"
JOBS
mkdir "$W/out"
"$run" --toolchain "$tc" --output o.txt --out-dir "$W/out" --batch "$W/jobs" --pool 2 --jobs 2 \
    >"$W/stdout" 2>"$W/stderr"
st=$?
check "a failing job makes the batch exit 1" "[ $st -eq 1 ]"
check "one line per job" "[ \$(grep -c ': job [0-9]*: exit' '$W/stderr') -eq 4 ]"
check "job 5 exit 3" "grep -q ': job 5: exit 3 (' '$W/stderr'"
check "summary" "grep -q 'batch: 4 jobs, 1 failed, .* jobs/s' '$W/stderr'"
check "outputs per line" "[ \"\$(cat '$W/out/3/o.txt')\" = one ] && [ \"\$(cat '$W/out/4/o.txt')\" = 'two  spaces' ]"
check "quoted words" "grep -qx 'a b c' '$W/stdout'"

# Sequential jobs through a pool: warm helpers show; without a pool none do.
: >"$W/seq"
for i in 1 2 3 4 5 6; do echo "echo job$i" >>"$W/seq"; done
"$run" --toolchain "$tc" --out-dir "$W/out" --batch "$W/seq" --pool 2 >"$W/stdout" 2>"$W/stderr"
st=$?
check "all jobs ok: exit 0" "[ $st -eq 0 ]"
check "stdout of every job" "[ \$(grep -c '^job[1-6]\$' '$W/stdout') -eq 6 ]"
check "warm helpers used" "grep -q ': exit 0 (warm' '$W/stderr'"
check "summary counts 6 jobs, 0 failed" "grep -q 'batch: 6 jobs, 0 failed' '$W/stderr'"
"$run" --toolchain "$tc" --out-dir "$W/out" --batch "$W/seq" --pool 0 >"$W/stdout" 2>"$W/stderr"
st=$?
check "--pool 0: exit 0" "[ $st -eq 0 ]"
check "--pool 0: every job cold" "[ \$(grep -c ': exit 0 (cold' '$W/stderr') -eq 6 ] && grep -q '0 warm, 6 cold' '$W/stderr'"

# --reuse: pooled helpers serve several jobs; what the jobs print and return
# is the same as with a helper per job, byte for byte.
cat >"$W/same" <<'JOBS'
sh -c 'id -u; hostname; ls -A /tmp .; echo left > /tmp/left; echo left > left; echo one > o.txt'
sh -c 'id -u; hostname; ls -A /tmp .; echo left > /tmp/left; echo left > left; echo two > o.txt'
sh -c 'id -u; hostname; ls -A /tmp .; echo left > /tmp/left; echo left > left; exit 4'
sh -c 'id -u; hostname; ls -A /tmp .; echo left > /tmp/left; echo left > left; echo four > o.txt'
JOBS
mkdir "$W/out-reuse" "$W/out-plain"
"$run" --toolchain "$tc" --output o.txt --out-dir "$W/out-plain" --batch "$W/same" --pool 0 \
    >"$W/stdout-plain" 2>"$W/stderr"
st_plain=$?
"$run" --toolchain "$tc" --output o.txt --out-dir "$W/out-reuse" --batch "$W/same" --pool 1 --reuse 3 \
    >"$W/stdout-reuse" 2>"$W/stderr"
st=$?
check "--reuse 3: exit 1 (job 3 exits 4), as without a pool" "[ $st -eq 1 ] && [ $st_plain -eq 1 ]"
check "--reuse 3: stdout identical to a helper per job" "cmp -s '$W/stdout-plain' '$W/stdout-reuse'"
check "--reuse 3: outputs identical to a helper per job" "diff -r '$W/out-plain' '$W/out-reuse' >/dev/null"
check "--reuse 3: nothing left for the next job" "! grep -q left '$W/stdout-reuse'"
check "--reuse 3: summary says reuse" "grep -Eq 'batch: 4 jobs, 1 failed, .*pool 1 \(reuse 3: [0-9]+ helpers spawned, [0-9]+ jobs on a reused helper\)' '$W/stderr'"

# Jobs from stdin, many at once.
for i in $(seq 1 12); do echo "echo s$i"; done |
    "$run" --toolchain "$tc" --out-dir "$W/out" --batch - --jobs 4 --pool 2 >"$W/stdout" 2>"$W/stderr"
st=$?
check "stdin, --jobs 4: exit 0, 12 outputs" "[ $st -eq 0 ] && [ \$(grep -c '^s[0-9]*\$' '$W/stdout') -eq 12 ]"

# Usage errors.
printf 'echo "unterminated\n' >"$W/bad"
"$run" --toolchain "$tc" --batch "$W/bad" >"$W/stdout" 2>"$W/stderr"
st=$?
check "unterminated quote: exit 125, names file:line" "[ $st -eq 125 ] && grep -q 'bad:1: unterminated' '$W/stderr'"
"$run" --toolchain "$tc" --batch "$W/seq" -- true >"$W/stdout" 2>"$W/stderr"
st=$?
check "--batch with a PROGRAM: exit 125" "[ $st -eq 125 ]"
"$run" --toolchain "$tc" --batch "$W/seq" --json "$W/j" >"$W/stdout" 2>"$W/stderr"
st=$?
check "--batch with --json: exit 125" "[ $st -eq 125 ]"
"$run" --toolchain "$tc" --batch "$W/nonexistent" >"$W/stdout" 2>"$W/stderr"
st=$?
check "missing batch file: exit 125" "[ $st -eq 125 ]"

"$run" --toolchain "$tc" --batch "$W/seq" --out-dir "$W/nonexistent" >"$W/stdout" 2>"$W/stderr"
st=$?
check "missing out dir: exit 125 before any job" "[ $st -eq 125 ] && ! grep -q ': job ' '$W/stderr'"

# --reuse: only with --batch and a pool, 1-1000.
for bad in "--batch $W/seq --pool 0 --reuse 2" "--reuse 2 -- true" "--batch $W/seq --reuse 0" \
    "--batch $W/seq --reuse 1001" "--batch $W/seq --reuse x"; do
    # shellcheck disable=SC2086 # the words of $bad are the options
    "$run" --toolchain "$tc" --out-dir "$W/out" $bad >"$W/stdout" 2>"$W/stderr"
    st=$?
    check "usage error: $bad" "[ $st -eq 125 ] && grep -q -- '--reuse' '$W/stderr' && ! grep -q ': job ' '$W/stderr'"
done

if [ "$failures" -ne 0 ]; then
    echo "$failures check(s) failed" >&2
    exit 1
fi
echo "all batch checks passed"
