#!/bin/sh
# test_install.sh BUILD_DIR - `cmake --install` yields a usable library: the
# header, libcachepot-sandbox.so.0 (SONAME, only cps_ symbols exported), the
# static library, the pkg-config file, the helper in libexec and the CLIs,
# the distcc shim with its compiler links and cmdlist (docs/DISTCC.md). A
# program built with `pkg-config --cflags --libs cachepot-sandbox` (shared and
# static) runs a job through the installed helper path's override.
set -eu
build=$1
P=$(mktemp -d "${TMPDIR:-/tmp}/cps-install-XXXXXX")
trap 'rm -rf "$P"' EXIT

cmake --install "$build" --prefix "$P/usr" >/dev/null
so=$(find "$P" -name libcachepot-sandbox.so.0 | head -n 1)
[ -n "$so" ] || { echo "FAIL: libcachepot-sandbox.so.0 not installed" >&2; exit 1; }
lib=$(dirname "$so")/
for f in usr/include/cachepot-sandbox.h usr/bin/cachepot-dist-run \
    usr/bin/cachepot-dist-toolchain usr/libexec/cachepot-dist-sandbox \
    usr/bin/cachepot-distcc-compiler usr/libexec/cachepot-distcc/cmdlist; do
    [ -e "$P/$f" ] || { echo "FAIL: $f not installed" >&2; exit 1; }
done
# distccd runs the shim through these links, named in cmdlist by the
# prefix given to `cmake --install`.
for n in gcc g++ cc c++ clang clang++; do
    [ "$(readlink "$P/usr/libexec/cachepot-distcc/$n")" = "$P/usr/bin/cachepot-distcc-compiler" ] ||
        { echo "FAIL: usr/libexec/cachepot-distcc/$n is not a link to the shim" >&2; exit 1; }
    grep -qx "$P/usr/libexec/cachepot-distcc/$n" "$P/usr/libexec/cachepot-distcc/cmdlist" ||
        { echo "FAIL: cmdlist does not list $n" >&2; exit 1; }
done
for f in libcachepot-sandbox.so libcachepot-sandbox.so.0 libcachepot-sandbox.a \
    pkgconfig/cachepot-sandbox.pc; do
    [ -e "$lib/$f" ] || { echo "FAIL: $lib$f not installed" >&2; exit 1; }
done
readelf -d "$lib/libcachepot-sandbox.so.0" | grep -q 'SONAME.*libcachepot-sandbox.so.0' ||
    { echo "FAIL: no SONAME libcachepot-sandbox.so.0" >&2; exit 1; }
bad=$(nm -D --defined-only "$lib/libcachepot-sandbox.so.0" | awk '$2 == "T" {print $3}' |
    sed 's/@.*//' | grep -v '^cps_' | grep -v '^__' || true)
[ -z "$bad" ] || { echo "FAIL: exported beyond the public API: $bad" >&2; exit 1; }
nm -D --defined-only "$lib/libcachepot-sandbox.so.0" | grep -q ' cps__' &&
    { echo "FAIL: internal cps__ symbols exported" >&2; exit 1; }

cat >"$P/consumer.c" <<'C'
#include <cachepot-sandbox.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

int main(void)
{
    struct cps_job_spec *job = cps_job_new();
    struct cps_run_options *opts = cps_run_options_new();
    struct cps_result *res;
    struct cps_error err;
    const char *argv[] = {"true"};

    cps_job_set_toolchain(job, "/", &err);
    cps_job_set_argv(job, 1, argv, &err);
    opts->helper_path = "/nonexistent/cachepot-dist-sandbox";
    int r = cps_run(job, opts, &res, &err);
    printf("%s %d %s\n", cps_version(), r, err.stage);
    cps_run_options_free(opts);
    cps_job_free(job);
    return r == -ENOENT && strcmp(err.stage, "spawn") == 0 ? 0 : 1;
}
C
export PKG_CONFIG_PATH="$lib/pkgconfig"
pc_prefix=$(pkg-config --variable=prefix cachepot-sandbox)
# The .pc file names the configured prefix; point the compiler at the staged one.
cflags=$(pkg-config --cflags cachepot-sandbox | sed "s|$pc_prefix|$P/usr|g")
libs=$(pkg-config --libs cachepot-sandbox | sed "s|$pc_prefix|$P/usr|g")
# Static: our archive, and what the .pc file's Requires.private lists (Debian
# ships libcbor as a shared library only).
static_libs="$lib/libcachepot-sandbox.a $(pkg-config --static --libs cachepot-sandbox |
    sed "s|$pc_prefix|$P/usr|g; s|-lcachepot-sandbox||")"
sanitize=
nm "$lib/libcachepot-sandbox.a" 2>/dev/null | grep -q __asan_ && sanitize=-fsanitize=address,undefined
# shellcheck disable=SC2086
cc $sanitize -o "$P/consumer-shared" "$P/consumer.c" $cflags $libs
# shellcheck disable=SC2086
cc $sanitize -o "$P/consumer-static" "$P/consumer.c" $cflags $static_libs
LD_LIBRARY_PATH=$lib "$P/consumer-shared"
"$P/consumer-static"
echo "ok: installed header, shared + static library, pkg-config file, helper and CLIs work"
