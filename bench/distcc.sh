#!/usr/bin/env bash
# bench/distcc.sh [--rounds N]: a whole build through Debian's distccd with
# cachepot-distcc-compiler against the same build through plain distccd, on
# the same machine in the same run, and the per-job overhead; writes the
# "distcc" section of bench/RESULTS.md (between its markers, leaving the rest
# of the file as bench/run.sh wrote it).
#
# Both distccd run as uid 65534 on 127.0.0.1 with --jobs 4; the client is
# Debian's distcc with local fallback off. The build: the project's own C
# sources (common, helper, parent, distcc: 75 TUs), gcc -O2, 4 at a time.
# Rounds alternate which daemon goes first. Besides wall time, each build's
# CPU time is summed over the daemon's process tree (utime + stime of distccd
# and everything it reaped: the shim, the helper, the job's PID 1, the
# compiler), which a shared machine's load disturbs far less than wall time.
# The shim's first use (packaging gcc) is timed apart and excluded.
#
# Needs root and distcc. Environment: CPS_BENCH_BUILD_DIR (default
# build-bench: the Release build bench/run.sh also uses).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
bench=$top/bench
build=${CPS_BENCH_BUILD_DIR:-$top/build-bench}
rounds=5
[[ ${1:-} == --rounds ]] && rounds=$2
log() { echo "bench-distcc: $*" >&2; }
[[ $(id -u) -eq 0 ]] || { log "needs root (distccd runs as uid 65534)"; exit 1; }
command -v distccd >/dev/null || { log "distcc is not installed (scripts/install-deps.sh)"; exit 1; }

log "building the shim and the helper in $build (Release)"
mkdir -p "$build"
cmake -S "$bench" -B "$build" -DCMAKE_BUILD_TYPE=Release >"$build/distcc-build.log" 2>&1
cmake --build "$build" -j "$(nproc)" --target cachepot-distcc-compiler cachepot-dist-sandbox \
    >>"$build/distcc-build.log" 2>&1
shim=$(find "$build" -name cachepot-distcc-compiler -type f -perm -u+x | head -n1)
helper=$(find "$build" -name cachepot-dist-sandbox -type f -perm -u+x | head -n1)
load_start=$(cut -d' ' -f1-3 /proc/loadavg)

T=$(mktemp -d /var/tmp/cps-bench-distcc-XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$T"
}
trap cleanup EXIT
chmod 755 "$T"
mkdir -m 755 "$T/bin" "$T/links" "$T/obj"
for d in tmp-plain tmp-shim cache log; do
    mkdir -m 755 "$T/$d"
    chown 65534:65534 "$T/$d"
done
cp "$shim" "$helper" "$top/scripts/cachepot-dist-toolchain" "$T/bin/"
chmod 755 "$T/bin/"*
triplet=$(gcc -dumpmachine)
for n in gcc "$triplet-gcc"; do
    ln -s "$T/bin/cachepot-distcc-compiler" "$T/links/$n"
    echo "$T/links/$n"
done >"$T/cmdlist"
touch "$T/timings" && chown 65534:65534 "$T/timings"

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
declare -A daemon_pid
# start_distccd NAME PORT [VAR=VALUE...]
start_distccd() {
    local name=$1 port=$2
    shift 2
    env -i PATH=/usr/bin:/bin TMPDIR="$T/tmp-$name" "$@" \
        setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all -- \
        distccd --daemon --no-detach --listen 127.0.0.1 --port "$port" --allow 127.0.0.1 \
        --jobs 4 --log-level warning --log-file "$T/log/$name.log" &
    pids+=($!)
    daemon_pid[$name]=$!
    for _ in $(seq 100); do
        python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1",int(sys.argv[1])),1)' \
            "$port" 2>/dev/null && return 0
        sleep 0.1
    done
    log "distccd $name did not start"
    exit 1
}
port_plain=$(free_port)
start_distccd plain "$port_plain"
port_shim=$(free_port)
start_distccd shim "$port_shim" DISTCC_CMDLIST="$T/cmdlist" \
    CACHEPOT_SANDBOX_HELPER="$T/bin/cachepot-dist-sandbox" \
    CACHEPOT_DISTCC_PACKAGER="$T/bin/cachepot-dist-toolchain" CACHEPOT_DISTCC_CACHE="$T/cache" \
    CACHEPOT_DISTCC_TIMINGS="$T/timings"

export DISTCC_FALLBACK=0 DISTCC_SKIP_LOCAL_RETRY=1 DISTCC_BACKOFF_PERIOD=0 DISTCC_DIR=$T/client
mkdir -m 700 "$T/client"
cd "$top"
files=$(ls common/*.c helper/*.c parent/lib/*.c parent/cli/*.c distcc/*.c)
ntu=$(echo "$files" | wc -l)
cflags="-O2 -D_GNU_SOURCE -Icommon -Ihelper -Ihelper/seccomp -Iparent/include -Iparent/lib"
cflags="$cflags -Iparent/cli -Idistcc -DCPS_VERSION=\"0.1.0\" -DCPS_HELPER_INSTALL_PATH=\"/x\""
now() { date +%s.%N; }
calc() { awk "BEGIN { print $* }"; }

# cpu_seconds PID: CPU time of distccd PID and its live children, each with
# what it has reaped (fields 14-17 of proc_pid_stat(5)).
cpu_seconds() {
    local total=0 p f
    for p in $1 $(pgrep -P "$1"); do
        read -r -a f < <(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null) || continue
        total=$((total + f[11] + f[12] + f[13] + f[14]))
    done
    calc "$total / $(getconf CLK_TCK)"
}

# build PORT PID: the whole corpus through that distccd, 4 at a time; prints
# "WALL CPU" in seconds.
build() {
    local t0 t1 c0 c1
    rm -f "$T/obj/"*.o
    c0=$(cpu_seconds "$2")
    t0=$(now)
    echo "$files" | DISTCC_HOSTS="127.0.0.1:$1/4" xargs -P 4 -I{} sh -c \
        'distcc gcc $1 -c "$2" -o "$3/obj/$(echo "$2" | tr / _).o"' _ "$cflags" {} "$T" ||
        { log "a compile through port $1 failed"; exit 1; }
    t1=$(now)
    c1=$(cpu_seconds "$2")
    echo "$(calc "$t1 - $t0") $(calc "$c1 - $c0")"
}

log "first use: packaging gcc through the shim"
echo 'int x;' >"$T/tiny.c"
t0=$(now)
DISTCC_HOSTS="127.0.0.1:$port_shim" distcc gcc -O2 -c "$T/tiny.c" -o "$T/tiny.o"
first_use=$(calc "$(now) - $t0")
: >"$T/timings"

plain=()
shim=()
plain_cpu=()
shim_cpu=()
run_build() {
    local r
    r=$(build "${2}" "${daemon_pid[$1]}")
    if [[ $1 == plain ]]; then
        plain+=("${r% *}")
        plain_cpu+=("${r#* }")
    else
        shim+=("${r% *}")
        shim_cpu+=("${r#* }")
    fi
}
for r in $(seq "$rounds"); do
    if ((r % 2)); then
        run_build plain "$port_plain"
        run_build shim "$port_shim"
    else
        run_build shim "$port_shim"
        run_build plain "$port_plain"
    fi
    log "round $r: plain ${plain[-1]} s (cpu ${plain_cpu[-1]}), shim ${shim[-1]} s (cpu ${shim_cpu[-1]})"
done

# Per-job overhead: one tiny TU, sequential jobs alternating between the
# daemons (the order flips each pair), so that each pair sees the same load.
jobs=40
one_job() {
    local t0
    t0=$(now)
    DISTCC_HOSTS="127.0.0.1:$1" distcc gcc -O2 -c "$T/tiny.c" -o "$T/tiny.o"
    calc "$(now) - $t0"
}
: >"$T/timings"
tiny_plain=()
tiny_shim=()
tiny_diff=()
for i in $(seq "$jobs"); do
    if ((i % 2)); then
        a=$(one_job "$port_plain")
        b=$(one_job "$port_shim")
    else
        b=$(one_job "$port_shim")
        a=$(one_job "$port_plain")
    fi
    tiny_plain+=("$a")
    tiny_shim+=("$b")
    tiny_diff+=("$(calc "$b - $a")")
done

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
field_median() { sed -n "s/.*$1=\([0-9]*\).*/\1/p" "$T/timings" | sort -n |
    awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
minimum() { printf '%s\n' "$@" | sort -g | head -n1; }
mp=$(median "${plain[@]}")
ms=$(median "${shim[@]}")
ratio=$(calc "$ms / $mp")
minp=$(minimum "${plain[@]}")
mins=$(minimum "${shim[@]}")
cp_=$(median "${plain_cpu[@]}")
cs=$(median "${shim_cpu[@]}")
tp=$(median "${tiny_plain[@]}")
ts=$(median "${tiny_shim[@]}")
overhead_ms=$(calc "$(median "${tiny_diff[@]}") * 1000")
spawn=$(field_median spawn_us)
setup=$(field_median setup_us)
runus=$(field_median run_us)
total=$(field_median total_us)
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

section=$(
    cat <<EOF
<!-- distcc:begin (bench/distcc.sh writes this section; bench/run.sh keeps it) -->
## distcc: a whole build through distccd, with the shim vs plain

\`bench/distcc.sh --rounds $rounds\`, $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git -C "$top" rev-parse --short HEAD),
$(distccd --version | head -n1), $(gcc --version | head -n1), load average $load_start at start,
$load_end at end ($(nproc) cores shared with other work: figures are noisy when the load is high).
Both distccd run as uid 65534 with \`--jobs 4\` on 127.0.0.1; Debian's \`distcc\` client, fallback off;
the build is the project's own C sources ($ntu TUs, \`gcc -O2\`, 4 at a time); rounds alternate which
daemon goes first. docs/DISTCC.md explains the setup.

| | plain distccd | distccd + cachepot-distcc-compiler |
|---|---|---|
| whole build wall time, median of $rounds (s) | $(printf %.2f "$mp") | $(printf %.2f "$ms") |
| **wall ratio (shim / plain), medians** | | **$(printf %.3f "$ratio")x** |
| whole build wall time, fastest round (s) | $(printf %.2f "$minp") | $(printf %.2f "$mins") ($(printf %.3f "$(calc "$mins / $minp")")x) |
| each round, wall (s) | $(printf '%.2f ' "${plain[@]}") | $(printf '%.2f ' "${shim[@]}") |
| whole build CPU time of the daemon's process tree, median (s) | $(printf %.2f "$cp_") | $(printf %.2f "$cs") (**$(printf %.3f "$(calc "$cs / $cp_")")x**) |
| each round, CPU (s) | $(printf '%.2f ' "${plain_cpu[@]}") | $(printf '%.2f ' "${shim_cpu[@]}") |
| one tiny TU (\`int x;\`), median of $jobs jobs each (ms) | $(printf %.1f "$(calc "$tp*1000")") | $(printf %.1f "$(calc "$ts*1000")") |
| **per-job overhead: median of the $jobs paired differences (ms)** | | **$(printf %.1f "$overhead_ms")** |

Where the shim's time goes per tiny job (medians, µs, from \`CACHEPOT_DISTCC_TIMINGS\`): helper spawn
until hello $spawn, setup (job, input, overlay, root, exec, teardown) $setup, compiler $runus,
whole \`cps_run\` $total. First use of gcc (packaging the root, one job): $(printf %.1f "$first_use") s,
not in the rounds.

**Warm helpers.** The shim is one process per job, started by distccd after the input is on disk, so
a pool inside the shim would have nothing to overlap a helper's start with. A warm helper kept by a
long-lived broker and handed each job would save the spawn-until-hello time above (${spawn} µs per job
here) at the price of one more daemon per worker and a protocol to it; the shim spawns one helper per
job (cold), which keeps each job's sandbox independent of every other (docs/DISTCC.md).
<!-- distcc:end -->
EOF
)
results=$bench/RESULTS.md
if grep -q '<!-- distcc:begin' "$results" 2>/dev/null; then
    python3 - "$results" "$section" <<'PY'
import re, sys
path, section = sys.argv[1], sys.argv[2]
text = open(path).read()
text = re.sub(r"<!-- distcc:begin.*?<!-- distcc:end -->", lambda m: section, text, flags=re.S)
open(path, "w").write(text)
PY
else
    printf '\n%s\n' "$section" >>"$results"
fi
log "wall ratio $(printf %.3f "$ratio")x, cpu ratio $(printf %.3f "$(calc "$cs / $cp_")")x, per-job overhead $(printf %.1f "$overhead_ms") ms; wrote the distcc section of $results"
