//! Shared by the tests that run a helper (fake or real).
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// A variable the test driver (clients/rust/test-driver.sh, run by ctest)
/// sets. Without it the test cannot run: under the driver
/// (CPS_REQUIRE_HELPER=1) that is a failure, under a bare `cargo test` it
/// says SKIP on stderr.
pub fn env_or_skip(name: &str) -> Option<PathBuf> {
    match std::env::var_os(name) {
        Some(v) if !v.is_empty() => Some(PathBuf::from(v)),
        _ => {
            if std::env::var_os("CPS_REQUIRE_HELPER").is_some() {
                panic!("{name} is not set (the test driver must set it)");
            }
            eprintln!("SKIP: {name} is not set; run the Rust tests through ctest (clients/rust/test-driver.sh)");
            None
        }
    }
}

/// A fresh directory under $TMPDIR, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let base = std::env::var_os("TMPDIR").map(PathBuf::from).unwrap_or_else(|| "/tmp".into());
        let mut t = base.join(format!("cps-rust-{tag}-XXXXXX")).into_os_string().into_string().unwrap().into_bytes();
        t.push(0);
        let p = unsafe { libc::mkdtemp(t.as_mut_ptr() as *mut libc::c_char) };
        assert!(!p.is_null(), "mkdtemp: {}", std::io::Error::last_os_error());
        t.pop();
        TempDir(PathBuf::from(String::from_utf8(t).unwrap()))
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
    pub fn join(&self, p: &str) -> PathBuf {
        self.0.join(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Our children that are still around (running or zombie), from
/// /proc/self/task/*/children (Linux 3.5+).
pub fn children() -> Vec<i32> {
    let mut out = Vec::new();
    for t in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        if let Ok(s) = std::fs::read_to_string(t.path().join("children")) {
            out.extend(s.split_whitespace().map(|x| x.parse::<i32>().unwrap()));
        }
    }
    out
}

/// A process that still exists (zombies included) under pid.
pub fn pid_exists(pid: i32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}
