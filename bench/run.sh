#!/usr/bin/env bash
# bench/run.sh [--quick] [--cpu-only]: build the project in Release (no
# sanitizers) in build-bench/, then run every benchmark side by side, as root
# and as an unprivileged user (uid 65534), and write bench/RESULTS.md.
# --cpu-only runs only the "CPU per job" measurement and replaces only that
# section of an existing RESULTS.md (the rest keeps the run it came from).
#
# Variants (each a row; ratios are against the baselines of the same run):
#   bare      the job's binary exec'd directly
#   unshare   unshare -Urmpinu --fork (the namespace floor)
#   bwrap     bubblewrap with cachepot's flags on an already prepared root
#   cli       cachepot-dist-run (includes the CLI's own process start-up)
#   lib-KIND  the library, one variant per kind bench-driver was built with:
#             "cold" (a helper spawned per job), "warm" (a pool of warm helpers),
#             "reuse" (a pool whose helpers serve 50 jobs each, docs/REUSE.md)
#   cli-batch (CPU per job only) one cachepot-dist-run --batch per block of jobs
#   cli-batch-reuse (CPU per job only) the same with --reuse 50
#   floor-*   (CPU per job only, 1 at once) exec, helper exec, user, net and all
#             namespaces: the parts a job's CPU splits into
#
# Environment: CPS_BENCH_BUILD_DIR (default build-bench), CPS_BENCH_KEEP=1
# keeps the scratch dir, CPS_BENCH_USERS (default "nobody root").
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
bench=$top/bench
cache=$bench/.cache
build=${CPS_BENCH_BUILD_DIR:-$top/build-bench}
quick=0 cpu_only=0
for a in "$@"; do
    case $a in
    --quick) quick=1 ;;
    --cpu-only) cpu_only=1 ;;
    *) echo "usage: bench/run.sh [--quick] [--cpu-only]" >&2 && exit 2 ;;
    esac
done
if ((quick)); then
    N=30 ROUNDS=1 STREAM_RUNS=1 CONC_JOBS=16 STREAM_BYTES=$((256 << 20)) CPU_JOBS=60 CPU_ROUNDS=2
else
    N=200 ROUNDS=5 STREAM_RUNS=5 CONC_JOBS=64 STREAM_BYTES=$((1 << 30)) CPU_JOBS=300 CPU_ROUNDS=3
fi
CPU_LEVELS="1 2 4"
LUA_LEVELS="2 4"
REUSE_JOBS=50 # jobs per helper of cli-batch-reuse (lib-reuse: REUSE_JOBS in variant_lib.c)
CONC_LEVELS="1 2 4 8 16"
USERS=${CPS_BENCH_USERS:-nobody root}
LUA_CFLAGS=(-std=gnu99 -O2 -Wall -Wextra -DLUA_COMPAT_5_3 -DLUA_USE_LINUX) # Lua's src/Makefile, linux
LUA_CC="gcc -std=gnu99 -O2 -Wall -Wextra -x cpp-output -c {stem}.i -o {stem}.o"
# cachepot's bubblewrap flags (../shared/DESIGN.md), on a root made in advance.
BWRAP_FLAGS="--die-with-parent --cap-drop ALL --unshare-user --unshare-cgroup --unshare-ipc"
BWRAP_FLAGS+=" --unshare-pid --unshare-net --unshare-uts"

log() { echo "bench: $*" >&2; }

load_start=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- 1. build ----------------------------------------------------------------
status="complete"
mkdir -p "$build"
log "building the project + driver in $build (Release)"
if ! { cmake -S "$bench" -B "$build" -DCMAKE_BUILD_TYPE=Release -DCPS_BENCH_BASELINE_ONLY=OFF &&
    cmake --build "$build" -j "$(nproc)"; } >"$build/build.log" 2>&1; then
    status="the project did not build, baselines only: $(grep -m1 -E 'error|Error' "$build/build.log" | cut -c1-300)"
    log "$status"
    build=$build-baseline
    mkdir -p "$build"
    cmake -S "$bench" -B "$build" -DCMAKE_BUILD_TYPE=Release -DCPS_BENCH_BASELINE_ONLY=ON >"$build/build.log"
    cmake --build "$build" -j "$(nproc)" >>"$build/build.log"
fi

find_built() { find "$build" -name "$1" -type f -perm -u+x 2>/dev/null | head -n1; }
helper=$(find_built cachepot-dist-sandbox)
cli=$(find_built cachepot-dist-run)
packager=$(find_built cachepot-dist-toolchain)
[[ -z $packager && -x $top/scripts/cachepot-dist-toolchain ]] && packager=$top/scripts/cachepot-dist-toolchain
lib_kinds=$("$build/bench-driver" 2>&1 | sed -n "s/^library kinds in this build: //p" || true)
[[ $lib_kinds == \(none* ]] && lib_kinds=""
missing=()
[[ -n $helper ]] || missing+=("helper binary cachepot-dist-sandbox")
[[ -n $cli ]] || missing+=("CLI cachepot-dist-run")
[[ -n $packager ]] || missing+=("toolchain packager cachepot-dist-toolchain")
[[ -n $lib_kinds ]] || missing+=("library (bench-driver built without it)")

# ---- 2. a world-traversable scratch dir (uid 65534 cannot enter the repo) --------
T=$(mktemp -d /tmp/cps-bench.XXXXXX)
chmod 755 "$T"
cleanup() {
    local m
    for m in "$T"/u-*/build; do mountpoint -q "$m" && umount "$m"; done
    if [[ ${CPS_BENCH_KEEP:-0} == 1 ]]; then log "kept $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT
mkdir -p "$T/bin" "$T/lib" "$T/results"
cp "$build/bench-driver" "$build/bench-true" "$build/bench-fill" "$T/bin/"
[[ -n $helper ]] && cp "$helper" "$T/bin/"
[[ -n $cli ]] && cp "$cli" "$T/bin/"
find "$build" \( -name 'libcachepot*.so*' -o -name 'libcps*.so*' \) -exec cp -P {} "$T/lib/" \;
HELPER=$T/bin/cachepot-dist-sandbox
CLI=$T/bin/cachepot-dist-run
DRIVER=$T/bin/bench-driver

# The prepared root for /bin/true and the streaming jobs: static binaries only.
ROOT=$T/root
# Only mount points and binaries: a directory of the lower layer is owned by
# root, so an unprivileged job could not write into it (the helper creates the
# job's cwd and output dirs itself).
mkdir -p "$ROOT"/{bin,proc,dev,tmp}
chmod 1777 "$ROOT/tmp"
cp "$build/bench-true" "$ROOT/bin/true"
cp "$build/bench-fill" "$ROOT/bin/fill"
cp /bin/busybox "$ROOT/bin/busybox"
# Bare baseline of "produce a file, hand its bytes over": write it, then read it.
cat >"$T/bin/fill-then-cat" <<'EOF'
#!/bin/sh
"$1" "$2" "$3" && exec cat "$3"
EOF
chmod 755 "$T/bin/fill-then-cat"
chmod -R a+rX "$T"

# ---- 3. Lua 5.4 from Debian's source package, preprocessed on the host -------------
fetch_lua() {
    local tarball
    tarball=$(find "$cache" -maxdepth 1 -name 'lua5.4_*.orig.tar.gz' | head -n1)
    if [[ -z $tarball ]]; then
        # A private apt configuration: no deb-src line needed in the system sources.
        local src=$cache/apt
        mkdir -p "$src/lists/partial"
        printf '%s\n' 'Types: deb-src' 'URIs: http://deb.debian.org/debian' 'Suites: bookworm' \
            'Components: main' 'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg' \
            >"$src/src.sources"
        local opts=(-o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$src"
            -o "Dir::State::Lists=$src/lists")
        apt-get "${opts[@]}" update >&2
        (cd "$cache" && apt-get "${opts[@]}" source --download-only lua5.4 >&2)
        tarball=$(find "$cache" -maxdepth 1 -name 'lua5.4_*.orig.tar.gz' | head -n1)
    fi
    echo "$tarball"
}
if ((cpu_only)); then
    LUA_TAR="" packager=""
fi
if ((!cpu_only)); then
mkdir -p "$cache"
LUA_TAR=$(fetch_lua)
mkdir -p "$T/lua"
tar -xzf "$LUA_TAR" -C "$T/lua"
lua_src=$(echo "$T"/lua/lua-*/src)
LUA_I=$T/lua/i
mkdir -p "$LUA_I"
for c in "$lua_src"/*.c; do
    stem=$(basename "$c" .c)
    (cd "$lua_src" && gcc "${LUA_CFLAGS[@]}" -E "$stem.c" -o "$LUA_I/$stem.i")
    echo "$stem" >>"$T/lua/stems"
done
log "Lua: $(wc -l <"$T/lua/stems") translation units from $(basename "$LUA_TAR")"

# The packaged host gcc (the sandbox's toolchain for the Lua jobs).
TC=""
if [[ -n $packager ]]; then
    if "$packager" --out "$T/gcc-tc" gcc >"$T/gcc-tc.log" 2>&1; then
        TC=$T/gcc-tc
        chmod -R a+rX "$TC"
    else
        missing+=("cachepot-dist-toolchain failed: $(tail -n1 "$T/gcc-tc.log")")
    fi
fi
fi
chmod -R a+rX "$T"

# The cpu mode reads the CPU time of the driver's whole process tree from a
# cpuacct cgroup of its own (cgroup v1; the driver falls back to getrusage,
# and says so, where there is none). Made here, as root, and entered before
# setpriv drops to the measured user.
CG=""
for base in /sys/fs/cgroup/cpuacct /sys/fs/cgroup/cpu,cpuacct; do
    if [[ -w $base ]] && mkdir "$base/cps-bench.$$" 2>/dev/null; then
        CG=$base/cps-bench.$$
        break
    fi
done
cleanup_cg() {
    [[ -n $CG ]] && rmdir "$CG" 2>/dev/null
    cleanup
}
trap cleanup_cg EXIT
in_cg() {
    if [[ -n $CG ]]; then
        sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$CG" "$@"
    else
        "$@"
    fi
}

# ---- 4. the runs ----------------------------------------------------------------
as_user() {
    local user=$1
    shift
    local envs=(PATH=/usr/sbin:/usr/bin:/sbin:/bin LD_LIBRARY_PATH="$T/lib"
        CACHEPOT_SANDBOX_HELPER="$HELPER" HOME="$T/u-$user")
    if [[ $user == root ]]; then
        in_cg env -i "${envs[@]}" "$@"
    else
        in_cg setpriv --reuid=65534 --regid=65534 --clear-groups env -i "${envs[@]}" "$@"
    fi
}

# (6) CPU per job and jobs/s at 1, 2, 4 at once (issue 16): each variant
# runs CPU_JOBS /bin/true jobs in CPU_ROUNDS interleaved blocks; the CLI's
# --batch variant runs once per block with a batch file of one block's jobs.
run_cpu() {
    local user=$1 U=$T/u-$1 R=$T/results/$1
    local common=(--build-base "$U/build" --match "$T/" --helper "$HELPER")
    local block=$((CPU_JOBS / CPU_ROUNDS)) p k
    for ((k = 0; k < block; k++)); do echo /bin/true; done >"$T/true.batch"
    chmod a+r "$T/true.batch"
    for p in $CPU_LEVELS; do
        local pool=$((p > 2 ? p : 2))
        local v=(--exec bwrap "bwrap $BWRAP_FLAGS --bind $ROOT / --proc /proc --dev /dev --chdir / -- /bin/true")
        if [[ -x $CLI ]]; then
            v+=(--exec cli "$CLI --toolchain $ROOT --build-dir {build} --env PATH=/bin -- /bin/true"
                --exec cli-batch "$CLI --toolchain $ROOT --env PATH=/bin --batch $T/true.batch --pool $pool --jobs $p"
                --per-block cli-batch
                --exec cli-batch-reuse "$CLI --toolchain $ROOT --env PATH=/bin --batch $T/true.batch --pool $pool --jobs $p --reuse $REUSE_JOBS"
                --per-block cli-batch-reuse)
        fi
        for k in $lib_kinds; do v+=(--lib "lib-$k" "$k"); done
        # At 1 at once, a ladder of floors that splits a job's CPU into its
        # parts (RESULTS.md, "where the CPU goes"): one process exec'd, the
        # helper exec'd and linked (--version), a user namespace, plus a
        # network namespace, plus mount/PID/IPC/UTS namespaces and a fork.
        ((p == 1)) && v+=(--exec floor-bare "$ROOT/bin/true"
            --exec floor-helper-exec "$HELPER --version"
            --exec floor-userns "unshare -Ur $ROOT/bin/true"
            --exec floor-userns-netns "unshare -Urn $ROOT/bin/true"
            --exec floor-all-ns "unshare -Urmpinu --fork $ROOT/bin/true")
        log "[$user] cpu per job: $p at once, $CPU_JOBS jobs per variant in $CPU_ROUNDS blocks"
        as_user "$user" "$DRIVER" cpu -P "$p" -n "$CPU_JOBS" --rounds "$CPU_ROUNDS" "${common[@]}" \
            --toolchain "$ROOT" --env "PATH=/bin" --argv /bin/true --json "$R/cpu-$p.json" "${v[@]}" ||
            log "[$user] cpu $p failed"
    done
}

# (3) of run_user: the Lua TUs, P at once (USER P).
run_lua() {
    local user=$1 p=$2 U=$T/u-$1 R=$T/results/$1 json=lua-$2.json cmpjson=lua-compare-$2.json
    local common=(--build-base "$U/build" --match "$T/" --helper "$HELPER")
    local libv=() k v
    for k in $lib_kinds; do libv+=(--lib "lib-$k" "$k"); done
    local have_cli=0
    [[ -x $CLI ]] && have_cli=1
    if ((p == 2)); then json=lua.json cmpjson=lua-compare.json; fi
    local W=$U/work/lua-$p
    local names=(bare bwrap) n
    [[ -n $TC ]] && { ((have_cli)) && names+=(cli); for k in $lib_kinds; do names+=("lib-$k"); done; }
    for n in src "${names[@]}"; do
        as_user "$user" mkdir -p "$W/$n"
        [[ $n == bare || $n == bwrap || $n == src ]] && as_user "$user" cp "$LUA_I"/*.i "$W/$n/"
    done
    if [[ -n $TC ]]; then
        v=(--exec bare "$LUA_CC"
            --exec bwrap "bwrap $BWRAP_FLAGS --ro-bind $TC / --proc /proc --dev /dev --tmpfs /tmp --bind {dir} /tmp/src --chdir /tmp/src --setenv PATH /usr/bin:/bin -- $LUA_CC")
        ((have_cli)) && v+=(--exec cli "$CLI --toolchain $TC --build-dir {build} --input $W/src/{stem}.i:/src/{stem}.i --cwd /src --output {stem}.o --out-dir {dir} --env PATH=/usr/bin:/bin -- $LUA_CC")
        v+=("${libv[@]}")
        log "[$user] Lua: $ROUNDS rounds x ${#names[@]} variants, $p jobs at once"
        as_user "$user" "$DRIVER" batch -P "$p" --rounds "$ROUNDS" "${common[@]}" --work "$W" \
            --stems "$T/lua/stems" --toolchain "$TC" --env "PATH=/usr/bin:/bin" --cwd /src \
            --in-host "$W/src/{stem}.i" --in-sandbox "/src/{stem}.i" --out-sandbox "{stem}.o" \
            --argv "$LUA_CC" --json "$R/$json" "${v[@]}" || log "[$user] Lua failed"
    else
        # No packaged toolchain: the bare compile alone, so its time is known.
        log "[$user] Lua: no packaged toolchain, bare compile only"
        as_user "$user" "$DRIVER" batch -P "$p" --rounds "$ROUNDS" "${common[@]}" --work "$W" \
            --stems "$T/lua/stems" --json "$R/$json" --exec bare "$LUA_CC" ||
            log "[$user] Lua failed"
    fi
    # Byte-for-byte comparison with the bare objects.
    {
        echo "{"
        local first=1
        for n in "${names[@]}"; do
            [[ $n == bare ]] && continue
            local same=0 diff=() miss=()
            while read -r stem; do
                if [[ ! -f $W/$n/$stem.o ]]; then miss+=("$stem")
                elif cmp -s "$W/bare/$stem.o" "$W/$n/$stem.o"; then same=$((same + 1))
                else diff+=("$stem"); fi
            done <"$T/lua/stems"
            ((first)) || echo ","
            first=0
            printf '"%s": {"identical": %d, "differ": "%s", "missing": "%s"}' \
                "$n" "$same" "${diff[*]:-}" "${miss[*]:-}"
        done
        echo "}"
    } >"$R/$cmpjson"

}

run_user() {
    local user=$1 U=$T/u-$1 R=$T/results/$1
    mkdir -p "$U/build" "$U/work" "$R"
    [[ $user == root ]] || chown -R 65534:65534 "$U" "$R"
    local common=(--build-base "$U/build" --match "$T/" --helper "$HELPER")

    # Library variants: one per kind the driver knows.
    local libv=() k
    for k in $lib_kinds; do libv+=(--lib "lib-$k" "$k"); done
    local have_cli=0
    [[ -x $CLI ]] && have_cli=1

    # (1)+(2) per-job overhead and the helper's stages.
    log "[$user] overhead: $N rounds"
    local W=$U/work/overhead
    as_user "$user" mkdir -p "$W/cli"
    local v=(--exec bare "$ROOT/bin/true"
        --exec unshare "unshare -Urmpinu --fork $ROOT/bin/true"
        --exec bwrap "bwrap $BWRAP_FLAGS --bind $ROOT / --proc /proc --dev /dev --chdir / --setenv PATH /bin -- /bin/true")
    ((have_cli)) && v+=(--exec cli "$CLI --toolchain $ROOT --build-dir {build} --json {dir}/cli-{seq}.json --env PATH=/bin -- /bin/true")
    as_user "$user" "$DRIVER" overhead -n "$N" "${common[@]}" --work "$W" --toolchain "$ROOT" \
        --env "PATH=/bin" --argv /bin/true --json "$R/overhead.json" "${v[@]}" "${libv[@]}" ||
        log "[$user] overhead failed"
    if ((have_cli)); then
        mkdir -p "$R/cli-json"
        cp "$W"/cli/cli-*.json "$R/cli-json/" 2>/dev/null || log "[$user] no CLI --json files"
    fi

    # (3) Lua: every TU one job, 2 and 4 at once (LUA_LEVELS), bare vs
    # sandboxed; objects compared after each level. 2 at once writes lua.json
    # and lua-compare.json, P at once lua-P.json and lua-compare-P.json.
    local p
    for p in $LUA_LEVELS; do run_lua "$user" "$p"; done

    # (4) streaming, one driver process per variant and run (ru_maxrss is per
    # process). Exec variants' stdout is read and counted by the driver; output
    # files are counted (--count-file) when the variant returns.
    W=$U/work/stream
    stream_one() { # KIND NAME VARIANT-ARGS...
        local kind=$1 name=$2 r=$3
        shift 3
        local extra=(--count-stdout --argv "/bin/fill $STREAM_BYTES")
        [[ $kind == file ]] && extra=(--count-stdout --argv "/bin/fill $STREAM_BYTES /out/big"
            --cwd /out --out-sandbox /out/big --discard-outputs --count-file "{build}/big")
        as_user "$user" "$DRIVER" stream "${common[@]}" --toolchain "$ROOT" --env "PATH=/bin" \
            "${extra[@]}" --json "$R/stream-$kind-$name-$r.json" "$@" ||
            log "[$user] stream $kind $name failed"
    }
    local r
    for r in $(seq 1 "$STREAM_RUNS"); do
        log "[$user] streaming $STREAM_BYTES bytes, run $r/$STREAM_RUNS"
        stream_one stdout bare "$r" --exec bare "$ROOT/bin/fill $STREAM_BYTES"
        stream_one stdout bwrap "$r" --exec bwrap "bwrap $BWRAP_FLAGS --bind $ROOT / --proc /proc --dev /dev --chdir / -- /bin/fill $STREAM_BYTES"
        ((have_cli)) && stream_one stdout cli "$r" --exec cli "$CLI --toolchain $ROOT --build-dir {build} -- /bin/fill $STREAM_BYTES"
        for k in $lib_kinds; do stream_one stdout "lib-$k" "$r" --lib "lib-$k" "$k"; done
        # Bare "produce a file, hand its bytes over": write it, then read it back.
        stream_one file bare "$r" --exec bare "$T/bin/fill-then-cat $ROOT/bin/fill $STREAM_BYTES {build}/big-bare"
        # bubblewrap writes into a bind-mounted host dir: no transfer at all.
        stream_one file bwrap "$r" --exec bwrap "bwrap $BWRAP_FLAGS --bind $ROOT / --tmpfs /tmp --bind {build} /tmp/out --proc /proc --dev /dev --chdir / -- /bin/fill $STREAM_BYTES /tmp/out/big"
        ((have_cli)) && stream_one file cli "$r" --exec cli "$CLI --toolchain $ROOT --build-dir {build} --cwd /out --output big --out-dir {build} -- /bin/fill $STREAM_BYTES /out/big"
        for k in $lib_kinds; do stream_one file "lib-$k" "$r" --lib "lib-$k" "$k"; done
    done

    # (5) concurrency.
    local sandboxed=(--exec bwrap "bwrap $BWRAP_FLAGS --bind $ROOT / --proc /proc --dev /dev --chdir / -- /bin/true")
    ((have_cli)) && sandboxed+=(--exec cli "$CLI --toolchain $ROOT --build-dir {build} -- /bin/true")
    sandboxed+=("${libv[@]}")
    local p
    for p in $CONC_LEVELS; do
        local jobs=$CONC_JOBS
        ((jobs < 4 * p)) && jobs=$((4 * p))
        log "[$user] concurrency: $p at once, $jobs jobs per variant"
        as_user "$user" "$DRIVER" conc -P "$p" -n "$jobs" "${common[@]}" --toolchain "$ROOT" \
            --env "PATH=/bin" --argv /bin/true --json "$R/conc-$p.json" "${sandboxed[@]}" ||
            log "[$user] concurrency $p failed"
    done
}

# The driver makes and removes a build dir per job for every variant (bwrap
# included). On the ext4 under /tmp that mkdir alone cost 0.2-2.5 ms of the
# driver's CPU per job (perf: ext4's inode allocator scanning for inodes not
# recently deleted), the same for every variant and noisy, so it pushed every
# ratio towards 1x. The build bases are on a tmpfs of their own: what is
# compared is the sandbox, not the driver's directory churn. (With the
# default tmpfs scratch the helper never writes into the build dir.)
build_base_tmpfs() {
    local b=$T/u-$1/build
    mkdir -p "$b"
    mountpoint -q "$b" || mount -t tmpfs -o size=4g,mode=0755 "cps-bench-$1" "$b" ||
        log "[$1] no tmpfs for the build base: build dirs on $(df --output=fstype "$b" | tail -1)"
}

for u in $USERS; do
    build_base_tmpfs "$u"
    if ((cpu_only)); then
        mkdir -p "$T/u-$u/build" "$T/results/$u"
        [[ $u == root ]] || chown -R 65534:65534 "$T/u-$u" "$T/results/$u"
    else
        run_user "$u"
    fi
    run_cpu "$u"
done

# ---- 5. the report -----------------------------------------------------------------
missing_txt=$(printf '%s\n' "${missing[@]+"${missing[@]}"}")
cmdline="bench/run.sh${*:+ $*}"
python3 "$bench/report.py" --results "$T/results" --out "$bench/RESULTS.md" --command "$cmdline" \
    --status "$status" --missing "$missing_txt" --quick "$quick" --stream-bytes "$STREAM_BYTES" \
    --lua "$(basename "${LUA_TAR:-none}")" --lua-tus "$(cat "$T/lua/stems" 2>/dev/null | wc -l)" \
    --helper "$HELPER" --bwrap-flags "$BWRAP_FLAGS" --load-start "$load_start" \
    --cpu-only "$cpu_only" --cpu-jobs "$CPU_JOBS" --cpu-rounds "$CPU_ROUNDS" --cpu-tree "${CG:+cpuacct}"
log "wrote $bench/RESULTS.md"
