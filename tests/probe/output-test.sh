#!/bin/bash
# output-test.sh - a job plants symlinks (absolute, "..", to a directory), a
# FIFO, a socket, a device node and hard links at the output paths it asks
# for; the helper must return none of them but the hard link to a toolchain
# file (inside the job's view), never host data, and never block on the FIFO.
#
# usage: output-test.sh RUN HELPER PROBE BACKEND OVERLAY [UID]
set -u

[ $# -ge 5 ] || { echo "usage: $0 RUN HELPER PROBE BACKEND OVERLAY [UID]" >&2; exit 2; }
run=$1 helper=$2 probe=$3 backend=$4 overlay=$5 user=${6:-}

top=$(mktemp -d /tmp/cps-outputs.XXXXXX)
chmod 755 "$top"
trap 'rm -rf "$top"' EXIT
mkdir -m 755 "$top/tc" "$top/bin"
cp "$probe" "$top/tc/probe"
cp "$run" "$top/bin/cachepot-dist-run"
cp "$helper" "$top/bin/cachepot-dist-sandbox"
chmod 755 "$top/tc/probe" "$top/bin"/*
echo "toolchain file" > "$top/tc/victim.txt"
chmod 644 "$top/tc/victim.txt"
# Readable by anyone: only the sandbox may keep the job from it.
echo "host secret" > "$top/host-secret"
chmod 644 "$top/host-secret"
mkdir -m 700 "$top/tmp" "$top/out"
[ -z "$user" ] || chown "$user" "$top/tmp" "$top/out"

refused=(abs-link abs-link-tc dotdot-link dir-link/victim.txt fifo dev-null hard-host sock)
args=()
for o in "${refused[@]}" hard-tc; do
    args+=(--output "/build/$o")
done
cmd=("$top/bin/cachepot-dist-run" --toolchain "$top/tc" --helper "$top/bin/cachepot-dist-sandbox"
    --sandbox "$backend" --overlay "$overlay" --cwd /build --out-dir "$top/out"
    --json "$top/tmp/json" --env "PROBE_HOST_FILE=$top/host-secret" "${args[@]}"
    -- /probe plant /build)
[ -z "$user" ] || cmd=(setpriv --reuid="$user" --regid="$user" --clear-groups -- "${cmd[@]}")
# A helper that opened the FIFO for reading without O_NONBLOCK would wait
# forever for a writer: the bound turns that into a failure.
TMPDIR=$top/tmp timeout 60 "${cmd[@]}" > "$top/stdout" 2> "$top/stderr"
status=$?
cat "$top/stdout" "$top/stderr" "$top/tmp/json" 2> /dev/null
echo

failed=0
fail() { echo "FAIL: $*"; failed=1; }
[ "$status" -ne 124 ] || fail "the run did not end within 60 s (blocked on the FIFO?)"
[ "$status" -eq 0 ] || fail "status $status, expected 0"
for o in "${refused[@]}"; do
    if [ -e "$top/out/build/$o" ] || [ -L "$top/out/build/$o" ]; then
        fail "$o was returned: $(ls -l "$top/out/build/$o")"
    else
        echo "ok: $o not returned"
    fi
done
# Linking the toolchain file may itself be refused: EPERM for a uid that
# does not own it (fs.protected_hardlinks), EXDEV in bind mode (another
# filesystem). When it was made, it is returned: it is inside the view.
missing=${#refused[@]}
if grep -q '^plant hard-tc created' "$top/stdout"; then
    if [ "$(cat "$top/out/build/hard-tc" 2> /dev/null)" = "toolchain file" ]; then
        echo "ok: hard-tc (a link to a toolchain file) returned with the toolchain's content"
    else
        fail "hard-tc was not returned as the toolchain file"
    fi
else
    missing=$((missing + 1))
    [ ! -e "$top/out/build/hard-tc" ] || fail "hard-tc returned though the job could not make it"
fi
grep -q "\"missing\": $missing" "$top/tmp/json" ||
    fail "the summary does not count $missing missing outputs"
if grep -rqs 'host secret' "$top/out"; then
    fail "host data in the outputs: $(grep -rls 'host secret' "$top/out")"
else
    echo "ok: no host data among the outputs"
fi
# A hard link to a host file cannot be made: the file has no name in the view.
grep -q '^plant hard-host ENOENT' "$top/stdout" || fail "link to the host file did not fail with ENOENT"
grep -q '^plant dev-null created' "$top/stdout" && fail "a device node was created"
[ "$(cat "$top/host-secret")" = "host secret" ] || fail "the host file changed"
exit $failed
