//! bench_jobs: the per-job cost of this crate, for bench/clients.sh.
//!
//! ```text
//! bench_jobs --helper PATH --toolchain DIR --build-dir DIR --jobs N
//!            [--argv /bin/true] [--cwd /build] [--warmup 1]
//! ```
//!
//! Runs N tiny jobs one after another through `run()` (each a fresh helper:
//! spawn, hello, job, exec, exit, reap) with env PATH=/bin and the given argv
//! (split on blanks; it must exist in the toolchain) and prints exactly one
//! line on stdout, `per_job_us <float>`: the mean wall-clock microseconds of
//! one `run()` over the N jobs, after `--warmup` uncounted ones. The median
//! and the fastest job go to stderr. The same interface as
//! clients/python/bench_jobs.py, so the script can put them side by side.

use cachepot_sandbox::{run, Job, RunOptions};
use std::time::Instant;

fn main() {
    let mut helper = None;
    let mut toolchain = None;
    let mut build_dir = None;
    let mut jobs: usize = 0;
    let mut argv = "/bin/true".to_string();
    let mut cwd = "/build".to_string();
    let mut warmup: usize = 1;
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut val = || {
            it.next().unwrap_or_else(|| {
                eprintln!("bench_jobs: {a} needs a value");
                std::process::exit(2)
            })
        };
        match a.as_str() {
            "--helper" => helper = Some(val()),
            "--toolchain" => toolchain = Some(val()),
            "--build-dir" => build_dir = Some(val()),
            "--jobs" => jobs = val().parse().expect("--jobs N"),
            "--argv" => argv = val(),
            "--cwd" => cwd = val(),
            "--warmup" => warmup = val().parse().expect("--warmup N"),
            _ => {
                eprintln!("usage: bench_jobs --helper PATH --toolchain DIR --build-dir DIR --jobs N [--argv CMD] [--cwd P] [--warmup N]");
                std::process::exit(2);
            }
        }
    }
    let (helper, toolchain, build_dir) = match (helper, toolchain, build_dir) {
        (Some(h), Some(t), Some(b)) if jobs > 0 => (h, t, b),
        _ => {
            eprintln!("bench_jobs: --helper, --toolchain, --build-dir and --jobs N (N >= 1) are required");
            std::process::exit(2);
        }
    };
    let job = Job::new(toolchain).build_dir(build_dir).cwd(cwd).args(argv.split_whitespace()).env("PATH", "/bin");
    let opts = RunOptions::new().helper(helper);
    let mut times = Vec::new();
    for i in 0..warmup + jobs {
        let t0 = Instant::now();
        match run(&job, &opts) {
            Ok(o) if o.success() => {}
            Ok(o) => {
                eprintln!("bench_jobs: job {i} ended with {:?}", o.status);
                std::process::exit(1);
            }
            Err(e) => {
                eprintln!("bench_jobs: {e}");
                std::process::exit(1);
            }
        }
        let us = t0.elapsed().as_secs_f64() * 1e6;
        if i >= warmup {
            times.push(us);
        }
    }
    let mean = times.iter().sum::<f64>() / times.len() as f64;
    times.sort_by(|a, b| a.partial_cmp(b).unwrap());
    eprintln!("bench_jobs: {} jobs, median {:.0} us, fastest {:.0} us", times.len(), times[times.len() / 2], times[0]);
    println!("per_job_us {mean:.1}");
}
