//! The crate against the real helper built by this repository, in the
//! busybox test toolchain. Run by tests/parent/run-real.sh (via
//! clients/rust/test-driver.sh) as root and as uid 65534: it sets
//! CACHEPOT_SANDBOX_HELPER, CPS_TEST_TOOLCHAIN, CPS_BIN (with the C CLI
//! cachepot-dist-run) and TMPDIR.

mod common;

use cachepot_sandbox::{features, run, CancelHandle, ExitStatus, Job, Limits, OutputEvent, RunOptions, Stream};
use common::{children, TempDir};
use std::path::PathBuf;
use std::process::Command;

struct Env {
    toolchain: PathBuf,
    bin: PathBuf,
}

fn env() -> Option<Env> {
    let toolchain = common::env_or_skip("CPS_TEST_TOOLCHAIN")?;
    let bin = common::env_or_skip("CPS_BIN")?;
    common::env_or_skip("CACHEPOT_SANDBOX_HELPER")?;
    Some(Env { toolchain, bin })
}

fn sh(e: &Env, script: &str) -> Job {
    Job::new(&e.toolchain).args(["sh", "-c", script]).env("PATH", "/bin")
}

#[test]
fn a_job_runs_and_its_output_streams_back() {
    let e = match env() {
        Some(e) => e,
        None => return,
    };
    let mut out = Vec::new();
    let mut err = Vec::new();
    let o = run(
        &sh(&e, "echo to-stdout; echo to-stderr >&2; exit 3"),
        &RunOptions::new().stdout_to(&mut out).stderr_to(&mut err),
    )
    .unwrap();
    assert_eq!(o.status, ExitStatus::Code(3));
    assert_eq!(out, b"to-stdout\n");
    assert_eq!(err, b"to-stderr\n");
    assert!(["userns", "bubblewrap"].contains(&o.backend.as_str()), "{o:?}");
    assert!(["native", "fuse", "bind"].contains(&o.overlay.as_str()), "{o:?}");
    assert!(!o.helper_version.is_empty());
    // Chunks arrive as the job writes them, in order, stdout and stderr
    // interleaved: writes a second apart are separate chunks.
    let mut chunks = Vec::new();
    let opts = RunOptions::new().on_stream(|s, d| {
        chunks.push((s, d.to_vec()));
        Ok(())
    });
    run(&sh(&e, "echo one; sleep 1; echo two >&2; sleep 1; echo three"), &opts).unwrap();
    drop(opts);
    assert_eq!(
        chunks,
        vec![
            (Stream::Stdout, b"one\n".to_vec()),
            (Stream::Stderr, b"two\n".to_vec()),
            (Stream::Stdout, b"three\n".to_vec())
        ]
    );
    assert!(children().is_empty());
}

/// The crate asks the helper for hello.features (CACHEPOT_HELLO_FEATURES=1),
/// and this repository's helper announces every optional job key there is;
/// a job with optional keys then runs.
#[test]
fn the_helper_announces_every_job_key() {
    let e = match env() {
        Some(e) => e,
        None => return,
    };
    let job = sh(&e, "exit 5").limits(Limits { timeout_ms: 60000, processes: 4096, ..Limits::default() });
    let o = run(&job, &RunOptions::new()).unwrap();
    assert_eq!(o.helper_features, Some(features::NAMES.iter().map(|n| n.to_string()).collect()));
    assert_eq!(o.status, ExitStatus::Code(5));
    assert!(children().is_empty());
}

/// The same job through this crate and through the C CLI gives the same
/// files, and they are what the job computed from the inputs.
#[test]
fn outputs_are_byte_identical_to_the_c_clis() {
    let e = match env() {
        Some(e) => e,
        None => return,
    };
    let w = TempDir::new("io");
    let input: Vec<u8> = (0..300_000u32).map(|i| (i * 31 % 256) as u8).collect();
    std::fs::write(w.join("in.bin"), &input).unwrap();
    let script =
        "cat in.bin in.bin > twice.bin && seq 1 20000 > seq.txt && mkdir -p d && echo x > d/x && chmod 600 d/x";
    let outputs = ["twice.bin", "seq.txt", "d/x", "absent.o"];
    let mut job = sh(&e, script).input_file(w.join("in.bin"), "in.bin", 0o644);
    for o in outputs {
        job = job.output(o);
    }
    std::fs::create_dir(w.join("rust")).unwrap();
    std::fs::create_dir(w.join("c")).unwrap();
    let o = run(&job, &RunOptions::new().out_dir(w.join("rust"))).unwrap();
    assert!(o.success(), "{o:?}");
    assert_eq!(o.outputs_missing, vec!["absent.o"]);
    let mut cli = Command::new(e.bin.join("cachepot-dist-run"));
    cli.arg("--toolchain")
        .arg(&e.toolchain)
        .arg("--input")
        .arg(format!("{}:/build/in.bin", w.join("in.bin").display()));
    for o in outputs {
        cli.arg("--output").arg(o);
    }
    cli.arg("--out-dir").arg(w.join("c")).args(["--env", "PATH=/bin", "--", "sh", "-c", script]);
    let st = cli.status().unwrap();
    assert!(st.success(), "cachepot-dist-run: {st}");
    for o in &outputs[..3] {
        let r = std::fs::read(w.join("rust").join(o)).unwrap();
        let c = std::fs::read(w.join("c").join(o)).unwrap();
        assert_eq!(r, c, "{o} differs between the crate and the C CLI");
    }
    let twice = std::fs::read(w.join("rust/twice.bin")).unwrap();
    assert_eq!(twice, [&input[..], &input[..]].concat());
    let seq: String = (1..=20000).map(|i| format!("{i}\n")).collect();
    assert_eq!(std::fs::read(w.join("rust/seq.txt")).unwrap(), seq.as_bytes());
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(w.join("rust/d/x")).unwrap().permissions().mode() & 0o777, 0o600);
    assert!(!w.join("rust/absent.o").exists());
}

#[test]
fn a_command_that_does_not_exist_is_the_helpers_exec_error() {
    let e = match env() {
        Some(e) => e,
        None => return,
    };
    let err = run(&Job::new(&e.toolchain).arg("no-such-compiler").env("PATH", "/bin"), &RunOptions::new()).unwrap_err();
    assert_eq!((err.stage.as_str(), err.errno), ("exec", libc::ENOENT), "{err}");
    assert!(err.message.contains("no-such-compiler"), "{err}");
    assert!(!err.hint.is_empty(), "{err}");
    let err = run(&Job::new(e.toolchain.join("missing")).arg("true"), &RunOptions::new()).unwrap_err();
    assert_eq!((err.stage.as_str(), err.errno), ("job", libc::ENOENT), "{err}");
    assert!(children().is_empty());
}

#[test]
fn cancel_kills_the_sandbox_and_reaps_the_helper() {
    let e = match env() {
        Some(e) => e,
        None => return,
    };
    let w = TempDir::new("cancel");
    let build = w.join("build");
    let cancel = CancelHandle::new().unwrap();
    let c2 = cancel.clone();
    let opts = RunOptions::new().cancel(&cancel).on_stream(move |_, _| {
        // Fired from another thread, as a worker's RPC handler would.
        let c3 = c2.clone();
        std::thread::spawn(move || c3.cancel()).join().unwrap();
        Ok(())
    });
    let err = run(&sh(&e, "echo started; exec sleep 60").build_dir(&build), &opts).unwrap_err();
    assert_eq!((err.stage.as_str(), err.errno), ("cancel", libc::ECANCELED), "{err}");
    assert!(children().is_empty());
    let left: Vec<_> = std::fs::read_dir(&build).unwrap().collect();
    assert!(left.is_empty(), "build dir not empty: {left:?}");
}

#[test]
fn the_jobs_timeout_ends_it_with_sigkill_and_the_run_timeout_ends_the_run() {
    let e = match env() {
        Some(e) => e,
        None => return,
    };
    let job = sh(&e, "exec sleep 60").limits(Limits { timeout_ms: 300, ..Limits::default() });
    let o = run(&job, &RunOptions::new()).unwrap();
    assert_eq!((o.status.clone(), o.timed_out, o.limit.as_deref()), (ExitStatus::Signal(9), true, Some("timeout")));
    let err =
        run(&sh(&e, "exec sleep 60"), &RunOptions::new().timeout(std::time::Duration::from_millis(700))).unwrap_err();
    assert_eq!((err.stage.as_str(), err.errno), ("timeout", libc::ETIMEDOUT), "{err}");
    assert!(children().is_empty());
}

#[test]
fn sixteen_jobs_from_eight_threads() {
    let e = match env() {
        Some(e) => e,
        None => return,
    };
    let e = &e;
    std::thread::scope(|s| {
        let hs: Vec<_> = (0..8)
            .map(|t| {
                s.spawn(move || {
                    for j in 0..2 {
                        let data = format!("thread {t} job {j}\n");
                        let job = sh(e, "cat in.txt > out.txt; echo \"$N\" >> out.txt")
                            .env("N", format!("{t}.{j}"))
                            .input_bytes(data.clone().into_bytes(), "in.txt", 0o644)
                            .output("out.txt");
                        let mut got = Vec::new();
                        let o = run(
                            &job,
                            &RunOptions::new().on_output(|ev| {
                                if let OutputEvent::Chunk { data, .. } = ev {
                                    got.extend_from_slice(data);
                                }
                                Ok(())
                            }),
                        )
                        .unwrap();
                        assert!(o.success(), "{o:?}");
                        assert_eq!(String::from_utf8(got).unwrap(), format!("{data}{t}.{j}\n"));
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
    });
}
