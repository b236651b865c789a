"""Writing output files below a directory without ever leaving it
(parent/lib/output_sink.c). Names come from Output.name (relative, normalized, no
".."); every directory on the way is opened with O_NOFOLLOW relative to the one
before, and the file is created with O_EXCL after unlinking what was there, so
neither a symlink nor a hard link planted in the out dir redirects a write."""

import errno
import os

from .errors import SandboxError

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class OutputDir:
    """Feed it the Output and OutputMissing events of a session; it writes
    each file as its chunks arrive (one chunk in memory at a time) and removes a
    file that did not arrive whole."""

    def __init__(self, path):
        self.path = os.fspath(path)
        try:
            self._dirfd = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError as e:
            raise SandboxError("output", e.errno, f"open out dir {self.path}: {e.strerror}",
                               "create the out dir first") from e
        self._fd = None
        self._name = None
        self.written = []  # names of the files written whole

    def _walk_to_parent(self, name, create):
        """(fd of the directory holding name's last component, leaf). The fd is
        new unless it is the out dir's own."""
        parts = name.split("/")
        dfd = self._dirfd
        try:
            for part in parts[:-1]:
                if create:
                    try:
                        os.mkdir(part, 0o755, dir_fd=dfd)
                    except FileExistsError:
                        pass
                nxt = os.open(part, _DIR_FLAGS, dir_fd=dfd)
                if dfd != self._dirfd:
                    os.close(dfd)
                dfd = nxt
        except OSError:
            if dfd != self._dirfd:
                os.close(dfd)
            raise
        return dfd, parts[-1]

    def _fail(self, what, e):
        raise SandboxError("output", e.errno or errno.EIO,
                           f"{what} {self.path}/{self._name}: {e.strerror}") from e

    def begin(self, name, mode):
        self.abort()
        self._name = name
        try:
            dfd, leaf = self._walk_to_parent(name, True)
        except OSError as e:
            self._fail("create", e)
        try:
            try:
                os.unlink(leaf, dir_fd=dfd)
            except FileNotFoundError:
                pass
            self._fd = os.open(leaf, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
                               | os.O_CLOEXEC, mode & 0o777, dir_fd=dfd)
        except OSError as e:
            self._fail("create", e)
        finally:
            if dfd != self._dirfd:
                os.close(dfd)

    def write(self, data):
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(self._fd, view):]
        except OSError as e:
            self._fail("write", e)

    def end(self):
        fd, self._fd = self._fd, None
        try:
            os.close(fd)
        except OSError as e:
            self._remove(self._name)
            self._fail("close", e)
        self.written.append(self._name)
        self._name = None

    def event(self, ev):
        """Handle an Output or OutputMissing event (others are ignored)."""
        kind = type(ev).__name__
        if kind == "Output":
            if self._fd is None or self._name != ev.name:
                self.begin(ev.name, ev.mode)
            self.write(ev.data)
            if ev.end:
                self.end()
        elif kind == "OutputMissing":
            self.abort()

    def _remove(self, name):
        try:
            dfd, leaf = self._walk_to_parent(name, False)
        except OSError:
            return
        try:
            os.unlink(leaf, dir_fd=dfd)
        except OSError:
            pass
        finally:
            if dfd != self._dirfd:
                os.close(dfd)

    def abort(self):
        """Never leave a truncated file that looks like a result."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
            self._remove(self._name)
        self._name = None

    def close(self):
        self.abort()
        if self._dirfd is not None:
            os.close(self._dirfd)
            self._dirfd = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
