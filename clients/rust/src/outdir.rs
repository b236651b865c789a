//! Writing output files below an out dir without ever leaving it: every
//! directory is opened with O_NOFOLLOW relative to the one above, starting
//! from a descriptor of the out dir, and the file itself is created with
//! O_EXCL after unlinking what was there, so neither a symlink nor a hard
//! link planted in the out dir redirects a write.

use crate::error::last_errno;
use crate::fd::Fd;
use std::ffi::CString;
use std::path::Path;

pub(crate) struct OutDir {
    pub dir: Fd,
}

fn c(s: &str) -> Result<CString, i32> {
    CString::new(s).map_err(|_| libc::EINVAL)
}

impl OutDir {
    pub fn open(path: &Path) -> Result<OutDir, i32> {
        let p = CString::new(path.as_os_str().to_str().ok_or(libc::EINVAL)?).map_err(|_| libc::EINVAL)?;
        let fd = unsafe { libc::open(p.as_ptr(), libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC) };
        if fd < 0 {
            return Err(last_errno());
        }
        Ok(OutDir { dir: Fd(fd) })
    }

    /// The directory holding the last component of `name` (relative,
    /// normalized, no ".."), made when `create`; and that component.
    fn walk<'n>(&self, name: &'n str, create: bool) -> Result<(Option<Fd>, &'n str), i32> {
        let mut parts: Vec<&str> = name.split('/').collect();
        let leaf = parts.pop().ok_or(libc::EINVAL)?;
        let mut cur: Option<Fd> = None;
        for p in parts {
            if p.is_empty() || p == "." || p == ".." {
                return Err(libc::EINVAL);
            }
            let at = cur.as_ref().map(|f| f.raw()).unwrap_or(self.dir.raw());
            let pc = c(p)?;
            if create && unsafe { libc::mkdirat(at, pc.as_ptr(), 0o755) } < 0 && last_errno() != libc::EEXIST {
                return Err(last_errno());
            }
            let fd = unsafe {
                libc::openat(at, pc.as_ptr(), libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC)
            };
            if fd < 0 {
                return Err(last_errno());
            }
            cur = Some(Fd(fd));
        }
        if leaf.is_empty() || leaf == "." || leaf == ".." {
            return Err(libc::EINVAL);
        }
        Ok((cur, leaf))
    }

    /// Create `name` below the out dir with permission bits `mode & 0777`.
    pub fn create(&self, name: &str, mode: u32) -> Result<std::fs::File, i32> {
        use std::os::unix::io::FromRawFd;
        let (parent, leaf) = self.walk(name, true)?;
        let at = parent.as_ref().map(|f| f.raw()).unwrap_or(self.dir.raw());
        let lc = c(leaf)?;
        if unsafe { libc::unlinkat(at, lc.as_ptr(), 0) } < 0 && last_errno() != libc::ENOENT {
            return Err(last_errno());
        }
        let fd = unsafe {
            libc::openat(
                at,
                lc.as_ptr(),
                libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_CLOEXEC,
                (mode & 0o777) as libc::c_uint,
            )
        };
        if fd < 0 {
            return Err(last_errno());
        }
        Ok(unsafe { std::fs::File::from_raw_fd(fd) })
    }

    /// Remove a partly written `name`: never leave a truncated result.
    pub fn remove(&self, name: &str) {
        if let Ok((parent, leaf)) = self.walk(name, false) {
            let at = parent.as_ref().map(|f| f.raw()).unwrap_or(self.dir.raw());
            if let Ok(lc) = c(leaf) {
                unsafe { libc::unlinkat(at, lc.as_ptr(), 0) };
            }
        }
    }
}
