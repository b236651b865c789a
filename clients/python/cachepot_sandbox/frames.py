"""Framing: a 4-byte big-endian length, then exactly that many bytes of CBOR
(docs/PROTOCOL.md, "Transport"; common/frame.c)."""

import errno

from . import limits
from .errors import SandboxError


class FrameReader:
    """Assembles one frame at a time from a non-blocking socket. The declared
    length is checked against the cap before a byte of the payload is read, and
    the reader never reads past the end of the frame it is assembling, so it
    holds at most one frame (max_frame bytes)."""

    def __init__(self, max_frame=limits.MAX_FRAME):
        self.max_frame = max_frame
        self._head = bytearray(4)
        self._have = 0
        self._payload = None

    def feed(self, sock):
        """Read what is there. Returns a complete payload (bytearray, new), or
        None when the socket has no more bytes now. Raises SandboxError stage
        "frame": ECONNRESET (clean EOF between frames), EPROTO (EOF inside a
        frame), EMSGSIZE (declared length 0 or above the cap)."""
        while True:
            if self._payload is None:
                view, need = memoryview(self._head)[self._have:], 4 - self._have
            else:
                view, need = memoryview(self._payload)[self._have:], len(self._payload) - self._have
            try:
                n = sock.recv_into(view, need)
            except (BlockingIOError, InterruptedError):
                return None
            except OSError as e:
                raise SandboxError("frame", e.errno or errno.EIO, f"read: {e.strerror}") from e
            if n == 0:
                if self._payload is None and self._have == 0:
                    raise SandboxError("frame", errno.ECONNRESET, "peer closed the connection")
                raise SandboxError("frame", errno.EPROTO,
                                   "peer closed the connection in the middle of a frame")
            self._have += n
            if self._payload is None:
                if self._have < 4:
                    continue
                size = int.from_bytes(self._head, "big")
                if size == 0 or size > self.max_frame:
                    raise SandboxError("frame", errno.EMSGSIZE,
                                       f"frame of {size} bytes, not 1..{self.max_frame}")
                self._payload = bytearray(size)
                self._have = 0
                continue
            if self._have == len(self._payload):
                payload, self._payload, self._have = self._payload, None, 0
                return payload


def frame(payload):
    """The bytes on the wire for one payload."""
    return len(payload).to_bytes(4, "big") + payload
