#!/bin/bash
# run-probe.sh - plant what the escape probe looks for, run the probe in a
# sandbox, then check the host side (the toolchain file is unchanged, no
# probe file appeared in system directories).
#
# usage: run-probe.sh [options] [-- PROBE-ARGS...]
#   --probe PATH        the static probe binary (required)
#   --sandbox KIND      none | unshare | bwrap | helper (default bwrap)
#   --run PATH          cachepot-dist-run, for --sandbox helper
#   --helper PATH       cachepot-dist-sandbox, for --sandbox helper
#   --backend B         helper backend (userns | bubblewrap), for --sandbox helper
#   --overlay M         helper overlay mode (auto | native | fuse | bind)
#   --seccomp FILE      a BPF program for bwrap --seccomp (from cps-seccomp-export);
#                       without it the probe is told PROBE_SECCOMP=0
#   --user UID          run the sandbox as UID (default: the caller; needs root)
#
# "helper" runs the probe through the real helper (the toolchain is the root;
# the helper's seccomp filter is on, --seccomp is then only a flag for the
# probe's expectations); "none" and "unshare" exist to see the probe report
# escapes.
# Exit status: the probe's (0 all blocked, 1 escaped, 3 skipped), or 1 when a
# host-side check failed.
set -eu

probe=
sandbox=bwrap
bpf=
user=
run=
helper=
backend=
overlay=
while [ $# -gt 0 ]; do
    case $1 in
    --run) run=$2; shift 2 ;;
    --helper) helper=$2; shift 2 ;;
    --backend) backend=$2; shift 2 ;;
    --overlay) overlay=$2; shift 2 ;;
    --probe) probe=$2; shift 2 ;;
    --sandbox) sandbox=$2; shift 2 ;;
    --seccomp) bpf=$2; shift 2 ;;
    --user) user=$2; shift 2 ;;
    --) shift; break ;;
    *) echo "run-probe.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
[ -n "$probe" ] || { echo "run-probe.sh: --probe is required" >&2; exit 2; }

# A world-traversable scratch directory: the sandbox may run as another uid.
top=$(mktemp -d /tmp/cps-probe.XXXXXX)
chmod 755 "$top"
serve_pid=
# shellcheck disable=SC2317 # called through the trap
cleanup() {
    [ -z "$serve_pid" ] || kill "$serve_pid" 2>/dev/null || true
    [ -z "$serve_pid" ] || wait "$serve_pid" 2>/dev/null || true
    rm -rf "$top"
}
trap cleanup EXIT INT TERM

# The toolchain: the probe, a setuid-root copy of it, a file nobody may read,
# and a file the job must not be able to change.
tc=$top/toolchain
mkdir -m 755 "$tc"
cp "$probe" "$tc/probe"
chmod 755 "$tc/probe"
cp "$probe" "$tc/probe-setuid"
chmod 4755 "$tc/probe-setuid"
echo "unreadable" > "$tc/unreadable"
chmod 000 "$tc/unreadable"
echo "toolchain file" > "$tc/victim.txt"
chmod 644 "$tc/victim.txt"
cp "$tc/victim.txt" "$top/victim.orig"
# A host file the sandbox must not see; readable, so only isolation hides it.
echo "host secret" > "$top/host-secret"
chmod 644 "$top/host-secret"

# The host-side targets: TCP listener, abstract socket, message queue, pid.
"$probe" host-serve > "$top/serve.env" &
serve_pid=$!
i=0
until grep -q '^READY$' "$top/serve.env" 2>/dev/null; do
    i=$((i + 1))
    [ $i -lt 100 ] || { echo "run-probe.sh: host-serve did not start" >&2; exit 2; }
    sleep 0.05
done
while IFS='=' read -r key value; do
    case $key in PROBE_*) export "$key=$value" ;; esac
done < "$top/serve.env"

# The root-only files at the top of the host's /proc (the same kernel as the
# sandbox's): proc_root_only tries each inside, where they may be covered.
root_only=
for f in /proc/*; do
    name=${f#/proc/}
    case $name in [0-9]* | self | thread-self) continue ;; esac
    { [ -f "$f" ] && [ ! -L "$f" ]; } || continue
    [ $((0$(stat -c %a "$f") & 4)) -eq 0 ] || continue
    root_only=$root_only${root_only:+:}$name
done
export PROBE_PROC_ROOT_ONLY=$root_only

token=probe-token-$$
export PROBE_WRITE_TOKEN=$token
export PROBE_HOST_FILE=$top/host-secret
if [ -n "$bpf" ]; then export PROBE_SECCOMP=1; else export PROBE_SECCOMP=0; fi

# Descriptors this script inherited belong to whoever ran it (a CI runner, a
# terminal multiplexer); bubblewrap passes open descriptors on by design, so
# close them for the sandboxed command, or fd_leak would report the runner.
as_user() {
    local -a cmd=("$@")
    if [ -n "$user" ]; then
        cmd=(setpriv --reuid="$user" --regid="$user" --clear-groups -- "$@")
    fi
    (
        for fd in "/proc/$BASHPID/fd"/*; do
            fd=${fd##*/}
            case " ${keep_fd:-} " in *" $fd "*) continue ;; esac
            if [ "$fd" -gt 2 ]; then
                eval "exec $fd>&-"
            fi
        done
        exec "${cmd[@]}"
    )
}

case $sandbox in
none | unshare)
    # The toolchain is where it is on the host.
    export PROBE_SETUID_BIN=$tc/probe-setuid
    export PROBE_UNREADABLE_FILE=$tc/unreadable
    export PROBE_TOOLCHAIN_FILE=$tc/victim.txt
    export PROBE_WRITE_DIRS="/:/usr:/etc:/bin:/lib:/var:$tc"
    export PROBE_SCRATCH_DIRS=/tmp/$token
    set +e
    if [ "$sandbox" = none ]; then
        as_user "$tc/probe" "$@"
    else
        as_user unshare --user --map-root-user --mount --pid --ipc --net --uts --cgroup \
            --fork --mount-proc "$tc/probe" "$@"
    fi
    status=$?
    set -e
    ;;
bwrap)
    # bubblewrap's root is its own tmpfs: writing there is writing scratch.
    # The toolchain is read-only at /toolchain.
    export PROBE_SETUID_BIN=/toolchain/probe-setuid
    export PROBE_UNREADABLE_FILE=/toolchain/unreadable
    export PROBE_TOOLCHAIN_FILE=/toolchain/victim.txt
    export PROBE_WRITE_DIRS=/toolchain:/proc:/proc/sys
    export PROBE_SCRATCH_DIRS=/tmp
    # The toolchain's host path must not show; it is a bind mount, whose
    # mountinfo root field names it anyway (docs/SECURITY.md).
    export PROBE_HOST_PATHS=$tc
    export PROBE_BIND_ROOTS=1
    # bubblewrap started by root maps the sandbox's uid to host uid 0: without
    # capabilities, but still the owner of /proc/sys (kernel.core_pattern is
    # a root shell on the host) and of the root-only /proc files. Cover them
    # as the helper's bubblewrap backend does (write_kernel, proc_root_only
    # show the difference), and pass the options through --args, so that
    # bwrap's init (PID 1) shows no host path in its cmdline (host_paths).
    # --new-session as the helper's bubblewrap backend passes it: without it
    # the job stays in the caller's process group and session (session_own).
    opts=(--unshare-user --unshare-pid --unshare-net --unshare-ipc --unshare-uts
        --unshare-cgroup --hostname cps-probe --die-with-parent --new-session --cap-drop ALL
        --ro-bind "$tc" /toolchain --proc /proc --ro-bind /proc/sys /proc/sys
        --ro-bind-try /proc/sysrq-trigger /proc/sysrq-trigger)
    for name in ${root_only//:/ } keys key-users timer_list sched_debug timer_stats \
        latency_stats; do
        [ ! -f "/proc/$name" ] || opts+=(--ro-bind /dev/null "/proc/$name")
    done
    opts+=(--dev /dev --tmpfs /tmp --chdir /tmp)
    [ -z "$bpf" ] || opts+=(--seccomp 9)
    # bwrap's init keeps bwrap's environment: start it with none and give
    # the probe its variables with --setenv, as the helper does.
    while IFS='=' read -r key value; do
        opts+=(--setenv "$key" "$value")
    done < <(env | grep '^PROBE_')
    set -- /toolchain/probe "$@"
    set +e
    keep_fd="8 9" as_user env -i "$(command -v bwrap)" --args 8 -- "$@" \
        8< <(printf '%s\0' "${opts[@]}") 9< "${bpf:-/dev/null}"
    status=$?
    set -e
    ;;
helper)
    if [ -z "$run" ] || [ -z "$helper" ]; then
        echo "run-probe.sh: --sandbox helper needs --run and --helper" >&2
        exit 2
    fi
    # The toolchain is the root; everything writable in it is the overlay's
    # upper layer (scratch), so the host-side checks below are the proof.
    mkdir -m 755 "$top/bin"
    cp "$run" "$top/bin/cachepot-dist-run"
    cp "$helper" "$top/bin/cachepot-dist-sandbox"
    # The CLI makes the build dir under TMPDIR: here, so that its host path
    # is known. None of these host paths may show inside (host_paths); the
    # bind overlay mode's toolchain binds name theirs in mountinfo's root
    # field (docs/SECURITY.md).
    mkdir -m 1777 "$top/tmp"
    export PROBE_HOST_PATHS=$tc:$top/bin:$top/tmp
    [ "$overlay" != bind ] || export PROBE_BIND_ROOTS=1
    export PROBE_SETUID_BIN=/probe-setuid
    export PROBE_UNREADABLE_FILE=/unreadable
    export PROBE_TOOLCHAIN_FILE=/victim.txt
    export PROBE_WRITE_DIRS=/:/usr:/etc:/bin:/proc:/proc/sys
    export PROBE_SCRATCH_DIRS=/:/tmp
    # The job's environment is exactly what --env passes.
    args=(--toolchain "$tc" --helper "$top/bin/cachepot-dist-sandbox" --cwd /tmp)
    [ -z "$backend" ] || args+=(--sandbox "$backend")
    [ -z "$overlay" ] || args+=(--overlay "$overlay")
    while IFS= read -r pair; do
        args+=(--env "$pair")
    done < <(env | grep '^PROBE_')
    set +e
    TMPDIR=$top/tmp as_user "$top/bin/cachepot-dist-run" "${args[@]}" -- /probe "$@"
    status=$?
    set -e
    ;;
*)
    echo "run-probe.sh: unknown sandbox $sandbox" >&2
    exit 2
    ;;
esac

# Host side: whatever the probe saw, the host's files must be untouched.
host_failed=0
if cmp -s "$tc/victim.txt" "$top/victim.orig"; then
    echo "host_toolchain_unchanged blocked $tc/victim.txt unchanged"
else
    echo "host_toolchain_unchanged ESCAPED $tc/victim.txt was modified"
    host_failed=1
fi
found=
for d in / /usr /etc /bin /lib /var "$tc"; do
    for f in "$d"/"$token"*; do
        [ -e "$f" ] || continue
        found="$found $f"
        rm -f "$f"
    done
done
if [ -z "$found" ]; then
    echo "host_no_probe_files blocked no $token* in system directories"
else
    echo "host_no_probe_files ESCAPED found:$found"
    host_failed=1
fi

if [ "$status" -eq 0 ] && [ "$host_failed" -ne 0 ]; then
    status=1
fi
exit "$status"
