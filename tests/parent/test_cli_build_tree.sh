#!/bin/sh
# test_cli_build_tree.sh BUILD TOOLCHAIN
#
# cachepot-dist-run run from its CMake build tree, with neither --helper nor
# CACHEPOT_SANDBOX_HELPER, uses the helper built beside it; a copy of the same
# binary outside a build tree keeps looking for the installed helper.
set -u
build=$1
tc=$2
[ "$(id -u)" = 0 ] || { echo "SKIP: runs a real job as root (running as uid $(id -u))"; exit 77; }
w=$(mktemp -d)
trap 'rm -rf "$w"' EXIT
fail=0

unset CACHEPOT_SANDBOX_HELPER
out=$("$build/parent/cachepot-dist-run" --toolchain "$tc" -- /bin/sh -c 'echo from-the-sandbox' 2>"$w/err")
st=$?
if [ $st -eq 0 ] && [ "$out" = from-the-sandbox ]; then
    echo "ok: the build tree's CLI ran a job with the build tree's helper"
else
    echo "FAIL: build tree CLI: exit $st, stdout '$out'"; cat "$w/err"; fail=1
fi

cp "$build/parent/cachepot-dist-run" "$w/cachepot-dist-run"
"$w/cachepot-dist-run" --toolchain "$tc" --helper /nonexistent/cachepot-dist-sandbox -- true 2>"$w/err2"
st=$?
if [ $st -eq 125 ] && grep -q /nonexistent/cachepot-dist-sandbox "$w/err2"; then
    echo "ok: --helper still wins over the build tree's helper"
else
    echo "FAIL: --helper: exit $st"; cat "$w/err2"; fail=1
fi

"$w/cachepot-dist-run" --toolchain "$tc" -- true 2>"$w/err3"
st=$?
installed=$("$w/cachepot-dist-run" --help | sed -n 's/^ *\(\/[^ ;)]*cachepot-dist-sandbox\)[;)].*/\1/p' | head -n 1)
if [ -x "$installed" ]; then
    echo "ok: (an installed helper exists at $installed; the copy may use it: exit $st)"
elif [ $st -eq 125 ] && grep -q "$installed" "$w/err3"; then
    echo "ok: a copy outside the build tree looks for the installed helper ($installed)"
else
    echo "FAIL: copy outside the build tree: exit $st, installed path '$installed'"; cat "$w/err3"; fail=1
fi
exit $fail
