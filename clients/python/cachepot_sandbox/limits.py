"""The numbers of protocol version 1 (common/cps_limits.h, docs/PROTOCOL.md "Limits")."""

PROTOCOL_VERSION = 1
MAX_FRAME = 1024 * 1024  # bytes of CBOR in one frame
MAX_CHUNK = 64 * 1024  # bytes of data in one stdout/stderr/input/output frame
MAX_DEPTH = 4  # nesting of arrays/maps; the message map is level 1
MAX_ITEMS = 65536  # data items in one frame (common/scan.h)
MAX_PATH = 4095
MAX_TEXT = 128 * 1024
MAX_SHORT_TEXT = 256
MAX_MESSAGE = 4096
MAX_ARGV = 4096
MAX_ENV = 1024
MAX_OUTPUTS = 256
MAX_INPUTS = 4096
MAX_TIMINGS = 64
MAX_CAPS = 16
MAX_FEATURES = 64  # entries of hello.features
MAX_JOBS_PER_HELPER = 1000  # hello.reuse (--jobs-per-helper)
MAX_ID = 4294967294  # (uid_t)-1 is not an id
MAX_MODE = 0o7777
MAX_ERRNO = 2147483647
UINT64_MAX = 2**64 - 1

BACKENDS = ("userns", "bubblewrap")
OVERLAY_MODES = ("native", "fuse", "bind")
