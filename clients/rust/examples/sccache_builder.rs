//! How a cachepot / sccache-dist build server runs its jobs with this crate.
//!
//! sccache-dist's build server implements one trait (src/dist/mod.rs):
//!
//! ```text
//! pub trait BuilderIncoming: Send + Sync {
//!     type Error: std::error::Error;
//!     fn run_build(&self, toolchain: Toolchain, command: CompileCommand,
//!                  outputs: Vec<String>, inputs_rdr: InputsReader<'_>,
//!                  cache: &Mutex<TcCache>) -> Result<BuildResult, Self::Error>;
//! }
//! ```
//!
//! Its two builders unpack the toolchain tar and the inputs tar into a
//! directory and run the compiler there, in bubblewrap (OverlayBuilder) or in
//! a Docker container (DockerBuilder). With this crate the server keeps the
//! toolchain unpacked once per `archive_id` (the helper mounts it read-only as
//! the sandbox's root, so one copy serves every job), streams the inputs tar
//! straight into the job, and gets the outputs back as bytes; the helper
//! builds and tears down the sandbox (namespaces, overlay, seccomp, limits).
//! The worker process never forks: `run` spawns the helper with posix_spawn.
//!
//! The types below stand in for sccache's (same fields, no serde, no zlib);
//! this example does not link sccache. A real server would keep `run_build`'s
//! body and use sccache's types: `OutputData::try_from_reader(&bytes[..])`
//! for each output.
//!
//! Run it (as the worker's user) on a toolchain directory, an inputs tar
//! whose paths are relative to "/", and a command:
//!
//! ```text
//! sccache_builder TOOLCHAIN_DIR INPUTS.tar CWD OUTPUT... -- gcc -c /src/a.i -o /src/a.o
//! ```

use cachepot_sandbox::{run, Job, Limits, OutputEvent, RunOptions, SandboxError};
use std::collections::HashMap;
use std::io::Read;
use std::path::PathBuf;

/// sccache: `pub struct Toolchain { pub archive_id: String }`.
pub struct Toolchain {
    pub archive_id: String,
}

/// sccache: `pub struct CompileCommand`.
pub struct CompileCommand {
    pub executable: String,
    pub arguments: Vec<String>,
    pub env_vars: Vec<(String, String)>,
    pub cwd: String,
}

/// sccache: `pub struct ProcessOutput { code: i32, stdout: Vec<u8>, stderr: Vec<u8> }`.
#[derive(Debug)]
pub struct ProcessOutput {
    pub code: i32,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

/// sccache: `pub struct BuildResult { output: ProcessOutput, outputs: Vec<(String, OutputData)> }`
/// (OutputData is the zlib-compressed file).
#[derive(Debug)]
pub struct BuildResult {
    pub output: ProcessOutput,
    pub outputs: Vec<(String, Vec<u8>)>,
}

/// The build server's sandboxing state: where unpacked toolchains live.
pub struct SandboxBuilder {
    /// `<toolchains>/<archive_id>` is the unpacked toolchain (sccache's
    /// TcCache holds the tar; unpack it there once, on first use).
    pub toolchains: PathBuf,
    /// None: $CACHEPOT_SANDBOX_HELPER, else the installed helper.
    pub helper: Option<PathBuf>,
    /// The compiler's own wall-clock limit.
    pub timeout_ms: u64,
}

impl SandboxBuilder {
    /// `BuilderIncoming::run_build` (the TcCache argument is not needed: the
    /// toolchain directory is found by its archive id).
    pub fn run_build(
        &self,
        toolchain: Toolchain,
        command: CompileCommand,
        outputs: Vec<String>,
        inputs_rdr: impl Read,
    ) -> Result<BuildResult, SandboxError> {
        let mut job = Job::new(self.toolchains.join(&toolchain.archive_id))
            .cwd(command.cwd.clone())
            .arg(command.executable)
            .args(command.arguments)
            .limits(Limits { timeout_ms: self.timeout_ms, ..Limits::default() });
        for (k, v) in command.env_vars {
            job = job.env(k, v);
        }
        // sccache's inputs are a tar of the client's files by absolute path
        // (leading "/" stripped); each becomes an input at that path.
        for f in
            read_tar(inputs_rdr).map_err(|e| SandboxError::new("input", libc::EINVAL, format!("inputs tar: {e}")))?
        {
            job = job.input_bytes(f.data, format!("/{}", f.path), f.mode);
        }
        // sccache names outputs as the client gave them (absolute or
        // relative to cwd); the crate resolves both the same way.
        for o in &outputs {
            job = job.output(o.clone());
        }

        let mut stdout = Vec::new();
        let mut stderr = Vec::new();
        let mut files: HashMap<String, Vec<u8>> = HashMap::new();
        let mut opts = RunOptions::new().stdout_to(&mut stdout).stderr_to(&mut stderr).on_output(|ev| {
            if let OutputEvent::Chunk { name, data, .. } = ev {
                files.entry(name.to_string()).or_default().extend_from_slice(data);
            }
            Ok(())
        });
        if let Some(h) = &self.helper {
            opts = opts.helper(h);
        }
        let outcome = run(&job, &opts)?;
        drop(opts);
        // A compiler killed by a signal (its timeout, a crash) has no exit
        // code; report it the way a shell does.
        let code = outcome.code().unwrap_or_else(|| 128 + outcome.signal().unwrap_or(0));
        // Missing outputs are simply absent, as when sccache's builders find
        // no file to return.
        let outputs = outputs.into_iter().filter_map(|o| files.remove(&o).map(|d| (o, d))).collect();
        Ok(BuildResult { output: ProcessOutput { code, stdout, stderr }, outputs })
    }
}

/// One regular file of a tar.
pub struct TarFile {
    pub path: String,
    pub mode: u32,
    pub data: Vec<u8>,
}

fn octal(field: &[u8]) -> Result<u64, String> {
    let s = std::str::from_utf8(field).map_err(|_| "non-ASCII number".to_string())?;
    let s = s.trim_matches(|c: char| c == '\0' || c == ' ');
    if s.is_empty() {
        return Ok(0);
    }
    u64::from_str_radix(s, 8).map_err(|_| format!("bad octal number {s:?}"))
}

fn cstr_field(field: &[u8]) -> Result<String, String> {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    String::from_utf8(field[..end].to_vec()).map_err(|_| "a name that is not UTF-8".to_string())
}

/// The regular files of a ustar / GNU tar stream (as the `tar` crate writes
/// them: GNU long names, pax path records). Directories are skipped: the
/// helper creates an input's parent directories.
pub fn read_tar(mut r: impl Read) -> Result<Vec<TarFile>, String> {
    let mut files = Vec::new();
    let mut long_name: Option<String> = None;
    let mut header = [0u8; 512];
    loop {
        r.read_exact(&mut header).map_err(|e| format!("header: {e}"))?;
        if header.iter().all(|&b| b == 0) {
            return Ok(files);
        }
        let size = octal(&header[124..136])?;
        let mut data = Vec::new();
        (&mut r).take(size).read_to_end(&mut data).map_err(|e| format!("data: {e}"))?;
        if (data.len() as u64) < size {
            return Err("truncated entry".into());
        }
        let pad = (512 - size % 512) % 512;
        std::io::copy(&mut (&mut r).take(pad), &mut std::io::sink()).map_err(|e| e.to_string())?;
        let mut name = cstr_field(&header[0..100])?;
        if &header[257..262] == b"ustar" {
            let prefix = cstr_field(&header[345..500])?;
            if !prefix.is_empty() {
                name = format!("{prefix}/{name}");
            }
        }
        match header[156] {
            b'L' => long_name = Some(cstr_field(&data)?),
            b'x' => {
                // pax records "LEN path=VALUE\n": only the path matters here.
                let text = String::from_utf8(data).map_err(|_| "pax header not UTF-8".to_string())?;
                for rec in text.lines() {
                    if let Some(p) = rec.split_once(' ').and_then(|(_, kv)| kv.strip_prefix("path=")) {
                        long_name = Some(p.to_string());
                    }
                }
            }
            b'g' | b'5' => {}
            b'0' | 0 => {
                let path = long_name.take().unwrap_or(name);
                let mode = (octal(&header[100..108])? & 0o7777) as u32;
                files.push(TarFile { path: path.trim_start_matches('/').to_string(), mode, data });
            }
            t => return Err(format!("entry type {:?} is not supported", t as char)),
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let dash = args.iter().position(|a| a == "--");
    let (head, cmd) = match dash {
        Some(d) if d >= 4 && d + 1 < args.len() => (&args[1..d], &args[d + 1..]),
        _ => {
            eprintln!("usage: sccache_builder TOOLCHAIN_DIR INPUTS.tar CWD [OUTPUT...] -- COMMAND [ARG...]");
            std::process::exit(2);
        }
    };
    let tc = PathBuf::from(&head[0]);
    let builder = SandboxBuilder {
        toolchains: tc.parent().map(|p| p.to_path_buf()).unwrap_or_default(),
        helper: None,
        timeout_ms: 600_000,
    };
    let toolchain = Toolchain { archive_id: tc.file_name().unwrap().to_string_lossy().into_owned() };
    let command = CompileCommand {
        executable: cmd[0].clone(),
        arguments: cmd[1..].to_vec(),
        env_vars: vec![("PATH".into(), "/usr/local/bin:/usr/bin:/bin".into())],
        cwd: head[2].clone(),
    };
    let inputs = std::fs::File::open(&head[1]).unwrap_or_else(|e| {
        eprintln!("sccache_builder: {}: {e}", head[1]);
        std::process::exit(2);
    });
    match builder.run_build(toolchain, command, head[3..].to_vec(), inputs) {
        Ok(r) => {
            use std::io::Write;
            std::io::stdout().write_all(&r.output.stdout).unwrap();
            std::io::stderr().write_all(&r.output.stderr).unwrap();
            for (name, data) in &r.outputs {
                eprintln!("sccache_builder: output {name}: {} bytes", data.len());
            }
            std::process::exit(r.output.code);
        }
        Err(e) => {
            eprintln!("sccache_builder: {e}");
            std::process::exit(125);
        }
    }
}
