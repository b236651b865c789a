#!/bin/sh
# run-tests.sh root|unpriv busybox|gcc
#
# Run the cachepot_sandbox pytest suites against the helper $CPS_HELPER_BIN, as
# root or as uid 65534, through tests/parent/run-real.sh (which copies the
# helper, the fake helper and the C CLI under a world-traversable temp dir and
# builds the toolchain there). busybox: the codec, out-dir, fake-helper and
# real-helper suites in the busybox test toolchain; gcc: the real compile in the
# packaged host gcc. $CPS_FAKE_HELPER (tests/parent/fake_helper.c) and
# $CPS_RUN_BIN (cachepot-dist-run) are built by CMake too. uid 65534 cannot enter the repository, so the module, its
# tests and tests/vectors are copied to a world-readable temp dir first.
#
# Exit 77 (SKIP) when no python3 with cbor2 and pytest is found
# (apt-get install python3-cbor2 python3-pytest; scripts/install-deps.sh does).
# pytest's exit 5 (no tests collected) is a failure.
set -eu

mode=$1 kind=$2
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../../.." && pwd)

# Debian's python3 first: another python3 earlier in PATH (pyenv, a venv) may
# lack the Debian modules, and uid 65534 may not be able to read it.
py=
for cand in ${CPS_PYTHON:-} /usr/bin/python3 python3; do
    if command -v "$cand" >/dev/null 2>&1 &&
        "$cand" -c 'import cbor2, pytest' >/dev/null 2>&1; then
        py=$(command -v "$cand")
        break
    fi
done
if [ -z "$py" ]; then
    echo "SKIP: no python3 with cbor2 and pytest (apt-get install python3-cbor2 python3-pytest)"
    exit 77
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "SKIP: the $mode variant needs to start as root (running as uid $(id -u))"
    exit 77
fi

P=$(mktemp -d "${TMPDIR:-/tmp}/cps-py-XXXXXX")
trap 'rm -rf "$P"' EXIT
cp -r "$here/.." "$P/python"
rm -rf "$P/python/tests/__pycache__" "$P/python/cachepot_sandbox/__pycache__"
cp -r "$top/tests/vectors" "$P/vectors"
chmod -R a+rX "$P"
chmod 755 "$P"

case $kind in
busybox)
    files="test_vectors.py test_codec.py test_local.py test_fake_helper.py test_hostile_frames.py
        test_real.py"
    extra="--copy ${CPS_FAKE_HELPER:?CPS_FAKE_HELPER must name the fake helper}" ;;
gcc)
    files="test_gcc.py"
    extra="--toolchain gcc --copy ${CPS_RUN_BIN:?CPS_RUN_BIN must name cachepot-dist-run}" ;;
*)
    echo "$0: kind must be busybox or gcc" >&2; exit 2 ;;
esac

set +e
# shellcheck disable=SC2086
CPS_VECTORS="$P/vectors" PYTHONDONTWRITEBYTECODE=1 \
    "$top/tests/parent/run-real.sh" "$mode" $extra -- "$here/pytest-in.sh" \
    "$py" "$P/python/tests" $files
rc=$?
set -e
if [ $rc -eq 5 ]; then
    echo "FAIL: pytest collected no tests"
    exit 1
fi
exit $rc
