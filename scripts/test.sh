#!/usr/bin/env bash
# Run every test: installs what is missing, builds with ASan+UBSan and -Werror
# in build-test/, runs ctest. As root, the sandbox tests run twice: as root and
# as uid 65534 (nobody). Extra arguments go to ctest (e.g. -R helper).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${CPS_TEST_BUILD_DIR:-$top/build-test}

"$top/scripts/install-deps.sh"
cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=Debug -DCPS_SANITIZE=ON -DCPS_WERROR=ON >/dev/null
cmake --build "$build" -j "$(nproc)"
cd "$build"
ctest --output-on-failure -j 2 "$@"
