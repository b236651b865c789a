//! Every bound of protocol version 1, as `common/cps_limits.h` has them
//! (docs/PROTOCOL.md, "Limits"). Change them together.

pub const PROTOCOL_VERSION: u64 = 1;
/// Bytes of CBOR in one frame.
pub const MAX_FRAME: usize = 1024 * 1024;
/// Bytes of data in one stdout/stderr/input/output frame.
pub const MAX_CHUNK: usize = 64 * 1024;
/// Nesting of arrays/maps; the message map is level 1.
pub const MAX_DEPTH: usize = 4;
/// Data items in one frame.
pub const MAX_ITEMS: u64 = 65536;
pub const MAX_PATH: usize = 4095;
pub const MAX_TEXT: usize = 128 * 1024;
pub const MAX_SHORT_TEXT: usize = 256;
pub const MAX_MESSAGE: usize = 4096;
pub const MAX_ARGV: usize = 4096;
pub const MAX_ENV: usize = 1024;
pub const MAX_OUTPUTS: usize = 256;
pub const MAX_INPUTS: usize = 4096;
pub const MAX_TIMINGS: usize = 64;
pub const MAX_CAPS: usize = 16;
/// Entries of hello.features.
pub const MAX_FEATURES: usize = 64;
/// `hello.reuse`: `--jobs-per-helper` of the helper.
pub const MAX_JOBS_PER_HELPER: u64 = 1000;
pub const MAX_MODE: u64 = 0o7777;
/// `(uid_t)-1` is not an id.
pub const MAX_ID: u64 = u32::MAX as u64 - 1;
pub const MAX_ERRNO: u64 = i32::MAX as u64;
