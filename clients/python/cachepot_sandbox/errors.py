"""SandboxError: what went wrong, where, and what to do about it."""

import errno as _errno
import os


class SandboxError(Exception):
    """The error of the C library's struct cps_error, as an exception.

    stage is a short word ("spawn", "hello", "decode", "protocol", "helper",
    "output", "timeout", "cancel", or the helper's own stage such as
    "uid_map" or "overlay"); errno a positive errno value (0 when none
    applies); message says what was attempted on what; hint names the knob to
    turn ("" when there is none).
    """

    def __init__(self, stage, errno, message, hint=""):
        super().__init__(message)
        self.stage = stage
        self.errno = errno
        self.message = message
        self.hint = hint

    def __str__(self):
        text = f"{self.stage}: {self.message}"
        if self.errno:
            name = _errno.errorcode.get(self.errno, str(self.errno))
            text += f" ({name})"
        if self.hint:
            text += f" (hint: {self.hint})"
        return text

    def __repr__(self):
        return (f"SandboxError(stage={self.stage!r}, errno={self.errno!r}, "
                f"message={self.message!r}, hint={self.hint!r})")


def errtext(err):
    """strerror() of an errno value."""
    return os.strerror(err)
