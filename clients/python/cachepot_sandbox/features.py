"""The optional job keys a helper understands (hello.features), so that this
side never sends a key the helper did not announce (common/job_features.c;
docs/COMPATIBILITY.md gives the rules, docs/PROTOCOL.md the wire form)."""

# Wire name and the first helper release that understands it, in the order of
# common/job_features.c: an encoder writes hello.features in this order. A new
# key gets a row at the end.
TABLE = (
    ("job.backend", "0.1.0"),
    ("job.overlay", "0.1.0"),
    ("job.uid", "0.1.0"),
    ("job.gid", "0.1.0"),
    ("job.seccomp", "0.1.0"),
    ("job.limits.timeout_ms", "0.1.0"),
    ("job.limits.max_output_bytes", "0.1.0"),
    ("job.limits.cpu_seconds", "0.1.0"),
    ("job.limits.address_space", "0.1.0"),
    ("job.limits.file_size", "0.1.0"),
    ("job.limits.open_files", "0.1.0"),
    ("job.limits.processes", "0.1.0"),
    ("job.limits.tmp_bytes", "0.1.0"),
    ("job.limits.scratch_bytes", "0.1.0"),
)
NAMES = tuple(name for name, _ in TABLE)
SINCE = dict(TABLE)

# What a hello without "features" means: the keys every helper since 0.1.0,
# the first release, understands.
FEATURES_0_1_0 = tuple(name for name, since in TABLE if since == "0.1.0")

# Set to "1" in the helper's environment, it asks for hello.features; a helper
# that was not asked sends the hello of 0.1.0, which a parent of 0.1.0 (strict
# about unknown keys) still accepts.
HELLO_FEATURES_ENV = "CACHEPOT_HELLO_FEATURES"

_JOB_KEYS = ("backend", "overlay", "uid", "gid", "seccomp")


def job_features(wire):
    """The optional keys a job map puts on the wire, as feature names in table
    order. wire is the map the encoder writes (codec.canonical()): optional
    keys at their default value are already left out of it."""
    present = {f"job.{key}" for key in _JOB_KEYS if key in wire}
    present.update(f"job.limits.{key}" for key in wire.get("limits", {}))
    return [name for name in NAMES if name in present]


def announced(hello):
    """The feature names a decoded hello stands for."""
    return tuple(hello["features"]) if "features" in hello else FEATURES_0_1_0


def unannounced_error(missing, who, version):
    """(message, hint) of the refusal of a job that sets the keys missing (in
    table order), worded as the C library's (parent/lib/helper_session.c)."""
    # The newest first release among them: the table only grows at the end.
    since = SINCE[missing[-1]]
    message = (f"helper {who} of release {version} does not understand {', '.join(missing)}, "
               f"which this job sets; helpers of release {since} and later do")
    hint = f"install a helper of release {since} or later on this host, or leave those keys unset"
    return message, hint
