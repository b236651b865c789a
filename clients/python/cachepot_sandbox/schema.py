"""The message tables of docs/PROTOCOL.md as checks on decoded Python values.

Two steps, as common/proto_decode.c and common/proto_check.c: body() reads
every map with its keys and value types (rule 5 of "Decoding untrusted
frames"), rules() applies the rules that span fields (rule 6). Both return or
raise with the C code's field names and messages ("job.argv[1]: text contains
NUL"). The decoder runs them on what cbor2 built from a pre-scanned frame; the
encoder runs them on what the caller asks to send, so this side never sends
what the helper would refuse.
"""

from . import features, limits
from .errors import SandboxError
from .paths import path_problem

HELLO_KEYS = ("type", "protocol", "helper_version", "backends", "overlay_modes", "max_frame",
              "max_chunk", "uid", "gid", "backend", "seccomp", "features", "reuse")
# type .. seccomp; "features" only for a parent that asked for it, "reuse" only
# from a helper started with --jobs-per-helper N > 1
HELLO_REQUIRED = 11
JOB_KEYS = ("type", "toolchain", "build_dir", "argv", "env", "cwd", "outputs", "inputs",
            "backend", "overlay", "uid", "gid", "seccomp", "limits")
JOB_REQUIRED = 8  # type .. inputs
LIMIT_KEYS = ("timeout_ms", "max_output_bytes", "cpu_seconds", "address_space", "file_size",
              "open_files", "processes", "tmp_bytes", "scratch_bytes")
INPUT_DECL_KEYS = ("path", "mode", "size")
INPUT_KEYS = ("type", "path", "data", "end")
CANCEL_KEYS = ("type",)
STREAM_KEYS = ("type", "data")
OUTPUT_KEYS = ("type", "path", "missing", "mode", "size", "data", "end")
EXIT_KEYS = ("type", "code", "signal", "timed_out", "limit", "wall_us", "user_us", "sys_us",
             "max_rss_kb", "backend", "overlay", "timings")
ERROR_KEYS = ("type", "stage", "errno", "message", "hint")

MESSAGE_TYPES = ("hello", "job", "input", "cancel", "stdout", "stderr", "output", "exit", "error")


class _Ctx:
    """Where failures go: stage and errno (decode: "decode"/EPROTO, encode:
    "encode"/EINVAL) and the duplicate keys the pre-scan found."""

    def __init__(self, stage, errnum, duplicates=()):
        self.stage = stage
        self.errnum = errnum
        self.duplicates = duplicates

    def fail(self, field, what):
        raise SandboxError(self.stage, self.errnum, f"{field}: {what}")


def kind(value):
    if isinstance(value, bool):
        return "a simple value"
    if isinstance(value, int):
        return "an unsigned integer" if value >= 0 else "a negative integer"
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "a byte string"
    if isinstance(value, str):
        return "a text string"
    if isinstance(value, (list, tuple)):
        return "an array"
    if isinstance(value, dict):
        return "a map"
    return "an unknown item"


def quote(raw):
    """Untrusted key bytes for a message: printable ASCII as is, the rest as
    \\xNN, at most 40 bytes, so the message stays valid UTF-8 and short."""
    out = []
    for i, b in enumerate(raw):
        if i == 40:
            out.append("...")
            break
        if 0x20 <= b < 0x7F and b not in (0x22, 0x5C):
            out.append(chr(b))
        else:
            out.append(f"\\x{b:02x}")
    return "".join(out)


def _utf8(value):
    try:
        return value.encode("utf-8")
    except UnicodeEncodeError:
        return None


def map_fields(ctx, value, field, names):
    """The values of a map whose keys must be among names: a dict holding the
    keys present. Refuses a non-map, non-text keys, unknown and duplicate keys."""
    if not isinstance(value, dict):
        ctx.fail(field, f"expected a map, got {kind(value)}")
    for i, key in enumerate(value):
        if not isinstance(key, str):
            ctx.fail(field, f"map key {i} is {kind(key)}, not a text string")
        if key not in names:
            ctx.fail(field, f'unknown key "{quote(key.encode("utf-8", "surrogatepass"))}"')
    for where, key in ctx.duplicates:
        if where == field and key.decode("utf-8", "replace") in names:
            ctx.fail(field, f'duplicate key "{key.decode("utf-8")}"')
    return value


def need(ctx, values, key, field):
    if key not in values:
        ctx.fail(field, f'missing key "{key}"')
    return values[key]


def get_uint(ctx, value, field, maximum=limits.UINT64_MAX):
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        ctx.fail(field, f"expected an unsigned integer, got {kind(value)}")
    if value > maximum:
        ctx.fail(field, f"{value} is larger than {maximum}")
    return value


def get_bool(ctx, value, field):
    if not isinstance(value, bool):
        ctx.fail(field, f"expected a boolean, got {kind(value)}")
    return value


def get_text(ctx, value, field, maximum):
    """A text string checked for length (in UTF-8 bytes), NUL and UTF-8."""
    if not isinstance(value, str):
        ctx.fail(field, f"expected a text string, got {kind(value)}")
    raw = _utf8(value)
    size = len(raw) if raw is not None else len(value.encode("utf-8", "surrogatepass"))
    if size > maximum:
        ctx.fail(field, f"text of {size} bytes is longer than the limit of {maximum} bytes")
    if "\0" in value:
        ctx.fail(field, "text contains NUL")
    if raw is None:
        ctx.fail(field, "text is not valid UTF-8")
    return value


def get_bytes(ctx, value, field):
    if not isinstance(value, (bytes, bytearray, memoryview)):
        ctx.fail(field, f"expected a byte string, got {kind(value)}")
    size = len(value) if not isinstance(value, memoryview) else value.nbytes
    if size > limits.MAX_CHUNK:
        ctx.fail(field, f"chunk of {size} bytes is larger than the limit of "
                 f"{limits.MAX_CHUNK} bytes")
    return bytes(value)


def get_array(ctx, value, field, minimum, maximum):
    if not isinstance(value, (list, tuple)):
        ctx.fail(field, f"expected an array, got {kind(value)}")
    n = len(value)
    if n < minimum or n > maximum:
        if minimum > 0:
            ctx.fail(field, f"{n} entries, not {minimum}..{maximum}")
        ctx.fail(field, f"{n} entries, more than {maximum}")
    return value


def get_backend(ctx, value, field):
    text = get_text(ctx, value, field, limits.MAX_SHORT_TEXT)
    if text not in limits.BACKENDS:
        ctx.fail(field, f'unknown backend "{quote(text.encode())}"')
    return text


def get_overlay(ctx, value, field, allow_auto):
    text = get_text(ctx, value, field, limits.MAX_SHORT_TEXT)
    if text not in limits.OVERLAY_MODES and not (allow_auto and text == "auto"):
        ctx.fail(field, f'unknown overlay mode "{quote(text.encode())}"')
    return text


def get_caps(ctx, value, field, known, maximum=limits.MAX_CAPS):
    """A capability list of hello (backends, overlay_modes, features). Names
    this side does not know are skipped, so that a newer helper can announce
    a new backend or job key to an older parent (docs/PROTOCOL.md, "Version
    negotiation and forward compatibility"); the known ones come back in the
    canonical order, once each, as common/ keeps them in a bit set."""
    items = get_array(ctx, value, field, 0, maximum)
    found = set()
    for i, item in enumerate(items):
        name = get_text(ctx, item, f"{field}[{i}]", limits.MAX_SHORT_TEXT)
        if name == "":
            ctx.fail(f"{field}[{i}]", "text is empty")
        found.add(name)
    return [name for name in known if name in found]


def _strv(ctx, value, field, minimum, maximum, text_max):
    items = get_array(ctx, value, field, minimum, maximum)
    return [get_text(ctx, item, f"{field}[{i}]", text_max) for i, item in enumerate(items)]


def _pairs(ctx, value, field, maximum, what, first_max, second):
    """An array of [text, X] pairs (job.env, exit.timings)."""
    items = get_array(ctx, value, field, 0, maximum)
    out = []
    for i, item in enumerate(items):
        f = f"{field}[{i}]"
        if not isinstance(item, (list, tuple)):
            ctx.fail(f, f"expected a {what} array, got {kind(item)}")
        get_array(ctx, item, f, 2, 2)
        out.append([get_text(ctx, item[0], f + "[0]", first_max), second(item[1], f + "[1]")])
    return out


def _hello(ctx, root):
    # The protocol of a hello is read before anything else of it: a parent
    # that cannot speak the helper's version must say so, not complain about
    # a field the newer version added.
    if "protocol" not in root:
        ctx.fail("hello", 'missing key "protocol"')
    get_uint(ctx, root["protocol"], "hello.protocol")
    v = map_fields(ctx, root, "hello", HELLO_KEYS)
    for key in HELLO_KEYS[:HELLO_REQUIRED]:
        need(ctx, v, key, "hello")
    out = {
        "type": "hello",
        "protocol": get_uint(ctx, v["protocol"], "hello.protocol"),
        "helper_version": get_text(ctx, v["helper_version"], "hello.helper_version",
                                   limits.MAX_SHORT_TEXT),
        "backends": get_caps(ctx, v["backends"], "hello.backends", limits.BACKENDS),
        "overlay_modes": get_caps(ctx, v["overlay_modes"], "hello.overlay_modes",
                                  limits.OVERLAY_MODES),
        "max_frame": get_uint(ctx, v["max_frame"], "hello.max_frame"),
        "max_chunk": get_uint(ctx, v["max_chunk"], "hello.max_chunk"),
        "uid": get_uint(ctx, v["uid"], "hello.uid", limits.MAX_ID),
        "gid": get_uint(ctx, v["gid"], "hello.gid", limits.MAX_ID),
        "backend": get_backend(ctx, v["backend"], "hello.backend"),
        "seccomp": get_bool(ctx, v["seccomp"], "hello.seccomp"),
    }
    if "features" in v:
        out["features"] = get_caps(ctx, v["features"], "hello.features", features.NAMES,
                                   limits.MAX_FEATURES)
    if "reuse" in v:
        out["reuse"] = get_uint(ctx, v["reuse"], "hello.reuse", limits.MAX_JOBS_PER_HELPER)
        if out["reuse"] == 0:
            ctx.fail("hello.reuse", f"0 is not a number of jobs (1..{limits.MAX_JOBS_PER_HELPER})")
    return out


def _limits(ctx, value):
    v = map_fields(ctx, value, "job.limits", LIMIT_KEYS)
    return {key: get_uint(ctx, v[key], f"job.limits.{key}") for key in LIMIT_KEYS if key in v}


def _input_decl(ctx, value, field):
    v = map_fields(ctx, value, field, INPUT_DECL_KEYS)
    for key in INPUT_DECL_KEYS:
        need(ctx, v, key, field)
    return {
        "path": get_text(ctx, v["path"], field + ".path", limits.MAX_PATH),
        "mode": get_uint(ctx, v["mode"], field + ".mode", limits.MAX_MODE),
        "size": get_uint(ctx, v["size"], field + ".size"),
    }


def _job(ctx, root):
    v = map_fields(ctx, root, "job", JOB_KEYS)
    for key in JOB_KEYS[:JOB_REQUIRED]:
        need(ctx, v, key, "job")
    out = {
        "type": "job",
        "toolchain": get_text(ctx, v["toolchain"], "job.toolchain", limits.MAX_PATH),
        "build_dir": get_text(ctx, v["build_dir"], "job.build_dir", limits.MAX_PATH),
        "argv": _strv(ctx, v["argv"], "job.argv", 1, limits.MAX_ARGV, limits.MAX_TEXT),
        "env": _pairs(ctx, v["env"], "job.env", limits.MAX_ENV, "[name, value]", limits.MAX_TEXT,
                      lambda item, f: get_text(ctx, item, f, limits.MAX_TEXT)),
        "cwd": get_text(ctx, v["cwd"], "job.cwd", limits.MAX_PATH),
        "outputs": _strv(ctx, v["outputs"], "job.outputs", 0, limits.MAX_OUTPUTS,
                         limits.MAX_PATH),
    }
    decls = get_array(ctx, v["inputs"], "job.inputs", 0, limits.MAX_INPUTS)
    out["inputs"] = [_input_decl(ctx, d, f"job.inputs[{i}]") for i, d in enumerate(decls)]
    if "backend" in v:
        out["backend"] = get_backend(ctx, v["backend"], "job.backend")
    if "overlay" in v:
        out["overlay"] = get_overlay(ctx, v["overlay"], "job.overlay", True)
    for key in ("uid", "gid"):
        if key in v:
            out[key] = get_uint(ctx, v[key], f"job.{key}", limits.MAX_ID)
    if "seccomp" in v:
        out["seccomp"] = get_bool(ctx, v["seccomp"], "job.seccomp")
    if "limits" in v:
        out["limits"] = _limits(ctx, v["limits"])
    return out


def _input(ctx, root):
    v = map_fields(ctx, root, "input", INPUT_KEYS)
    for key in INPUT_KEYS:
        need(ctx, v, key, "input")
    return {
        "type": "input",
        "path": get_text(ctx, v["path"], "input.path", limits.MAX_PATH),
        "data": get_bytes(ctx, v["data"], "input.data"),
        "end": get_bool(ctx, v["end"], "input.end"),
    }


def _cancel(ctx, root):
    map_fields(ctx, root, "cancel", CANCEL_KEYS)
    return {"type": "cancel"}


def _stream(ctx, root, name):
    v = map_fields(ctx, root, name, STREAM_KEYS)
    need(ctx, v, "data", name)
    return {"type": name, "data": get_bytes(ctx, v["data"], name + ".data")}


def _output(ctx, root):
    v = map_fields(ctx, root, "output", OUTPUT_KEYS)
    need(ctx, v, "path", "output")
    out = {"type": "output", "path": get_text(ctx, v["path"], "output.path", limits.MAX_PATH)}
    if "missing" in v:
        # {type, path, missing: true} and nothing else.
        if not get_bool(ctx, v["missing"], "output.missing"):
            ctx.fail("output.missing", "must be true when present")
        for key in OUTPUT_KEYS[3:]:
            if key in v:
                ctx.fail("output", f'key "{key}" is not allowed with "missing"')
        out["missing"] = True
        return out
    for key in OUTPUT_KEYS[3:]:
        need(ctx, v, key, "output")
    out["mode"] = get_uint(ctx, v["mode"], "output.mode", limits.MAX_MODE)
    out["size"] = get_uint(ctx, v["size"], "output.size")
    out["data"] = get_bytes(ctx, v["data"], "output.data")
    out["end"] = get_bool(ctx, v["end"], "output.end")
    return out


def _exit(ctx, root):
    v = map_fields(ctx, root, "exit", EXIT_KEYS)
    if "code" in v and "signal" in v:
        ctx.fail("exit", 'both "code" and "signal" are present')
    if "code" not in v and "signal" not in v:
        ctx.fail("exit", 'missing key "code" (or "signal")')
    for key in EXIT_KEYS[3:]:
        if key != "limit":
            need(ctx, v, key, "exit")
    out = {"type": "exit"}
    if "code" in v:
        out["code"] = get_uint(ctx, v["code"], "exit.code", 255)
    else:
        out["signal"] = get_uint(ctx, v["signal"], "exit.signal", 64)
        if out["signal"] == 0:
            ctx.fail("exit.signal", "signal 0 is not 1..64")
    out["timed_out"] = get_bool(ctx, v["timed_out"], "exit.timed_out")
    if "limit" in v:
        out["limit"] = get_text(ctx, v["limit"], "exit.limit", limits.MAX_SHORT_TEXT)
    for key in ("wall_us", "user_us", "sys_us", "max_rss_kb"):
        out[key] = get_uint(ctx, v[key], "exit." + key)
    out["backend"] = get_backend(ctx, v["backend"], "exit.backend")
    out["overlay"] = get_overlay(ctx, v["overlay"], "exit.overlay", False)
    out["timings"] = _pairs(ctx, v["timings"], "exit.timings", limits.MAX_TIMINGS,
                            "[stage, usec]", limits.MAX_SHORT_TEXT,
                            lambda item, f: get_uint(ctx, item, f))
    return out


def _error(ctx, root):
    v = map_fields(ctx, root, "error", ERROR_KEYS)
    for key in ERROR_KEYS:
        need(ctx, v, key, "error")
    return {
        "type": "error",
        "stage": get_text(ctx, v["stage"], "error.stage", limits.MAX_SHORT_TEXT),
        "errno": get_uint(ctx, v["errno"], "error.errno", limits.MAX_ERRNO),
        "message": get_text(ctx, v["message"], "error.message", limits.MAX_MESSAGE),
        "hint": get_text(ctx, v["hint"], "error.hint", limits.MAX_MESSAGE),
    }


def message_type(ctx, root):
    if not isinstance(root, dict):
        ctx.fail("message", f"expected a map, got {kind(root)}")
    if "type" not in root:
        ctx.fail("message", 'missing key "type"')
    name = get_text(ctx, root["type"], "type", limits.MAX_SHORT_TEXT)
    if name not in MESSAGE_TYPES:
        ctx.fail("type", f'unknown message type "{quote(name.encode())}"')
    return name


def body(ctx, root):
    """Rule 5: the message as a new dict in canonical key order with the keys
    present (texts str, data bytes, arrays lists)."""
    name = message_type(ctx, root)
    if name in ("stdout", "stderr"):
        return _stream(ctx, root, name)
    return {"hello": _hello, "job": _job, "input": _input, "cancel": _cancel,
            "output": _output, "exit": _exit, "error": _error}[name](ctx, root)


# ---- rule 6 (common/proto_check.c) ----

def _name(ctx, field, text):
    if text == "":
        ctx.fail(field, "text is empty")


def _path(ctx, field, text):
    _name(ctx, field, text)
    problem = path_problem(text)
    if problem:
        ctx.fail(field, problem)


def _data(ctx, field, data, allow_empty):
    if len(data) == 0 and not allow_empty:
        ctx.fail(field, "chunk is empty")


def rules(ctx, m):
    """Rule 6: the rules that span fields, on a message from body()."""
    t = m["type"]
    if t == "hello":
        if m["protocol"] != limits.PROTOCOL_VERSION:
            ctx.fail("hello.protocol", f"protocol {m['protocol']} is not "
                     f"{limits.PROTOCOL_VERSION}")
        _name(ctx, "hello.helper_version", m["helper_version"])
    elif t == "job":
        _path(ctx, "job.toolchain", m["toolchain"])
        _path(ctx, "job.build_dir", m["build_dir"])
        for i, (name, _value) in enumerate(m["env"]):
            _name(ctx, f"job.env[{i}][0]", name)
            if "=" in name:
                ctx.fail(f"job.env[{i}][0]", "variable name contains '='")
        _path(ctx, "job.cwd", m["cwd"])
        for i, path in enumerate(m["outputs"]):
            _path(ctx, f"job.outputs[{i}]", path)
        for i, decl in enumerate(m["inputs"]):
            _path(ctx, f"job.inputs[{i}].path", decl["path"])
    elif t == "input":
        _path(ctx, "input.path", m["path"])
    elif t in ("stdout", "stderr"):
        _data(ctx, t + ".data", m["data"], False)
    elif t == "output":
        _path(ctx, "output.path", m["path"])
        if not m.get("missing") and len(m["data"]) > m["size"]:
            ctx.fail("output.data", f"chunk of {len(m['data'])} bytes is larger than the file "
                     f"size {m['size']}")
    elif t == "exit":
        if "limit" in m:
            _name(ctx, "exit.limit", m["limit"])
        for i, (stage, _usec) in enumerate(m["timings"]):
            _name(ctx, f"exit.timings[{i}][0]", stage)
    elif t == "error":
        _name(ctx, "error.stage", m["stage"])
    return m
