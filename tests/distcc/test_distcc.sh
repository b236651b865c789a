#!/bin/sh
# test_distcc.sh - cachepot-distcc-compiler under Debian's real distccd 3.4 and
# its real `distcc` client.
#
# distccd runs as uid 65534 on 127.0.0.1 with DISTCC_CMDLIST naming links to
# the shim (the setup of docs/DISTCC.md); the client compiles with local
# fallback and local retry off, so every object below was made by distccd.
# What is checked:
#   - first use of a compiler raced by 8 jobs: one root, nothing half-built left
#   - the project's own C sources through gcc and clang, and a C++ file through
#     g++, from two clients at once: every object byte-identical to a local
#     compile with the same flags (no cross-talk between concurrent jobs)
#   - an absolute compiler name (/usr/bin/...) is mapped to the shim too
#   - a compile error: the compiler's message and exit status reach the client
#   - hostile clients: -wrapper running a shell (none in a packaged root; and a
#     root that has busybox, where the script runs but cannot write to the
#     host, read host files, reach the network or leave a daemon), a TU that
#     embeds a host file with .incbin, a TU probing host files with
#     `#pragma GCC pch_preprocess`
#   - the client going away mid-job: distccd's SIGTERM ends the job, nothing
#     of it is left
#   - a setup failure fails closed: stage and hint reach the client
#   - pump mode's contract (tree, cwd, -MF), run on the shim directly:
#     Debian 12's include server does not start (distcc-pump 3.4 under Python
#     3.11: "PY_SSIZE_T_CLEAN macro must be defined"), so the pump client falls
#     back to local preprocessing and cannot exercise it
#   - distccd with TMPDIR under /tmp (the default), which the shim remaps
#   - afterwards: no process, temp file or mount left
#
# With plain distccd (no shim), every hostile case above runs with distccd's
# privileges: the -wrapper script writes and reads whatever distccd's user can
# and leaves its daemon, .incbin sends the host file back in the object, the
# pragma tells which host files exist. The test does not run that on the host;
# the local control compiles of steal.i and probe_pch.i below show what the
# same TU does to the machine that compiles it.
#
# Needs root (to start distccd as uid 65534) and distcc installed: otherwise
# SKIP (77). Environment: CPD_SHIM_BIN, CPS_HELPER_BIN, CPS_TOOLCHAIN_SCRIPT,
# CPS_SOURCE_DIR.
set -eu

if [ "$(id -u)" -ne 0 ]; then
    echo "SKIP: needs root to start distccd as uid 65534 (running as uid $(id -u))"
    exit 77
fi
for p in distcc distccd python3 busybox clang g++; do
    if ! command -v $p >/dev/null 2>&1; then
        echo "SKIP: $p is not installed (scripts/install-deps.sh installs it)"
        exit 77
    fi
done
: "${CPD_SHIM_BIN:?}" "${CPS_HELPER_BIN:?}" "${CPS_TOOLCHAIN_SCRIPT:?}" "${CPS_SOURCE_DIR:?}"
src=$CPS_SOURCE_DIR
here=$src/tests/distcc
triplet=$(gcc -dumpmachine)

failures=0
start=$(date +%s)
fail() {
    echo "FAIL [$(($(date +%s) - start)) s]: $*"
    failures=$((failures + 1))
}
ok() {
    echo "ok [$(($(date +%s) - start)) s]: $*"
}

# Everything distccd (uid 65534) touches lives in T, world-traversable; T is
# under /var/tmp so that distccd's TMPDIR is outside /tmp as docs/DISTCC.md
# recommends. T2, under /tmp, is the TMPDIR of a second distccd (the default).
T=$(mktemp -d /var/tmp/cps-distcc-XXXXXX)
T2=$(mktemp -d /tmp/cps-distcc-XXXXXX)
pids=
cleanup() {
    for p in $pids; do
        kill "$p" 2>/dev/null || true
    done
    for p in $pids; do
        wait "$p" 2>/dev/null || true
    done
    rm -rf "$T" "$T2"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
chmod 755 "$T" "$T2"
mkdir -m 755 "$T/bin" "$T/links" "$T/toolchains" "$T/obj" "$T/local"
mkdir -m 777 "$T/pwned"
mkdir -m 755 "$T/cache"
chown 65534:65534 "$T/cache"
for d in tmp log; do
    mkdir -m 755 "$T/$d" "$T2/$d"
    chown 65534:65534 "$T/$d" "$T2/$d"
done
cp "$CPD_SHIM_BIN" "$T/bin/cachepot-distcc-compiler"
cp "$CPS_HELPER_BIN" "$T/bin/cachepot-dist-sandbox"
cp "$CPS_TOOLCHAIN_SCRIPT" "$T/bin/cachepot-dist-toolchain"
chmod 755 "$T/bin/"*
for n in gcc g++ cc c++ clang clang++ "$triplet-gcc" "$triplet-g++" "$triplet-gcc-12" \
    "$triplet-g++-12"; do
    ln -s "$T/bin/cachepot-distcc-compiler" "$T/links/$n"
    echo "$T/links/$n"
done >"$T/cmdlist"
secret="cps-secret-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
echo "$secret" >"$T/secret"
chmod 644 "$T/secret"

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# start_distccd DIR PORT [CACHE]: distccd as uid 65534 with the shim, TMPDIR
# DIR/tmp, log in DIR/log, the toolchain cache CACHE (unset: the shim's
# default, which here is DIR/tmp/cachepot-distcc-65534).
start_distccd() {
    env -i PATH=/usr/bin:/bin TMPDIR="$1/tmp" DISTCC_CMDLIST="$T/cmdlist" \
        CACHEPOT_SANDBOX_HELPER="$T/bin/cachepot-dist-sandbox" \
        CACHEPOT_DISTCC_PACKAGER="$T/bin/cachepot-dist-toolchain" \
        ${3:+CACHEPOT_DISTCC_CACHE="$3"} CACHEPOT_DISTCC_TOOLCHAINS="$T/toolchains" \
        ASAN_OPTIONS="${ASAN_OPTIONS:-}" UBSAN_OPTIONS="${UBSAN_OPTIONS:-}" \
        setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all -- \
        distccd --daemon --no-detach --listen 127.0.0.1 --port "$2" --allow 127.0.0.1 \
        --jobs 10 --log-level info --log-file "$1/log/distccd.log" &
    pids="$pids $!"
    i=0
    until grep -q "daemon started" "$1/log/distccd.log" 2>/dev/null; do
        i=$((i + 1))
        [ $i -lt 100 ] || { echo "FAIL: distccd did not start"; cat "$1/log/distccd.log"; exit 1; }
        sleep 0.1
    done
}

port=$(free_port)
start_distccd "$T" "$port" "$T/cache"
mkdir -m 700 "$T/client"
export DISTCC_HOSTS="127.0.0.1:$port/10" DISTCC_FALLBACK=0 DISTCC_SKIP_LOCAL_RETRY=1
export DISTCC_BACKOFF_PERIOD=0 DISTCC_DIR="$T/client"

cflags="-O2 -Wall -D_GNU_SOURCE -DCPS_VERSION=\"0.1.0\" -DCPS_HELPER_INSTALL_PATH=\"/x\""
cflags="$cflags -I$src/common -I$src/parent/include -I$src/parent/lib -I$src/distcc"

# compile_list COMPILER TAG FLAGS: compile each source named on stdin through
# distcc to T/obj/TAG-NAME.o (4 at a time), then locally to T/local/.
remote_list() {
    xargs -P 4 -I{} sh -c 'n=$(basename "$1"); distcc $2 $4 -c "$1" -o "$5/obj/$3-$n.o" ||
        echo "$1" >>"$5/remote-failed"' _ {} "$1" "$2" "$3" "$T"
}
local_list() {
    xargs -P 2 -I{} sh -c 'n=$(basename "$1"); $2 $4 -c "$1" -o "$5/local/$3-$n.o"' \
        _ {} "$1" "$2" "$3" "$T"
}
# compare TAG FILES...: every remote object equals the local one.
compare() {
    tag=$1
    shift
    bad=0
    for f in "$@"; do
        n=$(basename "$f")
        cmp -s "$T/obj/$tag-$n.o" "$T/local/$tag-$n.o" || { bad=$((bad + 1)); echo "  differs: $tag $f"; }
    done
    [ $bad -eq 0 ] && ok "$tag: $# objects byte-identical to local compiles" ||
        fail "$tag: $bad of $# objects differ from local compiles"
}

# 1. First use of gcc raced by 8 jobs at once: one root, nothing half-built.
race=$(ls "$src"/common/*.c | head -n 8)
echo "$race" | xargs -P 8 -I{} sh -c 'n=$(basename "$1"); distcc gcc $2 -c "$1" -o "$3/obj/race-$n.o" ||
    echo "$1" >>"$3/remote-failed"' _ {} "$cflags" "$T"
echo "$race" | local_list gcc race "$cflags"
compare race $race
links=$(ls "$T/cache/compilers" | grep -c "^$triplet-gcc-" || true)
roots=$(ls "$T/cache/roots" | wc -l)
left=$(ls -A "$T/cache/tmp" | wc -l)
[ "$links" = 1 ] && [ "$roots" = 1 ] && [ "$left" = 0 ] &&
    ok "8 racing first uses of $triplet-gcc made one root ($(ls "$T/cache/roots"))" ||
    fail "race: $links compiler links, $roots roots, $left entries in cache/tmp"

# 2. Two clients at once: the rest of the C sources through gcc, and clang
#    (its first use) plus the C++ file through g++.
gcc_files=$(ls "$src"/common/*.c "$src"/parent/lib/*.c | tail -n +9)
clang_files=$(ls "$src"/common/*.c | head -n 6)
cxxflags="-O2 -std=c++17 -Wall"
(echo "$gcc_files" | remote_list gcc c-gcc "$cflags") &
client1=$!
(echo "$clang_files" | remote_list clang c-clang "$cflags" &&
    echo "$here/corpus/shapes.cpp" | remote_list g++ cxx-g++ "$cxxflags") &
client2=$!
wait $client1
wait $client2
if [ -s "$T/remote-failed" ]; then
    fail "remote compiles failed: $(tr '\n' ' ' <"$T/remote-failed")"
    tail -n 40 "$T/log/distccd.log"
fi
echo "$gcc_files" | local_list gcc c-gcc "$cflags"
echo "$clang_files" | local_list clang c-clang "$cflags"
echo "$here/corpus/shapes.cpp" | local_list g++ cxx-g++ "$cxxflags"
compare c-gcc $gcc_files
compare c-clang $clang_files
compare cxx-g++ "$here/corpus/shapes.cpp"
n_ok=$(grep -c "COMPILE_OK" "$T/log/distccd.log" || true)
n_files=$(echo $race $gcc_files $clang_files x | wc -w)
[ "$n_ok" -ge "$n_files" ] && ok "distccd's log: $n_ok jobs COMPILE_OK on the server" ||
    fail "distccd's log has $n_ok COMPILE_OK lines for $n_files remote compiles"
grep -q "$T/links/$triplet-gcc .* on localhost completed ok" "$T/log/distccd.log" &&
    ok "distccd ran the shim ($T/links/$triplet-gcc)" || fail "distccd's log does not show the shim"

# 3. An absolute compiler name (the client does not rewrite it): with
#    DISTCCD_PATH alone distccd would exec /usr/bin/... directly; DISTCC_CMDLIST
#    maps its last word to the shim.
one=$src/common/error.c
distcc "/usr/bin/$triplet-gcc" $cflags -c "$one" -o "$T/obj/abs.o" 2>"$T/abs.err" &&
    cmp -s "$T/obj/abs.o" "$T/local/race-error.c.o" &&
    grep -q "links/$triplet-gcc $one\|links/$triplet-gcc .*completed ok" "$T/log/distccd.log" &&
    ok "/usr/bin/$triplet-gcc from the client ran through the shim" ||
    fail "absolute compiler name: $(cat "$T/abs.err")"

# 4. A compile error: message and exit status as the local compiler's.
set +e
distcc gcc -c "$here/corpus/broken.c" -o "$T/obj/broken.o" 2>"$T/broken.remote"
rs=$?
# distccd's compiler runs in distccd's locale (C here), not the client's.
LC_ALL=C gcc -c "$here/corpus/broken.c" -o "$T/local/broken.o" 2>"$T/broken.local"
ls=$?
set -e
grep "error:" "$T/broken.local" >"$T/broken.local.errors"
grep "error:" "$T/broken.remote" >"$T/broken.remote.errors" || true
[ $rs -eq $ls ] && [ -s "$T/broken.local.errors" ] &&
    cmp -s "$T/broken.local.errors" "$T/broken.remote.errors" &&
    ok "compile error: exit status $rs and the compiler's error lines reach the client" ||
    { fail "compile error: remote $rs, local $ls"; cat "$T/broken.remote"; }

# 5. Hostile clients.
lport=$(free_port)
python3 -c '
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(8)
while True:
    c, a = s.accept(); open(sys.argv[2], "a").write("connected\n"); c.close()
' "$lport" "$T/listener.out" &
pids="$pids $!"
marker=987654
# The script runs as the wrapper of every program gcc starts. On the client
# (cpp, "-E") it only runs the real program; on the server it attacks first.
# No commas: gcc splits the -wrapper value at commas.
script='case " $* " in *" -E "*) exec "$0" "$@";; esac
B=/bin/busybox
$B touch '"$T"'/pwned/by-wrapper 2>/dev/null && echo "HOSTILE write: done" >&2 || echo "HOSTILE write: failed" >&2
$B cat '"$T"'/secret >&2 2>/dev/null || echo "HOSTILE read: failed" >&2
echo x | $B nc 127.0.0.1 '"$lport"' 2>/dev/null && echo "HOSTILE net: done" >&2 || echo "HOSTILE net: failed" >&2
$B setsid $B sleep '"$marker"' </dev/null >/dev/null 2>&1 &
echo "HOSTILE daemon: started" >&2
exec "$0" "$@"'
host_clean() {
    [ ! -e "$T/pwned/by-wrapper" ] || fail "$1: the job wrote $T/pwned/by-wrapper on the host"
    [ ! -s "$T/listener.out" ] || fail "$1: the job connected to the host's 127.0.0.1:$lport"
    ! pgrep -f "sleep $marker" >/dev/null || fail "$1: the job's daemon is still running"
}

# 5a. -wrapper with the packaged root: there is no shell in it.
set +e
distcc gcc -wrapper "/bin/sh,-c,$script" $cflags -c "$one" -o "$T/obj/wrap1.o" 2>"$T/wrap1.err"
rs=$?
set -e
[ $rs -ne 0 ] && grep -q "/bin/sh" "$T/wrap1.err" && ! grep -q "$secret" "$T/wrap1.err" &&
    ok "-wrapper /bin/sh with a packaged root: no shell in the sandbox, job failed ($rs)" ||
    { fail "-wrapper with a packaged root: status $rs"; cat "$T/wrap1.err"; }
host_clean "-wrapper, packaged root"

# 5b. The same against a root that has a shell (busybox): an operator root for
#     gcc-12 (the client sends $triplet-gcc-12), made from the packaged gcc root.
gcc_root=$T/cache/compilers/$(readlink "$(ls -d "$T/cache/compilers/$triplet-gcc-"*)")
cp -a "$gcc_root" "$T/toolchains/busybox-root"
mkdir -p "$T/toolchains/busybox-root/bin"
cp /bin/busybox "$T/toolchains/busybox-root/bin/busybox"
ln -sf busybox "$T/toolchains/busybox-root/bin/sh"
ln -s busybox-root "$T/toolchains/$triplet-gcc-12"
set +e
distcc gcc-12 -wrapper "/bin/sh,-c,$script" $cflags -c "$one" -o "$T/obj/wrap2.o" 2>"$T/wrap2.err"
rs=$?
set -e
sleep 0.2
if [ $rs -eq 0 ] && grep -q "HOSTILE daemon: started" "$T/wrap2.err" &&
    grep -q "HOSTILE write: failed" "$T/wrap2.err" && grep -q "HOSTILE read: failed" "$T/wrap2.err" &&
    grep -q "HOSTILE net: failed" "$T/wrap2.err" && ! grep -q "$secret" "$T/wrap2.err" &&
    cmp -s "$T/obj/wrap2.o" "$T/local/race-error.c.o"; then
    ok "-wrapper shell script in the sandbox: no write, read or connection to the host; the compile still succeeded"
else
    fail "-wrapper with a shell in the root (status $rs)"
    cat "$T/wrap2.err"
fi
host_clean "-wrapper, root with a shell"

# 5c. .incbin of a host file. Control: compiled locally, the object holds the
#     file (what plain distccd would send back). Through the shim: not found.
sed "s|SECRET_PATH|$T/secret|" "$here/corpus/steal.i" >"$T/steal.i"
gcc -c "$T/steal.i" -o "$T/local/steal.o"
grep -q "$secret" "$T/local/steal.o" || fail "control: the local .incbin did not embed the file"
set +e
distcc gcc -c "$T/steal.i" -o "$T/obj/steal.o" 2>"$T/steal.err"
rs=$?
set -e
[ $rs -ne 0 ] && ! grep -qs "$secret" "$T/obj/steal.o" "$T/steal.err" &&
    ok ".incbin of a host file: not in the sandbox, job failed ($rs), nothing leaked" ||
    { fail ".incbin: status $rs"; cat "$T/steal.err"; }

# 5d. pragma pch_preprocess: locally cc1 opens the file ("invalid"); in the
#     sandbox it does not exist.
sed "s|SECRET_PATH|$T/secret|" "$here/corpus/probe_pch.i" >"$T/probe_pch.i"
set +e
LC_ALL=C gcc -c "$T/probe_pch.i" -o "$T/local/probe_pch.o" 2>"$T/pch.local"
distcc gcc -c "$T/probe_pch.i" -o "$T/obj/probe_pch.o" 2>"$T/pch.remote"
rs=$?
set -e
grep -q "invalid" "$T/pch.local" || fail "control: the local pch_preprocess did not open the file"
[ $rs -ne 0 ] && ! grep -q "invalid" "$T/pch.remote" && grep -q "No such file" "$T/pch.remote" &&
    ok "pragma GCC pch_preprocess: the host file does not exist in the sandbox" ||
    { fail "pch_preprocess: status $rs"; cat "$T/pch.remote"; }

# 5e. The client goes away mid-job: distccd sees the socket close and ends
#     the job with killpg(SIGTERM) (exec.c, dcc_collect_child). The shim
#     cancels the run and the helper kills the job's namespace: nothing of the
#     job survives, also not what it started.
hang='case " $* " in *" -E "*) exec "$0" "$@";; esac
/bin/busybox sleep 987655'
distcc gcc-12 -wrapper "/bin/sh,-c,$hang" $cflags -c "$one" -o "$T/obj/hang.o" 2>/dev/null &
client=$!
# -x: the sleeping job itself, not the client whose argv holds the script.
job_sleep() { pgrep -x -f "/bin/busybox sleep 987655" >/dev/null; }
i=0
until job_sleep; do
    i=$((i + 1))
    [ $i -lt 300 ] || break
    sleep 0.1
done
started=$i
kill "$client"
wait "$client" 2>/dev/null || true
i=0
while job_sleep || pgrep -f "$T/links/$triplet-gcc-12" >/dev/null; do
    i=$((i + 1))
    [ $i -lt 100 ] || break
    sleep 0.1
done
[ "$started" -lt 300 ] && grep -q "Client fd disconnected, killing job" "$T/log/distccd.log" &&
    ! job_sleep && ! pgrep -f "$T/links/$triplet-gcc-12" >/dev/null &&
    ok "client gone mid-job: distccd's SIGTERM ended the shim and everything in the sandbox" ||
    fail "client gone mid-job: started=$started, left: $(pgrep -af "sleep 987655\|$T/links/")"

# 6. Fail closed: a broken operator root (g++-12 -> an empty dir) ends the job
#    with the stage and hint on the client's terminal.
mkdir -m 755 "$T/toolchains/empty"
ln -s empty "$T/toolchains/$triplet-g++-12"
set +e
distcc g++-12 $cxxflags -c "$here/corpus/shapes.cpp" -o "$T/obj/failclosed.o" 2>"$T/fc.err"
rs=$?
set -e
[ $rs -ne 0 ] && grep -q "cachepot-distcc-compiler: toolchain: " "$T/fc.err" &&
    grep -q "cachepot-distcc-compiler: hint: " "$T/fc.err" &&
    ok "a setup failure reaches the client with stage and hint (status $rs)" ||
    { fail "fail closed through distccd: status $rs"; cat "$T/fc.err"; }

# 7. The shim run directly, as distccd would, as uid 65534.
as_nobody() {
    setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all -- env -i \
        PATH=/usr/bin:/bin TMPDIR="$T/tmp" CACHEPOT_DISTCC_CACHE="$T/cache" \
        CACHEPOT_DISTCC_TOOLCHAINS="$T/toolchains" \
        CACHEPOT_SANDBOX_HELPER="${HELPER:-$T/bin/cachepot-dist-sandbox}" \
        CACHEPOT_DISTCC_PACKAGER="$T/bin/cachepot-dist-toolchain" "$@"
}
# 7a. Pump mode: the client's files under T/tmp/distccd_XXXXXX/<client path>,
#     cwd inside, -MMD -MF T/tmp/distcc_XXXXXXXX.deps appended. -nostdinc:
#     a packaged root has no system headers (docs/DISTCC.md, pump mode).
tree=$T/tmp/distccd_Pq7x2A
cdir=$tree/home/dev/proj
mkdir -p "$cdir/inc"
printf '#define GREETING "pump"\n' >"$cdir/inc/greeting.h"
printf '#include "inc/greeting.h"\nconst char *greeting(void) { return GREETING; }\n' >"$cdir/p.c"
ln -s ../p.c "$cdir/inc/alias.c"
chown -R 65534:65534 "$tree"
obj=$T/tmp/distccd_0badcafe.o
deps=$T/tmp/distcc_0badcafe.deps
as_nobody sh -c ': >"$1"; chmod 600 "$1"' _ "$obj"
(cd "$cdir" && as_nobody "$T/links/$triplet-gcc" -O2 -nostdinc -c p.c -o "$obj" -MMD -MF "$deps") \
    2>"$T/pump.err" && (cd "$cdir" && gcc -O2 -nostdinc -c p.c -o "$T/local/pump.o") &&
    cmp -s "$obj" "$T/local/pump.o" && grep -q "^$obj:" "$deps" &&
    grep -q "inc/greeting.h" "$deps" &&
    ok "pump-mode contract: the tree at its path, the object identical, the deps file written back" ||
    { fail "pump-mode contract"; cat "$T/pump.err" "$deps"; }
rm -rf "$tree" "$obj" "$deps"
# 7b. No helper: fails closed, the object stays as distccd made it (empty).
in=$T/tmp/distccd_00c0ffee.i
obj=$T/tmp/distccd_00c0ffee.o
gcc $cflags -E "$one" -o "$in"
chown 65534:65534 "$in"
as_nobody sh -c ': >"$1"; chmod 600 "$1"' _ "$obj"
set +e
(cd "$T/tmp" && HELPER=$T/no-such-helper as_nobody "$T/links/$triplet-gcc" -O2 -c "$in" -o "$obj") 2>"$T/nohelper.err"
rs=$?
set -e
[ $rs -ne 0 ] && [ ! -s "$obj" ] && grep -q "cachepot-distcc-compiler: spawn: " "$T/nohelper.err" &&
    ok "no helper: fails closed (status $rs, stage spawn), nothing compiled" ||
    { fail "no helper: status $rs"; cat "$T/nohelper.err"; }
# 7c. Not distccd's files: refused before anything runs.
set +e
(cd "$T/tmp" && as_nobody "$T/links/$triplet-gcc" -c "$in" -o "$T/pwned/out.o") 2>"$T/notemp.err"
rs=$?
set -e
[ $rs -ne 0 ] && [ ! -e "$T/pwned/out.o" ] && grep -q "cachepot-distcc-compiler: args: " "$T/notemp.err" &&
    ok "an output outside distccd's temp files is refused (stage args)" ||
    { fail "output outside distccd's temp files: status $rs"; cat "$T/notemp.err"; }
rm -f "$in" "$obj"

# 8. distccd with TMPDIR under /tmp (its default) and no cache configured:
#    the shim maps its files to /.cachepot-distcc/tmp/... inside the sandbox,
#    where /tmp is the sandbox's, and packages gcc into its default cache
#    (/var/cache/cachepot-distcc is not writable by uid 65534 here).
port2=$(free_port)
start_distccd "$T2" "$port2"
DISTCC_HOSTS="127.0.0.1:$port2" distcc gcc $cflags -c "$one" -o "$T/obj/tmpdir.o" 2>"$T/tmpdir.err" &&
    cmp -s "$T/obj/tmpdir.o" "$T/local/race-error.c.o" &&
    [ -L "$(ls -d "$T2/tmp/cachepot-distcc-65534/compilers/$triplet-gcc-"*)" ] &&
    ok "distccd with TMPDIR under /tmp ($T2/tmp), default cache: object identical" ||
    { fail "TMPDIR under /tmp"; cat "$T/tmpdir.err"; tail "$T2/log/distccd.log"; }
rm -rf "$T2/tmp/cachepot-distcc-65534"

# 9. Nothing left: no process of the shim, helper or job, no temp files in
#    distccd's TMPDIR (cache and log are elsewhere), no mounts.
sleep 0.3
if pgrep -f "$T/bin/" >/dev/null || pgrep -f "$T/links/" >/dev/null; then
    fail "processes left: $(pgrep -af "$T/bin/\|$T/links/")"
else
    ok "no shim, helper or compiler process left"
fi
left=$(find "$T/tmp" "$T2/tmp" -mindepth 1 | head -n 5)
[ -z "$left" ] && ok "distccd's TMPDIRs are empty" || fail "left in distccd's TMPDIR: $left"
grep -q "$T\|$T2" /proc/self/mountinfo && fail "mounts left under $T" || ok "no mounts left"
host_clean "at the end"

if [ $failures -ne 0 ]; then
    echo "$failures check(s) failed; distccd's log:"
    tail -n 30 "$T/log/distccd.log"
    exit 1
fi
echo "all distcc checks passed"
