//! A real compile: the host gcc packaged by cachepot-dist-toolchain compiles
//! a preprocessed file in the sandbox, through this crate, to the same bytes
//! as the host gcc outside it and as the C CLI cachepot-dist-run. Run by
//! tests/parent/run-real.sh --toolchain gcc (via clients/rust/test-driver.sh)
//! as root and as uid 65534.

mod common;

use cachepot_sandbox::{run, Job, RunOptions};
use common::TempDir;
use std::process::Command;

const PROG: &str = r#"#include <stdio.h>
#include <string.h>

struct point { int x, y; };

static int dot(struct point a, struct point b) { return a.x * b.x + a.y * b.y; }

int main(int argc, char **argv)
{
    struct point p = {argc, (int)strlen(argv[0])}, q = {3, 4};
    printf("dot = %d\n", dot(p, q));
    return 0;
}
"#;

fn ok(c: &mut Command) {
    let st = c.status().unwrap();
    assert!(st.success(), "{c:?}: {st}");
}

#[test]
fn a_compile_in_the_sandbox_gives_the_hosts_and_the_c_clis_bytes() {
    let toolchain = match common::env_or_skip("CPS_TEST_TOOLCHAIN") {
        Some(t) => t,
        None => return,
    };
    let bin = match common::env_or_skip("CPS_BIN") {
        Some(b) => b,
        None => return,
    };
    let w = TempDir::new("gcc");
    std::fs::write(w.join("prog.c"), PROG).unwrap();
    ok(Command::new("gcc").current_dir(w.path()).args(["-E", "prog.c", "-o", "prog.i"]));
    // With -g the object records the compile directory: map the host's to
    // the sandbox's /build on both sides, as distributed compilers do.
    let map = format!("-fdebug-prefix-map={}=/build", w.path().display());
    for flags in [vec!["-O0"], vec!["-O2", "-g", map.as_str()]] {
        let mut argv = vec!["gcc"];
        argv.extend(flags.iter().copied());
        argv.extend(["-x", "cpp-output", "-c", "prog.i", "-o", "prog.o"]);
        let host_argv: Vec<&str> = argv.iter().map(|a| if *a == "prog.o" { "host.o" } else { a }).collect();
        ok(Command::new(host_argv[0]).current_dir(w.path()).args(&host_argv[1..]));
        for d in ["rust", "c"] {
            let _ = std::fs::remove_dir_all(w.join(d));
            std::fs::create_dir(w.join(d)).unwrap();
        }
        let job = Job::new(&toolchain)
            .args(argv.iter().copied())
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .input_file(w.join("prog.i"), "/build/prog.i", 0o644)
            .output("prog.o");
        let mut stderr = Vec::new();
        let o = run(&job, &RunOptions::new().stderr_to(&mut stderr).out_dir(w.join("rust"))).unwrap();
        assert!(o.success(), "{o:?}: {}", String::from_utf8_lossy(&stderr));
        ok(Command::new(bin.join("cachepot-dist-run"))
            .arg("--toolchain")
            .arg(&toolchain)
            .arg("--input")
            .arg(format!("{}:/build/prog.i", w.join("prog.i").display()))
            .args(["--output", "prog.o", "--cwd", "/build", "--out-dir"])
            .arg(w.join("c"))
            .arg("--")
            .args(&argv));
        let host = std::fs::read(w.join("host.o")).unwrap();
        let rust = std::fs::read(w.join("rust/prog.o")).unwrap();
        let c = std::fs::read(w.join("c/prog.o")).unwrap();
        assert!(host.len() > 500, "host object of {} bytes", host.len());
        assert!(rust == host, "{flags:?}: the crate's object differs from the host's");
        assert!(rust == c, "{flags:?}: the crate's object differs from the C CLI's");
        println!("ok: gcc {flags:?}: {} bytes, identical to the host's and the C CLI's", rust.len());
    }
}
