#!/bin/sh
# test_man_options.sh MANDIR PROGRAM:PAGE...
#
# Every option (--long, -x) and every CACHEPOT_* variable that PROGRAM --help
# prints appears in the scdoc source MANDIR/PAGE.scd, and the page documents no
# option the program does not have (a flag removed from --help must leave its
# man page too).
set -u
mandir=$1
shift
fail=0
for pair in "$@"; do
    prog=${pair%%:*}
    page=$mandir/${pair#*:}.scd
    help=$("$prog" --help 2>&1) || { echo "FAIL: $prog --help exited non-zero"; fail=1; continue; }
    words=$(printf '%s\n' "$help" | grep -oE '(^|[^A-Za-z0-9_-])(--[a-z][a-z0-9-]*|-[a-zA-Z])\b|CACHEPOT_[A-Z_]+' |
        sed -E 's/^[^-C]*//' | sort -u)
    [ -n "$words" ] || { echo "FAIL: no option found in $prog --help"; fail=1; continue; }
    n=0
    for w in $words; do
        n=$((n + 1))
        if ! grep -qF -- "$w" "$page"; then
            echo "FAIL: $(basename "$prog") --help has $w, $(basename "$page") does not"
            fail=1
        fi
    done
    for w in $(grep -oE '^\*(--[a-z][a-z0-9-]*|-[a-zA-Z])\*' "$page" | tr -d '*' | sort -u); do
        if ! printf '%s\n' "$help" | grep -qF -- "$w"; then
            echo "FAIL: $(basename "$page") documents $w, $(basename "$prog") --help does not"
            fail=1
        fi
    done
    echo "checked $n options and variables of $(basename "$prog") against $(basename "$page")"
done
exit $fail
