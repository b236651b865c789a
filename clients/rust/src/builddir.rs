//! Build dirs: a fresh one per run when the job names none, and removing
//! what a helper that died could not (upper/ work/ target/).

use crate::error::{errno_text, io_text, last_errno, secure_env, SandboxError};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Deeper trees are left in place rather than risking the stack.
const MAX_DEPTH: usize = 128;

pub(crate) fn make_temp() -> Result<PathBuf, SandboxError> {
    let tmp = secure_env("TMPDIR").map(PathBuf::from).filter(|p| p.is_absolute()).unwrap_or_else(|| "/tmp".into());
    let mut templ = tmp.join("cachepot-build-XXXXXX").as_os_str().as_bytes().to_vec();
    templ.push(0);
    let p = unsafe { libc::mkdtemp(templ.as_mut_ptr() as *mut libc::c_char) };
    if p.is_null() {
        let e = last_errno();
        return Err(SandboxError::new(
            "builddir",
            e,
            format!("create a build dir under {}: {}", tmp.display(), errno_text(e)),
        )
        .with_hint("set TMPDIR to a writable directory"));
    }
    templ.pop();
    let made = PathBuf::from(std::ffi::OsStr::from_bytes(&templ));
    std::fs::canonicalize(&made).map_err(|e| {
        let _ = std::fs::remove_dir(&made);
        SandboxError::new(
            "builddir",
            e.raw_os_error().unwrap_or(libc::EIO),
            format!("realpath {}: {}", made.display(), io_text(&e)),
        )
    })
}

pub(crate) fn prepare(dir: &Path) -> Result<PathBuf, SandboxError> {
    use std::os::unix::fs::DirBuilderExt;
    if let Err(e) = std::fs::DirBuilder::new().mode(0o700).create(dir) {
        if e.kind() != std::io::ErrorKind::AlreadyExists {
            return Err(SandboxError::new(
                "job",
                e.raw_os_error().unwrap_or(libc::EIO),
                format!("create build dir {}: {}", dir.display(), io_text(&e)),
            ));
        }
    }
    std::fs::canonicalize(dir).map_err(|e| {
        SandboxError::new(
            "job",
            e.raw_os_error().unwrap_or(libc::EIO),
            format!("build dir {}: {}", dir.display(), io_text(&e)),
        )
    })
}

/// Remove `path` and what is below it, never following a symlink and never
/// crossing into another filesystem (a mount point left behind could be
/// the toolchain).
fn remove_at(path: &Path, dev: u64, depth: usize) {
    let md = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(_) => return,
    };
    if !md.is_dir() {
        let _ = std::fs::remove_file(path);
        return;
    }
    if md.dev() != dev || depth > MAX_DEPTH {
        return;
    }
    // overlayfs leaves work/work mode 000; we own it, so we may open it up.
    if md.mode() & 0o700 != 0o700 {
        let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700));
    }
    if let Ok(rd) = std::fs::read_dir(path) {
        for e in rd.flatten() {
            remove_at(&e.path(), dev, depth + 1);
        }
    }
    let _ = std::fs::remove_dir(path);
}

/// The helper removes its upper/ work/ target/; one that died could not.
pub(crate) fn clean(build_dir: &Path) {
    if let Ok(md) = std::fs::metadata(build_dir) {
        for d in ["upper", "work", "target"] {
            remove_at(&build_dir.join(d), md.dev(), 0);
        }
    }
}

pub(crate) fn remove_tree(dir: &Path) {
    if let Ok(md) = std::fs::symlink_metadata(dir) {
        remove_at(dir, md.dev(), 0);
    }
}
