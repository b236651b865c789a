#!/bin/bash
# limit-test.sh - one limit of docs/SECURITY.md, hit by the escape probe
# running through the real helper; the job must end the documented way.
#
# usage: limit-test.sh RUN HELPER PROBE CASE [UID]
#   RUN, HELPER   cachepot-dist-run and cachepot-dist-sandbox
#   PROBE         the static cps-escape-probe
#   CASE          forkbomb | nofile | fsize | tmpfill | timeout | memory |
#                 dies_with_parent
#   UID           run as this uid (default: the caller, root)
# Exit status: 0 when the limit held as documented, 1 when not, 77 (skip)
# when the case cannot run here (its reason printed as "SKIP: ...").
set -u

[ $# -ge 4 ] || { echo "usage: $0 RUN HELPER PROBE CASE [UID]" >&2; exit 2; }
run=$1 helper=$2 probe=$3 case=$4 user=${5:-}

# Everything the other uid runs or writes lives in a world-traversable dir.
top=$(mktemp -d /tmp/cps-limit.XXXXXX)
chmod 755 "$top"
cleanup() { rm -rf "$top"; }
trap cleanup EXIT
mkdir -m 755 "$top/tc" "$top/bin"
cp "$probe" "$top/tc/probe"
cp "$run" "$top/bin/cachepot-dist-run"
cp "$helper" "$top/bin/cachepot-dist-sandbox"
chmod 755 "$top/tc/probe" "$top/bin"/*
mkdir -m 700 "$top/tmp"
[ -z "$user" ] || chown "$user" "$top/tmp"

# The command, as the test's uid (a prefix that execs, so that a background
# job's $! is the command itself).
as_uid=(env TMPDIR="$top/tmp")
[ -z "$user" ] || as_uid=(setpriv --reuid="$user" --regid="$user" --clear-groups -- "${as_uid[@]}")
as_user() { "${as_uid[@]}" "$@"; }

# Run the probe; stdout in $top/out, the summary in $top/json, status in $status.
job() {
    as_user "$top/bin/cachepot-dist-run" --toolchain "$top/tc" \
        --helper "$top/bin/cachepot-dist-sandbox" --cwd /tmp --json "$top/tmp/json" \
        -v "$@" > "$top/out" 2> "$top/err"
    status=$?
    cat "$top/out"
    grep -i 'cgroup\|limit\|ending' "$top/err"
    [ -f "$top/tmp/json" ] && cp "$top/tmp/json" "$top/json" && cat "$top/json"
    echo
}

fail() { echo "FAIL: $case: $*"; exit 1; }
expect_blocked() {
    grep -q "^$1 blocked " "$top/out" || fail "no \"$1 blocked\" line (status $status)"
    [ "$status" -eq 0 ] || fail "job status $status, expected 0"
}
expect_json() {
    grep -q "$1" "$top/json" 2>/dev/null || fail "the summary has no $1"
}

case $case in
forkbomb)
    # 1000 > the default 256 processes: RLIMIT_NPROC as a non-root uid,
    # pids.max of the job's cgroup as root (RLIMIT_NPROC exempts root).
    job -- /probe forkbomb 1000
    expect_blocked forkbomb
    ;;
nofile)
    job -- /probe nofile 4096 # default RLIMIT_NOFILE 1024
    expect_blocked nofile
    ;;
fsize)
    job -- /probe fsize 8192 # a sparse 8 GiB file; default RLIMIT_FSIZE 4 GiB
    expect_blocked fsize
    ;;
tmpfill)
    job -- /probe tmpfill 512 # default /tmp tmpfs size 256 MiB
    expect_blocked tmpfill
    ;;
timeout)
    job --timeout 1 -- /probe sleep
    [ "$status" -eq 124 ] || fail "status $status, expected 124 (timeout)"
    expect_json '"timed_out": true'
    expect_json '"limit": "timeout"'
    ;;
memory)
    # 9000 MiB touched > the job cgroup's default memory.max of 8 GiB.
    if [ -n "$user" ] || [ "$(id -u)" != 0 ]; then
        echo "SKIP: only root may create the job cgroup on this host"
        exit 77
    fi
    # 9000 MiB must fit beside everything else, or the host's OOM killer,
    # not the cgroup's, would pick a victim.
    avail=$(awk '/^MemAvailable:/ { print int($2 / 1024) }' /proc/meminfo)
    if [ "$avail" -lt 12288 ]; then
        echo "SKIP: needs 12 GiB of available memory, the host has $avail MiB"
        exit 77
    fi
    job -- /probe alloc 9000
    grep -q 'cgroup: off' "$top/err" && { echo "SKIP: no writable cgroup"; exit 77; }
    [ "$status" -eq 137 ] || fail "status $status, expected 137 (SIGKILL)"
    expect_json '"limit": "memory"'
    ;;
dies_with_parent)
    # bubblewrap's --die-with-parent test: SIGKILL the worker (here the CLI)
    # while the job runs; the helper, the job and the build dir must go. The
    # job's command line carries this run's dir name: the root and nobody
    # variants of this test run at the same time under ctest -j.
    marker=${top##*/}
    "${as_uid[@]}" "$top/bin/cachepot-dist-run" --toolchain "$top/tc" \
        --helper "$top/bin/cachepot-dist-sandbox" --build-dir "$top/tmp" --cwd /tmp \
        -- /probe sleep "$marker" > "$top/out" 2> "$top/err" &
    cli=$!
    # The helper by its path; the job by its command line (its exe is in
    # another mount namespace).
    pids() {
        local p exe
        for p in /proc/[0-9]*; do
            exe=$(readlink "$p/exe" 2> /dev/null) || continue
            if [ "$exe" = "$top/bin/cachepot-dist-sandbox" ] ||
                [ "$(tr '\0' ' ' 2> /dev/null < "$p/cmdline")" = "/probe sleep $marker " ]; then
                echo "${p#/proc/}"
            fi
        done
    }
    for _ in $(seq 200); do
        [ "$(pids | wc -l)" -ge 2 ] && break
        sleep 0.05
    done
    [ -n "$(pids)" ] || fail "the job did not start"
    kill -KILL "$cli"
    wait "$cli" 2> /dev/null
    for _ in $(seq 200); do
        [ -z "$(pids)" ] && [ -z "$(ls -A "$top/tmp")" ] && break
        sleep 0.05
    done
    left=$(pids)
    [ -z "$left" ] || fail "still running after the worker died: $left"
    [ -z "$(ls -A "$top/tmp")" ] || fail "build dir not removed: $(ls -A "$top/tmp")"
    echo "dies_with_parent: helper and job gone, build dir removed"
    ;;
*)
    echo "limit-test.sh: unknown case $case" >&2
    exit 2
    ;;
esac
echo "ok: $case"
