"""The allocation-free pre-scan of an untrusted frame, run before cbor2.

cbor2 is not strict: it accepts indefinite lengths, tags, floats, null,
duplicate map keys (the last one wins) and trailing bytes, and it believes a
declared length until the bytes run out. This walk reads only the item heads,
builds nothing, and refuses everything the protocol does not use, so cbor2
only ever sees small, definite, shallow items (docs/PROTOCOL.md, "Decoding
untrusted frames", rule 2). It follows common/scan.c step by step, so that
both sides refuse the same frames with the same messages.
"""

from . import limits

# How deep the walk follows a frame that already broke a rule (to find the
# "protocol" of a hello from another version); deeper frames stop the walk.
_WALK_DEPTH = 32

(K_UINT, K_NEGINT, K_BYTES, K_TEXT, K_BYTES_INDEF, K_TEXT_INDEF, K_ARRAY,
 K_ARRAY_INDEF, K_MAP, K_MAP_INDEF, K_TAG, K_FLOAT, K_NULL, K_UNDEFINED,
 K_BOOL, K_BREAK) = range(16)

_SHORT = "short"
_MALFORMED = "malformed"


class Scan:
    """What the walk found. violation is the first rule the frame breaks ("" when
    none). is_hello/has_protocol/protocol peek at the top-level map even past a
    violation, so that a hello of another protocol version is recognised however
    the rest of it looks. duplicates holds (map field, key) of every repeated
    text key, for the schema step to report as common/'s map_fields() does."""

    __slots__ = ("violation", "is_hello", "has_protocol", "protocol", "duplicates")

    def __init__(self):
        self.violation = ""
        self.is_hello = False
        self.has_protocol = False
        self.protocol = 0
        self.duplicates = []


class _Level:
    __slots__ = ("indefinite", "is_map", "is_string", "remaining", "seen", "key", "keys", "where")

    def __init__(self, indefinite=False, is_map=False, is_string=False, remaining=0, where=""):
        self.indefinite = indefinite
        self.is_map = is_map
        self.is_string = is_string
        self.remaining = remaining
        self.seen = 0
        self.key = ""
        self.keys = set() if is_map else None
        self.where = where


def _argument(buf, pos, n, ai):
    """The head's argument and the head's length, or _SHORT / _MALFORMED."""
    if ai < 24:
        return ai, 1
    if ai > 27:
        return _MALFORMED, 0
    extra = 1 << (ai - 24)
    if n - pos < 1 + extra:
        return _SHORT, 0
    return int.from_bytes(buf[pos + 1:pos + 1 + extra], "big"), 1 + extra


def _head(buf, pos, n):
    """One event of the stream, as libcbor's cbor_stream_decode reports it:
    (kind, value, bytes read) or (_SHORT | _MALFORMED, 0, 0)."""
    ib = buf[pos]
    major, ai = ib >> 5, ib & 0x1F
    if major == 7:
        if ai == 20 or ai == 21:
            return K_BOOL, ai == 21, 1
        if ai == 22:
            return K_NULL, 0, 1
        if ai == 23:
            return K_UNDEFINED, 0, 1
        if 25 <= ai <= 27:
            size = 1 + (1 << (ai - 24))
            return (K_FLOAT, 0, size) if n - pos >= size else (_SHORT, 0, 0)
        if ai == 31:
            return K_BREAK, 0, 1
        # Unassigned simple values (0xe0..0xf3, 0xf8) and 0xfc..0xfe: libcbor
        # 0.8 reports these as a decoder error.
        return _MALFORMED, 0, 0
    if ai == 31:
        indef = {2: K_BYTES_INDEF, 3: K_TEXT_INDEF, 4: K_ARRAY_INDEF, 5: K_MAP_INDEF}
        if major in indef:
            return indef[major], 0, 1
        return _MALFORMED, 0, 0
    value, size = _argument(buf, pos, n, ai)
    if value in (_SHORT, _MALFORMED):
        return value, 0, 0
    if major == 0:
        return K_UINT, value, size
    if major == 1:
        return K_NEGINT, value, size
    if major in (2, 3):
        if value > n - pos - size:
            return _SHORT, 0, 0
        return (K_BYTES if major == 2 else K_TEXT), value, size + value
    if major == 4:
        return K_ARRAY, value, size
    if major == 5:
        return K_MAP, value, size
    return K_TAG, value, size


def _printable(data, size=40):
    """data as text when it is printable ASCII without quotes shorter than size
    (common/scan.c keeps keys in char[40], the type in char[24]), else ""."""
    if len(data) == 0 or len(data) >= size:
        return ""
    for b in data:
        if b < 0x21 or b > 0x7E or b == 0x22 or b == 0x5C:
            return ""
    return bytes(data).decode("ascii")


class _Walk:
    def __init__(self, buf, out):
        self.buf = buf
        self.out = out
        self.stack = []
        self.done = False
        self.outstanding = 0
        self.items = 0
        self.pending = None
        self.type = ""
        self.where = ""
        self.what = ""
        self.kind = None
        self.value = 0
        self.data = b""

    def violate(self, message):
        if not self.out.violation:
            self.out.violation = message

    def render_where(self):
        """Where the item that begins now sits, as ".argv[1]" (the message type
        is known only at the end of the walk)."""
        parts = []
        for level in self.stack:
            if level.is_string:
                break
            if level.is_map and level.seen % 2 == 0:
                parts.append(" (a map key)")
            elif level.is_map:
                parts.append("." + (level.key or "?"))
            else:
                parts.append(f"[{level.seen}]")
        return "".join(parts)

    def check_text(self):
        """A definite text string begins: protocol text must be UTF-8; a map key
        is remembered for naming fields and for finding duplicates."""
        top = self.stack[-1] if self.stack else None
        data = self.data
        if not self.what:
            try:
                bytes(data).decode("utf-8")
            except UnicodeDecodeError:
                self.where = self.render_where()
                self.what = "text is not valid UTF-8"
        if top is not None and top.is_map and top.seen % 2 == 0:
            top.key = _printable(data)
            key = bytes(data)
            if key in top.keys:
                self.out.duplicates.append((top.where, key))
            else:
                top.keys.add(key)

    def peek(self):
        """Remember the top-level "type" and "protocol" for the hello check."""
        if len(self.stack) != 1 or not self.stack[0].is_map:
            return
        top = self.stack[0]
        is_text = self.kind == K_TEXT
        if top.seen % 2 == 0:
            key = bytes(self.data) if is_text else None
            self.pending = key if key in (b"type", b"protocol") else None
            return
        if self.pending == b"type" and is_text and bytes(self.data) == b"hello":
            self.out.is_hello = True
        if self.pending == b"type" and is_text and not self.type:
            self.type = _printable(self.data, 24)
        if self.pending == b"protocol" and self.kind == K_UINT and not self.out.has_protocol:
            self.out.has_protocol = True
            self.out.protocol = self.value
        self.pending = None

    def complete(self):
        """An item is complete: count it in its parent, closing every definite
        container it completes."""
        while self.stack:
            top = self.stack[-1]
            top.seen += 1
            if top.indefinite:
                return
            top.remaining -= 1
            if top.remaining > 0:
                return
            self.stack.pop()
        self.done = True

    def open_container(self, pos, is_map, indefinite, n, left):
        what = "map" if is_map else "array"
        if len(self.stack) + 1 > limits.MAX_DEPTH:
            self.violate(f"frame: {what} at byte {pos} nests deeper than {limits.MAX_DEPTH} levels")
        if indefinite:
            self.violate(f"frame: indefinite-length {what} at byte {pos} "
                         "(only definite lengths are allowed)")
        else:
            items = 2 * n if is_map else n
            # Every declared item takes at least one byte: a count above the
            # bytes left (counting the items enclosing containers still
            # expect) is a lie, and believing it costs memory.
            if items > left:
                self.violate(f"frame: {what} at byte {pos} declares {items} items "
                             f"but only {left} bytes are left")
                return False
            if self.outstanding + items > left:
                self.violate(f"frame: {what} at byte {pos} declares {items} items; with the "
                             f"{self.outstanding} items the enclosing containers still expect "
                             f"that is more than the {left} bytes left")
                return False
            if items > limits.MAX_ITEMS - self.items:
                self.violate(f"frame: more than {limits.MAX_ITEMS} items in one frame")
                return False
            self.items += items
            if items == 0:
                self.complete()
                return True
            self.outstanding += items
        if len(self.stack) >= _WALK_DEPTH:
            return False
        where = self.render_where() if is_map else ""
        self.stack.append(_Level(indefinite=indefinite, is_map=is_map,
                                 remaining=0 if indefinite else items, where=where))
        return True

    def report_short(self, pos, n):
        ib = self.buf[pos]
        major = ib >> 5
        if major in (2, 3) and (ib & 0x1F) <= 27:
            declared, size = _argument(self.buf, pos, n, ib & 0x1F)
            if declared not in (_SHORT, _MALFORMED):
                name = "byte string" if major == 2 else "text string"
                self.violate(f"frame: {name} at byte {pos} declares {declared} bytes "
                             f"but only {n - pos - size} bytes are left")
                return
        self.violate(f"frame: truncated CBOR item at byte {pos}")

    def run(self):
        buf = self.buf
        n = len(buf)
        pos = 0
        top_is_map = False
        stopped = False
        if n == 0:
            self.violate("frame: empty")
            return False
        while pos < n:
            if self.done:
                self.violate(f"frame: {n - pos} trailing bytes after the message")
                break
            kind, value, read = _head(buf, pos, n)
            if kind == _SHORT:
                self.report_short(pos, n)
                break
            if kind == _MALFORMED:
                self.violate(f"frame: malformed CBOR at byte {pos}")
                break
            self.kind, self.value = kind, value
            self.data = buf[pos + read - value:pos + read] if kind in (K_BYTES, K_TEXT) else b""
            left = n - pos - read
            if not self.stack and kind != K_TAG:
                top_is_map = kind in (K_MAP, K_MAP_INDEF)
            # An item begins (a break ends one, a tag only prefixes one).
            if kind not in (K_BREAK, K_TAG) and self.stack and not self.stack[-1].indefinite:
                self.outstanding -= 1
            if kind == K_TEXT:
                self.check_text()
            self.peek()

            if kind in (K_UINT, K_NEGINT, K_BYTES, K_TEXT, K_BOOL):
                self.complete()
            elif kind == K_FLOAT:
                self.violate(f"frame: floating-point number at byte {pos} (not allowed)")
                self.complete()
            elif kind in (K_NULL, K_UNDEFINED):
                name = "null" if kind == K_NULL else "undefined"
                self.violate(f"frame: {name} at byte {pos} (not allowed)")
                self.complete()
            elif kind == K_TAG:
                # A tag prefixes the item that follows; that item fills the slot.
                self.violate(f"frame: tag {value} at byte {pos} (tags are not allowed)")
            elif kind in (K_BYTES_INDEF, K_TEXT_INDEF):
                name = "byte string" if kind == K_BYTES_INDEF else "text string"
                self.violate(f"frame: indefinite-length {name} at byte {pos} "
                             "(only definite lengths are allowed)")
                if len(self.stack) >= _WALK_DEPTH:
                    stopped = True
                    break
                self.stack.append(_Level(indefinite=True, is_string=True))
            elif kind in (K_ARRAY, K_MAP, K_ARRAY_INDEF, K_MAP_INDEF):
                if not self.open_container(pos, kind in (K_MAP, K_MAP_INDEF),
                                           kind in (K_ARRAY_INDEF, K_MAP_INDEF), value, left):
                    stopped = True
                    break
            elif kind == K_BREAK:
                if not self.stack or not self.stack[-1].indefinite:
                    self.violate(f"frame: unexpected break at byte {pos}")
                    stopped = True
                    break
                self.stack.pop()
                self.complete()
            pos += read
        if not stopped and not self.done:
            self.violate(f"frame: truncated message ({n} bytes)")
        # Checked last so that the more telling violations of a top-level array
        # or string (a declared size of gigabytes) are the ones reported.
        if not top_is_map:
            self.violate("frame: the message must be a map")
        # A field-level violation, reported with the message type now known.
        if self.what:
            self.violate(f"{self.type or 'message'}{self.where}: {self.what}")
        return not self.out.violation


def scan_frame(buf):
    """Walk buf (bytes, bytearray or memoryview; borrowed). Returns a Scan whose
    violation is "" when buf is exactly one CBOR map that follows every rule of
    the pre-scan."""
    out = Scan()
    walk = _Walk(memoryview(buf), out)
    walk.run()
    # The message type, known only now, names the maps of the duplicates.
    out.duplicates = [((walk.type or "message") + where, key) for where, key in out.duplicates]
    return out
