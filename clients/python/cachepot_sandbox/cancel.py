"""CancelToken: cancels every session using it, from any thread."""

import os
import threading


class CancelToken:
    """cancel() may be called from any thread, any number of times. Sessions
    poll the read end of a pipe that becomes readable once and stays so (it is
    never read), so one token serves any number of sessions, running or
    started later. close() it when no session uses it any more."""

    def __init__(self):
        self._lock = threading.Lock()
        self._fired = False
        self._r, self._w = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)

    def cancel(self):
        with self._lock:
            if self._fired or self._w is None:
                return
            self._fired = True
            os.write(self._w, b"x")

    @property
    def cancelled(self):
        return self._fired

    def fileno(self):
        return self._r

    def close(self):
        with self._lock:
            for fd in (self._r, self._w):
                if fd is not None:
                    os.close(fd)
            self._r = self._w = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
