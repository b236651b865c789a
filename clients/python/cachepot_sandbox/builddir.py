"""Temporary build dirs and what a dead helper left in them
(parent/lib/host_builddir.c). The helper removes its upper/ work/ target/; one that
was killed could not, so the session removes them: without following symlinks
(a job's target/ may hold one pointing anywhere), without crossing into another
filesystem (something mounted there could be the toolchain)."""

import errno
import os
import stat
import tempfile

from .errors import SandboxError

_MAX_DEPTH = 128
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def make_temp():
    tmp = os.environ.get("TMPDIR", "")
    if not tmp.startswith("/"):
        tmp = "/tmp"
    try:
        return os.path.realpath(tempfile.mkdtemp(prefix="cachepot-build-", dir=tmp))
    except OSError as e:
        raise SandboxError("builddir", e.errno, f"create a build dir under {tmp}: {e.strerror}",
                           "set TMPDIR to a writable directory") from e


def prepare(path):
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    except OSError as e:
        raise SandboxError("job", e.errno, f"create build dir {path}: {e.strerror}") from e
    try:
        return os.path.realpath(path, strict=True)
    except OSError as e:
        raise SandboxError("job", e.errno, f"build dir {path}: {e.strerror}") from e


def _remove_at(dirfd, name, dev, depth):
    try:
        st = os.stat(name, dir_fd=dirfd, follow_symlinks=False)
    except FileNotFoundError:
        return
    if not stat.S_ISDIR(st.st_mode):
        os.unlink(name, dir_fd=dirfd)
        return
    if st.st_dev != dev or depth > _MAX_DEPTH:
        raise OSError(errno.EBUSY, "a mount point or too deep: left in place")
    try:
        fd = os.open(name, _DIR_FLAGS, dir_fd=dirfd)
    except PermissionError:
        # overlayfs makes work/work mode 000; we own it, so we may open it up.
        os.chmod(name, 0o700, dir_fd=dirfd)
        fd = os.open(name, _DIR_FLAGS, dir_fd=dirfd)
    try:
        # Entries of a read-only directory cannot be unlinked without write
        # permission.
        if st.st_mode & 0o700 != 0o700:
            os.fchmod(fd, 0o700)
        for entry in os.listdir(fd):
            _remove_at(fd, entry, dev, depth + 1)
    finally:
        os.close(fd)
    os.rmdir(name, dir_fd=dirfd)


def clean(build_dir):
    """Remove upper/ work/ target/ left in build_dir; errors leave things in place."""
    try:
        fd = os.open(build_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return
    try:
        dev = os.fstat(fd).st_dev
        for name in ("upper", "work", "target"):
            try:
                _remove_at(fd, name, dev, 0)
            except OSError:
                pass
    finally:
        os.close(fd)


def remove_tree(path):
    try:
        st = os.lstat(path)
        _remove_at(None, path, st.st_dev, 0)
    except OSError:
        pass
