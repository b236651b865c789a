"""Fixtures of the cachepot_sandbox tests.

run-tests.sh runs them through tests/parent/run-real.sh, as root and as uid
65534, which sets CACHEPOT_SANDBOX_HELPER (the helper built by CMake),
CPS_TEST_TOOLCHAIN (the busybox test toolchain or the packaged host gcc),
CPS_BIN (the fake helper and the C CLI) and TMPDIR (a directory the test's
uid owns). CPS_VECTORS names tests/vectors. A test that needs one of them and
does not find it fails: nothing is skipped silently.
"""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

FAKE_MODES = ("ok", "wrongproto", "garbage", "crash", "hang", "silent", "vanish", "noscratch",
              "oldhello")


def _env(name):
    value = os.environ.get(name)
    if not value:
        pytest.fail(f"{name} is not set: run the tests with clients/python/tests/run-tests.sh")
    return value


@pytest.fixture(scope="session")
def vectors_dir():
    return _env("CPS_VECTORS")


@pytest.fixture(scope="session")
def helper():
    path = _env("CACHEPOT_SANDBOX_HELPER")
    assert os.access(path, os.X_OK), path
    return path


@pytest.fixture(scope="session")
def toolchain():
    return _env("CPS_TEST_TOOLCHAIN")


@pytest.fixture(scope="session")
def bin_dir():
    return _env("CPS_BIN")


@pytest.fixture(scope="session")
def fakes(bin_dir, tmp_path_factory):
    """A dir of symlinks to the fake helper, one per behaviour (the fake picks
    its behaviour from the name it is run as)."""
    binary = os.path.join(bin_dir, "cps-fake-helper")
    assert os.access(binary, os.X_OK), binary
    d = tmp_path_factory.mktemp("fakes")
    for mode in FAKE_MODES:
        os.symlink(binary, d / mode)
    return d
