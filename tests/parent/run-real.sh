#!/bin/sh
# run-real.sh root|unpriv [--toolchain busybox|gcc] [--copy FILE]... -- PROGRAM [ARG...]
#
# Run a test of the parent library or CLI against the real helper, as root or
# as uid 65534 (nobody). Everything the test touches is copied under a fresh
# world-traversable temp dir T first, since the repository may sit where other
# users cannot enter:
#   T/bin/cachepot-dist-sandbox   the helper ($CPS_HELPER_BIN)
#   T/bin/<name>                  PROGRAM and each --copy FILE
#   T/lib/                        libcachepot-sandbox.so.0 if a copied binary needs it
#   T/toolchain/                  busybox test toolchain, or the host gcc packaged
#                                 by cachepot-dist-toolchain ($CPS_TOOLCHAIN_SCRIPT)
#   T/tmp/                        TMPDIR of the test (owned by the test's uid)
# The test sees CACHEPOT_SANDBOX_HELPER, CPS_TEST_TOOLCHAIN and CPS_BIN. The
# root variant skips (77) only when not run as root; the unprivileged one needs
# root to switch to uid 65534, so it skips in the same case.
set -eu

mode=$1
shift
kind=busybox
copies=
while [ $# -gt 0 ]; do
    case $1 in
    --toolchain) kind=$2; shift 2 ;;
    --copy) copies="$copies $2"; shift 2 ;;
    --) shift; break ;;
    *) break ;;
    esac
done
[ $# -ge 1 ] || { echo "usage: $0 root|unpriv [--toolchain K] [--copy F]... -- PROGRAM [ARG...]" >&2; exit 2; }

if [ "$(id -u)" -ne 0 ]; then
    echo "SKIP: the $mode variant needs to start as root (running as uid $(id -u))"
    exit 77
fi
: "${CPS_HELPER_BIN:?CPS_HELPER_BIN must name the helper binary}"
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)

T=$(mktemp -d "${TMPDIR:-/tmp}/cps-real-XXXXXX")
trap 'rm -rf "$T"' EXIT
chmod 755 "$T"
mkdir -m 755 "$T/bin" "$T/lib"
mkdir -m 1777 "$T/tmp"

copy_bin() {
    cp "$1" "$T/bin/$(basename "$1")"
    chmod 755 "$T/bin/$(basename "$1")"
    # The shared library our binaries link (by RUNPATH into the build tree).
    lib=$(ldd "$1" 2>/dev/null | awk '/libcachepot-sandbox\.so/ {print $3}')
    if [ -n "$lib" ] && [ ! -e "$T/lib/$(basename "$lib")" ]; then
        cp -L "$lib" "$T/lib/$(basename "$lib")"
        chmod 644 "$T/lib/$(basename "$lib")"
    fi
}

cp "$CPS_HELPER_BIN" "$T/bin/cachepot-dist-sandbox"
chmod 755 "$T/bin/cachepot-dist-sandbox"
for f in $copies; do
    copy_bin "$f"
done
prog=$1
shift
copy_bin "$prog"

case $kind in
busybox)
    "$top/tests/toolchain/make-test-toolchain.sh" "$T/toolchain" >/dev/null ;;
gcc)
    "${CPS_TOOLCHAIN_SCRIPT:-$top/scripts/cachepot-dist-toolchain}" --out "$T/toolchain" gcc >/dev/null ;;
*)
    echo "$0: unknown toolchain kind $kind" >&2; exit 2 ;;
esac
chmod -R a+rX "$T/toolchain"

set -- "$T/bin/$(basename "$prog")" "$@"
export CACHEPOT_SANDBOX_HELPER="$T/bin/cachepot-dist-sandbox"
export CPS_TEST_TOOLCHAIN="$T/toolchain"
export CPS_BIN="$T/bin"
export TMPDIR="$T/tmp"
export LD_LIBRARY_PATH="$T/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
cd "$T/tmp"
case $mode in
root)
    "$@" ;;
unpriv)
    chown 65534:65534 "$T/tmp"
    setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all -- "$@" ;;
*)
    echo "$0: mode must be root or unpriv" >&2; exit 2 ;;
esac
