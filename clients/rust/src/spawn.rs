//! Starting the helper with posix_spawn(3), ending it, reaping it. Never
//! fork(2): a worker may be multi-threaded and hold locks another thread's
//! fork would copy; no pre_exec closure runs in a child either.

use crate::error::{errno_text, last_errno, secure_env, SandboxError};
use crate::fd::Fd;
use crate::features::HELLO_FEATURES_ENV;
use std::ffi::{CString, OsStr};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::ptr;

/// The protocol's descriptor in the helper.
const HELPER_FD: libc::c_int = 3;

/// The installed helper, as the C library's CPS_HELPER_INSTALL_PATH
/// (CMake's default: ${CMAKE_INSTALL_FULL_LIBEXECDIR}/cachepot-dist-sandbox).
/// A build may set CACHEPOT_SANDBOX_HELPER_INSTALL_PATH at compile time to
/// match a different prefix.
pub const HELPER_INSTALL_PATH: &str = match option_env!("CACHEPOT_SANDBOX_HELPER_INSTALL_PATH") {
    Some(p) => p,
    None => "/usr/local/libexec/cachepot-dist-sandbox",
};

/// The only variables the helper sees besides CACHEPOT_HELLO_FEATURES: its
/// own knobs, and PATH to find bwrap and fuse-overlayfs. Everything else of
/// the worker stays out.
const PASSED_ENV: [&str; 5] = ["PATH", "CACHEPOT_LOG", "CACHEPOT_SANDBOX", "CACHEPOT_BWRAP", "CACHEPOT_SCRATCH"];

extern "C" {
    // glibc 2.34+ (Debian 12 has 2.36); not in the libc crate Debian ships.
    fn posix_spawn_file_actions_addclosefrom_np(
        actions: *mut libc::posix_spawn_file_actions_t,
        from: libc::c_int,
    ) -> libc::c_int;
}

/// The helper executable: the option, else $CACHEPOT_SANDBOX_HELPER, else
/// the installed path (the C library's order).
pub fn helper_path(option: Option<&Path>) -> PathBuf {
    if let Some(p) = option {
        if !p.as_os_str().is_empty() {
            return p.to_path_buf();
        }
    }
    match secure_env("CACHEPOT_SANDBOX_HELPER") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => PathBuf::from(HELPER_INSTALL_PATH),
    }
}

/// The spawn-time configuration of a helper (its command line).
#[derive(Default)]
pub(crate) struct HelperArgs {
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub backend: Option<String>,
    pub no_seccomp: bool,
}

pub(crate) struct HelperProc {
    pub path: PathBuf,
    pub pid: libc::pid_t,
    pub sock: Fd,
    pub pidfd: Option<Fd>,
    pub status: Option<libc::c_int>,
    reaped: bool,
}

fn cstr(s: &OsStr) -> Result<CString, SandboxError> {
    CString::new(s.as_bytes())
        .map_err(|_| SandboxError::new("spawn", libc::EINVAL, format!("{:?} contains a NUL byte", s)))
}

struct FileActions(libc::posix_spawn_file_actions_t);
impl Drop for FileActions {
    fn drop(&mut self) {
        unsafe { libc::posix_spawn_file_actions_destroy(&mut self.0) };
    }
}
struct Attr(libc::posix_spawnattr_t);
impl Drop for Attr {
    fn drop(&mut self) {
        unsafe { libc::posix_spawnattr_destroy(&mut self.0) };
    }
}

fn spawn_error(path: &Path, r: i32) -> SandboxError {
    SandboxError::new("spawn", r, format!("cannot run the helper {}: {}", path.display(), errno_text(r)))
        .with_hint("install cachepot-dist-sandbox, or point CACHEPOT_SANDBOX_HELPER (or the helper option) at it")
}

impl HelperProc {
    pub fn spawn(path: &Path, args: &HelperArgs) -> Result<HelperProc, SandboxError> {
        let mut sv = [-1; 2];
        // SOCK_CLOEXEC: another thread's spawn or exec must never inherit either end.
        if unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0, sv.as_mut_ptr()) } < 0 {
            let e = last_errno();
            return Err(SandboxError::new("spawn", e, format!("socketpair: {}", errno_text(e)))
                .with_hint("raise the open file limit (ulimit -n)"));
        }
        let ours = Fd(sv[0]);
        let mut theirs = Fd(sv[1]);
        // dup2() onto the same number keeps FD_CLOEXEC (dup2(2)), so an end
        // that already is fd 3 would be closed at exec, and one at 0-2 would
        // stay behind as a standard stream: move it above 3, still CLOEXEC.
        if theirs.raw() <= HELPER_FD {
            let moved = unsafe { libc::fcntl(theirs.raw(), libc::F_DUPFD_CLOEXEC, HELPER_FD + 1) };
            if moved < 0 {
                let e = last_errno();
                return Err(SandboxError::new("spawn", e, format!("fcntl(F_DUPFD_CLOEXEC): {}", errno_text(e))));
            }
            theirs = Fd(moved);
        }

        let mut argv_c = vec![cstr(path.as_os_str())?];
        if let Some(u) = args.uid {
            argv_c.push(CString::new("--uid").unwrap());
            argv_c.push(CString::new(u.to_string()).unwrap());
        }
        if let Some(g) = args.gid {
            argv_c.push(CString::new("--gid").unwrap());
            argv_c.push(CString::new(g.to_string()).unwrap());
        }
        if let Some(b) = &args.backend {
            argv_c.push(CString::new("--backend").unwrap());
            argv_c.push(cstr(OsStr::new(b))?);
        }
        if args.no_seccomp {
            argv_c.push(CString::new("--no-seccomp").unwrap());
        }
        // The crate reads hello.features, so it always asks for it.
        let mut env_c = vec![CString::new(format!("{HELLO_FEATURES_ENV}=1")).unwrap()];
        for name in PASSED_ENV {
            if let Some(v) = std::env::var_os(name) {
                let mut kv = name.as_bytes().to_vec();
                kv.push(b'=');
                kv.extend_from_slice(v.as_bytes());
                if let Ok(c) = CString::new(kv) {
                    env_c.push(c);
                }
            }
        }
        let mut argv_p: Vec<*mut libc::c_char> = argv_c.iter().map(|c| c.as_ptr() as *mut _).collect();
        argv_p.push(ptr::null_mut());
        let mut env_p: Vec<*mut libc::c_char> = env_c.iter().map(|c| c.as_ptr() as *mut _).collect();
        env_p.push(ptr::null_mut());
        let devnull = CString::new("/dev/null").unwrap();
        let path_c = cstr(path.as_os_str())?;

        let mut pid: libc::pid_t = 0;
        let r = unsafe {
            let mut fa = FileActions(std::mem::zeroed());
            let mut r = libc::posix_spawn_file_actions_init(&mut fa.0);
            if r != 0 {
                return Err(spawn_error(path, r));
            }
            let mut attr = Attr(std::mem::zeroed());
            r = libc::posix_spawnattr_init(&mut attr.0);
            if r != 0 {
                return Err(spawn_error(path, r));
            }
            let mut none: libc::sigset_t = std::mem::zeroed();
            let mut all: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut none);
            libc::sigfillset(&mut all);
            // The helper starts with nothing blocked and every signal at its
            // default whatever the worker's thread has; closefrom_np (glibc
            // 2.34, close_range(2) in the child) keeps any descriptor the
            // worker opened without O_CLOEXEC out of the sandbox helper.
            if r == 0 {
                r = libc::posix_spawn_file_actions_adddup2(&mut fa.0, theirs.raw(), HELPER_FD);
            }
            if r == 0 {
                r = libc::posix_spawn_file_actions_addopen(&mut fa.0, 0, devnull.as_ptr(), libc::O_RDONLY, 0);
            }
            if r == 0 {
                r = libc::posix_spawn_file_actions_addopen(&mut fa.0, 1, devnull.as_ptr(), libc::O_WRONLY, 0);
            }
            if r == 0 {
                r = posix_spawn_file_actions_addclosefrom_np(&mut fa.0, HELPER_FD + 1);
            }
            if r == 0 {
                r = libc::posix_spawnattr_setflags(
                    &mut attr.0,
                    (libc::POSIX_SPAWN_SETSIGMASK | libc::POSIX_SPAWN_SETSIGDEF) as libc::c_short,
                );
            }
            if r == 0 {
                r = libc::posix_spawnattr_setsigmask(&mut attr.0, &none);
            }
            if r == 0 {
                r = libc::posix_spawnattr_setsigdefault(&mut attr.0, &all);
            }
            if r == 0 {
                r = libc::posix_spawn(&mut pid, path_c.as_ptr(), &fa.0, &attr.0, argv_p.as_ptr(), env_p.as_ptr());
            }
            r
        };
        drop(theirs);
        if r != 0 {
            return Err(spawn_error(path, r));
        }
        // Our end is polled; O_NONBLOCK belongs to this open file description only.
        unsafe {
            let fl = libc::fcntl(ours.raw(), libc::F_GETFL);
            libc::fcntl(ours.raw(), libc::F_SETFL, fl | libc::O_NONBLOCK);
        }
        // A pidfd (pidfd_open(2), Linux 5.3) says the helper died even if a
        // process it started still holds the socket; without one, EOF must do.
        let pfd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) } as libc::c_int;
        let pidfd = if pfd >= 0 { Some(Fd(pfd)) } else { None };
        Ok(HelperProc { path: path.to_path_buf(), pid, sock: ours, pidfd, status: None, reaped: false })
    }

    pub fn kill(&self) {
        if self.reaped {
            return;
        }
        // Not reaped yet, so the pid cannot have been reused; the pidfd
        // avoids even that question when the worker reaps children itself.
        let sent = match &self.pidfd {
            Some(p) => {
                let r = unsafe {
                    libc::syscall(libc::SYS_pidfd_send_signal, p.raw(), libc::SIGKILL, ptr::null::<libc::c_void>(), 0)
                };
                r == 0
            }
            None => false,
        };
        if !sent {
            unsafe { libc::kill(self.pid, libc::SIGKILL) };
        }
    }

    fn reap(&mut self, flags: libc::c_int) -> bool {
        if self.reaped {
            return true;
        }
        loop {
            let mut st = 0;
            let r = unsafe { libc::waitpid(self.pid, &mut st, flags) };
            if r == self.pid {
                self.status = Some(st);
                self.reaped = true;
                return true;
            }
            if r == 0 {
                return false;
            }
            if last_errno() == libc::EINTR {
                continue;
            }
            // ECHILD: the worker reaps children itself (or ignores SIGCHLD).
            self.reaped = true;
            return true;
        }
    }

    /// Wait up to `grace_ms` for the helper to exit by itself, kill it
    /// after that, and reap it.
    pub fn finish(&mut self, grace_ms: i32) {
        if !self.reaped {
            let fd = self.pidfd.as_ref().map(|p| p.raw()).unwrap_or(-1);
            if fd >= 0 {
                let mut p = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
                let r = loop {
                    let r = unsafe { libc::poll(&mut p, 1, grace_ms) };
                    if r >= 0 || last_errno() != libc::EINTR {
                        break r;
                    }
                };
                if r <= 0 {
                    self.kill();
                }
            } else {
                let deadline = std::time::Instant::now() + std::time::Duration::from_millis(grace_ms.max(0) as u64);
                while !self.reap(libc::WNOHANG) {
                    if std::time::Instant::now() >= deadline {
                        self.kill();
                        break;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(5));
                }
            }
        }
        self.reap(0);
    }

    /// "exited with status 1", "was killed by signal 9".
    pub fn describe_status(&self) -> String {
        match self.status {
            None => "ended (its status was collected elsewhere)".into(),
            Some(st) if libc::WIFSIGNALED(st) => format!("was killed by signal {}", libc::WTERMSIG(st)),
            Some(st) => format!("exited with status {}", libc::WEXITSTATUS(st)),
        }
    }
}

impl Drop for HelperProc {
    /// Whatever path left the run, the helper does not outlive it and does
    /// not stay a zombie.
    fn drop(&mut self) {
        if !self.reaped {
            self.kill();
            self.reap(0);
        }
    }
}
