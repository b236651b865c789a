"""The protocol's one path rule, and resolving the caller's paths (common/path.c,
parent/lib/paths.c)."""

import errno

from . import limits
from .errors import SandboxError


def path_problem(path):
    """Why path (str) is not a normalized absolute path, or None.

    Paths on the wire are absolute and normalized so that the helper never has
    to interpret "..", "." or "//": "/out/../../etc/passwd" is refused at the
    door instead of relying on every later openat() to contain it."""
    raw = path.encode("utf-8", "surrogatepass")
    if len(raw) == 0:
        return "path is empty"
    if len(raw) > limits.MAX_PATH:
        return f"path is longer than {limits.MAX_PATH} bytes"
    if "\0" in path:
        return "path contains NUL"
    if not path.startswith("/"):
        return "path is not absolute"
    if path == "/":
        return None
    if path.endswith("/"):
        return "path ends with '/'"
    for component in path[1:].split("/"):
        if component == "":
            return 'path has an empty component ("//")'
        if component == ".":
            return 'path has a "." component'
        if component == "..":
            return 'path has a ".." component'
    return None


def _components(path):
    """The components of path without empty and "." ones; None on a ".."."""
    out = []
    for component in path.split("/"):
        if component == "..":
            return None
        if component and component != ".":
            out.append(component)
    return out


def resolve(base, path):
    """The normalized absolute sandbox path of path (absolute, or relative to
    base, the job's cwd). Refuses ".." components (SandboxError stage "job")."""
    if path == "":
        raise SandboxError("job", errno.EINVAL, "empty sandbox path")
    parts = [] if path.startswith("/") else _components(base)
    rest = _components(path)
    if parts is None or rest is None:
        raise SandboxError("job", errno.EINVAL, f'sandbox path {path} has a ".." component',
                           'name sandbox files without ".."')
    out = "/" + "/".join(parts + rest)
    if path_problem(out) is not None:
        raise SandboxError("job", errno.EINVAL,
                           f"sandbox path {path} is not valid (at most {limits.MAX_PATH} "
                           "bytes, no NUL)")
    return out


def output_name(path):
    """The name of an output below the out dir: the path as given, leading "/"
    stripped, "." components dropped; ".." refused, so the name never leaves
    the out dir."""
    parts = _components(path)
    if parts is None:
        raise SandboxError("job", errno.EINVAL, f'output path {path} has a ".." component',
                           'name outputs without ".."')
    if not parts:
        raise SandboxError("job", errno.EINVAL, f'output path "{path}" names no file')
    return "/".join(parts)
