//! Describing a job: the builder a worker fills, and its wire form for one run.

use crate::error::{io_text, SandboxError};
use crate::proto::{self, InputDecl, Msg, WireJob, WireLimits};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Job limits; 0 means the helper's documented default (docs/PROTOCOL.md, job.limits).
pub type Limits = WireLimits;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Userns,
    Bubblewrap,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Userns => "userns",
            Backend::Bubblewrap => "bubblewrap",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Overlay {
    /// The helper picks the best mode that works on the host.
    Auto,
    Native,
    Fuse,
    Bind,
}

impl Overlay {
    pub fn name(self) -> &'static str {
        match self {
            Overlay::Auto => "auto",
            Overlay::Native => "native",
            Overlay::Fuse => "fuse",
            Overlay::Bind => "bind",
        }
    }
}

/// Where an input's bytes come from.
#[derive(Clone, Debug)]
pub enum InputSource {
    /// A host file, read when the job runs (it must not change meanwhile).
    File(PathBuf),
    /// Bytes in memory (shared, not copied per run).
    Bytes(Arc<[u8]>),
}

#[derive(Clone, Debug)]
pub struct Input {
    pub source: InputSource,
    /// Absolute, or relative to the job's cwd.
    pub sandbox_path: String,
    pub mode: u32,
}

/// One compile job. Build it once, run it any number of times, from any
/// number of threads (`run` only reads it).
///
/// ```no_run
/// use cachepot_sandbox::{Job, RunOptions};
/// let job = Job::new("/var/lib/cachepot/toolchains/1f2e")
///     .args(["gcc", "-c", "a.i", "-o", "a.o"])
///     .env("PATH", "/usr/bin:/bin")
///     .input_file("/tmp/a.i", "a.i", 0o644)
///     .output("a.o");
/// let outcome = cachepot_sandbox::run(&job, &RunOptions::new().out_dir("/tmp/results"))?;
/// # Ok::<(), cachepot_sandbox::SandboxError>(())
/// ```
#[derive(Clone, Debug)]
pub struct Job {
    pub toolchain: PathBuf,
    pub build_dir: Option<PathBuf>,
    pub cwd: String,
    pub argv: Vec<String>,
    pub env: Vec<(String, String)>,
    pub inputs: Vec<Input>,
    pub outputs: Vec<String>,
    pub limits: Limits,
    pub backend: Option<Backend>,
    pub overlay: Overlay,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub seccomp: Option<bool>,
}

pub const DEFAULT_CWD: &str = "/build";

impl Job {
    /// A job in the toolchain directory `toolchain` (the read-only root of
    /// the sandbox). Defaults as the C library: cwd "/build", no env, a
    /// fresh build dir under $TMPDIR per run, the helper's backend, overlay
    /// "auto", uid/gid and seccomp as the helper was started.
    pub fn new(toolchain: impl Into<PathBuf>) -> Job {
        Job {
            toolchain: toolchain.into(),
            build_dir: None,
            cwd: DEFAULT_CWD.into(),
            argv: Vec::new(),
            env: Vec::new(),
            inputs: Vec::new(),
            outputs: Vec::new(),
            limits: Limits::default(),
            backend: None,
            overlay: Overlay::Auto,
            uid: None,
            gid: None,
            seccomp: None,
        }
    }
    /// Host directory for the helper's upper/ work/ target/ (created if
    /// missing); one build dir serves one run at a time.
    pub fn build_dir(mut self, dir: impl Into<PathBuf>) -> Job {
        self.build_dir = Some(dir.into());
        self
    }
    /// Working directory inside the sandbox (absolute; created if missing).
    pub fn cwd(mut self, cwd: impl Into<String>) -> Job {
        self.cwd = cwd.into();
        self
    }
    /// Append one argument (the first is the command, looked up in the job's PATH).
    pub fn arg(mut self, a: impl Into<String>) -> Job {
        self.argv.push(a.into());
        self
    }
    pub fn args<I, S>(mut self, args: I) -> Job
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.argv.extend(args.into_iter().map(Into::into));
        self
    }
    /// One variable of the compiler's environment (which is exactly these).
    pub fn env(mut self, name: impl Into<String>, value: impl Into<String>) -> Job {
        self.env.push((name.into(), value.into()));
        self
    }
    pub fn input_file(mut self, host: impl Into<PathBuf>, sandbox_path: impl Into<String>, mode: u32) -> Job {
        self.inputs.push(Input { source: InputSource::File(host.into()), sandbox_path: sandbox_path.into(), mode });
        self
    }
    pub fn input_bytes(mut self, data: impl Into<Arc<[u8]>>, sandbox_path: impl Into<String>, mode: u32) -> Job {
        self.inputs.push(Input { source: InputSource::Bytes(data.into()), sandbox_path: sandbox_path.into(), mode });
        self
    }
    /// Ask for a file back: absolute, or relative to the cwd. The path as
    /// given (leading "/" and "." components dropped) names it in callbacks
    /// and below the out dir; ".." is refused.
    pub fn output(mut self, path: impl Into<String>) -> Job {
        self.outputs.push(path.into());
        self
    }
    pub fn limits(mut self, limits: Limits) -> Job {
        self.limits = limits;
        self
    }
    /// The compiler's wall-clock limit (job.limits.timeout_ms).
    pub fn timeout_ms(mut self, ms: u64) -> Job {
        self.limits.timeout_ms = ms;
        self
    }
    pub fn backend(mut self, b: Backend) -> Job {
        self.backend = Some(b);
        self
    }
    pub fn overlay(mut self, o: Overlay) -> Job {
        self.overlay = o;
        self
    }
    pub fn uid(mut self, uid: u32) -> Job {
        self.uid = Some(uid);
        self
    }
    pub fn gid(mut self, gid: u32) -> Job {
        self.gid = Some(gid);
        self
    }
    pub fn seccomp(mut self, on: bool) -> Job {
        self.seccomp = Some(on);
        self
    }
}

fn job_error(errno: i32, msg: String) -> SandboxError {
    SandboxError::new("job", errno, msg)
}

/// Append the components of `path` to `out`, dropping "." and empty ones;
/// None on a ".." component.
fn append_components(out: &mut String, path: &str) -> Option<()> {
    for c in path.split('/') {
        match c {
            ".." => return None,
            "" | "." => {}
            c => {
                out.push('/');
                out.push_str(c);
            }
        }
    }
    Some(())
}

/// A sandbox path as the wire wants it: absolute and normalized, relative
/// ones against the cwd. ".." is refused rather than interpreted.
pub(crate) fn resolve(cwd: &str, path: &str) -> Result<String, SandboxError> {
    if path.is_empty() {
        return Err(job_error(libc::EINVAL, "empty sandbox path".into()));
    }
    let mut out = String::new();
    let ok = (path.starts_with('/') || append_components(&mut out, cwd).is_some())
        && append_components(&mut out, path).is_some();
    if !ok {
        return Err(job_error(libc::EINVAL, format!("sandbox path {path} has a \"..\" component"))
            .with_hint("name sandbox files without \"..\""));
    }
    if out.is_empty() {
        out.push('/');
    }
    if let Some(p) = proto::path_problem(&out) {
        return Err(job_error(libc::EINVAL, format!("sandbox path {path} is not valid: {p}")));
    }
    Ok(out)
}

/// The name of an output below the out dir: the path as given without its
/// leading "/" and "." components; never absolute, never with "..".
pub(crate) fn output_name(path: &str) -> Result<String, SandboxError> {
    let mut out = String::new();
    if append_components(&mut out, path).is_none() {
        return Err(job_error(libc::EINVAL, format!("output path {path} has a \"..\" component"))
            .with_hint("name outputs without \"..\""));
    }
    if out.is_empty() {
        return Err(job_error(libc::EINVAL, format!("output path \"{path}\" names no file")));
    }
    Ok(out[1..].to_string())
}

/// What one run sends, and how it finds the inputs' bytes again.
pub(crate) struct Wire {
    pub job: WireJob,
    /// Encoded job frame payload.
    pub job_payload: Vec<u8>,
    /// dev, ino of each file input, checked again when it is opened.
    pub input_ids: Vec<Option<(u64, u64)>>,
    pub output_names: Vec<String>,
    pub bytes_in: u64,
}

fn utf8_path(p: &Path, what: &str) -> Result<String, SandboxError> {
    match p.to_str() {
        Some(s) => Ok(s.to_string()),
        None => {
            Err(job_error(libc::EINVAL, format!("{what} {} is not valid UTF-8 (protocol paths are text)", p.display())))
        }
    }
}

pub(crate) fn build_wire(job: &Job, build_dir: &Path) -> Result<Wire, SandboxError> {
    if job.argv.is_empty() {
        return Err(job_error(libc::EINVAL, "the job has no argv".into()).with_hint("set a command"));
    }
    if !job.cwd.starts_with('/') {
        return Err(job_error(libc::EINVAL, format!("cwd {} is not absolute", job.cwd)));
    }
    let cwd = resolve("/", &job.cwd)?;
    let mut inputs = Vec::new();
    let mut input_ids = Vec::new();
    let mut bytes_in = 0;
    for i in &job.inputs {
        let path = resolve(&cwd, &i.sandbox_path)?;
        let (size, id) = match &i.source {
            InputSource::Bytes(b) => (b.len() as u64, None),
            InputSource::File(host) => {
                use std::os::unix::fs::MetadataExt;
                let md = std::fs::metadata(host).map_err(|e| {
                    SandboxError::new(
                        "input",
                        e.raw_os_error().unwrap_or(libc::EIO),
                        format!("stat input {}: {}", host.display(), io_text(&e)),
                    )
                })?;
                if !md.is_file() {
                    return Err(SandboxError::new(
                        "input",
                        libc::EINVAL,
                        format!("input {} is not a regular file", host.display()),
                    ));
                }
                (md.len(), Some((md.dev(), md.ino())))
            }
        };
        bytes_in += size;
        inputs.push(InputDecl { path, mode: i.mode, size });
        input_ids.push(id);
    }
    let mut outputs = Vec::new();
    let mut output_names = Vec::new();
    for o in &job.outputs {
        outputs.push(resolve(&cwd, o)?);
        output_names.push(output_name(o)?);
    }
    // The wire wants an absolute normalized path; realpath also tells early,
    // in the caller's terms, that the toolchain does not exist.
    let toolchain = std::fs::canonicalize(&job.toolchain).map_err(|e| {
        job_error(
            e.raw_os_error().unwrap_or(libc::EIO),
            format!("toolchain dir {}: {}", job.toolchain.display(), io_text(&e)),
        )
        .with_hint("package a compiler with cachepot-dist-toolchain")
    })?;
    let wire = WireJob {
        toolchain: utf8_path(&toolchain, "toolchain dir")?,
        build_dir: utf8_path(build_dir, "build dir")?,
        argv: job.argv.clone(),
        env: job.env.clone(),
        cwd,
        outputs,
        inputs,
        backend: job.backend.map(|b| b.name().to_string()),
        overlay: match job.overlay {
            Overlay::Auto => None,
            o => Some(o.name().to_string()),
        },
        uid: job.uid,
        gid: job.gid,
        seccomp: job.seccomp,
        limits: job.limits,
    };
    let msg = Msg::Job(wire);
    let payload = proto::encode(&msg).map_err(|mut e| {
        e.stage = "job".into();
        e
    })?;
    let job = match msg {
        Msg::Job(j) => j,
        _ => unreachable!("built as a job"),
    };
    Ok(Wire { job, job_payload: payload, input_ids, output_names, bytes_in })
}
