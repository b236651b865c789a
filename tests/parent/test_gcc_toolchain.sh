#!/bin/sh
# test_gcc_toolchain.sh - the host gcc packaged by cachepot-dist-toolchain
# compiles a preprocessed file inside the sandbox to the same bytes as the host
# gcc outside it. Run by run-real.sh --toolchain gcc (CPS_BIN,
# CPS_TEST_TOOLCHAIN, CACHEPOT_SANDBOX_HELPER set), as root and as uid 65534.
set -eu
W=$(mktemp -d "${TMPDIR:-/tmp}/cps-gcc-XXXXXX")
trap 'rm -rf "$W"' EXIT
cd "$W"

cat >prog.c <<'C'
#include <stdio.h>
#include <string.h>

struct point { int x, y; };

static int dot(struct point a, struct point b) { return a.x * b.x + a.y * b.y; }

int main(int argc, char **argv)
{
    struct point p = {argc, (int)strlen(argv[0])}, q = {3, 4};
    printf("dot = %d\n", dot(p, q));
    return 0;
}
C
gcc -E prog.c -o prog.i
# With -g the object records the compile directory: map the host's to the
# sandbox's /build (same flags on both sides), as distributed compilers do.
for flags in "-O0" "-O2 -g -fdebug-prefix-map=$W=/build"; do
    # shellcheck disable=SC2086
    gcc $flags -x cpp-output -c prog.i -o host.o
    mkdir -p out
    # shellcheck disable=SC2086
    "$CPS_BIN/cachepot-dist-run" --toolchain "$CPS_TEST_TOOLCHAIN" \
        --input prog.i:/build/prog.i --output prog.o --cwd /build --out-dir out \
        -- gcc $flags -x cpp-output -c prog.i -o prog.o
    if ! cmp host.o out/prog.o; then
        echo "FAIL: sandbox object differs from the host's ($flags)" >&2
        exit 1
    fi
    echo "ok: gcc $flags -x cpp-output -c: sandbox object identical to the host's ($(wc -c <host.o) bytes)"
    rm -rf out host.o
done
