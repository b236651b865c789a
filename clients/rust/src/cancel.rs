//! Cancelling runs from another thread.

use crate::error::{errno_text, last_errno, SandboxError};
use crate::fd::Fd;
use std::sync::Arc;

/// A cancel token: clone it, hand a clone to another thread, call
/// [`CancelHandle::cancel`] there. Every run using it, running or started
/// later, sends the helper the protocol's `cancel` and ends with
/// [`SandboxError`] stage "cancel", errno ECANCELED.
///
/// It is an eventfd that is written and never read: once fired it stays
/// readable, so every poll loop that watches it wakes up, now or later.
#[derive(Clone, Debug)]
pub struct CancelHandle {
    fd: Arc<Fd>,
}

impl CancelHandle {
    pub fn new() -> Result<CancelHandle, SandboxError> {
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if fd < 0 {
            let e = last_errno();
            return Err(SandboxError::new("cancel", e, format!("eventfd: {}", errno_text(e))));
        }
        Ok(CancelHandle { fd: Arc::new(Fd(fd)) })
    }

    /// Fire the token (any thread, any number of times; async-signal-safe).
    pub fn cancel(&self) {
        let one: u64 = 1;
        unsafe { libc::write(self.fd.raw(), &one as *const u64 as *const libc::c_void, 8) };
    }

    pub fn is_cancelled(&self) -> bool {
        let mut p = libc::pollfd { fd: self.fd.raw(), events: libc::POLLIN, revents: 0 };
        unsafe { libc::poll(&mut p, 1, 0) == 1 }
    }

    pub(crate) fn raw(&self) -> i32 {
        self.fd.raw()
    }
}
