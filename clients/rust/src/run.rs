//! `run()`: build dir, wire job, spawn, one poll(2) loop over the socket,
//! the helper's pidfd and the cancel token, reap, cleanup. The C library's
//! session (parent/lib/session.c), in Rust.

use crate::builddir;
use crate::cancel::CancelHandle;
use crate::error::{errno_text, io_text, last_errno, SandboxError};
use crate::features;
use crate::frame::{self, Feed, FrameReader};
use crate::job::{InputSource, Job, Wire};
use crate::limits::{MAX_CHUNK, MAX_FRAME};
use crate::outdir::OutDir;
use crate::proto::{self, ExitStatus, Msg, OutputMsg};
use crate::spawn::{self, HelperArgs, HelperProc};
use std::cell::RefCell;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// A helper does its job-independent setup before hello (milliseconds); one
/// that stays silent this long is hung or is not a helper.
const HELLO_TIMEOUT: Duration = Duration::from_secs(30);
/// After cancel, the helper kills the job and reports; then we stop waiting.
const CANCEL_GRACE: Duration = Duration::from_secs(5);
/// A helper that closed its socket is exiting: give it this long.
const EXIT_GRACE_MS: i32 = 5000;
/// A helper that sent its last frame only cleans up; after this it is killed.
const CLEANUP_GRACE_MS: i32 = 10000;
/// Frames read per wakeup before the loop looks at the other fds again.
const READ_BURST: usize = 64;

const NOT_A_HELPER: &str = "is this a cachepot-dist-sandbox helper?";
const HELPER_HINT: &str = "run with CACHEPOT_LOG=debug to see the helper's log; check that \
                           CACHEPOT_SANDBOX_HELPER or the helper option names the cachepot-dist-sandbox executable";

/// Which stream a chunk of compiler output came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// An output file event, delivered to [`RunOptions::on_output`].
#[derive(Debug)]
pub enum OutputEvent<'e> {
    /// The next chunk of output `name` (as given to [`Job::output`]). A
    /// file's chunks arrive in order; `last` is set on its final chunk (a
    /// 0-byte file is one event with empty data). `size` is the whole file.
    Chunk { name: &'e str, mode: u32, size: u64, data: &'e [u8], last: bool },
    /// The compiler did not produce `name` (not an error).
    Missing { name: &'e str },
}

type StreamFn<'a> = Box<dyn FnMut(Stream, &[u8]) -> std::io::Result<()> + 'a>;
type OutputFn<'a> = Box<dyn FnMut(OutputEvent<'_>) -> std::io::Result<()> + 'a>;

enum Outputs<'a> {
    Discard,
    Dir(PathBuf),
    Callback(OutputFn<'a>),
}

/// How to run: where the helper is, where output goes, when to give up.
/// Callbacks and writers run on the thread that called [`run`]; an error
/// from one ends the run (the job is cancelled; stage "callback"). Options
/// serve one run at a time: a callback must not start a run with the same
/// options (build one `RunOptions` per concurrent run).
pub struct RunOptions<'a> {
    helper: Option<PathBuf>,
    timeout: Option<Duration>,
    cancel: Option<CancelHandle>,
    on_stream: RefCell<Option<StreamFn<'a>>>,
    stdout: RefCell<Option<Box<dyn Write + 'a>>>,
    stderr: RefCell<Option<Box<dyn Write + 'a>>>,
    outputs: RefCell<Outputs<'a>>,
}

impl<'a> Default for RunOptions<'a> {
    fn default() -> Self {
        RunOptions {
            helper: None,
            timeout: None,
            cancel: None,
            on_stream: RefCell::new(None),
            stdout: RefCell::new(None),
            stderr: RefCell::new(None),
            outputs: RefCell::new(Outputs::Discard),
        }
    }
}

impl<'a> RunOptions<'a> {
    /// Defaults: helper from $CACHEPOT_SANDBOX_HELPER or the installed path,
    /// no overall timeout, output streams and files discarded.
    pub fn new() -> Self {
        Self::default()
    }
    /// The helper executable (else $CACHEPOT_SANDBOX_HELPER, else the installed path).
    pub fn helper(mut self, path: impl Into<PathBuf>) -> Self {
        self.helper = Some(path.into());
        self
    }
    /// Wall-clock limit of the whole exchange, spawn to reap. On expiry the
    /// helper is killed and the run fails with stage "timeout", ETIMEDOUT.
    /// Independently a helper silent for 30 s before hello, or 5 s after a
    /// cancel, is killed: no run waits forever on a hung helper.
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = Some(t);
        self
    }
    pub fn cancel(mut self, c: &CancelHandle) -> Self {
        self.cancel = Some(c.clone());
        self
    }
    /// stdout/stderr chunks as they arrive (takes precedence over the writers).
    pub fn on_stream(self, f: impl FnMut(Stream, &[u8]) -> std::io::Result<()> + 'a) -> Self {
        *self.on_stream.borrow_mut() = Some(Box::new(f));
        self
    }
    /// Write the compiler's stdout here as it arrives (`write_all` per chunk).
    pub fn stdout_to(self, w: impl Write + 'a) -> Self {
        *self.stdout.borrow_mut() = Some(Box::new(w));
        self
    }
    pub fn stderr_to(self, w: impl Write + 'a) -> Self {
        *self.stderr.borrow_mut() = Some(Box::new(w));
        self
    }
    /// Write output files below `dir` (which must exist), named by the path
    /// as given to [`Job::output`] without its leading "/": never outside
    /// `dir`, never through a symlink. A partly received file is removed.
    pub fn out_dir(self, dir: impl Into<PathBuf>) -> Self {
        *self.outputs.borrow_mut() = Outputs::Dir(dir.into());
        self
    }
    /// Output files chunk by chunk, and the missing ones.
    pub fn on_output(self, f: impl FnMut(OutputEvent<'_>) -> std::io::Result<()> + 'a) -> Self {
        *self.outputs.borrow_mut() = Outputs::Callback(Box::new(f));
        self
    }
}

/// The result of a job that ran: its compiler exited, was killed, or timed out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// Exit code, or the signal that killed the compiler.
    pub status: ExitStatus,
    /// The job's own timeout fired (the status is then signal 9).
    pub timed_out: bool,
    /// The limit that ended the job ("timeout", "output", "cancel", "cpu", ...).
    pub limit: Option<String>,
    pub wall_us: u64,
    pub user_us: u64,
    pub sys_us: u64,
    pub max_rss_kb: u64,
    /// The backend and overlay mode that ran the job.
    pub backend: String,
    pub overlay: String,
    pub helper_version: String,
    /// The optional job keys the helper announced (`hello.features`), in the
    /// order of [`crate::features::TABLE`]; None when its hello had none (a
    /// helper of 0.1.0, which understands every key of 0.1.0).
    pub helper_features: Option<Vec<String>>,
    /// The helper's per-stage clock (exit.timings), µs.
    pub timings: Vec<(String, u64)>,
    /// Outputs received and missing, by the name given to [`Job::output`].
    pub outputs_received: Vec<String>,
    pub outputs_missing: Vec<String>,
    /// Input bytes sent; stdout + stderr + output bytes received.
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// posix_spawn until hello; the whole run.
    pub spawn_us: u64,
    pub total_us: u64,
}

impl Outcome {
    /// The exit code when the compiler exited (not killed).
    pub fn code(&self) -> Option<i32> {
        match self.status {
            ExitStatus::Code(c) => Some(c as i32),
            ExitStatus::Signal(_) => None,
        }
    }
    pub fn signal(&self) -> Option<i32> {
        match self.status {
            ExitStatus::Signal(s) => Some(s as i32),
            ExitStatus::Code(_) => None,
        }
    }
    pub fn success(&self) -> bool {
        self.status == ExitStatus::Code(0)
    }
}

#[derive(PartialEq)]
enum Phase {
    WaitHello,
    Running,
    Finished,
}

/// Receiving output files, in the order the job asked for them.
struct Sink {
    idx: usize,
    in_file: bool,
    size: u64,
    got: u64,
    mode: u32,
    file: Option<std::fs::File>,
    dir: Option<OutDir>,
    received: Vec<String>,
    missing: Vec<String>,
    bytes: u64,
}

struct Session<'r, 'a> {
    p: &'r mut HelperProc,
    job: &'r Job,
    wire: &'r Wire,
    opts: &'r RunOptions<'a>,
    sink: Sink,
    reader: FrameReader,
    phase: Phase,
    max_chunk: usize,
    max_frame: usize,
    wbuf: Vec<u8>,
    wpos: usize,
    write_closed: bool,
    job_queued: bool,
    next_input: usize,
    in_file: Option<std::fs::File>,
    in_off: u64,
    stopping: Option<SandboxError>,
    cancel_sent: bool,
    grace_deadline: Option<Instant>,
    result: Option<Result<(), SandboxError>>,
    exit: Option<proto::Exit>,
    helper_version: String,
    helper_features: Option<Vec<String>>,
    hello_at: Option<Instant>,
    bytes_out: u64,
}

fn helper_desc(p: &HelperProc) -> String {
    format!("{} (pid {})", p.path.display(), p.pid)
}

impl<'r, 'a> Session<'r, 'a> {
    /// End the exchange. A helper that sent its last frame is left to clean
    /// up and exit; on any other failure it is killed now.
    fn finish_as(&mut self, r: Result<(), SandboxError>, last_frame_seen: bool) {
        if r.is_err() && !last_frame_seen {
            self.p.kill();
        }
        self.phase = Phase::Finished;
        self.result = Some(r);
    }

    fn fail(&mut self, e: SandboxError) {
        self.finish_as(Err(e), false);
    }

    /// Ask the helper to stop the job, remembering why.
    fn begin_stop(&mut self, e: SandboxError) {
        if self.stopping.is_some() {
            return;
        }
        self.stopping = Some(e.clone());
        self.grace_deadline = Some(Instant::now() + CANCEL_GRACE);
        if self.phase == Phase::WaitHello {
            self.fail(e);
        } else {
            self.fill_wbuf();
        }
    }

    fn stopped_outcome(&mut self, last_frame_seen: bool) {
        let e = self.stopping.clone().expect("stopping");
        self.finish_as(Err(e), last_frame_seen);
    }

    // ---- writing ----

    fn queue(&mut self, payload: &[u8]) -> Result<(), SandboxError> {
        if payload.len() > self.max_frame {
            return Err(SandboxError::new(
                "job",
                libc::EMSGSIZE,
                format!("a frame of {} bytes is larger than the helper accepts ({})", payload.len(), self.max_frame),
            )
            .with_hint("send fewer or shorter arguments"));
        }
        self.wbuf = frame::with_header(payload);
        self.wpos = 0;
        Ok(())
    }

    fn input_chunk(&mut self) -> Result<(), SandboxError> {
        let i = self.next_input;
        let decl = &self.wire.job.inputs[i];
        let want = ((decl.size - self.in_off) as usize).min(self.max_chunk);
        let mut owned;
        let data: &[u8] = match &self.job.inputs[i].source {
            InputSource::Bytes(b) => &b[self.in_off as usize..self.in_off as usize + want],
            InputSource::File(host) => {
                if self.in_file.is_none() {
                    use std::os::unix::fs::MetadataExt;
                    let f = std::fs::File::open(host).map_err(|e| {
                        SandboxError::new(
                            "input",
                            e.raw_os_error().unwrap_or(libc::EIO),
                            format!("open input {}: {}", host.display(), io_text(&e)),
                        )
                    })?;
                    let same = f
                        .metadata()
                        .map(|m| Some((m.dev(), m.ino())) == self.wire.input_ids[i] && m.len() == decl.size);
                    if !same.unwrap_or(false) {
                        return Err(SandboxError::new(
                            "input",
                            libc::EAGAIN,
                            format!("input {} changed after the job was announced", host.display()),
                        )
                        .with_hint("do not modify inputs while a job runs"));
                    }
                    self.in_file = Some(f);
                }
                owned = vec![0u8; want];
                let f = self.in_file.as_mut().unwrap();
                let mut have = 0;
                while have < want {
                    match f.read(&mut owned[have..]) {
                        Ok(0) => {
                            return Err(SandboxError::new(
                                "input",
                                libc::EAGAIN,
                                format!("read input {}: file shrank while it was sent", host.display()),
                            ))
                        }
                        Ok(n) => have += n,
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                        Err(e) => {
                            return Err(SandboxError::new(
                                "input",
                                e.raw_os_error().unwrap_or(libc::EIO),
                                format!("read input {}: {}", host.display(), io_text(&e)),
                            ))
                        }
                    }
                }
                &owned[..]
            }
        };
        let end = self.in_off + want as u64 == decl.size;
        let payload = proto::encode(&Msg::Input { path: decl.path.clone(), data, end })?;
        self.queue(&payload)?;
        self.in_off += want as u64;
        if end {
            self.in_file = None;
            self.in_off = 0;
            self.next_input += 1;
        }
        Ok(())
    }

    /// Put the next frame in wbuf, if there is one to send.
    fn fill_wbuf(&mut self) {
        if !self.wbuf.is_empty() || self.write_closed || self.phase != Phase::Running {
            return;
        }
        let r = if !self.job_queued {
            let payload = self.wire.job_payload.clone();
            // A job the helper cannot take is not sent: the run ends here.
            if let Err(e) = self.queue(&payload) {
                return self.fail(e);
            }
            self.job_queued = true;
            return;
        } else if self.stopping.is_some() {
            if self.cancel_sent {
                return;
            }
            self.cancel_sent = true;
            let payload = proto::encode(&Msg::Cancel).expect("cancel encodes");
            self.queue(&payload)
        } else if self.next_input < self.wire.job.inputs.len() {
            self.input_chunk()
        } else {
            return;
        };
        if let Err(e) = r {
            if self.stopping.is_some() {
                self.fail(e);
            } else {
                self.begin_stop(e);
            }
        }
    }

    fn write_some(&mut self) {
        while !self.wbuf.is_empty() {
            let rest = &self.wbuf[self.wpos..];
            let n = unsafe {
                libc::send(
                    self.p.sock.raw(),
                    rest.as_ptr() as *const libc::c_void,
                    rest.len(),
                    libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT,
                )
            };
            if n < 0 {
                let e = last_errno();
                if e == libc::EINTR {
                    continue;
                }
                if e == libc::EAGAIN || e == libc::EWOULDBLOCK {
                    return;
                }
                // The helper stopped reading (died, or sent an error and
                // closed): keep reading; its last frame or its EOF says which.
                self.write_closed = true;
                self.wbuf.clear();
                return;
            }
            self.wpos += n as usize;
            if self.wpos == self.wbuf.len() {
                self.wbuf.clear();
                self.wpos = 0;
                self.fill_wbuf();
            }
        }
    }

    // ---- reading ----

    fn hello_frame(&mut self, m: Msg<'_>) {
        match m {
            Msg::Error(e) => self.finish_as(Err(e), true),
            Msg::Hello(h) => {
                self.hello_at = Some(Instant::now());
                // A job with a key this helper did not announce is not sent.
                if let Err(e) = features::check(&self.wire.job, &h, &helper_desc(self.p)) {
                    return self.fail(e);
                }
                self.helper_version = h.helper_version;
                self.helper_features = h.features;
                if h.max_chunk > 0 && (h.max_chunk as usize) < self.max_chunk {
                    self.max_chunk = h.max_chunk as usize;
                }
                if h.max_frame > 0 && (h.max_frame as usize) < self.max_frame {
                    self.max_frame = h.max_frame as usize;
                }
                self.phase = Phase::Running;
                self.fill_wbuf();
            }
            other => {
                let who = helper_desc(self.p);
                self.fail(
                    SandboxError::new(
                        "hello",
                        libc::EPROTO,
                        format!("{who} sent {} before hello: {NOT_A_HELPER}", other.type_name()),
                    )
                    .with_hint(HELPER_HINT),
                )
            }
        }
    }

    fn stream_frame(&mut self, s: Stream, data: &[u8]) {
        self.bytes_out += data.len() as u64;
        if self.stopping.is_some() {
            return;
        }
        let r = if let Some(f) = self.opts.on_stream.borrow_mut().as_mut() {
            f(s, data)
        } else {
            let slot = if s == Stream::Stdout { &self.opts.stdout } else { &self.opts.stderr };
            match slot.borrow_mut().as_mut() {
                Some(w) => w.write_all(data),
                None => Ok(()),
            }
        };
        if let Err(e) = r {
            self.begin_stop(SandboxError::new(
                "callback",
                libc::ECANCELED,
                format!(
                    "the {} consumer failed ({e}); stopped the job",
                    if s == Stream::Stdout { "stdout" } else { "stderr" }
                ),
            ));
        }
    }

    fn protocol_error(&self, what: &str, path: &str) -> SandboxError {
        SandboxError::new("protocol", libc::EPROTO, format!("helper sent output {path} {what}"))
    }

    fn deliver(&mut self, ev: OutputEvent<'_>) -> Result<(), SandboxError> {
        let mut outputs = self.opts.outputs.borrow_mut();
        match &mut *outputs {
            Outputs::Callback(f) => {
                let name = match &ev {
                    OutputEvent::Chunk { name, .. } | OutputEvent::Missing { name } => name.to_string(),
                };
                f(ev).map_err(|e| {
                    SandboxError::new("callback", libc::ECANCELED, format!("the output callback refused {name}: {e}"))
                })
            }
            Outputs::Dir(dir) => {
                if let (OutputEvent::Chunk { data, .. }, Some(file)) = (ev, self.sink.file.as_mut()) {
                    let name = &self.wire.output_names[self.sink.idx];
                    file.write_all(data).map_err(|e| {
                        SandboxError::new(
                            "output",
                            e.raw_os_error().unwrap_or(libc::EIO),
                            format!("write {}/{name}: {}", dir.display(), io_text(&e)),
                        )
                    })?;
                }
                Ok(())
            }
            Outputs::Discard => Ok(()),
        }
    }

    fn output_frame(&mut self, o: OutputMsg<'_>) -> Result<(), SandboxError> {
        let idx = self.sink.idx;
        let path = match &o {
            OutputMsg::Missing { path } | OutputMsg::Chunk { path, .. } => path.clone(),
        };
        if idx >= self.wire.job.outputs.len() {
            return Err(self.protocol_error("that was not requested (or twice)", &path));
        }
        if path != self.wire.job.outputs[idx] {
            return Err(self.protocol_error("out of order", &path));
        }
        let given = self.job.outputs[idx].clone();
        match o {
            OutputMsg::Missing { .. } => {
                if self.sink.in_file {
                    return Err(self.protocol_error("as missing after sending part of it", &path));
                }
                self.sink.missing.push(given.clone());
                self.sink.idx += 1;
                self.deliver(OutputEvent::Missing { name: &given })
            }
            OutputMsg::Chunk { mode, size, data, end, .. } => {
                if !self.sink.in_file {
                    self.sink.in_file = true;
                    self.sink.size = size;
                    self.sink.got = 0;
                    self.sink.mode = mode;
                    if let Some(dir) = &self.sink.dir {
                        let name = &self.wire.output_names[idx];
                        let f = dir.create(name, mode).map_err(|e| {
                            let d = match &*self.opts.outputs.borrow() {
                                Outputs::Dir(d) => d.display().to_string(),
                                _ => String::new(),
                            };
                            SandboxError::new("output", e, format!("create {d}/{name}: {}", errno_text(e)))
                        })?;
                        self.sink.file = Some(f);
                    }
                } else if size != self.sink.size {
                    return Err(self.protocol_error("with a size that changed between chunks", &path));
                }
                if data.len() as u64 > self.sink.size - self.sink.got {
                    return Err(self.protocol_error("with more bytes than its size", &path));
                }
                self.sink.got += data.len() as u64;
                self.sink.bytes += data.len() as u64;
                if end && self.sink.got != self.sink.size {
                    return Err(self.protocol_error("with fewer bytes than its size", &path));
                }
                let mode = self.sink.mode;
                let size = self.sink.size;
                self.deliver(OutputEvent::Chunk { name: &given, mode, size, data, last: end })?;
                if end {
                    if let Some(f) = self.sink.file.take() {
                        f.sync_all().ok();
                        drop(f);
                    }
                    self.sink.in_file = false;
                    self.sink.received.push(given);
                    self.sink.idx += 1;
                }
                Ok(())
            }
        }
    }

    /// Outputs the helper did not send (it may stop early, e.g. when the
    /// output limit ended the job) count as missing.
    fn settle_outputs(&mut self) -> Result<(), SandboxError> {
        if self.sink.in_file {
            self.drop_partial();
            self.sink.in_file = false;
            self.sink.missing.push(self.job.outputs[self.sink.idx].clone());
            self.sink.idx += 1;
        }
        while self.sink.idx < self.wire.job.outputs.len() {
            let given = self.job.outputs[self.sink.idx].clone();
            self.sink.missing.push(given.clone());
            self.sink.idx += 1;
            self.deliver(OutputEvent::Missing { name: &given })?;
        }
        Ok(())
    }

    /// Never leave a truncated file that looks like a result.
    fn drop_partial(&mut self) {
        if self.sink.file.take().is_some() {
            if let Some(dir) = &self.sink.dir {
                dir.remove(&self.wire.output_names[self.sink.idx]);
            }
        }
    }

    fn running_frame(&mut self, m: Msg<'_>) {
        match m {
            Msg::Stdout(d) => self.stream_frame(Stream::Stdout, d),
            Msg::Stderr(d) => self.stream_frame(Stream::Stderr, d),
            Msg::Output(o) => {
                if self.stopping.is_some() {
                    return;
                }
                if let Err(e) = self.output_frame(o) {
                    if e.stage == "protocol" {
                        self.fail(e.with_hint(HELPER_HINT));
                    } else {
                        self.begin_stop(e);
                    }
                }
            }
            Msg::Exit(x) => {
                self.exit = Some(x);
                if self.stopping.is_some() {
                    return self.stopped_outcome(true);
                }
                let r = self.settle_outputs();
                self.finish_as(r, true);
            }
            Msg::Error(e) => {
                if self.stopping.is_some() {
                    return self.stopped_outcome(true);
                }
                self.finish_as(Err(e), true);
            }
            other => self.fail(
                SandboxError::new(
                    "protocol",
                    libc::EPROTO,
                    format!("helper sent a {} message during the job", other.type_name()),
                )
                .with_hint(HELPER_HINT),
            ),
        }
    }

    fn bad_hello(&mut self, e: SandboxError) {
        let who = helper_desc(self.p);
        if e.errno == libc::EPROTONOSUPPORT {
            let hint = e.hint.clone();
            return self.fail(
                SandboxError::new("hello", libc::EPROTONOSUPPORT, format!("{who}: {}", e.message)).with_hint(hint),
            );
        }
        self.fail(
            SandboxError::new(
                "hello",
                libc::EPROTO,
                format!("{who} did not send a valid hello ({}): {NOT_A_HELPER}", e.message),
            )
            .with_hint(HELPER_HINT),
        );
    }

    /// The helper closed the socket or exited before its last frame.
    fn helper_gone(&mut self) {
        self.p.finish(EXIT_GRACE_MS);
        let who = helper_desc(self.p);
        let how = self.p.describe_status();
        if self.stopping.is_some() {
            return self.stopped_outcome(true);
        }
        let (stage, what) = if self.phase == Phase::WaitHello {
            ("hello", format!("before saying hello: {NOT_A_HELPER}"))
        } else {
            ("helper", "before the job finished".to_string())
        };
        self.fail(SandboxError::new(stage, libc::ECONNABORTED, format!("{who} {how} {what}")).with_hint(HELPER_HINT));
    }

    /// Read what is there: false when nothing more is waiting or the
    /// exchange is over.
    fn read_some(&mut self) -> bool {
        for _ in 0..READ_BURST {
            match self.reader.feed(self.p.sock.raw()) {
                Ok(Feed::Again) => return false,
                Ok(Feed::Frame) => {}
                Err(e) if e.errno == libc::ECONNRESET => {
                    self.helper_gone();
                    return false;
                }
                Err(e) => {
                    if self.phase == Phase::WaitHello {
                        self.bad_hello(e);
                    } else {
                        self.fail(SandboxError::new("protocol", e.errno, e.message).with_hint(HELPER_HINT));
                    }
                    return false;
                }
            }
            let reader = std::mem::replace(&mut self.reader, FrameReader::new(0));
            let decoded = proto::decode(reader.payload());
            match decoded {
                Err(e) => {
                    if self.phase == Phase::WaitHello {
                        self.bad_hello(e);
                    } else {
                        self.fail(SandboxError::new("protocol", e.errno, e.message).with_hint(HELPER_HINT));
                    }
                }
                Ok(m) => {
                    if self.phase == Phase::WaitHello {
                        self.hello_frame(m);
                    } else {
                        self.running_frame(m);
                    }
                }
            }
            self.reader = reader;
            self.reader.next();
            if self.phase == Phase::Finished {
                return false;
            }
        }
        true
    }

    fn on_deadline(&mut self, overall: Option<Instant>, now: Instant) {
        let who = helper_desc(self.p);
        if overall.map_or(false, |d| now >= d) {
            let ms = self.opts.timeout.map(|t| t.as_millis()).unwrap_or(0);
            return self.fail(
                SandboxError::new(
                    "timeout",
                    libc::ETIMEDOUT,
                    format!("{who} did not finish within the run timeout of {ms} ms; killed it"),
                )
                .with_hint("raise the run timeout, or the job's own timeout"),
            );
        }
        if self.stopping.is_some() {
            return self.stopped_outcome(false);
        }
        self.fail(
            SandboxError::new(
                "hello",
                libc::ETIMEDOUT,
                format!("{who} did not say hello within {} s: {NOT_A_HELPER}", HELLO_TIMEOUT.as_secs()),
            )
            .with_hint(HELPER_HINT),
        );
    }

    fn run(&mut self, start: Instant) {
        let overall = self.opts.timeout.map(|t| start + t);
        let cancel_fd = self.opts.cancel.as_ref().map(|c| c.raw());
        while self.phase != Phase::Finished {
            let now = Instant::now();
            let mut deadline = overall;
            if self.phase == Phase::WaitHello {
                let h = start + HELLO_TIMEOUT;
                deadline = Some(deadline.map_or(h, |d| d.min(h)));
            }
            if let Some(g) = self.grace_deadline {
                deadline = Some(deadline.map_or(g, |d| d.min(g)));
            }
            if deadline.map_or(false, |d| now >= d) {
                self.on_deadline(overall, now);
                break;
            }
            let mut fds = [libc::pollfd { fd: -1, events: 0, revents: 0 }; 3];
            fds[0] = libc::pollfd {
                fd: self.p.sock.raw(),
                events: libc::POLLIN | if self.wbuf.is_empty() { 0 } else { libc::POLLOUT },
                revents: 0,
            };
            fds[1].fd = self.p.pidfd.as_ref().map(|f| f.raw()).unwrap_or(-1);
            fds[1].events = libc::POLLIN;
            if self.stopping.is_none() {
                fds[2].fd = cancel_fd.unwrap_or(-1);
                fds[2].events = libc::POLLIN;
            }
            let timeout_ms = match deadline {
                None => -1,
                Some(d) => {
                    let left = d.saturating_duration_since(now);
                    ((left.as_micros() + 999) / 1000).min(60_000) as i32
                }
            };
            let r = unsafe { libc::poll(fds.as_mut_ptr(), 3, timeout_ms) };
            if r < 0 {
                let e = last_errno();
                if e == libc::EINTR {
                    continue;
                }
                self.fail(SandboxError::new("poll", e, format!("poll: {}", errno_text(e))));
                break;
            }
            if fds[2].fd >= 0 && fds[2].revents != 0 {
                self.begin_stop(SandboxError::new("cancel", libc::ECANCELED, "the run was cancelled"));
            }
            if self.phase != Phase::Finished && fds[0].revents & libc::POLLOUT != 0 {
                self.write_some();
            }
            if self.phase != Phase::Finished && fds[0].revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0 {
                self.read_some();
            }
            if self.phase != Phase::Finished && fds[1].fd >= 0 && fds[1].revents & libc::POLLIN != 0 {
                // The helper exited: what it wrote before is still in the socket.
                while self.read_some() {}
                if self.phase != Phase::Finished {
                    self.helper_gone();
                }
            }
        }
    }
}

/// Run one job in a fresh helper, blocking until the helper has finished and
/// has been reaped. `Ok` when the job ran, whatever its exit status; `Err`
/// with the helper's own error (its stage) or one of this crate's stages
/// (see [`SandboxError`]). The helper never outlives this call.
pub fn run(job: &Job, opts: &RunOptions<'_>) -> Result<Outcome, SandboxError> {
    let start = Instant::now();
    let build = match &job.build_dir {
        Some(d) => BuildDir { path: builddir::prepare(d)?, temp: false },
        None => BuildDir { path: builddir::make_temp()?, temp: true },
    };
    run_in(job, opts, &build.path, start)
}

/// Cleans the build dir when the run ends, also when a callback panics.
struct BuildDir {
    path: PathBuf,
    temp: bool,
}

impl Drop for BuildDir {
    fn drop(&mut self) {
        // The helper removes its upper/ work/ target/; one that died could not.
        builddir::clean(&self.path);
        if self.temp {
            builddir::remove_tree(&self.path);
        }
    }
}

fn run_in(
    job: &Job,
    opts: &RunOptions<'_>,
    build_dir: &std::path::Path,
    start: Instant,
) -> Result<Outcome, SandboxError> {
    let wire = crate::job::build_wire(job, build_dir)?;
    let dir = match &*opts.outputs.borrow() {
        Outputs::Dir(d) if !wire.job.outputs.is_empty() => Some(OutDir::open(d).map_err(|e| {
            SandboxError::new("output", e, format!("open out dir {}: {}", d.display(), errno_text(e)))
                .with_hint("create the out dir first")
        })?),
        _ => None,
    };
    if opts.cancel.as_ref().map_or(false, |c| c.is_cancelled()) {
        return Err(SandboxError::new("cancel", libc::ECANCELED, "the run was cancelled"));
    }
    let path = spawn::helper_path(opts.helper.as_deref());
    let args = HelperArgs {
        uid: job.uid,
        gid: job.gid,
        backend: job.backend.map(|b| b.name().to_string()),
        no_seccomp: job.seccomp == Some(false),
    };
    let spawned = Instant::now();
    let mut proc_ = HelperProc::spawn(&path, &args)?;
    let mut s = Session {
        p: &mut proc_,
        job,
        wire: &wire,
        opts,
        sink: Sink {
            idx: 0,
            in_file: false,
            size: 0,
            got: 0,
            mode: 0,
            file: None,
            dir,
            received: Vec::new(),
            missing: Vec::new(),
            bytes: 0,
        },
        reader: FrameReader::new(MAX_FRAME),
        phase: Phase::WaitHello,
        max_chunk: MAX_CHUNK,
        max_frame: MAX_FRAME,
        wbuf: Vec::new(),
        wpos: 0,
        write_closed: false,
        job_queued: false,
        next_input: 0,
        in_file: None,
        in_off: 0,
        stopping: None,
        cancel_sent: false,
        grace_deadline: None,
        result: None,
        exit: None,
        helper_version: String::new(),
        helper_features: None,
        hello_at: None,
        bytes_out: 0,
    };
    s.run(start);
    if s.result.as_ref().map_or(true, |r| r.is_err()) {
        s.drop_partial();
    }
    let Session { sink, exit, helper_version, helper_features, hello_at, bytes_out, result, .. } = s;
    let result = result
        .unwrap_or_else(|| Err(SandboxError::new("protocol", libc::EPROTO, "the exchange ended without a last frame")));
    let spawn_us = hello_at.map(|h| h.duration_since(spawned).as_micros() as u64).unwrap_or(0);
    let bytes_out = bytes_out + sink.bytes;
    proc_.finish(if result.is_ok() { CLEANUP_GRACE_MS } else { 0 });
    drop(proc_);
    result?;
    let x = exit.expect("a run that ended well has an exit frame");
    Ok(Outcome {
        status: x.status,
        timed_out: x.timed_out,
        limit: x.limit,
        wall_us: x.wall_us,
        user_us: x.user_us,
        sys_us: x.sys_us,
        max_rss_kb: x.max_rss_kb,
        backend: x.backend,
        overlay: x.overlay,
        helper_version,
        helper_features,
        timings: x.timings,
        outputs_received: sink.received,
        outputs_missing: sink.missing,
        bytes_in: wire.bytes_in,
        bytes_out,
        spawn_us,
        total_us: start.elapsed().as_micros() as u64,
    })
}
