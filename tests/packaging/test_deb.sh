#!/bin/sh
# test_deb.sh SOURCE_DIR
#
# The Debian packages, end to end: build them from a copy of the source tree
# with dpkg-buildpackage, check them with lintian (no errors), install them with
# apt, then with the installed files only (no build tree, no
# CACHEPOT_SANDBOX_HELPER) package gcc, compile demo/hello.c in the sandbox as
# uid 65534, link and run it; find the man pages with man and the library with
# pkg-config; purge the packages and check that none of their files is left.
#
# It installs packages system-wide, so it runs only where that is wanted: on
# CI (CI=true) or with CPS_TEST_DEB=1, as root.
set -u
src=$1
pkgs="cachepot-dist-sandbox libcachepot-sandbox0 libcachepot-sandbox-dev"

[ "$(id -u)" = 0 ] || { echo "SKIP: installs packages: needs root"; exit 77; }
if [ "${CI:-}" != true ] && [ "${CPS_TEST_DEB:-}" != 1 ]; then
    echo "SKIP: installs and purges .debs system-wide; runs on CI (CI=true) or with CPS_TEST_DEB=1"
    exit 77
fi
for p in $pkgs; do
    if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
        echo "FAIL: $p is already installed; purge it first (apt-get purge $pkgs)"
        exit 1
    fi
done

T=$(mktemp -d /tmp/cps-deb-XXXXXX)
installed=0
cleanup() {
    [ $installed = 1 ] && apt-get purge -y -qq $pkgs >/dev/null 2>&1
    rm -rf "$T"
}
trap cleanup EXIT
chmod 755 "$T"
fail() { echo "FAIL: $*"; exit 1; }
step() { echo "== $*"; }

step "dpkg-buildpackage from a copy of the source tree"
mkdir "$T/src"
if git -C "$src" rev-parse --git-dir >/dev/null 2>&1; then
    (cd "$src" && git ls-files --cached --others --exclude-standard -z | xargs -0 tar -cf - --no-recursion) |
        tar -xf - -C "$T/src" || fail "copying the source tree"
else
    (cd "$src" && tar -cf - --exclude='./build*' .) | tar -xf - -C "$T/src" || fail "copying the source tree"
fi
(cd "$T/src" && dpkg-buildpackage -b -us -uc) >"$T/build.log" 2>&1 || {
    tail -n 40 "$T/build.log"
    fail "dpkg-buildpackage"
}
ls "$T"/*.deb

step "lintian"
# TMPDIR: lintian leaves its ELF caches (mldbm-elf-*) in its temp dir.
TMPDIR="$T" lintian --tag-display-limit 0 "$T"/*.changes >"$T/lintian.log" 2>&1
grep -v 'running with root privileges' "$T/lintian.log"
if grep -q '^E: ' "$T/lintian.log"; then
    fail "lintian reports errors"
fi
echo "lintian: no errors"

step "apt-get install ./*.deb"
installed=1
apt-get install -y -qq "$T"/cachepot-dist-sandbox_*.deb "$T"/libcachepot-sandbox0_*.deb \
    "$T"/libcachepot-sandbox-dev_*.deb >"$T/apt.log" 2>&1 || { cat "$T/apt.log"; fail "apt-get install"; }
dpkg -L $pkgs | sort -u >"$T/files"
[ -x /usr/libexec/cachepot-dist-sandbox ] || fail "no /usr/libexec/cachepot-dist-sandbox"

step "the demo's compile with the installed binaries only, as uid 65534"
mkdir -m 755 "$T/work"
cp "$src/demo/hello.c" "$T/work/"
chown -R 65534:65534 "$T/work"
cat >"$T/work/job.sh" <<'JOB'
set -eu
cd "$1/work"
unset CACHEPOT_SANDBOX_HELPER LD_LIBRARY_PATH
export PATH=/usr/bin:/bin TMPDIR="$1/work"
cachepot-dist-toolchain --out "$1/work/toolchain" gcc >/dev/null
gcc -E hello.c -o hello.i
cachepot-dist-run --toolchain "$1/work/toolchain" --input hello.i:/build/hello.i \
    --output hello.o --out-dir . -- gcc -O2 -x cpp-output -c hello.i -o hello.o
gcc hello.o -o hello
./hello
JOB
out=$(setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all -- sh "$T/work/job.sh" "$T" 2>&1) ||
    { echo "$out"; fail "the sandboxed compile with the installed binaries"; }
echo "$out"
echo "$out" | grep -q "hello from a program compiled in the sandbox" || fail "unexpected program output"

step "man pages and pkg-config"
for page in cachepot-dist-sandbox cachepot-dist-run cachepot-dist-toolchain cachepot-distcc-compiler \
    "3 cachepot-sandbox"; do
    # shellcheck disable=SC2086
    man -w $page >/dev/null 2>&1 || fail "man $page finds no page"
    echo "man $page: $(man -w $page)"
done
cat >"$T/consumer.c" <<'C'
#include <cachepot-sandbox.h>
#include <stdio.h>
int main(void)
{
    struct cps_job_spec *job = cps_job_new();
    printf("libcachepot-sandbox %s\n", cps_version());
    cps_job_free(job);
    return job ? 0 : 1;
}
C
# shellcheck disable=SC2046
cc "$T/consumer.c" -o "$T/consumer" $(pkg-config --cflags --libs cachepot-sandbox) ||
    fail "building a consumer with pkg-config"
"$T/consumer" || fail "running the consumer against the installed library"

step "apt-get purge"
installed=0
apt-get purge -y -qq $pkgs >"$T/apt.log" 2>&1 || { cat "$T/apt.log"; fail "apt-get purge"; }
left=0
while read -r f; do
    case $f in /. | /usr | /usr/* ) ;; *) continue ;; esac
    [ -d "$f" ] && continue # shared directories (/usr/bin, ...) stay
    if [ -e "$f" ] || [ -L "$f" ]; then
        echo "left behind: $f"
        left=1
    fi
done <"$T/files"
[ $left = 0 ] || fail "files left after purge"
for p in $pkgs; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q "installed" && fail "$p still known to dpkg"
done
echo "purged: no file of the packages is left"
