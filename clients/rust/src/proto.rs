//! The messages of protocol version 1 (docs/PROTOCOL.md, docs/protocol.cddl):
//! canonical encoding and strict decoding. Decoding applies the C decoder's
//! rules in the C decoder's order (`common/proto_decode.c`,
//! `common/proto_check.c`) with the same errnos and messages, so a frame is
//! accepted here exactly when `cps__msg_decode` accepts it.

use crate::cbor::{self, Encoder, Item};
use crate::error::SandboxError;
use crate::features;
use crate::limits::*;

pub const BACKENDS: [&str; 2] = ["userns", "bubblewrap"];
pub const OVERLAY_MODES: [&str; 3] = ["native", "fuse", "bind"];

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hello {
    pub protocol: u64,
    pub helper_version: String,
    /// Known backends in canonical order; names this side does not know are
    /// skipped when decoding (forward compatibility).
    pub backends: Vec<String>,
    pub overlay_modes: Vec<String>,
    pub max_frame: u64,
    pub max_chunk: u64,
    pub uid: u32,
    pub gid: u32,
    pub backend: String,
    pub seccomp: bool,
    /// `hello.features`: the optional job keys the helper understands, known
    /// names in the order of [`features::TABLE`] (others are skipped when
    /// decoding). None: the hello had no `features` key (a helper of 0.1.0,
    /// or one that was not asked).
    pub features: Option<Vec<String>>,
    /// `hello.reuse`: the jobs a helper started with `--jobs-per-helper N > 1`
    /// will still take, counting the one this hello invites (1..=1000). None:
    /// no such key, one job per helper.
    pub reuse: Option<u32>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputDecl {
    pub path: String,
    pub mode: u32,
    pub size: u64,
}

/// `job.limits`; 0 means "the helper's default" and is not encoded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WireLimits {
    pub timeout_ms: u64,
    pub max_output_bytes: u64,
    pub cpu_seconds: u64,
    pub address_space: u64,
    pub file_size: u64,
    pub open_files: u64,
    pub processes: u64,
    pub tmp_bytes: u64,
    pub scratch_bytes: u64,
}

pub const LIMIT_KEYS: [&str; 9] = [
    "timeout_ms",
    "max_output_bytes",
    "cpu_seconds",
    "address_space",
    "file_size",
    "open_files",
    "processes",
    "tmp_bytes",
    "scratch_bytes",
];

impl WireLimits {
    pub(crate) fn values(&self) -> [u64; 9] {
        [
            self.timeout_ms,
            self.max_output_bytes,
            self.cpu_seconds,
            self.address_space,
            self.file_size,
            self.open_files,
            self.processes,
            self.tmp_bytes,
            self.scratch_bytes,
        ]
    }
    fn slot(&mut self, i: usize) -> &mut u64 {
        match i {
            0 => &mut self.timeout_ms,
            1 => &mut self.max_output_bytes,
            2 => &mut self.cpu_seconds,
            3 => &mut self.address_space,
            4 => &mut self.file_size,
            5 => &mut self.open_files,
            6 => &mut self.processes,
            7 => &mut self.tmp_bytes,
            _ => &mut self.scratch_bytes,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WireJob {
    pub toolchain: String,
    pub build_dir: String,
    pub argv: Vec<String>,
    pub env: Vec<(String, String)>,
    pub cwd: String,
    pub outputs: Vec<String>,
    pub inputs: Vec<InputDecl>,
    pub backend: Option<String>,
    /// None: "auto" (not encoded).
    pub overlay: Option<String>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub seccomp: Option<bool>,
    pub limits: WireLimits,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExitStatus {
    Code(u8),
    Signal(u8),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exit {
    pub status: ExitStatus,
    pub timed_out: bool,
    pub limit: Option<String>,
    pub wall_us: u64,
    pub user_us: u64,
    pub sys_us: u64,
    pub max_rss_kb: u64,
    pub backend: String,
    pub overlay: String,
    pub timings: Vec<(String, u64)>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OutputMsg<'a> {
    Missing { path: String },
    Chunk { path: String, mode: u32, size: u64, data: &'a [u8], end: bool },
}

/// One message. Data chunks borrow the frame they were decoded from (or the
/// buffer they are encoded from): no copy on the way in or out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Msg<'a> {
    Hello(Hello),
    Job(WireJob),
    Input { path: String, data: &'a [u8], end: bool },
    Cancel,
    Stdout(&'a [u8]),
    Stderr(&'a [u8]),
    Output(OutputMsg<'a>),
    Exit(Exit),
    Error(SandboxError),
}

impl Msg<'_> {
    pub fn type_name(&self) -> &'static str {
        match self {
            Msg::Hello(_) => "hello",
            Msg::Job(_) => "job",
            Msg::Input { .. } => "input",
            Msg::Cancel => "cancel",
            Msg::Stdout(_) => "stdout",
            Msg::Stderr(_) => "stderr",
            Msg::Output(_) => "output",
            Msg::Exit(_) => "exit",
            Msg::Error(_) => "error",
        }
    }
}

// ---------------------------------------------------------------- encoding

fn kv_text(e: &mut Encoder, k: &str, v: &str) {
    e.text(k);
    e.text(v);
}

fn kv_uint(e: &mut Encoder, k: &str, v: u64) {
    e.text(k);
    e.uint(v);
}

fn kv_bool(e: &mut Encoder, k: &str, v: bool) {
    e.text(k);
    e.bool(v);
}

fn kv_bytes(e: &mut Encoder, k: &str, v: &[u8]) {
    e.text(k);
    e.bytes(v);
}

fn known_in_order<'n>(names: &[String], order: &[&'n str]) -> Vec<&'n str> {
    order.iter().copied().filter(|n| names.iter().any(|x| x == n)).collect()
}

/// Encode `msg` canonically (keys in the documented order, shortest heads,
/// defaults left out) after checking it against the rules a decoder applies
/// (errno EINVAL, stage "encode"), so this side never sends what the other
/// side would refuse.
pub fn encode(msg: &Msg<'_>) -> Result<Vec<u8>, SandboxError> {
    check(msg, libc::EINVAL, "encode")?;
    let mut e = Encoder::default();
    match msg {
        Msg::Hello(h) => {
            let b = known_in_order(&h.backends, &BACKENDS);
            let o = known_in_order(&h.overlay_modes, &OVERLAY_MODES);
            e.map(11 + h.features.is_some() as usize + h.reuse.is_some() as usize);
            kv_text(&mut e, "type", "hello");
            kv_uint(&mut e, "protocol", h.protocol);
            kv_text(&mut e, "helper_version", &h.helper_version);
            e.text("backends");
            e.array(b.len());
            b.iter().for_each(|n| e.text(n));
            e.text("overlay_modes");
            e.array(o.len());
            o.iter().for_each(|n| e.text(n));
            kv_uint(&mut e, "max_frame", h.max_frame);
            kv_uint(&mut e, "max_chunk", h.max_chunk);
            kv_uint(&mut e, "uid", h.uid as u64);
            kv_uint(&mut e, "gid", h.gid as u64);
            kv_text(&mut e, "backend", &h.backend);
            kv_bool(&mut e, "seccomp", h.seccomp);
            if let Some(f) = &h.features {
                let f = known_in_order(f, &features::NAMES);
                e.text("features");
                e.array(f.len());
                f.iter().for_each(|n| e.text(n));
            }
            if let Some(r) = h.reuse {
                kv_uint(&mut e, "reuse", r as u64);
            }
        }
        Msg::Job(j) => {
            let limits: Vec<(usize, u64)> =
                j.limits.values().iter().copied().enumerate().filter(|(_, v)| *v != 0).collect();
            let n = 8
                + j.backend.is_some() as usize
                + j.overlay.is_some() as usize
                + j.uid.is_some() as usize
                + j.gid.is_some() as usize
                + j.seccomp.is_some() as usize
                + !limits.is_empty() as usize;
            e.map(n);
            kv_text(&mut e, "type", "job");
            kv_text(&mut e, "toolchain", &j.toolchain);
            kv_text(&mut e, "build_dir", &j.build_dir);
            e.text("argv");
            e.array(j.argv.len());
            j.argv.iter().for_each(|a| e.text(a));
            e.text("env");
            e.array(j.env.len());
            for (k, v) in &j.env {
                e.array(2);
                e.text(k);
                e.text(v);
            }
            kv_text(&mut e, "cwd", &j.cwd);
            e.text("outputs");
            e.array(j.outputs.len());
            j.outputs.iter().for_each(|o| e.text(o));
            e.text("inputs");
            e.array(j.inputs.len());
            for d in &j.inputs {
                e.map(3);
                kv_text(&mut e, "path", &d.path);
                kv_uint(&mut e, "mode", d.mode as u64);
                kv_uint(&mut e, "size", d.size);
            }
            if let Some(b) = &j.backend {
                kv_text(&mut e, "backend", b);
            }
            if let Some(o) = &j.overlay {
                kv_text(&mut e, "overlay", o);
            }
            if let Some(u) = j.uid {
                kv_uint(&mut e, "uid", u as u64);
            }
            if let Some(g) = j.gid {
                kv_uint(&mut e, "gid", g as u64);
            }
            if let Some(s) = j.seccomp {
                kv_bool(&mut e, "seccomp", s);
            }
            if !limits.is_empty() {
                e.text("limits");
                e.map(limits.len());
                for (i, v) in limits {
                    kv_uint(&mut e, LIMIT_KEYS[i], v);
                }
            }
        }
        Msg::Input { path, data, end } => {
            e.map(4);
            kv_text(&mut e, "type", "input");
            kv_text(&mut e, "path", path);
            kv_bytes(&mut e, "data", data);
            kv_bool(&mut e, "end", *end);
        }
        Msg::Cancel => {
            e.map(1);
            kv_text(&mut e, "type", "cancel");
        }
        Msg::Stdout(d) | Msg::Stderr(d) => {
            e.map(2);
            kv_text(&mut e, "type", msg.type_name());
            kv_bytes(&mut e, "data", d);
        }
        Msg::Output(OutputMsg::Missing { path }) => {
            e.map(3);
            kv_text(&mut e, "type", "output");
            kv_text(&mut e, "path", path);
            kv_bool(&mut e, "missing", true);
        }
        Msg::Output(OutputMsg::Chunk { path, mode, size, data, end }) => {
            e.map(6);
            kv_text(&mut e, "type", "output");
            kv_text(&mut e, "path", path);
            kv_uint(&mut e, "mode", *mode as u64);
            kv_uint(&mut e, "size", *size);
            kv_bytes(&mut e, "data", data);
            kv_bool(&mut e, "end", *end);
        }
        Msg::Exit(x) => {
            e.map(10 + x.limit.is_some() as usize);
            kv_text(&mut e, "type", "exit");
            match x.status {
                ExitStatus::Code(c) => kv_uint(&mut e, "code", c as u64),
                ExitStatus::Signal(s) => kv_uint(&mut e, "signal", s as u64),
            }
            kv_bool(&mut e, "timed_out", x.timed_out);
            if let Some(l) = &x.limit {
                kv_text(&mut e, "limit", l);
            }
            kv_uint(&mut e, "wall_us", x.wall_us);
            kv_uint(&mut e, "user_us", x.user_us);
            kv_uint(&mut e, "sys_us", x.sys_us);
            kv_uint(&mut e, "max_rss_kb", x.max_rss_kb);
            kv_text(&mut e, "backend", &x.backend);
            kv_text(&mut e, "overlay", &x.overlay);
            e.text("timings");
            e.array(x.timings.len());
            for (stage, us) in &x.timings {
                e.array(2);
                e.text(stage);
                e.uint(*us);
            }
        }
        Msg::Error(err) => {
            e.map(5);
            kv_text(&mut e, "type", "error");
            kv_text(&mut e, "stage", &err.stage);
            kv_uint(&mut e, "errno", err.errno as u64);
            kv_text(&mut e, "message", &err.message);
            kv_text(&mut e, "hint", &err.hint);
        }
    }
    if e.buf.len() > MAX_FRAME {
        return Err(SandboxError::new(
            "encode",
            libc::EMSGSIZE,
            format!("{}: {} bytes, more than the frame limit of {MAX_FRAME}", msg.type_name(), e.buf.len()),
        ));
    }
    Ok(e.buf)
}

// ---------------------------------------------------------------- decoding

const STAGE: &str = "decode";

fn fail<T>(field: &str, what: String) -> Result<T, SandboxError> {
    Err(SandboxError::new(STAGE, libc::EPROTO, format!("{field}: {what}")))
}

/// Untrusted key bytes for a message: printable ASCII as is, the rest as
/// \xNN, at most 40 bytes, so the message stays valid UTF-8 and short.
fn quote(p: &[u8]) -> String {
    let mut s = String::new();
    for (i, &c) in p.iter().enumerate() {
        if i == 40 {
            s.push_str("...");
            break;
        }
        if (0x20..0x7f).contains(&c) && c != b'"' && c != b'\\' {
            s.push(c as char);
        } else {
            s.push_str(&format!("\\x{c:02x}"));
        }
    }
    s
}

fn text_eq(it: &Item<'_>, s: &str) -> bool {
    matches!(it, Item::Text(t) if *t == s.as_bytes())
}

type Fields<'i, 'a> = Vec<Option<&'i Item<'a>>>;

/// The values of a map whose keys must be among `names`: unknown, duplicate
/// and non-text keys are refused.
fn map_fields<'i, 'a>(map: &'i Item<'a>, field: &str, names: &[&str]) -> Result<Fields<'i, 'a>, SandboxError> {
    let mut values: Fields<'i, 'a> = vec![None; names.len()];
    let pairs = match map {
        Item::Map(p) => p,
        other => return fail(field, format!("expected a map, got {}", other.kind())),
    };
    for (i, (k, v)) in pairs.iter().enumerate() {
        let key = match k {
            Item::Text(t) => *t,
            other => return fail(field, format!("map key {i} is {}, not a text string", other.kind())),
        };
        let slot = match names.iter().position(|n| n.as_bytes() == key) {
            Some(s) => s,
            None => return fail(field, format!("unknown key \"{}\"", quote(key))),
        };
        if values[slot].is_some() {
            return fail(field, format!("duplicate key \"{}\"", names[slot]));
        }
        values[slot] = Some(v);
    }
    Ok(values)
}

fn need<'i, 'a>(v: &Fields<'i, 'a>, i: usize, names: &[&str], field: &str) -> Result<&'i Item<'a>, SandboxError> {
    match v[i] {
        Some(x) => Ok(x),
        None => fail(field, format!("missing key \"{}\"", names[i])),
    }
}

fn get_uint(it: &Item<'_>, field: &str, max: u64) -> Result<u64, SandboxError> {
    match it {
        Item::Uint(v) if *v > max => fail(field, format!("{v} is larger than {max}")),
        Item::Uint(v) => Ok(*v),
        other => fail(field, format!("expected an unsigned integer, got {}", other.kind())),
    }
}

fn get_bool(it: &Item<'_>, field: &str) -> Result<bool, SandboxError> {
    match it {
        Item::Bool(b) => Ok(*b),
        other => fail(field, format!("expected a boolean, got {}", other.kind())),
    }
}

fn get_text(it: &Item<'_>, field: &str, max: usize) -> Result<String, SandboxError> {
    let t = match it {
        Item::Text(t) => *t,
        other => return fail(field, format!("expected a text string, got {}", other.kind())),
    };
    if t.len() > max {
        return fail(field, format!("text of {} bytes is longer than the limit of {max} bytes", t.len()));
    }
    if t.contains(&0) {
        return fail(field, "text contains NUL".into());
    }
    match std::str::from_utf8(t) {
        Ok(s) => Ok(s.to_string()),
        Err(_) => fail(field, "text is not valid UTF-8".into()),
    }
}

fn get_bytes<'a>(it: &Item<'a>, field: &str) -> Result<&'a [u8], SandboxError> {
    match it {
        Item::Bytes(b) if b.len() > MAX_CHUNK => {
            fail(field, format!("chunk of {} bytes is larger than the limit of {MAX_CHUNK} bytes", b.len()))
        }
        Item::Bytes(b) => Ok(b),
        other => fail(field, format!("expected a byte string, got {}", other.kind())),
    }
}

fn get_array<'i, 'a>(it: &'i Item<'a>, field: &str, min: usize, max: usize) -> Result<&'i [Item<'a>], SandboxError> {
    let a = match it {
        Item::Array(a) => a,
        other => return fail(field, format!("expected an array, got {}", other.kind())),
    };
    if a.len() < min || a.len() > max {
        if min > 0 {
            return fail(field, format!("{} entries, not {min}..{max}", a.len()));
        }
        return fail(field, format!("{} entries, more than {max}", a.len()));
    }
    Ok(a)
}

fn get_name_in(it: &Item<'_>, field: &str, known: &[&str], what: &str) -> Result<String, SandboxError> {
    let s = get_text(it, field, MAX_SHORT_TEXT)?;
    if !known.contains(&s.as_str()) {
        return fail(field, format!("unknown {what} \"{}\"", quote(s.as_bytes())));
    }
    Ok(s)
}

/// A capability list of hello (at most `max` names); names this side does
/// not know are skipped so that a newer helper can announce a new backend or
/// job key to an older parent.
fn get_caps(it: &Item<'_>, field: &str, max: usize, known: &[&str]) -> Result<Vec<String>, SandboxError> {
    let items = get_array(it, field, 0, max)?;
    let mut seen = Vec::new();
    for (i, x) in items.iter().enumerate() {
        let f = format!("{field}[{i}]");
        let s = get_text(x, &f, MAX_SHORT_TEXT)?;
        if s.is_empty() {
            return fail(&f, "text is empty".into());
        }
        if known.contains(&s.as_str()) {
            seen.push(s);
        }
    }
    Ok(known.iter().filter(|n| seen.iter().any(|s| s == *n)).map(|n| n.to_string()).collect())
}

const HELLO_KEYS: [&str; 13] = [
    "type",
    "protocol",
    "helper_version",
    "backends",
    "overlay_modes",
    "max_frame",
    "max_chunk",
    "uid",
    "gid",
    "backend",
    "seccomp",
    "features",
    "reuse",
];
/// The keys before this one are required.
const HELLO_FEATURES: usize = 11;
const HELLO_REUSE: usize = 12;

fn decode_hello(root: &Item<'_>) -> Result<Hello, SandboxError> {
    // The protocol first: a parent that cannot speak the helper's version
    // must say so, not complain about a field a newer version added.
    if let Item::Map(pairs) = root {
        match pairs.iter().find(|(k, _)| text_eq(k, "protocol")) {
            Some((_, v)) => {
                get_uint(v, "hello.protocol", u64::MAX)?;
            }
            None => return fail("hello", "missing key \"protocol\"".into()),
        }
    }
    let v = map_fields(root, "hello", &HELLO_KEYS)?;
    for i in 0..HELLO_FEATURES {
        need(&v, i, &HELLO_KEYS, "hello")?;
    }
    let g = |i: usize| v[i].unwrap();
    Ok(Hello {
        protocol: get_uint(g(1), "hello.protocol", u64::MAX)?,
        helper_version: get_text(g(2), "hello.helper_version", MAX_SHORT_TEXT)?,
        backends: get_caps(g(3), "hello.backends", MAX_CAPS, &BACKENDS)?,
        overlay_modes: get_caps(g(4), "hello.overlay_modes", MAX_CAPS, &OVERLAY_MODES)?,
        max_frame: get_uint(g(5), "hello.max_frame", u64::MAX)?,
        max_chunk: get_uint(g(6), "hello.max_chunk", u64::MAX)?,
        uid: get_uint(g(7), "hello.uid", MAX_ID)? as u32,
        gid: get_uint(g(8), "hello.gid", MAX_ID)? as u32,
        backend: get_name_in(g(9), "hello.backend", &BACKENDS, "backend")?,
        seccomp: get_bool(g(10), "hello.seccomp")?,
        features: match v[HELLO_FEATURES] {
            Some(f) => Some(get_caps(f, "hello.features", MAX_FEATURES, &features::NAMES)?),
            None => None,
        },
        reuse: match v[HELLO_REUSE] {
            Some(r) => match get_uint(r, "hello.reuse", MAX_JOBS_PER_HELPER)? {
                0 => return fail("hello.reuse", format!("0 is not a number of jobs (1..{MAX_JOBS_PER_HELPER})")),
                n => Some(n as u32),
            },
            None => None,
        },
    })
}

const JOB_KEYS: [&str; 14] = [
    "type",
    "toolchain",
    "build_dir",
    "argv",
    "env",
    "cwd",
    "outputs",
    "inputs",
    "backend",
    "overlay",
    "uid",
    "gid",
    "seccomp",
    "limits",
];
const INPUT_DECL_KEYS: [&str; 3] = ["path", "mode", "size"];

fn get_strv(it: &Item<'_>, field: &str, min: usize, max: usize, text_max: usize) -> Result<Vec<String>, SandboxError> {
    let items = get_array(it, field, min, max)?;
    let mut out = Vec::new();
    for (i, x) in items.iter().enumerate() {
        out.push(get_text(x, &format!("{field}[{i}]"), text_max)?);
    }
    Ok(out)
}

fn decode_job(root: &Item<'_>) -> Result<WireJob, SandboxError> {
    let v = map_fields(root, "job", &JOB_KEYS)?;
    for i in 0..=7 {
        need(&v, i, &JOB_KEYS, "job")?;
    }
    let g = |i: usize| v[i].unwrap();
    let toolchain = get_text(g(1), "job.toolchain", MAX_PATH)?;
    let build_dir = get_text(g(2), "job.build_dir", MAX_PATH)?;
    let argv = get_strv(g(3), "job.argv", 1, MAX_ARGV, MAX_TEXT)?;
    let mut env = Vec::new();
    for (i, pair) in get_array(g(4), "job.env", 0, MAX_ENV)?.iter().enumerate() {
        let f = format!("job.env[{i}]");
        if !matches!(pair, Item::Array(_)) {
            return fail(&f, format!("expected a [name, value] array, got {}", pair.kind()));
        }
        let p = get_array(pair, &f, 2, 2)?;
        let name = get_text(&p[0], &format!("job.env[{i}][0]"), MAX_TEXT)?;
        let value = get_text(&p[1], &format!("job.env[{i}][1]"), MAX_TEXT)?;
        env.push((name, value));
    }
    let cwd = get_text(g(5), "job.cwd", MAX_PATH)?;
    let outputs = get_strv(g(6), "job.outputs", 0, MAX_OUTPUTS, MAX_PATH)?;
    let mut inputs = Vec::new();
    for (i, d) in get_array(g(7), "job.inputs", 0, MAX_INPUTS)?.iter().enumerate() {
        let f = format!("job.inputs[{i}]");
        let dv = map_fields(d, &f, &INPUT_DECL_KEYS)?;
        for k in 0..3 {
            need(&dv, k, &INPUT_DECL_KEYS, &f)?;
        }
        inputs.push(InputDecl {
            path: get_text(dv[0].unwrap(), &format!("{f}.path"), MAX_PATH)?,
            mode: get_uint(dv[1].unwrap(), &format!("{f}.mode"), MAX_MODE)? as u32,
            size: get_uint(dv[2].unwrap(), &format!("{f}.size"), u64::MAX)?,
        });
    }
    let backend = match v[8] {
        Some(b) => Some(get_name_in(b, "job.backend", &BACKENDS, "backend")?),
        None => None,
    };
    let overlay = match v[9] {
        Some(o) => {
            let s = get_name_in(o, "job.overlay", &["auto", "native", "fuse", "bind"], "overlay mode")?;
            if s == "auto" {
                None
            } else {
                Some(s)
            }
        }
        None => None,
    };
    let uid = match v[10] {
        Some(x) => Some(get_uint(x, "job.uid", MAX_ID)? as u32),
        None => None,
    };
    let gid = match v[11] {
        Some(x) => Some(get_uint(x, "job.gid", MAX_ID)? as u32),
        None => None,
    };
    let seccomp = match v[12] {
        Some(x) => Some(get_bool(x, "job.seccomp")?),
        None => None,
    };
    let mut limits = WireLimits::default();
    if let Some(l) = v[13] {
        let lv = map_fields(l, "job.limits", &LIMIT_KEYS)?;
        for (i, x) in lv.iter().enumerate() {
            if let Some(x) = x {
                *limits.slot(i) = get_uint(x, &format!("job.limits.{}", LIMIT_KEYS[i]), u64::MAX)?;
            }
        }
    }
    Ok(WireJob { toolchain, build_dir, argv, env, cwd, outputs, inputs, backend, overlay, uid, gid, seccomp, limits })
}

const OUTPUT_KEYS: [&str; 7] = ["type", "path", "missing", "mode", "size", "data", "end"];

fn decode_output<'a>(root: &Item<'a>) -> Result<OutputMsg<'a>, SandboxError> {
    let v = map_fields(root, "output", &OUTPUT_KEYS)?;
    let path = get_text(need(&v, 1, &OUTPUT_KEYS, "output")?, "output.path", MAX_PATH)?;
    if let Some(m) = v[2] {
        // {type, path, missing: true} and nothing else.
        if !get_bool(m, "output.missing")? {
            return fail("output.missing", "must be true when present".into());
        }
        if let Some(i) = (3..7).find(|&i| v[i].is_some()) {
            return fail("output", format!("key \"{}\" is not allowed with \"missing\"", OUTPUT_KEYS[i]));
        }
        return Ok(OutputMsg::Missing { path });
    }
    for i in 3..7 {
        need(&v, i, &OUTPUT_KEYS, "output")?;
    }
    Ok(OutputMsg::Chunk {
        path,
        mode: get_uint(v[3].unwrap(), "output.mode", MAX_MODE)? as u32,
        size: get_uint(v[4].unwrap(), "output.size", u64::MAX)?,
        data: get_bytes(v[5].unwrap(), "output.data")?,
        end: get_bool(v[6].unwrap(), "output.end")?,
    })
}

const EXIT_KEYS: [&str; 12] = [
    "type",
    "code",
    "signal",
    "timed_out",
    "limit",
    "wall_us",
    "user_us",
    "sys_us",
    "max_rss_kb",
    "backend",
    "overlay",
    "timings",
];

fn decode_exit(root: &Item<'_>) -> Result<Exit, SandboxError> {
    let v = map_fields(root, "exit", &EXIT_KEYS)?;
    if v[1].is_some() && v[2].is_some() {
        return fail("exit", "both \"code\" and \"signal\" are present".into());
    }
    if v[1].is_none() && v[2].is_none() {
        return fail("exit", "missing key \"code\" (or \"signal\")".into());
    }
    for i in 3..12 {
        if i != 4 {
            need(&v, i, &EXIT_KEYS, "exit")?;
        }
    }
    let status = match (v[1], v[2]) {
        (Some(c), _) => ExitStatus::Code(get_uint(c, "exit.code", 255)? as u8),
        (None, Some(s)) => {
            let s = get_uint(s, "exit.signal", 64)?;
            if s == 0 {
                return fail("exit.signal", "signal 0 is not 1..64".into());
            }
            ExitStatus::Signal(s as u8)
        }
        (None, None) => unreachable!("checked above"),
    };
    let g = |i: usize| v[i].unwrap();
    let timed_out = get_bool(g(3), "exit.timed_out")?;
    let limit = match v[4] {
        Some(l) => Some(get_text(l, "exit.limit", MAX_SHORT_TEXT)?),
        None => None,
    };
    let wall_us = get_uint(g(5), "exit.wall_us", u64::MAX)?;
    let user_us = get_uint(g(6), "exit.user_us", u64::MAX)?;
    let sys_us = get_uint(g(7), "exit.sys_us", u64::MAX)?;
    let max_rss_kb = get_uint(g(8), "exit.max_rss_kb", u64::MAX)?;
    let backend = get_name_in(g(9), "exit.backend", &BACKENDS, "backend")?;
    let overlay = get_name_in(g(10), "exit.overlay", &OVERLAY_MODES, "overlay mode")?;
    let mut timings = Vec::new();
    for (i, t) in get_array(g(11), "exit.timings", 0, MAX_TIMINGS)?.iter().enumerate() {
        let f = format!("exit.timings[{i}]");
        if !matches!(t, Item::Array(_)) {
            return fail(&f, format!("expected a [stage, usec] array, got {}", t.kind()));
        }
        let p = get_array(t, &f, 2, 2)?;
        let stage = get_text(&p[0], &format!("exit.timings[{i}][0]"), MAX_SHORT_TEXT)?;
        let us = get_uint(&p[1], &format!("exit.timings[{i}][1]"), u64::MAX)?;
        timings.push((stage, us));
    }
    Ok(Exit { status, timed_out, limit, wall_us, user_us, sys_us, max_rss_kb, backend, overlay, timings })
}

const ERROR_KEYS: [&str; 5] = ["type", "stage", "errno", "message", "hint"];

fn decode_error(root: &Item<'_>) -> Result<SandboxError, SandboxError> {
    let v = map_fields(root, "error", &ERROR_KEYS)?;
    for i in 0..5 {
        need(&v, i, &ERROR_KEYS, "error")?;
    }
    let g = |i: usize| v[i].unwrap();
    Ok(SandboxError {
        stage: get_text(g(1), "error.stage", MAX_SHORT_TEXT)?,
        errno: get_uint(g(2), "error.errno", MAX_ERRNO)? as i32,
        message: get_text(g(3), "error.message", MAX_MESSAGE)?,
        hint: get_text(g(4), "error.hint", MAX_MESSAGE)?,
    })
}

const TYPES: [&str; 9] = ["hello", "job", "input", "cancel", "stdout", "stderr", "output", "exit", "error"];

/// The value of the first "type" key (duplicates are caught by the body).
fn message_type(root: &Item<'_>) -> Result<&'static str, SandboxError> {
    let pairs = match root {
        Item::Map(p) => p,
        other => return fail("message", format!("expected a map, got {}", other.kind())),
    };
    for (k, v) in pairs {
        if !text_eq(k, "type") {
            continue;
        }
        let t = get_text(v, "type", MAX_SHORT_TEXT)?;
        return match TYPES.iter().find(|n| **n == t) {
            Some(n) => Ok(n),
            None => fail("type", format!("unknown message type \"{}\"", quote(t.as_bytes()))),
        };
    }
    fail("message", "missing key \"type\"".into())
}

fn decode_body<'a>(root: &Item<'a>, t: &str) -> Result<Msg<'a>, SandboxError> {
    Ok(match t {
        "hello" => Msg::Hello(decode_hello(root)?),
        "job" => Msg::Job(decode_job(root)?),
        "input" => {
            const K: [&str; 4] = ["type", "path", "data", "end"];
            let v = map_fields(root, "input", &K)?;
            for i in 0..4 {
                need(&v, i, &K, "input")?;
            }
            Msg::Input {
                path: get_text(v[1].unwrap(), "input.path", MAX_PATH)?,
                data: get_bytes(v[2].unwrap(), "input.data")?,
                end: get_bool(v[3].unwrap(), "input.end")?,
            }
        }
        "cancel" => {
            map_fields(root, "cancel", &["type"])?;
            Msg::Cancel
        }
        "stdout" | "stderr" => {
            const K: [&str; 2] = ["type", "data"];
            let v = map_fields(root, t, &K)?;
            let d = get_bytes(need(&v, 1, &K, t)?, &format!("{t}.data"))?;
            if t == "stdout" {
                Msg::Stdout(d)
            } else {
                Msg::Stderr(d)
            }
        }
        "output" => Msg::Output(decode_output(root)?),
        "exit" => Msg::Exit(decode_exit(root)?),
        _ => Msg::Error(decode_error(root)?),
    })
}

/// Decode one untrusted frame payload (docs/PROTOCOL.md, "Decoding untrusted
/// frames"): size, pre-scan, version, load, schema, rules; the first rule
/// broken refuses the frame. Errors have stage "decode" and errno EMSGSIZE,
/// EPROTONOSUPPORT or EPROTO, with the C decoder's messages.
pub fn decode(buf: &[u8]) -> Result<Msg<'_>, SandboxError> {
    if buf.is_empty() || buf.len() > MAX_FRAME {
        return Err(SandboxError::new(
            STAGE,
            libc::EMSGSIZE,
            format!("frame: {} bytes, not 1..{MAX_FRAME}", buf.len()),
        ));
    }
    let scan = cbor::scan(buf);
    // Version negotiation comes before every other rule: a hello of another
    // version may look like anything, and "protocol 2 vs 1" is the one
    // message that tells the operator what to do.
    if let (true, Some(p)) = (scan.is_hello, scan.protocol) {
        if p != PROTOCOL_VERSION {
            return Err(SandboxError::new(
                STAGE,
                libc::EPROTONOSUPPORT,
                format!("helper speaks protocol {p}, this side speaks {PROTOCOL_VERSION}"),
            )
            .with_hint("install a cachepot-dist-sandbox helper from the same release as the library"));
        }
    }
    if let Some(v) = scan.violation {
        return Err(SandboxError::new(STAGE, libc::EPROTO, v));
    }
    let root = match cbor::load(buf) {
        Some(r) => r,
        None => return fail("frame", "could not load the checked item".into()),
    };
    let t = message_type(&root)?;
    let msg = decode_body(&root, t)?;
    check(&msg, libc::EPROTO, STAGE)?;
    Ok(msg)
}

// ---------------------------------------------------------------- rules

fn bad<T>(errno: i32, stage: &str, field: &str, what: String) -> Result<T, SandboxError> {
    Err(SandboxError::new(stage, errno, format!("{field}: {what}")))
}

/// What is wrong with a wire path, as `common/path.c` says it.
pub fn path_problem(p: &str) -> Option<&'static str> {
    if p.is_empty() {
        return Some("path is empty");
    }
    if p.len() > MAX_PATH {
        return Some("path is longer than 4095 bytes");
    }
    if p.contains('\0') {
        return Some("path contains NUL");
    }
    if !p.starts_with('/') {
        return Some("path is not absolute");
    }
    if p == "/" {
        return None;
    }
    if p.ends_with('/') {
        return Some("path ends with '/'");
    }
    for c in p[1..].split('/') {
        match c {
            "" => return Some("path has an empty component (\"//\")"),
            "." => return Some("path has a \".\" component"),
            ".." => return Some("path has a \"..\" component"),
            _ => {}
        }
    }
    None
}

/// The cross-field rules of docs/PROTOCOL.md "Decoding", rule 6, applied by
/// the decoder (errno EPROTO) and the encoder (errno EINVAL) alike.
pub fn check(msg: &Msg<'_>, errno: i32, stage: &str) -> Result<(), SandboxError> {
    let text = |field: &str, s: &str, max: usize, allow_empty: bool| -> Result<(), SandboxError> {
        if s.len() > max {
            return bad(
                errno,
                stage,
                field,
                format!("text of {} bytes is longer than the limit of {max} bytes", s.len()),
            );
        }
        if s.is_empty() && !allow_empty {
            return bad(errno, stage, field, "text is empty".into());
        }
        if s.contains('\0') {
            return bad(errno, stage, field, "text contains NUL".into());
        }
        Ok(())
    };
    let path = |field: &str, s: &str| -> Result<(), SandboxError> {
        text(field, s, MAX_PATH, false)?;
        match path_problem(s) {
            Some(p) => bad(errno, stage, field, p.into()),
            None => Ok(()),
        }
    };
    let data = |field: &str, d: &[u8], allow_empty: bool| -> Result<(), SandboxError> {
        if d.len() > MAX_CHUNK {
            return bad(
                errno,
                stage,
                field,
                format!("chunk of {} bytes is larger than the limit of {MAX_CHUNK} bytes", d.len()),
            );
        }
        if d.is_empty() && !allow_empty {
            return bad(errno, stage, field, "chunk is empty".into());
        }
        Ok(())
    };
    let one_of = |field: &str, s: &str, known: &[&str], what: &str| -> Result<(), SandboxError> {
        if known.contains(&s) {
            Ok(())
        } else {
            bad(errno, stage, field, format!("not exactly one known {what} (\"{}\")", quote(s.as_bytes())))
        }
    };
    let id = |field: &str, v: u32| -> Result<(), SandboxError> {
        if v == u32::MAX {
            bad(errno, stage, field, "4294967295 is not a valid id".into())
        } else {
            Ok(())
        }
    };
    let mode = |field: &str, m: u32| -> Result<(), SandboxError> {
        if m as u64 > MAX_MODE {
            bad(errno, stage, field, format!("mode {m:#o} has bits above 07777"))
        } else {
            Ok(())
        }
    };
    match msg {
        Msg::Hello(h) => {
            if h.protocol != PROTOCOL_VERSION {
                return bad(
                    errno,
                    stage,
                    "hello.protocol",
                    format!("protocol {} is not {PROTOCOL_VERSION}", h.protocol),
                );
            }
            text("hello.helper_version", &h.helper_version, MAX_SHORT_TEXT, false)?;
            for b in &h.backends {
                one_of("hello.backends", b, &BACKENDS, "backend")?;
            }
            for o in &h.overlay_modes {
                one_of("hello.overlay_modes", o, &OVERLAY_MODES, "overlay mode")?;
            }
            id("hello.uid", h.uid)?;
            id("hello.gid", h.gid)?;
            one_of("hello.backend", &h.backend, &BACKENDS, "backend")?;
            for f in h.features.iter().flatten() {
                one_of("hello.features", f, &features::NAMES, "job key")?;
            }
            if let Some(r) = h.reuse {
                if r == 0 || r as u64 > MAX_JOBS_PER_HELPER {
                    return bad(errno, stage, "hello.reuse", format!("{r} is not 1..{MAX_JOBS_PER_HELPER}"));
                }
            }
        }
        Msg::Job(j) => {
            path("job.toolchain", &j.toolchain)?;
            path("job.build_dir", &j.build_dir)?;
            if j.argv.is_empty() || j.argv.len() > MAX_ARGV {
                return bad(errno, stage, "job.argv", format!("{} entries, not 1..{MAX_ARGV}", j.argv.len()));
            }
            for (i, a) in j.argv.iter().enumerate() {
                text(&format!("job.argv[{i}]"), a, MAX_TEXT, true)?;
            }
            if j.env.len() > MAX_ENV {
                return bad(errno, stage, "job.env", format!("{} pairs, more than {MAX_ENV}", j.env.len()));
            }
            for (i, (n, v)) in j.env.iter().enumerate() {
                let f = format!("job.env[{i}][0]");
                text(&f, n, MAX_TEXT, false)?;
                if n.contains('=') {
                    return bad(errno, stage, &f, "variable name contains '='".into());
                }
                text(&format!("job.env[{i}][1]"), v, MAX_TEXT, true)?;
            }
            path("job.cwd", &j.cwd)?;
            if j.outputs.len() > MAX_OUTPUTS {
                return bad(
                    errno,
                    stage,
                    "job.outputs",
                    format!("{} entries, more than {MAX_OUTPUTS}", j.outputs.len()),
                );
            }
            for (i, o) in j.outputs.iter().enumerate() {
                path(&format!("job.outputs[{i}]"), o)?;
            }
            if j.inputs.len() > MAX_INPUTS {
                return bad(errno, stage, "job.inputs", format!("{} entries, more than {MAX_INPUTS}", j.inputs.len()));
            }
            for (i, d) in j.inputs.iter().enumerate() {
                path(&format!("job.inputs[{i}].path"), &d.path)?;
                mode(&format!("job.inputs[{i}].mode"), d.mode)?;
            }
            if let Some(b) = &j.backend {
                one_of("job.backend", b, &BACKENDS, "backend")?;
            }
            if let Some(o) = &j.overlay {
                one_of("job.overlay", o, &OVERLAY_MODES, "overlay mode")?;
            }
            if let Some(u) = j.uid {
                id("job.uid", u)?;
            }
            if let Some(g) = j.gid {
                id("job.gid", g)?;
            }
        }
        Msg::Input { path: p, data: d, .. } => {
            path("input.path", p)?;
            data("input.data", d, true)?;
        }
        Msg::Cancel => {}
        Msg::Stdout(d) => data("stdout.data", d, false)?,
        Msg::Stderr(d) => data("stderr.data", d, false)?,
        Msg::Output(OutputMsg::Missing { path: p }) => path("output.path", p)?,
        Msg::Output(OutputMsg::Chunk { path: p, mode: m, size, data: d, .. }) => {
            path("output.path", p)?;
            mode("output.mode", *m)?;
            data("output.data", d, true)?;
            if d.len() as u64 > *size {
                return bad(
                    errno,
                    stage,
                    "output.data",
                    format!("chunk of {} bytes is larger than the file size {size}", d.len()),
                );
            }
        }
        Msg::Exit(x) => {
            match x.status {
                ExitStatus::Signal(s) if !(1..=64).contains(&s) => {
                    return bad(errno, stage, "exit.signal", format!("signal {s} is not 1..64"))
                }
                _ => {}
            }
            if let Some(l) = &x.limit {
                text("exit.limit", l, MAX_SHORT_TEXT, false)?;
            }
            one_of("exit.backend", &x.backend, &BACKENDS, "backend")?;
            one_of("exit.overlay", &x.overlay, &OVERLAY_MODES, "overlay mode")?;
            if x.timings.len() > MAX_TIMINGS {
                return bad(
                    errno,
                    stage,
                    "exit.timings",
                    format!("{} entries, more than {MAX_TIMINGS}", x.timings.len()),
                );
            }
            for (i, (s, _)) in x.timings.iter().enumerate() {
                text(&format!("exit.timings[{i}][0]"), s, MAX_SHORT_TEXT, false)?;
            }
        }
        Msg::Error(e) => {
            text("error.stage", &e.stage, MAX_SHORT_TEXT, false)?;
            text("error.message", &e.message, MAX_MESSAGE, true)?;
            text("error.hint", &e.hint, MAX_MESSAGE, true)?;
            if e.errno < 0 {
                return bad(errno, stage, "error.errno", format!("errno {} is negative", e.errno));
            }
        }
    }
    Ok(())
}
