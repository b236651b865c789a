//! The subset of CBOR (RFC 8949) protocol version 1 uses: a canonical
//! encoder, and the allocation-free pre-scan plus tree builder of the strict
//! decoder. The pre-scan follows `common/scan.c` rule for rule and message
//! for message, so a frame is refused here exactly when the C side refuses it.

use crate::limits::{MAX_DEPTH, MAX_ITEMS};
use crate::utf8;

/// A canonical CBOR writer: definite lengths, shortest heads (RFC 8949
/// §4.2.1). Keys are written in the order the caller writes them.
#[derive(Default)]
pub(crate) struct Encoder {
    pub buf: Vec<u8>,
}

impl Encoder {
    fn head(&mut self, major: u8, v: u64) {
        let m = major << 5;
        if v < 24 {
            self.buf.push(m | v as u8);
        } else if v <= 0xff {
            self.buf.extend_from_slice(&[m | 24, v as u8]);
        } else if v <= 0xffff {
            self.buf.push(m | 25);
            self.buf.extend_from_slice(&(v as u16).to_be_bytes());
        } else if v <= 0xffff_ffff {
            self.buf.push(m | 26);
            self.buf.extend_from_slice(&(v as u32).to_be_bytes());
        } else {
            self.buf.push(m | 27);
            self.buf.extend_from_slice(&v.to_be_bytes());
        }
    }
    pub fn uint(&mut self, v: u64) {
        self.head(0, v);
    }
    pub fn bytes(&mut self, b: &[u8]) {
        self.head(2, b.len() as u64);
        self.buf.extend_from_slice(b);
    }
    pub fn text(&mut self, s: &str) {
        self.head(3, s.len() as u64);
        self.buf.extend_from_slice(s.as_bytes());
    }
    pub fn array(&mut self, n: usize) {
        self.head(4, n as u64);
    }
    pub fn map(&mut self, n: usize) {
        self.head(5, n as u64);
    }
    pub fn bool(&mut self, b: bool) {
        self.buf.push(if b { 0xf5 } else { 0xf4 });
    }
}

/// One item head as libcbor's `cbor_stream_decode` reports it.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Uint(u64),
    NegInt,
    Bytes(usize),
    Text(usize),
    BytesIndef,
    TextIndef,
    Array(u64),
    ArrayIndef,
    Map(u64),
    MapIndef,
    Tag(u64),
    Float,
    Null,
    Undefined,
    Bool(bool),
    Break,
}

enum Decoded {
    /// The item head (and a definite string's bytes) take `read` bytes.
    Item(Kind, usize),
    /// The item is cut short (libcbor: CBOR_DECODER_NEDATA).
    Short,
    /// Not CBOR libcbor accepts (reserved additional info, simple values).
    Malformed,
}

fn argument(buf: &[u8], ai: u8) -> Option<Option<(u64, usize)>> {
    // None: malformed; Some(None): short; Some(Some((value, head length))).
    let extra = match ai {
        0..=23 => return Some(Some((ai as u64, 1))),
        24 => 1,
        25 => 2,
        26 => 4,
        27 => 8,
        _ => return None,
    };
    if buf.len() < 1 + extra {
        return Some(None);
    }
    let mut v = 0u64;
    for b in &buf[1..1 + extra] {
        v = v << 8 | *b as u64;
    }
    Some(Some((v, 1 + extra)))
}

fn decode_one(buf: &[u8]) -> Decoded {
    let ib = buf[0];
    let (major, ai) = (ib >> 5, ib & 0x1f);
    if ai == 31 {
        return match major {
            2 => Decoded::Item(Kind::BytesIndef, 1),
            3 => Decoded::Item(Kind::TextIndef, 1),
            4 => Decoded::Item(Kind::ArrayIndef, 1),
            5 => Decoded::Item(Kind::MapIndef, 1),
            7 => Decoded::Item(Kind::Break, 1),
            _ => Decoded::Malformed,
        };
    }
    if major == 7 {
        let (kind, len) = match ai {
            20 => (Kind::Bool(false), 1),
            21 => (Kind::Bool(true), 1),
            22 => (Kind::Null, 1),
            23 => (Kind::Undefined, 1),
            25 => (Kind::Float, 3),
            26 => (Kind::Float, 5),
            27 => (Kind::Float, 9),
            // Unassigned simple values (0..19, the one-byte form 24) and
            // reserved 28..30: libcbor 0.8 refuses them as malformed.
            _ => return Decoded::Malformed,
        };
        return if buf.len() < len { Decoded::Short } else { Decoded::Item(kind, len) };
    }
    // libcbor 0.8 refuses the one-byte tags 6..20 (reserved when it was
    // written) as malformed rather than reporting a tag; so does this scan,
    // so that both sides say the same thing about the same frame.
    if major == 6 && (6..=20).contains(&ai) {
        return Decoded::Malformed;
    }
    let (v, head) = match argument(buf, ai) {
        None => return Decoded::Malformed,
        Some(None) => return Decoded::Short,
        Some(Some(x)) => x,
    };
    match major {
        0 => Decoded::Item(Kind::Uint(v), head),
        1 => Decoded::Item(Kind::NegInt, head),
        2 | 3 => {
            if v > (buf.len() - head) as u64 {
                return Decoded::Short;
            }
            let n = v as usize;
            let k = if major == 2 { Kind::Bytes(n) } else { Kind::Text(n) };
            Decoded::Item(k, head + n)
        }
        4 => Decoded::Item(Kind::Array(v), head),
        5 => Decoded::Item(Kind::Map(v), head),
        _ => Decoded::Item(Kind::Tag(v), head),
    }
}

/// How deep the walk follows a frame that already broke a rule (to find the
/// "protocol" of a hello from another version); deeper frames stop the walk.
const WALK_DEPTH: usize = 32;

#[derive(Clone, Default)]
struct Level {
    indefinite: bool,
    is_map: bool,
    is_string: bool,
    remaining: u64,
    seen: u64,
    /// Maps: the last key when it was short printable text, for naming the
    /// field of a violation ("job.argv[1]").
    key: String,
}

#[derive(PartialEq)]
enum Pending {
    None,
    Type,
    Protocol,
}

/// What the pre-scan found: the first violation, and the hello peek.
#[derive(Default, Debug)]
pub(crate) struct Scan {
    pub violation: Option<String>,
    pub is_hello: bool,
    pub protocol: Option<u64>,
}

struct Walk<'a> {
    buf: &'a [u8],
    out: Scan,
    stack: Vec<Level>,
    done: bool,
    outstanding: u64,
    items: u64,
    pending: Pending,
    type_name: String,
    where_: String,
    what: String,
}

/// Printable ASCII without quote or backslash that fits, else "".
fn printable(s: &[u8], size: usize) -> String {
    if s.is_empty() || s.len() >= size || s.iter().any(|&c| !(0x21..=0x7e).contains(&c) || c == b'"' || c == b'\\') {
        return String::new();
    }
    String::from_utf8_lossy(s).into_owned()
}

impl<'a> Walk<'a> {
    fn violate(&mut self, msg: String) {
        if self.out.violation.is_none() {
            self.out.violation = Some(msg);
        }
    }

    fn render_where(&mut self) {
        let mut w = String::new();
        for l in &self.stack {
            if l.is_string {
                break;
            }
            if l.is_map && l.seen % 2 == 0 {
                w.push_str(" (a map key)");
            } else if l.is_map {
                w.push('.');
                w.push_str(if l.key.is_empty() { "?" } else { &l.key });
            } else {
                w.push_str(&format!("[{}]", l.seen));
            }
        }
        self.where_ = w;
    }

    fn check_text(&mut self, data: &[u8]) {
        if self.what.is_empty() && !utf8::valid(data) {
            self.render_where();
            self.what = "text is not valid UTF-8".into();
        }
        if let Some(top) = self.stack.last_mut() {
            if top.is_map && top.seen % 2 == 0 {
                top.key = printable(data, 40);
            }
        }
    }

    fn peek(&mut self, kind: Kind, data: &[u8]) {
        if self.stack.len() != 1 || !self.stack[0].is_map {
            return;
        }
        let is_text = |s: &str| matches!(kind, Kind::Text(_)) && data == s.as_bytes();
        if self.stack[0].seen % 2 == 0 {
            self.pending = if is_text("type") {
                Pending::Type
            } else if is_text("protocol") {
                Pending::Protocol
            } else {
                Pending::None
            };
            return;
        }
        if self.pending == Pending::Type && is_text("hello") {
            self.out.is_hello = true;
        }
        if self.pending == Pending::Type && matches!(kind, Kind::Text(_)) && self.type_name.is_empty() {
            self.type_name = printable(data, 24);
        }
        if let (Pending::Protocol, Kind::Uint(v)) = (&self.pending, kind) {
            if self.out.protocol.is_none() {
                self.out.protocol = Some(v);
            }
        }
        self.pending = Pending::None;
    }

    fn complete(&mut self) {
        while let Some(top) = self.stack.last_mut() {
            top.seen += 1;
            if top.indefinite {
                return;
            }
            top.remaining -= 1;
            if top.remaining > 0 {
                return;
            }
            self.stack.pop();
        }
        self.done = true;
    }

    /// Returns false when the walk cannot go on.
    fn open_container(&mut self, pos: usize, is_map: bool, indefinite: bool, n: u64, left: usize) -> bool {
        let what = if is_map { "map" } else { "array" };
        if self.stack.len() + 1 > MAX_DEPTH {
            self.violate(format!("frame: {what} at byte {pos} nests deeper than {MAX_DEPTH} levels"));
        }
        let mut items = 0;
        if indefinite {
            self.violate(format!("frame: indefinite-length {what} at byte {pos} (only definite lengths are allowed)"));
        } else {
            items = n;
            if is_map {
                if n > u64::MAX / 2 {
                    self.violate(format!("frame: map at byte {pos} declares {n} entries"));
                    return false;
                }
                items = 2 * n;
            }
            // Every declared item takes at least one byte: a count above the
            // bytes left (counting the items the enclosing containers still
            // expect) is a lie, and believing it is what costs gigabytes.
            let left = left as u64;
            if items > left {
                self.violate(format!(
                    "frame: {what} at byte {pos} declares {items} items but only {left} bytes are left"
                ));
                return false;
            }
            if self.outstanding + items > left {
                self.violate(format!(
                    "frame: {what} at byte {pos} declares {items} items; with the {} items the enclosing \
                     containers still expect that is more than the {left} bytes left",
                    self.outstanding
                ));
                return false;
            }
            if items > MAX_ITEMS - self.items {
                self.violate(format!("frame: more than {MAX_ITEMS} items in one frame"));
                return false;
            }
            self.items += items;
            if items == 0 {
                self.complete();
                return true;
            }
            self.outstanding += items;
        }
        if self.stack.len() >= WALK_DEPTH {
            return false;
        }
        self.stack.push(Level { indefinite, is_map, remaining: items, ..Level::default() });
        true
    }

    fn report_short(&mut self, pos: usize) {
        let b = self.buf;
        let major = b[pos] >> 5;
        if major == 2 || major == 3 {
            if let Some(Some((declared, head))) = argument(&b[pos..], b[pos] & 0x1f) {
                let name = if major == 2 { "byte string" } else { "text string" };
                let left = b.len() - pos - head;
                self.violate(format!(
                    "frame: {name} at byte {pos} declares {declared} bytes but only {left} bytes are left"
                ));
                return;
            }
        }
        self.violate(format!("frame: truncated CBOR item at byte {pos}"));
    }

    fn run(&mut self) -> bool {
        let buf = self.buf;
        let len = buf.len();
        let mut pos = 0;
        let mut top_is_map = false;
        if len == 0 {
            self.violate("frame: empty".into());
            return false;
        }
        let mut stopped = false;
        while pos < len {
            if self.done {
                self.violate(format!("frame: {} trailing bytes after the message", len - pos));
                break;
            }
            let (kind, read) = match decode_one(&buf[pos..]) {
                Decoded::Short => {
                    self.report_short(pos);
                    break;
                }
                Decoded::Malformed => {
                    self.violate(format!("frame: malformed CBOR at byte {pos}"));
                    break;
                }
                Decoded::Item(k, r) => (k, r),
            };
            let left = len - pos - read;
            let data: &[u8] = match kind {
                Kind::Bytes(n) | Kind::Text(n) => &buf[pos + read - n..pos + read],
                _ => &[],
            };
            if self.stack.is_empty() && !matches!(kind, Kind::Tag(_)) {
                top_is_map = matches!(kind, Kind::Map(_) | Kind::MapIndef);
            }
            // An item begins (a break ends one, a tag only prefixes one).
            if !matches!(kind, Kind::Break | Kind::Tag(_)) {
                if let Some(top) = self.stack.last() {
                    if !top.indefinite {
                        self.outstanding -= 1;
                    }
                }
            }
            if let Kind::Text(_) = kind {
                self.check_text(data);
            }
            self.peek(kind, data);
            match kind {
                Kind::Uint(_) | Kind::NegInt | Kind::Bytes(_) | Kind::Text(_) | Kind::Bool(_) => self.complete(),
                Kind::Float => {
                    self.violate(format!("frame: floating-point number at byte {pos} (not allowed)"));
                    self.complete();
                }
                Kind::Null | Kind::Undefined => {
                    let n = if kind == Kind::Null { "null" } else { "undefined" };
                    self.violate(format!("frame: {n} at byte {pos} (not allowed)"));
                    self.complete();
                }
                Kind::Tag(t) => {
                    // A tag prefixes the item that follows; that item fills the slot.
                    self.violate(format!("frame: tag {t} at byte {pos} (tags are not allowed)"));
                }
                Kind::BytesIndef | Kind::TextIndef => {
                    let n = if kind == Kind::BytesIndef { "byte string" } else { "text string" };
                    self.violate(format!(
                        "frame: indefinite-length {n} at byte {pos} (only definite lengths are allowed)"
                    ));
                    if self.stack.len() >= WALK_DEPTH {
                        stopped = true;
                        break;
                    }
                    self.stack.push(Level { indefinite: true, is_string: true, ..Level::default() });
                }
                Kind::Array(n) | Kind::Map(n) => {
                    if !self.open_container(pos, matches!(kind, Kind::Map(_)), false, n, left) {
                        stopped = true;
                        break;
                    }
                }
                Kind::ArrayIndef | Kind::MapIndef => {
                    if !self.open_container(pos, kind == Kind::MapIndef, true, 0, left) {
                        stopped = true;
                        break;
                    }
                }
                Kind::Break => {
                    if !self.stack.last().map_or(false, |l| l.indefinite) {
                        self.violate(format!("frame: unexpected break at byte {pos}"));
                        stopped = true;
                        break;
                    }
                    self.stack.pop();
                    self.complete();
                }
            }
            pos += read;
        }
        if !stopped && !self.done {
            self.violate(format!("frame: truncated message ({len} bytes)"));
        }
        // Checked last so that the more telling violations of a top-level
        // array or string (a declared size of gigabytes) are reported.
        if !top_is_map {
            self.violate("frame: the message must be a map".into());
        }
        if !self.what.is_empty() {
            let t = if self.type_name.is_empty() { "message".to_string() } else { self.type_name.clone() };
            let msg = format!("{t}{}: {}", self.where_, self.what);
            self.violate(msg);
        }
        self.out.violation.is_none()
    }
}

/// The pre-scan of docs/PROTOCOL.md "Decoding", rule 2: no allocation
/// driven by anything the frame declares (the stack is at most 32 levels).
pub(crate) fn scan(buf: &[u8]) -> Scan {
    let mut w = Walk {
        buf,
        out: Scan::default(),
        stack: Vec::new(),
        done: false,
        outstanding: 0,
        items: 0,
        pending: Pending::None,
        type_name: String::new(),
        where_: String::new(),
        what: String::new(),
    };
    w.run();
    w.out
}

/// A data item of a frame that passed [`scan`]: only the kinds the scan lets
/// through, definite and at most 4 deep. Strings borrow the frame.
#[derive(Debug)]
pub(crate) enum Item<'a> {
    Uint(u64),
    NegInt,
    Bytes(&'a [u8]),
    Text(&'a [u8]),
    Array(Vec<Item<'a>>),
    Map(Vec<(Item<'a>, Item<'a>)>),
    Bool(bool),
}

impl<'a> Item<'a> {
    /// The item's kind for messages, in the C decoder's words.
    pub fn kind(&self) -> &'static str {
        match self {
            Item::Uint(_) => "an unsigned integer",
            Item::NegInt => "a negative integer",
            Item::Bytes(_) => "a byte string",
            Item::Text(_) => "a text string",
            Item::Array(_) => "an array",
            Item::Map(_) => "a map",
            Item::Bool(_) => "a simple value",
        }
    }
}

/// Build the item of a frame that passed [`scan`]. Every container's size
/// was checked against the bytes left, so the tree holds at most one node
/// per byte of the frame; pushes grow with the items actually read.
pub(crate) fn load(buf: &[u8]) -> Option<Item<'_>> {
    let mut pos = 0;
    let item = load_at(buf, &mut pos, 0)?;
    if pos != buf.len() {
        return None;
    }
    Some(item)
}

fn load_at<'a>(buf: &'a [u8], pos: &mut usize, depth: usize) -> Option<Item<'a>> {
    if *pos >= buf.len() {
        return None;
    }
    let (kind, read) = match decode_one(&buf[*pos..]) {
        Decoded::Item(k, r) => (k, r),
        _ => return None,
    };
    let start = *pos;
    *pos += read;
    Some(match kind {
        Kind::Uint(v) => Item::Uint(v),
        Kind::NegInt => Item::NegInt,
        Kind::Bytes(n) => Item::Bytes(&buf[start + read - n..start + read]),
        Kind::Text(n) => Item::Text(&buf[start + read - n..start + read]),
        Kind::Bool(b) => Item::Bool(b),
        Kind::Array(n) => {
            if depth >= MAX_DEPTH || n > (buf.len() - *pos) as u64 {
                return None;
            }
            let mut v = Vec::new();
            for _ in 0..n {
                v.push(load_at(buf, pos, depth + 1)?);
            }
            Item::Array(v)
        }
        Kind::Map(n) => {
            if depth >= MAX_DEPTH || n > (buf.len() - *pos) as u64 {
                return None;
            }
            let mut v = Vec::new();
            for _ in 0..n {
                let k = load_at(buf, pos, depth + 1)?;
                let val = load_at(buf, pos, depth + 1)?;
                v.push((k, val));
            }
            Item::Map(v)
        }
        _ => return None,
    })
}
