//! The crate against the C library's fake helper (tests/parent/fake_helper.c),
//! run under each of its names: a helper that speaks the protocol ("ok"),
//! and the hostile ones (garbage, wrong protocol, crash, hang, silent,
//! vanish), and older ones (noscratch: hello.features lacks
//! job.limits.scratch_bytes; oldhello: the hello of 0.1.0, no features).
//! After every run no child of ours is left, running or zombie.
//! The driver runs this binary with --test-threads=1 so that the check is
//! about the run that just ended.

mod common;

use cachepot_sandbox::{features, run, CancelHandle, ExitStatus, Job, Limits, OutputEvent, RunOptions, Stream};
use common::{children, pid_exists, TempDir};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

struct Fake {
    dir: TempDir,
    toolchain: TempDir,
}

impl Fake {
    fn new() -> Option<Fake> {
        let bin = common::env_or_skip("CPS_FAKE_HELPER")?;
        let dir = TempDir::new("fake");
        for mode in ["ok", "wrongproto", "garbage", "crash", "hang", "silent", "vanish", "noscratch", "oldhello"] {
            std::os::unix::fs::symlink(&bin, dir.join(mode)).unwrap();
        }
        Some(Fake { dir, toolchain: TempDir::new("tc") })
    }
    fn helper(&self, mode: &str) -> PathBuf {
        self.dir.join(mode)
    }
    fn job(&self, argv: &[&str]) -> Job {
        Job::new(self.toolchain.path()).args(argv.iter().copied())
    }
}

fn no_children_left() {
    assert_eq!(children(), Vec::<i32>::new(), "a helper was left behind");
}

#[test]
fn exit_codes_and_signals_are_reported() {
    let f = match Fake::new() {
        Some(f) => f,
        None => return,
    };
    let o = run(&f.job(&["exit", "3"]), &RunOptions::new().helper(f.helper("ok"))).unwrap();
    assert_eq!((o.status.clone(), o.code(), o.success()), (ExitStatus::Code(3), Some(3), false));
    assert_eq!(o.helper_version, "0.0.0-fake");
    assert_eq!(o.timings, vec![("fake".to_string(), 7)]);
    let o = run(&f.job(&["signal", "11"]), &RunOptions::new().helper(f.helper("ok"))).unwrap();
    assert_eq!(o.signal(), Some(11));
    let o = run(&f.job(&["timeout"]), &RunOptions::new().helper(f.helper("ok"))).unwrap();
    assert!(o.timed_out);
    assert_eq!(o.limit.as_deref(), Some("timeout"));
    no_children_left();
}

#[test]
fn inputs_come_back_as_outputs_byte_for_byte_to_a_dir_and_a_callback() {
    let f = match Fake::new() {
        Some(f) => f,
        None => return,
    };
    let work = TempDir::new("io");
    // 200000 bytes: four chunks each way.
    let big: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(work.join("in.bin"), &big).unwrap();
    let small: Arc<[u8]> = Arc::from(&b"int x = 1;\n"[..]);
    let job = f
        .job(&["echo"])
        .input_file(work.join("in.bin"), "in.bin", 0o644)
        .input_bytes(small.clone(), "/build/sub/small.i", 0o600)
        .input_bytes(Vec::new(), "empty", 0o644)
        .output("in.bin")
        .output("/build/sub/small.i")
        .output("empty")
        .output("not-there.o");
    let out = TempDir::new("out");
    let mut stderr = Vec::new();
    let o = run(&job, &RunOptions::new().helper(f.helper("ok")).stderr_to(&mut stderr).out_dir(out.path())).unwrap();
    assert!(o.success());
    assert_eq!(stderr, b"echoing\n");
    assert_eq!(std::fs::read(out.join("in.bin")).unwrap(), big);
    assert_eq!(std::fs::read(out.join("build/sub/small.i")).unwrap(), &small[..]);
    assert_eq!(std::fs::read(out.join("empty")).unwrap(), b"");
    assert!(!out.join("not-there.o").exists());
    assert_eq!(o.outputs_received, vec!["in.bin", "/build/sub/small.i", "empty"]);
    assert_eq!(o.outputs_missing, vec!["not-there.o"]);
    assert_eq!(o.bytes_in, big.len() as u64 + small.len() as u64);

    let mut got: Vec<(String, Vec<u8>, u32, bool)> = Vec::new();
    let mut missing = Vec::new();
    let mut chunks = 0;
    let opts = RunOptions::new().helper(f.helper("ok")).on_output(|ev| {
        match ev {
            OutputEvent::Chunk { name, mode, size, data, last } => {
                chunks += 1;
                if got.last().map_or(true, |g| g.3) {
                    got.push((name.to_string(), Vec::new(), mode, false));
                }
                let g = got.last_mut().unwrap();
                assert_eq!(g.0, name);
                g.1.extend_from_slice(data);
                g.3 = last;
                if last {
                    assert_eq!(g.1.len() as u64, size);
                }
            }
            OutputEvent::Missing { name } => missing.push(name.to_string()),
        }
        Ok(())
    });
    run(&job, &opts).unwrap();
    drop(opts);
    assert_eq!(got.len(), 3);
    assert_eq!(got[0].1, big);
    assert_eq!(got[1].1, &small[..]);
    assert_eq!((got[2].1.len(), got[2].3), (0, true));
    assert_eq!(missing, vec!["not-there.o"]);
    assert_eq!(chunks, 4 + 1 + 1);
    no_children_left();
}

#[test]
fn stdout_arrives_in_chunks_as_it_is_sent() {
    let f = match Fake::new() {
        Some(f) => f,
        None => return,
    };
    let mut chunks = Vec::new();
    let opts = RunOptions::new().helper(f.helper("ok")).on_stream(|s, d| {
        assert_eq!(s, Stream::Stdout);
        chunks.push(d.to_vec());
        Ok(())
    });
    let o = run(&f.job(&["stdout", "1000000"]), &opts).unwrap();
    drop(opts);
    assert!(o.success());
    assert_eq!(chunks.len(), (1_000_000 + 65535) / 65536);
    assert!(chunks.iter().all(|c| c.len() <= 65536));
    let all: Vec<u8> = chunks.concat();
    assert_eq!(all.len(), 1_000_000);
    assert!(all.iter().enumerate().all(|(i, &b)| b == b'a' + (i % 65536 % 26) as u8));
    assert_eq!(o.bytes_out, 1_000_000);
    no_children_left();
}

#[test]
fn a_failing_consumer_stops_the_job() {
    let f = match Fake::new() {
        Some(f) => f,
        None => return,
    };
    let opts = RunOptions::new()
        .helper(f.helper("ok"))
        .on_stream(|_, _| Err(std::io::Error::new(std::io::ErrorKind::Other, "disk full")));
    let e = run(&f.job(&["pid"]), &opts).unwrap_err();
    assert_eq!((e.stage.as_str(), e.errno), ("callback", libc::ECANCELED), "{e}");
    assert!(e.message.contains("disk full"), "{e}");
    no_children_left();
}

#[test]
fn cancel_from_another_thread_sends_cancel_and_reaps_the_helper() {
    let f = match Fake::new() {
        Some(f) => f,
        None => return,
    };
    let cancel = CancelHandle::new().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<i32>();
    let c2 = cancel.clone();
    let t = std::thread::spawn(move || {
        let pid = rx.recv().unwrap();
        c2.cancel();
        pid
    });
    let opts = RunOptions::new().helper(f.helper("ok")).cancel(&cancel).on_stream(move |_, d| {
        let pid: i32 = std::str::from_utf8(d).unwrap().trim().parse().unwrap();
        tx.send(pid).unwrap();
        Ok(())
    });
    // The fake answers the cancel frame with exit signal 9 (as the helper
    // does), so the run ends by the protocol, not by the grace timer.
    let e = run(&f.job(&["pid"]), &opts).unwrap_err();
    let pid = t.join().unwrap();
    assert_eq!((e.stage.as_str(), e.errno), ("cancel", libc::ECANCELED), "{e}");
    assert!(!pid_exists(pid), "helper {pid} still exists");
    // A fired token stays fired: the next run ends before spawning.
    assert!(cancel.is_cancelled());
    let e = run(&f.job(&["exit", "0"]), &RunOptions::new().helper(f.helper("ok")).cancel(&cancel)).unwrap_err();
    assert_eq!(e.stage, "cancel");
    no_children_left();
}

/// The fake announces its features only when asked (CACHEPOT_HELLO_FEATURES
/// set), and then every key there is.
#[test]
fn the_helper_is_asked_for_its_features() {
    let f = match Fake::new() {
        Some(f) => f,
        None => return,
    };
    let o = run(&f.job(&["exit", "0"]), &RunOptions::new().helper(f.helper("ok"))).unwrap();
    assert_eq!(o.helper_features, Some(features::NAMES.iter().map(|n| n.to_string()).collect()));
    no_children_left();
}

/// A job key the helper did not announce is never sent: the job is refused
/// with the key and the release that has it, and the helper is killed and
/// reaped. Without the key the same helper runs jobs; a hello without
/// features (0.1.0) takes every 0.1.0 key.
#[test]
fn a_job_key_the_helper_did_not_announce_is_refused() {
    let f = match Fake::new() {
        Some(f) => f,
        None => return,
    };
    let helper = f.helper("noscratch");
    let scratch = f.job(&["exit", "3"]).limits(Limits { scratch_bytes: 1 << 20, ..Limits::default() });
    let e = run(&scratch, &RunOptions::new().helper(&helper)).unwrap_err();
    assert_eq!((e.stage.as_str(), e.errno), ("job", libc::EOPNOTSUPP), "{e}");
    let head = format!("helper {} (pid ", helper.display());
    let tail = ") of release 0.0.0-fake does not understand job.limits.scratch_bytes, which this job sets; helpers of \
                release 0.1.0 and later do";
    assert!(e.message.starts_with(&head) && e.message.ends_with(tail), "{e}");
    let pid = &e.message[head.len()..e.message.len() - tail.len()];
    assert!(pid.parse::<u32>().is_ok(), "{e}");
    assert_eq!(e.hint, "install a helper of release 0.1.0 or later on this host, or leave those keys unset");
    no_children_left();

    let other = f.job(&["exit", "3"]).limits(Limits { timeout_ms: 5000, ..Limits::default() });
    let o = run(&other, &RunOptions::new().helper(&helper)).unwrap();
    assert_eq!(o.code(), Some(3));
    let all_but_scratch: Vec<String> =
        features::NAMES.iter().filter(|n| **n != "job.limits.scratch_bytes").map(|n| n.to_string()).collect();
    assert_eq!(o.helper_features, Some(all_but_scratch));

    let o = run(&scratch, &RunOptions::new().helper(f.helper("oldhello"))).unwrap();
    assert_eq!((o.code(), o.helper_features), (Some(3), None));
    no_children_left();
}

#[test]
fn a_helper_of_another_protocol_version_is_named_as_such() {
    let f = match Fake::new() {
        Some(f) => f,
        None => return,
    };
    let e = run(&f.job(&["exit", "0"]), &RunOptions::new().helper(f.helper("wrongproto"))).unwrap_err();
    assert_eq!((e.stage.as_str(), e.errno), ("hello", libc::EPROTONOSUPPORT), "{e}");
    assert!(e.message.contains("helper speaks protocol 2, this side speaks 1"), "{e}");
    assert!(e.hint.contains("same release"), "{e}");
    no_children_left();
}

#[test]
fn garbage_instead_of_hello_is_not_a_helper() {
    let f = match Fake::new() {
        Some(f) => f,
        None => return,
    };
    let e = run(&f.job(&["exit", "0"]), &RunOptions::new().helper(f.helper("garbage"))).unwrap_err();
    assert_eq!((e.stage.as_str(), e.errno), ("hello", libc::EPROTO), "{e}");
    assert!(e.message.contains("did not send a valid hello"), "{e}");
    assert!(e.message.contains("is this a cachepot-dist-sandbox helper?"), "{e}");
    no_children_left();
}

#[test]
fn a_crashing_helper_is_reported_and_its_leftovers_removed_without_following_symlinks() {
    let f = match Fake::new() {
        Some(f) => f,
        None => return,
    };
    let work = TempDir::new("crash");
    let victim = work.join("victim");
    std::fs::write(&victim, b"keep me").unwrap();
    let build = work.join("build");
    let job = f.job(&["crash", victim.to_str().unwrap()]).build_dir(&build);
    let e = run(&job, &RunOptions::new().helper(f.helper("crash"))).unwrap_err();
    assert_eq!((e.stage.as_str(), e.errno), ("helper", libc::ECONNABORTED), "{e}");
    assert!(e.message.contains("was killed by signal 11"), "{e}");
    assert!(e.message.contains("before the job finished"), "{e}");
    for d in ["upper", "work", "target"] {
        assert!(!build.join(d).exists(), "{d} left in the build dir");
    }
    assert_eq!(std::fs::read(&victim).unwrap(), b"keep me");
    no_children_left();
}

#[test]
fn a_hung_helper_is_killed_by_the_run_timeout() {
    let f = match Fake::new() {
        Some(f) => f,
        None => return,
    };
    let e =
        run(&f.job(&["exit", "0"]), &RunOptions::new().helper(f.helper("hang")).timeout(Duration::from_millis(500)))
            .unwrap_err();
    assert_eq!((e.stage.as_str(), e.errno), ("timeout", libc::ETIMEDOUT), "{e}");
    let e =
        run(&f.job(&["exit", "0"]), &RunOptions::new().helper(f.helper("silent")).timeout(Duration::from_millis(500)))
            .unwrap_err();
    assert_eq!((e.stage.as_str(), e.errno), ("timeout", libc::ETIMEDOUT), "{e}");
    no_children_left();
}

#[test]
fn a_hung_helper_that_ignores_cancel_is_killed_after_the_grace_period() {
    let f = match Fake::new() {
        Some(f) => f,
        None => return,
    };
    let cancel = CancelHandle::new().unwrap();
    let c2 = cancel.clone();
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        c2.cancel();
    });
    let e = run(&f.job(&["exit", "0"]), &RunOptions::new().helper(f.helper("hang")).cancel(&cancel)).unwrap_err();
    t.join().unwrap();
    assert_eq!((e.stage.as_str(), e.errno), ("cancel", libc::ECANCELED), "{e}");
    no_children_left();
}

#[test]
fn a_helper_that_vanishes_after_the_job_is_reported() {
    let f = match Fake::new() {
        Some(f) => f,
        None => return,
    };
    let e = run(&f.job(&["exit", "0"]), &RunOptions::new().helper(f.helper("vanish"))).unwrap_err();
    assert_eq!((e.stage.as_str(), e.errno), ("helper", libc::ECONNABORTED), "{e}");
    assert!(e.message.contains("exited with status 0 before the job finished"), "{e}");
    no_children_left();
}

#[test]
fn a_missing_helper_is_a_spawn_error() {
    let f = match Fake::new() {
        Some(f) => f,
        None => return,
    };
    let e = run(&f.job(&["exit", "0"]), &RunOptions::new().helper(f.helper("no-such-helper"))).unwrap_err();
    assert_eq!((e.stage.as_str(), e.errno), ("spawn", libc::ENOENT), "{e}");
    assert!(e.hint.contains("CACHEPOT_SANDBOX_HELPER"), "{e}");
    no_children_left();
}

#[test]
fn the_helper_starts_with_fd_3_only_no_blocked_signals_and_a_filtered_environment() {
    let f = match Fake::new() {
        Some(f) => f,
        None => return,
    };
    // A descriptor opened without O_CLOEXEC must not reach the helper.
    let null = std::fs::File::open("/dev/null").unwrap();
    let leak = unsafe { libc::fcntl(std::os::unix::io::AsRawFd::as_raw_fd(&null), libc::F_DUPFD, 10) };
    assert!(leak >= 10);
    // Nor may this thread's blocked signals.
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    unsafe {
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
    std::env::set_var("CPS_RUST_SECRET", "x");
    let mut out = Vec::new();
    run(&f.job(&["introspect"]), &RunOptions::new().helper(f.helper("ok")).stdout_to(&mut out)).unwrap();
    unsafe {
        libc::close(leak);
        libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
    }
    let s = String::from_utf8(out).unwrap();
    assert!(s.starts_with("fds=0,1,2,3, "), "{s}");
    assert!(s.contains("SigBlk:\t0000000000000000"), "{s}");
    assert!(s.contains("argv= "), "{s}");
    let env: Vec<&str> = s.split(" env=").nth(1).unwrap().trim().split(',').filter(|n| !n.is_empty()).collect();
    let passed = ["PATH", "CACHEPOT_LOG", "CACHEPOT_SANDBOX", "CACHEPOT_BWRAP", "CACHEPOT_SCRATCH"];
    for name in &env {
        assert!(passed.contains(name) || *name == "CACHEPOT_HELLO_FEATURES", "{s}");
    }
    // Asked for hello.features, always.
    assert!(env.contains(&"CACHEPOT_HELLO_FEATURES"), "{s}");
    no_children_left();
}

#[test]
fn the_helper_gets_the_jobs_spawn_time_configuration() {
    let f = match Fake::new() {
        Some(f) => f,
        None => return,
    };
    let mut out = Vec::new();
    let job = f.job(&["introspect"]).uid(65534).gid(100).backend(cachepot_sandbox::Backend::Bubblewrap).seccomp(false);
    run(&job, &RunOptions::new().helper(f.helper("ok")).stdout_to(&mut out)).unwrap();
    let s = String::from_utf8(out).unwrap();
    assert!(s.contains("argv=--uid,65534,--gid,100,--backend,bubblewrap,--no-seccomp "), "{s}");
    no_children_left();
}

#[test]
fn outputs_never_leave_the_out_dir() {
    let f = match Fake::new() {
        Some(f) => f,
        None => return,
    };
    let work = TempDir::new("escape");
    let out = work.join("out");
    let outside = work.join("outside");
    std::fs::create_dir(&out).unwrap();
    std::fs::create_dir(&outside).unwrap();
    std::fs::write(outside.join("target"), b"keep me").unwrap();
    // A planted symlink as the output's name is replaced, not followed.
    std::os::unix::fs::symlink(outside.join("target"), out.join("a.o")).unwrap();
    let job = f.job(&["echo"]).input_bytes(b"new".to_vec(), "a.o", 0o644).output("a.o");
    run(&job, &RunOptions::new().helper(f.helper("ok")).out_dir(&out)).unwrap();
    assert_eq!(std::fs::read(outside.join("target")).unwrap(), b"keep me");
    assert!(std::fs::symlink_metadata(out.join("a.o")).unwrap().file_type().is_file());
    assert_eq!(std::fs::read(out.join("a.o")).unwrap(), b"new");
    // A planted symlink as a directory on the way is not entered.
    std::os::unix::fs::symlink(&outside, out.join("sub")).unwrap();
    let job = f.job(&["echo"]).input_bytes(b"new".to_vec(), "sub/target", 0o644).output("sub/target");
    let e = run(&job, &RunOptions::new().helper(f.helper("ok")).out_dir(&out)).unwrap_err();
    assert_eq!(e.stage, "output", "{e}");
    assert_eq!(std::fs::read(outside.join("target")).unwrap(), b"keep me");
    // ".." is refused before anything runs.
    let job = f.job(&["echo"]).output("../outside/target");
    let e = run(&job, &RunOptions::new().helper(f.helper("ok")).out_dir(&out)).unwrap_err();
    assert_eq!((e.stage.as_str(), e.errno), ("job", libc::EINVAL), "{e}");
    no_children_left();
}

#[test]
fn sixteen_jobs_from_eight_threads() {
    let f = match Fake::new() {
        Some(f) => f,
        None => return,
    };
    let f = &f;
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|t| {
                s.spawn(move || {
                    for j in 0..2 {
                        let data = format!("thread {t} job {j}\n").into_bytes();
                        let job = f.job(&["echo"]).input_bytes(data.clone(), "x", 0o644).output("x");
                        let mut got = Vec::new();
                        let o = run(
                            &job,
                            &RunOptions::new().helper(f.helper("ok")).on_output(|ev| {
                                if let OutputEvent::Chunk { data, .. } = ev {
                                    got.extend_from_slice(data);
                                }
                                Ok(())
                            }),
                        )
                        .unwrap();
                        assert!(o.success());
                        assert_eq!(got, data);
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
    });
    no_children_left();
}

#[test]
fn a_panicking_callback_still_reaps_the_helper_and_cleans_the_build_dir() {
    let f = match Fake::new() {
        Some(f) => f,
        None => return,
    };
    let work = TempDir::new("panic");
    let build = work.join("build");
    let job = f.job(&["crash"]).build_dir(&build);
    let opts = RunOptions::new().helper(f.helper("crash")).on_stream(|_, _| panic!("worker bug"));
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(&job, &opts)));
    assert!(r.is_err(), "the callback's panic must reach the caller");
    for d in ["upper", "work", "target"] {
        assert!(!build.join(d).exists(), "{d} left in the build dir");
    }
    no_children_left();
}

#[test]
fn a_job_larger_than_a_frame_is_refused_before_anything_is_spawned() {
    let f = match Fake::new() {
        Some(f) => f,
        None => return,
    };
    let big = "x".repeat(100_000);
    let job = f.job(&["exit", "0"]).args(std::iter::repeat(big.as_str()).take(11));
    let e = run(&job, &RunOptions::new().helper(f.helper("ok"))).unwrap_err();
    assert_eq!((e.stage.as_str(), e.errno), ("job", libc::EMSGSIZE), "{e}");
    let e = run(&f.job(&[]), &RunOptions::new().helper(f.helper("ok"))).unwrap_err();
    assert_eq!((e.stage.as_str(), e.errno), ("job", libc::EINVAL), "{e}");
    let e = run(&f.job(&["exit"]).env("A=B", "c"), &RunOptions::new().helper(f.helper("ok"))).unwrap_err();
    assert_eq!((e.stage.as_str(), e.errno), ("job", libc::EINVAL), "{e}");
    assert!(e.message.contains("variable name contains '='"), "{e}");
    no_children_left();
}
