#!/bin/sh
# check-imports.sh LIB: fail if the shared library imports a call that creates
# a process other than posix_spawn, or one that changes process-wide state the
# library promises to leave alone, or strerror.
set -eu
lib=$1
bad=$(nm -D --undefined-only "$lib" | awk '{print $NF}' | sed 's/@.*//' |
    grep -E '^(fork|vfork|_Fork|clone|clone3|system|popen|daemon|execv|execve|execvp|execl|execlp|signal|sigaction|chdir|fchdir|umask|setenv|putenv|unsetenv|clearenv)$' || true)
if [ -n "$bad" ]; then
    echo "check-imports: $lib imports: $bad" >&2
    exit 1
fi
# strerror(3) is MT-Unsafe; the library's errno texts come from cps__errtext
# (common/errtext.h).
if nm -D --undefined-only "$lib" | grep -Eq ' strerror(@|$)'; then
    echo "check-imports: $lib imports strerror (use cps__errtext)" >&2
    exit 1
fi
nm -D --undefined-only "$lib" | grep -Eq ' posix_spawn(@|$)' || {
    echo "check-imports: $lib does not import posix_spawn" >&2
    exit 1
}
echo "check-imports: $lib imports no fork/vfork/clone/system/popen/exec, no signal/chdir/umask/env changes, no strerror"
