"""Starting the helper with os.posix_spawn, ending it, reaping it
(parent/lib/helper_proc.c). Never fork(): the worker may have threads, and a
forked child of a threaded process may only call async-signal-safe functions,
which Python code is not."""

import errno
import fcntl
import os
import select
import signal
import socket
import time

from .errors import SandboxError
from .features import HELLO_FEATURES_ENV

HELPER_FD = 3
INSTALL_PATH = "/usr/local/libexec/cachepot-dist-sandbox"

# The only variables the helper sees: its own knobs, and PATH to find bwrap
# and fuse-overlayfs. Everything else of the worker stays out.
PASSED_ENV = ("PATH", "CACHEPOT_LOG", "CACHEPOT_SANDBOX", "CACHEPOT_BWRAP", "CACHEPOT_SCRATCH")


def helper_path(explicit=None):
    """explicit, else $CACHEPOT_SANDBOX_HELPER, else the installed path."""
    if explicit:
        return os.fspath(explicit)
    return os.environ.get("CACHEPOT_SANDBOX_HELPER") or INSTALL_PATH


def _helper_argv(path, job):
    argv = [path]
    if job.uid is not None:
        argv += ["--uid", str(job.uid)]
    if job.gid is not None:
        argv += ["--gid", str(job.gid)]
    if job.backend is not None:
        argv += ["--backend", job.backend]
    if job.seccomp is False:
        argv.append("--no-seccomp")
    return argv


def _close_actions():
    """File actions closing every inheritable fd above 3.

    Python 3.11's posix_spawn has no closefrom action (POSIX_SPAWN_CLOSEFROM is
    3.13). Every fd Python opens is close-on-exec already (PEP 446), so only fds
    someone made inheritable on purpose would leak into the helper: close
    those. Where the action exists, it closes everything, as the C library's
    posix_spawn_file_actions_addclosefrom_np (glibc 2.34) does."""
    if hasattr(os, "POSIX_SPAWN_CLOSEFROM"):
        return [(os.POSIX_SPAWN_CLOSEFROM, HELPER_FD + 1)]
    actions = []
    try:
        names = os.listdir("/proc/self/fd")
    except OSError:
        return actions  # no /proc: PEP 446 alone keeps Python's fds out
    for name in names:
        fd = int(name)
        if fd > HELPER_FD:
            try:
                if os.get_inheritable(fd):
                    actions.append((os.POSIX_SPAWN_CLOSE, fd))
            except OSError:
                pass  # the listing's own fd, or one closed meanwhile
    return actions


class HelperProc:
    """A spawned helper: pid, pidfd (None without pidfd_open) and our end of
    the socket (non-blocking)."""

    def __init__(self, path, job):
        self.path = path
        self.pid = 0
        self.pidfd = None
        self.sock = None
        self.status = None  # os.waitpid() status once reaped; -1: reaped elsewhere
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        # Place the helper's end where dup2() can put it at fd 3: dup2() onto
        # the same number leaves FD_CLOEXEC set (dup2(2)), so an end that
        # already is fd 3 would be closed at exec, and one at 0..2 would stay
        # behind as the helper's stdin/stdout/stderr. Both ends stay
        # close-on-exec so no other thread's spawn inherits them.
        if theirs.fileno() <= HELPER_FD:
            moved = fcntl.fcntl(theirs.fileno(), fcntl.F_DUPFD_CLOEXEC, HELPER_FD + 1)
            theirs.close()
            theirs = socket.socket(fileno=moved)
        env = {k: os.environ[k] for k in PASSED_ENV if k in os.environ}
        # This side reads hello.features, so it always asks for it.
        env[HELLO_FEATURES_ENV] = "1"
        actions = [
            (os.POSIX_SPAWN_DUP2, theirs.fileno(), HELPER_FD),
            (os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
            (os.POSIX_SPAWN_OPEN, 1, "/dev/null", os.O_WRONLY, 0),
        ] + [a for a in _close_actions() if a[1] not in (ours.fileno(), theirs.fileno())]
        try:
            # The worker may block or handle signals; the helper must start with
            # nothing blocked and every signal at its default, or a SIGTERM or
            # SIGPIPE it relies on would be lost.
            self.pid = os.posix_spawn(path, _helper_argv(path, job), env, file_actions=actions,
                                      setsigmask=(), setsigdef=signal.valid_signals())
        except OSError as e:
            ours.close()
            raise SandboxError("spawn", e.errno or errno.EIO,
                               f"cannot run the helper {path}: {e.strerror}",
                               "install cachepot-dist-sandbox, or point CACHEPOT_SANDBOX_HELPER "
                               "(or the helper option) at it") from e
        finally:
            theirs.close()
        self.sock = ours
        ours.setblocking(False)
        # A pidfd tells us the helper died even if a process it started still
        # holds the socket open (pidfd_open(2), Linux 5.3). Without one, EOF
        # must do.
        try:
            self.pidfd = os.pidfd_open(self.pid)
        except (OSError, AttributeError):
            self.pidfd = None

    def describe(self):
        return f"{self.path} (pid {self.pid})"

    def kill(self):
        if self.pid <= 0 or self.status is not None:
            return
        # Not reaped yet, so the pid cannot have been reused; the pidfd avoids
        # even that question when another part of the worker reaps children.
        try:
            if self.pidfd is not None:
                signal.pidfd_send_signal(self.pidfd, signal.SIGKILL)
                return
        except OSError:
            pass
        try:
            os.kill(self.pid, signal.SIGKILL)
        except OSError:
            pass

    def try_reap(self, block=False):
        if self.status is not None or self.pid <= 0:
            return True
        while True:
            try:
                pid, status = os.waitpid(self.pid, 0 if block else os.WNOHANG)
            except ChildProcessError:
                # The worker reaps children itself (or ignores SIGCHLD).
                self.status = -1
                return True
            except InterruptedError:
                continue
            if pid == 0:
                return False
            self.status = status
            return True

    def finish(self, grace):
        """Wait up to grace seconds for the helper to exit, kill it after that,
        reap it, close our fds. grace 0: kill now."""
        if self.status is None and self.pid > 0:
            if self.pidfd is not None and self.sock is not None:
                # Our EOF tells a helper that still waits for anything from us
                # to stop (docs/PROTOCOL.md, Transport); its pidfd says when
                # it has.
                self.sock.close()
                self.sock = None
            if grace > 0:
                self._wait_exit(grace)
            if not self.try_reap():
                self.kill()
                self.try_reap(block=True)
        self.close()

    def _wait_exit(self, grace):
        deadline = time.monotonic() + grace
        poller = select.poll()
        if self.pidfd is not None:
            poller.register(self.pidfd, select.POLLIN)
            while True:
                left = deadline - time.monotonic()
                if left <= 0 or poller.poll(left * 1000 + 1):
                    return
        if self.sock is None:
            return
        # No pidfd: EOF on the socket is the helper closing its end at exit.
        poller.register(self.sock, select.POLLIN)
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not poller.poll(left * 1000 + 1):
                return
            try:
                if self.sock.recv(65536) == b"":
                    return
            except BlockingIOError:
                continue
            except OSError:
                return

    def close(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        if self.pidfd is not None:
            os.close(self.pidfd)
            self.pidfd = None

    def status_text(self):
        st = self.status
        if st is None or st == -1:
            return "ended (its status was collected elsewhere)"
        if os.WIFSIGNALED(st):
            sig = os.WTERMSIG(st)
            return f"was killed by signal {sig} ({signal.strsignal(sig) or 'unknown'})"
        return f"exited with status {os.WEXITSTATUS(st)}"
