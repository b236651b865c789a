//! The optional job keys a helper understands (`hello.features`), so that
//! this side never sends a key the helper did not announce
//! (`common/job_features.c`; docs/COMPATIBILITY.md gives the rules,
//! docs/PROTOCOL.md the wire form).

use crate::error::SandboxError;
use crate::proto::{Hello, WireJob, LIMIT_KEYS};

/// Wire name and the first helper release that understands it, in the order
/// of `common/job_features.c`: an encoder writes `hello.features` in this
/// order. A new key gets a row at the end.
pub const TABLE: [(&str, &str); 14] = [
    ("job.backend", "0.1.0"),
    ("job.overlay", "0.1.0"),
    ("job.uid", "0.1.0"),
    ("job.gid", "0.1.0"),
    ("job.seccomp", "0.1.0"),
    ("job.limits.timeout_ms", "0.1.0"),
    ("job.limits.max_output_bytes", "0.1.0"),
    ("job.limits.cpu_seconds", "0.1.0"),
    ("job.limits.address_space", "0.1.0"),
    ("job.limits.file_size", "0.1.0"),
    ("job.limits.open_files", "0.1.0"),
    ("job.limits.processes", "0.1.0"),
    ("job.limits.tmp_bytes", "0.1.0"),
    ("job.limits.scratch_bytes", "0.1.0"),
];

// One row per optional key: the job's own five, then every limit.
const _: () = assert!(TABLE.len() == 5 + LIMIT_KEYS.len());

/// The wire names of [`TABLE`], in its order.
pub const NAMES: [&str; TABLE.len()] = {
    let mut out = [""; TABLE.len()];
    let mut i = 0;
    while i < TABLE.len() {
        out[i] = TABLE[i].0;
        i += 1;
    }
    out
};

/// Set to "1" in the helper's environment, it asks for `hello.features`; a
/// helper that was not asked sends the hello of 0.1.0, which a parent of
/// 0.1.0 (strict about unknown keys) still accepts.
pub const HELLO_FEATURES_ENV: &str = "CACHEPOT_HELLO_FEATURES";

/// The feature names a hello stands for: its `features`, or, for a hello
/// without them (a helper of 0.1.0), the keys every helper since 0.1.0, the
/// first release, understands.
pub fn announced(hello: &Hello) -> Vec<&'static str> {
    match &hello.features {
        Some(f) => NAMES.iter().copied().filter(|n| f.iter().any(|x| x == n)).collect(),
        None => TABLE.iter().filter(|(_, since)| *since == "0.1.0").map(|(n, _)| *n).collect(),
    }
}

/// The optional keys `job` puts on the wire, as feature names in table
/// order: exactly what [`crate::proto::encode`] writes beyond the required
/// keys (it leaves out what is unset, and limits that are 0).
pub fn job_features(job: &WireJob) -> Vec<&'static str> {
    // The table lists the job's own keys, then the limits in the order of
    // LIMIT_KEYS, as common/job_features.c has them.
    let mut set =
        vec![job.backend.is_some(), job.overlay.is_some(), job.uid.is_some(), job.gid.is_some(), job.seccomp.is_some()];
    set.extend(job.limits.values().iter().map(|v| *v != 0));
    NAMES.iter().zip(set).filter(|(_, on)| *on).map(|(n, _)| *n).collect()
}

/// Refuse `job` before it is sent when it sets an optional key that `hello`
/// did not announce: a helper refuses a job key it does not know ("unknown
/// key"), which would fail every job with a message that does not say why.
/// The error names the keys, the helper (`helper`: its path and pid) and the
/// first release that has them, worded as the C library's
/// (`parent/lib/session.c`): stage "job", EOPNOTSUPP.
pub fn check(job: &WireJob, hello: &Hello, helper: &str) -> Result<(), SandboxError> {
    let known = announced(hello);
    let missing: Vec<&str> = job_features(job).into_iter().filter(|n| !known.contains(n)).collect();
    let last = match missing.last() {
        Some(l) => *l,
        None => return Ok(()),
    };
    // The newest first release among them: the table only grows at the end.
    let since = TABLE.iter().find(|(n, _)| *n == last).map_or("", |(_, s)| *s);
    Err(SandboxError::new(
        "job",
        libc::EOPNOTSUPP,
        format!(
            "helper {helper} of release {} does not understand {}, which this job sets; helpers of release {since} \
             and later do",
            hello.helper_version,
            missing.join(", ")
        ),
    )
    .with_hint(format!("install a helper of release {since} or later on this host, or leave those keys unset")))
}
