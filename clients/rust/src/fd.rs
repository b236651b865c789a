//! A file descriptor this crate owns: closed exactly once, on drop.

use std::os::unix::io::RawFd;

#[derive(Debug)]
pub(crate) struct Fd(pub RawFd);

impl Fd {
    pub fn raw(&self) -> RawFd {
        self.0
    }
}

impl Drop for Fd {
    fn drop(&mut self) {
        if self.0 >= 0 {
            // close(2): the descriptor is gone even when close reports EINTR.
            unsafe { libc::close(self.0) };
        }
    }
}
