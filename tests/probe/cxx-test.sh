#!/bin/bash
# cxx-test.sh - the default limits are sane for a real compiler: a C++
# translation unit that pulls in <iostream>, <regex>, <map> and friends,
# preprocessed on the host, compiled by the packaged g++ at -O2 -g inside the
# sandbox with every limit at its default (no --timeout either).
#
# usage: cxx-test.sh RUN HELPER TOOLCHAIN-SCRIPT [UID]
set -u

[ $# -ge 3 ] || { echo "usage: $0 RUN HELPER TOOLCHAIN-SCRIPT [UID]" >&2; exit 2; }
run=$1 helper=$2 package=$3 user=${4:-}
command -v g++ > /dev/null || { echo "SKIP: no g++ on this host"; exit 77; }

top=$(mktemp -d /tmp/cps-cxx.XXXXXX)
chmod 755 "$top"
trap 'rm -rf "$top"' EXIT
mkdir -m 755 "$top/bin"
cp "$run" "$top/bin/cachepot-dist-run"
cp "$helper" "$top/bin/cachepot-dist-sandbox"
chmod 755 "$top/bin"/*
"$package" --out "$top/tc" g++ > /dev/null || { echo "FAIL: packaging g++"; exit 1; }
chmod 755 "$top/tc"

cat > "$top/big.cc" << 'EOF'
#include <algorithm>
#include <iostream>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <unordered_map>
#include <vector>

// Enough template instantiation to make the compiler work: regex (the
// heaviest of the standard headers), maps of vectors, streams.
int main(int argc, char **argv)
{
    std::map<std::string, std::vector<int>> m;
    std::unordered_map<std::string, std::size_t> counts;
    std::regex word("([a-z]+)([0-9]*)", std::regex::ECMAScript | std::regex::icase);
    for (int i = 0; i < argc; i++) {
        std::string a(argv[i]);
        for (std::sregex_iterator it(a.begin(), a.end(), word), end; it != end; ++it) {
            m[(*it)[1]].push_back(static_cast<int>(it->position()));
            counts[(*it)[1]]++;
        }
    }
    std::ostringstream out;
    for (auto &[k, v] : m) {
        std::sort(v.begin(), v.end());
        out << k << ' ' << v.size() << ' ' << counts[k] << '\n';
    }
    std::cout << std::regex_replace(out.str(), std::regex("\\s+"), " ") << std::endl;
    return 0;
}
EOF
g++ -std=c++17 -E "$top/big.cc" -o "$top/big.ii" || { echo "FAIL: preprocessing"; exit 1; }
echo "translation unit: $(wc -l < "$top/big.ii") preprocessed lines"
mkdir -m 700 "$top/tmp" "$top/out"
[ -z "$user" ] || chown "$user" "$top/tmp" "$top/out"
chmod 644 "$top/big.ii"

cmd=("$top/bin/cachepot-dist-run" --toolchain "$top/tc" --helper "$top/bin/cachepot-dist-sandbox"
    --input "$top/big.ii:/build/big.ii" --output /build/big.o --cwd /build --out-dir "$top/out"
    --json "$top/tmp/json" -- g++ -std=c++17 -O2 -g -fpreprocessed -x c++-cpp-output -c big.ii
    -o big.o)
[ -z "$user" ] || cmd=(setpriv --reuid="$user" --regid="$user" --clear-groups -- "${cmd[@]}")
TMPDIR=$top/tmp CACHEPOT_LOG=info "${cmd[@]}"
status=$?
cat "$top/tmp/json" 2> /dev/null
echo
[ "$status" -eq 0 ] || { echo "FAIL: g++ under the default limits: status $status"; exit 1; }
head -c 4 "$top/out/build/big.o" | grep -q 'ELF' || { echo "FAIL: big.o is not an object"; exit 1; }
echo "ok: big.o ($(stat -c %s "$top/out/build/big.o") bytes) built under the default limits"
