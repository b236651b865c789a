#!/bin/sh
# make-test-toolchain.sh DIR [PROGRAM...]
#
# Build the small toolchain root the integration tests run jobs in:
#   DIR/bin/busybox          the static busybox of Debian's busybox-static
#   DIR/bin/<applet>         symlinks to it (sh, cat, echo, ls, sleep, ...)
#   DIR/bin/<program>        each PROGRAM given (static test programs)
#   DIR/usr/bin, DIR/etc     present and empty except etc/marker-toolchain
# DIR is replaced. Everything is world-readable so an unprivileged copy works.
set -eu

if [ $# -lt 1 ]; then
    echo "usage: $0 DIR [PROGRAM...]" >&2
    exit 2
fi
dir=$1
shift

busybox=${BUSYBOX:-/bin/busybox}
if [ ! -x "$busybox" ] || ! LC_ALL=C ldd "$busybox" 2>&1 | grep -q 'not a dynamic executable'; then
    # Debian's busybox-static installs /bin/busybox; the dynamic busybox
    # package would need its libraries in the toolchain.
    echo "$0: $busybox is missing or not static (apt-get install busybox-static)" >&2
    exit 1
fi

rm -rf "$dir"
mkdir -p "$dir/bin" "$dir/usr/bin" "$dir/etc"
cp "$busybox" "$dir/bin/busybox"
for applet in sh cat echo ls sleep cp mv rm mkdir rmdir touch true false test env \
    printf head tail wc sha256sum dd yes id hostname uname chmod ln kill ps tr seq \
    find sort grep sed pwd readlink stat; do
    ln -s busybox "$dir/bin/$applet"
done
for prog in "$@"; do
    cp "$prog" "$dir/bin/$(basename "$prog")"
done
echo "cachepot test toolchain" > "$dir/etc/marker-toolchain"
chmod -R a+rX "$dir"
