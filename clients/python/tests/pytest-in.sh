#!/bin/sh
# pytest-in.sh PYTHON TESTDIR FILE... - run by run-real.sh as the test's uid.
# No cache dir and no bytecode files: the copied tree belongs to root.
set -eu
py=$1 dir=$2
shift 2
cd "$dir"
echo "pytest as uid $(id -u), $("$py" --version), cbor2 $("$py" -c 'import cbor2, importlib.metadata as m; print(m.version("cbor2"))')"
exec "$py" -m pytest -p no:cacheprovider -v --basetemp="$TMPDIR/pytest" "$@"
