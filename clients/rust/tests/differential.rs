//! The crate's decoder against the C decoder (common/), frame by frame: the
//! same frames are accepted (and re-encode to the same bytes) or refused
//! with the same errno and the same message. The frames: the golden vectors,
//! every prefix of the valid ones, single-byte mutations and deletions of
//! them, 2000 pseudo-random multi-byte mutations of each, the invalid
//! vectors, and hellos with hand-made `features` values (unknown, repeated,
//! too many, empty, too long, not text). CPS_C_DECODE names clients/rust/tests/c_decode.c built
//! by CMake against common/.

mod common;

use cachepot_sandbox::proto;
use std::io::Write;
use std::process::{Command, Stdio};

fn frames() -> Vec<Vec<u8>> {
    let dir = std::path::PathBuf::from(std::env::var_os("CPS_VECTORS_DIR").unwrap_or_else(|| {
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/vectors").into_os_string()
    }));
    let mut valid = Vec::new();
    let mut out = Vec::new();
    for d in [dir.clone(), dir.join("invalid")] {
        let mut names: Vec<_> = std::fs::read_dir(&d)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().map_or(false, |x| x == "cbor"))
            .collect();
        names.sort();
        for p in names {
            let b = std::fs::read(&p).unwrap();
            if d == dir {
                valid.push(b.clone());
            }
            out.push(b);
        }
    }
    out.extend(hello_features_frames(&dir));
    for v in &valid {
        for n in 1..v.len() {
            out.push(v[..n].to_vec());
        }
        for i in 0..v.len() {
            for x in [0x01u8, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0x1f, 0xe0, 0xff] {
                let mut m = v.clone();
                m[i] ^= x;
                out.push(m);
            }
            let mut del = v.clone();
            del.remove(i);
            out.push(del);
        }
        // 2000 frames per vector with 1 to 4 bytes set to pseudo-random
        // values (a fixed LCG, so every run tests the same frames).
        let mut x: u64 = 0x2545_f491_4f6c_dd1d ^ v.len() as u64;
        let mut next = move || {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (x >> 33) as usize
        };
        for _ in 0..2000 {
            let mut m = v.clone();
            for _ in 0..1 + next() % 4 {
                let at = next() % m.len();
                m[at] = next() as u8;
            }
            out.push(m);
        }
    }
    out
}

fn text(s: &[u8]) -> Vec<u8> {
    let mut b = match s.len() {
        n if n < 24 => vec![0x60 | n as u8],
        n if n < 256 => vec![0x78, n as u8],
        n => vec![0x79, (n >> 8) as u8, n as u8],
    };
    b.extend_from_slice(s);
    b
}

/// hello.cbor with a "features" key whose value is each of a list of
/// arrays of names (or another item).
fn hello_features_frames(dir: &std::path::Path) -> Vec<Vec<u8>> {
    let hello = std::fs::read(dir.join("hello.cbor")).unwrap();
    let array = |names: Vec<Vec<u8>>| -> Vec<u8> {
        let mut b = if names.len() < 24 { vec![0x80 | names.len() as u8] } else { vec![0x98, names.len() as u8] };
        for n in names {
            b.extend(text(&n));
        }
        b
    };
    let many = |n: usize| (0..n).map(|i| format!("job.k{i}").into_bytes()).collect::<Vec<_>>();
    let values = vec![
        array(vec![]),
        array(vec![b"job.limits.future".to_vec(), b"job.uid".to_vec(), b"job.backend".to_vec(), b"job.uid".to_vec()]),
        array(many(64)),
        array(many(65)),
        array(vec![b"job.uid".to_vec(), Vec::new()]),
        array(vec![vec![b'x'; 256]]),
        array(vec![vec![b'x'; 257]]),
        array(vec![b"job.\0uid".to_vec()]),
        array(vec![b"job.uid".to_vec(), b"\xff".to_vec()]),
        [&[0x82u8][..], &text(b"job.uid"), &[0x07]].concat(),
        [&[0x81u8][..], &array(vec![b"job.uid".to_vec()])].concat(),
        text(b"job.uid"),
        vec![0xf6],
    ];
    values
        .into_iter()
        .map(|v| {
            let mut h = hello.clone();
            h[0] += 1;
            h.extend(text(b"features"));
            h.extend(v);
            h
        })
        .collect()
}

fn rust_line(f: &[u8]) -> String {
    match proto::decode(f) {
        Ok(m) => match proto::encode(&m) {
            Ok(b) => format!("ok {}", b.iter().map(|x| format!("{x:02x}")).collect::<String>()),
            Err(e) => format!("reencode-failed {} {}", e.errno, e.message),
        },
        Err(e) => format!("err {} {}", e.errno, e.message),
    }
}

#[test]
fn the_crate_and_common_accept_and_refuse_the_same_frames_with_the_same_messages() {
    let tool = match common::env_or_skip("CPS_C_DECODE") {
        Some(t) => t,
        None => return,
    };
    let frames = frames();
    let mut input = Vec::new();
    for f in &frames {
        input.extend_from_slice(&(f.len() as u32).to_be_bytes());
        input.extend_from_slice(f);
    }
    let mut child = Command::new(tool).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(&input).unwrap());
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert!(out.status.success());
    let c_lines: Vec<&str> = std::str::from_utf8(&out.stdout).unwrap().lines().collect();
    assert_eq!(c_lines.len(), frames.len());
    let mut differ = Vec::new();
    let mut accepted = 0;
    for (i, f) in frames.iter().enumerate() {
        let r = rust_line(f);
        if r.starts_with("ok") {
            accepted += 1;
        }
        if r != c_lines[i] {
            differ.push(format!("frame {i} {:02x?}\n  C:    {}\n  Rust: {}", f, c_lines[i], r));
        }
    }
    println!("{} frames, {} accepted by both, {} differ", frames.len(), accepted, differ.len());
    assert!(
        differ.is_empty(),
        "{} of {} frames differ:\n{}",
        differ.len(),
        frames.len(),
        differ[..differ.len().min(20)].join("\n")
    );
}
