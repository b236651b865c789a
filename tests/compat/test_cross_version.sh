#!/bin/sh
# test_cross_version.sh SOURCE_DIR BUILD_DIR
#
# Operators swap helpers per host while workers keep their library, and the
# other way round (docs/COMPATIBILITY.md). This builds the helper, the library
# and the CLI of the previous release (tests/compat/previous-release) from git
# and runs the real-job suite both ways, as root and as uid 65534:
#   old library and CLI -> this helper: the old tree's test_parent_real,
#     test_cli.sh (real) and test_gcc_toolchain.sh (a real gcc compile whose
#     object must be byte-identical to the host's);
#   this library and CLI -> the old helper: this tree's same three tests, and
#     test_reuse_old_helper.sh (--batch --reuse N: every job runs, cold).
# The old build is kept in BUILD_DIR/compat-<tag> and reused while its commit
# is the same.
set -u
src=$1
build=$2
[ "$(id -u)" = 0 ] || { echo "SKIP: runs the real-job suite as root and as uid 65534: needs root"; exit 77; }
set -- $(grep -v '^#' "$src/tests/compat/previous-release")
tag=$1
commit=$2
if ! git -C "$src" cat-file -e "$commit^{commit}" 2>/dev/null; then
    echo "SKIP: $tag ($commit) is not in this checkout's git history (a shallow clone or a tarball): fetch the history to run this test"
    exit 77
fi

old=$build/compat-$tag
if [ "$(cat "$old/stamp" 2>/dev/null)" != "$commit" ]; then
    echo "== building $tag ($commit) in $old"
    rm -rf "$old"
    mkdir -p "$old/src"
    git -C "$src" archive "$commit" | tar -xf - -C "$old/src" || { echo "FAIL: git archive $commit"; exit 1; }
    if ! { cmake -S "$old/src" -B "$old/build" -DCMAKE_BUILD_TYPE=Release -DCPS_TESTS=ON &&
        cmake --build "$old/build" -j "$(nproc)" --target cachepot-dist-sandbox cachepot-dist-run \
            test_parent_real; } >"$old/build.log" 2>&1; then
        tail -n 30 "$old/build.log"
        echo "FAIL: building $tag"
        exit 1
    fi
    echo "$commit" >"$old/stamp"
fi
old_helper=$old/build/helper/cachepot-dist-sandbox
new_helper=$build/helper/cachepot-dist-sandbox
echo "old: $("$old_helper" --version)"
echo "new: $("$new_helper" --version)"

failed=""
# run LABEL TREE_SRC HELPER [run-real.sh arguments...]
run() {
    label=$1 tree=$2 helper=$3
    shift 3
    echo "== $label"
    if CPS_HELPER_BIN=$helper CPS_TOOLCHAIN_SCRIPT=$tree/scripts/cachepot-dist-toolchain \
        "$tree/tests/parent/run-real.sh" "$@" >"$build/compat-run.log" 2>&1; then
        tail -n 3 "$build/compat-run.log"
        echo "ok: $label"
    else
        cat "$build/compat-run.log"
        echo "FAIL: $label"
        failed="$failed
  $label"
    fi
}
# suite LABEL TREE_SRC TREE_BUILD HELPER MODE
suite() {
    run "$1: library (test_parent_real), $5" "$2" "$4" "$5" -- "$3/tests/parent/test_parent_real"
    run "$1: CLI (test_cli.sh real), $5" "$2" "$4" "$5" --copy "$3/parent/cachepot-dist-run" \
        -- "$2/tests/parent/test_cli.sh" real
    run "$1: gcc compile (test_gcc_toolchain.sh), $5" "$2" "$4" "$5" --toolchain gcc \
        --copy "$3/parent/cachepot-dist-run" -- "$2/tests/parent/test_gcc_toolchain.sh"
}
for mode in root unpriv; do
    suite "$tag library -> new helper" "$old/src" "$old/build" "$new_helper" $mode
    suite "new library -> $tag helper" "$src" "$build" "$old_helper" $mode
    # A pool asking for reuse from a helper that does not support it.
    run "new CLI --reuse -> $tag helper, $mode" "$src" "$old_helper" $mode \
        --copy "$build/parent/cachepot-dist-run" -- "$src/tests/compat/test_reuse_old_helper.sh"
done
rm -f "$build/compat-run.log"
if [ -n "$failed" ]; then
    echo "FAILED:$failed"
    exit 1
fi
echo "every run passed both ways"
