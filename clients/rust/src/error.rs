//! `SandboxError`: what went wrong, where, and what to do about it.

use std::fmt;

/// The error of a run, shaped like the C library's `struct cps_error`.
///
/// `stage` is the helper's own stage when the helper sent an `error` frame
/// (`"overlay"`, `"uid_map"`, `"exec"`, ...). The crate's own stages are those
/// of the C library (`parent/include/cachepot-sandbox.h`):
///
/// | stage | when |
/// |---|---|
/// | `"job"` | the job is invalid (checked before anything is spawned) |
/// | `"input"` | an input file could not be read, or changed while it was sent |
/// | `"builddir"` | the temporary build dir could not be made (mkdtemp, realpath) |
/// | `"spawn"` | the helper could not be started (socketpair, posix_spawn) |
/// | `"poll"` | waiting for the helper or the cancel handle failed |
/// | `"hello"` | the helper did not greet correctly (wrong protocol, not a helper, silent) |
/// | `"protocol"` | the helper sent something out of order or undecodable |
/// | `"helper"` | the helper exited or was killed before finishing the job |
/// | `"output"` | an output file could not be written to the out dir |
/// | `"callback"` | a callback or writer returned an error |
/// | `"timeout"` | the whole exchange took longer than [`crate::RunOptions::timeout`] |
/// | `"cancel"` | the run was cancelled with a [`crate::CancelHandle`] |
/// | `"decode"` / `"encode"` | a frame broke a protocol rule (also nested in `"protocol"` / `"hello"` messages) |
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SandboxError {
    pub stage: String,
    /// A positive errno value, 0 when none applies.
    pub errno: i32,
    pub message: String,
    /// What to do about it; empty when there is nothing to say.
    pub hint: String,
}

impl SandboxError {
    pub fn new(stage: &str, errno: i32, message: impl Into<String>) -> Self {
        SandboxError { stage: stage.to_string(), errno, message: message.into(), hint: String::new() }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = hint.into();
        self
    }

    /// The errno as an `io::Error` kind, for callers that think in those.
    pub fn io_error(&self) -> std::io::Error {
        std::io::Error::from_raw_os_error(self.errno)
    }
}

impl fmt::Display for SandboxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.stage, self.message)?;
        if self.errno != 0 {
            write!(f, " ({})", errno_text(self.errno))?;
        }
        if !self.hint.is_empty() {
            write!(f, " [hint: {}]", self.hint)?;
        }
        Ok(())
    }
}

impl std::error::Error for SandboxError {}

/// "No such file or directory" for ENOENT, like strerror (thread safe: std's
/// io::Error formatting uses strerror_r).
pub fn errno_text(errno: i32) -> String {
    let s = std::io::Error::from_raw_os_error(errno).to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// The calling thread's errno after a failed libc call.
pub(crate) fn last_errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(libc::EIO)
}

/// An io::Error as strerror says it, without std's " (os error N)".
pub(crate) fn io_text(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => errno_text(n),
        None => e.to_string(),
    }
}

/// getenv for the knobs a setuid or setcap worker must not take from its
/// caller: None when the process runs with AT_SECURE set (secure_getenv(3)).
pub(crate) fn secure_env(name: &str) -> Option<std::ffi::OsString> {
    if unsafe { libc::getauxval(libc::AT_SECURE) } != 0 {
        return None;
    }
    std::env::var_os(name)
}
