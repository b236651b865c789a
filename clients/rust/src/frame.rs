//! Frames on the socket: a 4-byte big-endian length, then that many bytes
//! of CBOR (docs/PROTOCOL.md, "Transport"). The reader is incremental for a
//! non-blocking socket and never reads past the frame it is assembling.

use crate::error::{errno_text, last_errno, SandboxError};
use crate::limits::MAX_CHUNK;
use std::os::unix::io::RawFd;

pub(crate) struct FrameReader {
    max: usize,
    head: [u8; 4],
    head_got: usize,
    want: usize,
    payload: Vec<u8>,
    complete: bool,
}

pub(crate) enum Feed {
    /// A whole frame is ready: see [`FrameReader::payload`].
    Frame,
    /// Nothing more to read now (EAGAIN).
    Again,
}

impl FrameReader {
    pub fn new(max: usize) -> Self {
        FrameReader { max, head: [0; 4], head_got: 0, want: 0, payload: Vec::new(), complete: false }
    }

    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// Forget the frame that was handed out; keep the buffer.
    pub fn next(&mut self) {
        self.head_got = 0;
        self.want = 0;
        self.payload.clear();
        self.complete = false;
    }

    fn frame_error(errno: i32, message: String) -> SandboxError {
        SandboxError::new("frame", errno, message)
    }

    /// Read until a frame is complete or the socket has nothing more.
    pub fn feed(&mut self, fd: RawFd) -> Result<Feed, SandboxError> {
        if self.complete {
            return Ok(Feed::Frame);
        }
        loop {
            let n = if self.head_got < 4 {
                read(fd, &mut self.head[self.head_got..])
            } else {
                // The buffer grows with the bytes that arrive, 64 KiB at a
                // time, never by what the header declares.
                let have = self.payload.len();
                let step = (self.want - have).min(MAX_CHUNK);
                self.payload.resize(have + step, 0);
                let r = read(fd, &mut self.payload[have..]);
                self.payload.truncate(have + r.unwrap_or(0).max(0) as usize);
                r
            };
            let n = match n {
                Ok(n) => n,
                Err(e) if e == libc::EAGAIN || e == libc::EWOULDBLOCK => return Ok(Feed::Again),
                Err(e) => return Err(Self::frame_error(e, format!("read from the helper: {}", errno_text(e)))),
            };
            if n == 0 {
                if self.head_got == 0 {
                    return Err(Self::frame_error(libc::ECONNRESET, "peer closed the connection".into()));
                }
                return Err(Self::frame_error(libc::EPROTO, "peer closed the connection inside a frame".into()));
            }
            if self.head_got < 4 {
                self.head_got += n as usize;
                if self.head_got == 4 {
                    let len = u32::from_be_bytes(self.head) as usize;
                    if len == 0 || len > self.max {
                        return Err(Self::frame_error(
                            libc::EMSGSIZE,
                            format!("frame of {len} bytes, not 1..{}", self.max),
                        ));
                    }
                    self.want = len;
                }
            } else if self.payload.len() == self.want {
                self.complete = true;
                return Ok(Feed::Frame);
            }
        }
    }
}

fn read(fd: RawFd, buf: &mut [u8]) -> Result<isize, i32> {
    loop {
        let n = unsafe { libc::read(fd, buf.as_mut_ptr() as *mut libc::c_void, buf.len()) };
        if n >= 0 {
            return Ok(n);
        }
        let e = last_errno();
        if e != libc::EINTR {
            return Err(e);
        }
    }
}

/// Prefix a payload with its length.
pub(crate) fn with_header(payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(payload.len() + 4);
    v.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    v.extend_from_slice(payload);
    v
}
