//! Run compile jobs in the `cachepot-dist-sandbox` helper from a Rust worker
//! (cachepot / sccache-dist build servers).
//!
//! The crate speaks protocol version 1 (docs/PROTOCOL.md) itself, with the
//! guarantees of the C library `libcachepot-sandbox`: the worker never forks
//! (the helper is started with posix_spawn, its socket at fd 3), output is
//! streamed as it arrives, memory is bounded by one frame, every frame from
//! the helper goes through a decoder as strict as the C one, and every error
//! says where it happened ([`SandboxError`]: stage, errno, message, hint).
//! The helper is asked for the optional job keys it understands
//! (`hello.features`, docs/COMPATIBILITY.md); a job that sets one it did not
//! announce is refused before it is sent ([`features::check`]).
//!
//! ```no_run
//! use cachepot_sandbox::{run, Job, RunOptions};
//! let job = Job::new("/var/lib/cachepot/toolchains/1f2e")
//!     .args(["gcc", "-x", "cpp-output", "-c", "a.i", "-o", "a.o"])
//!     .env("PATH", "/usr/bin:/bin")
//!     .input_file("/tmp/a.i", "a.i", 0o644)
//!     .output("a.o");
//! let mut stderr = Vec::new();
//! let opts = RunOptions::new().stderr_to(&mut stderr).out_dir("/tmp/results");
//! let outcome = run(&job, &opts)?;
//! println!("exit {:?}", outcome.status);
//! # Ok::<(), cachepot_sandbox::SandboxError>(())
//! ```

mod builddir;
mod cancel;
mod cbor;
mod error;
mod fd;
pub mod features;
mod frame;
mod job;
pub mod limits;
mod outdir;
pub mod proto;
mod run;
mod spawn;
mod utf8;

pub use cancel::CancelHandle;
pub use error::SandboxError;
pub use job::{Backend, Input, InputSource, Job, Limits, Overlay};
pub use proto::ExitStatus;
pub use run::{run, Outcome, OutputEvent, RunOptions, Stream};
pub use spawn::{helper_path, HELPER_INSTALL_PATH};
