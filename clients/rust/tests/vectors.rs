//! The golden frames of tests/vectors/ both ways (tests/vectors/README.md):
//! every valid vector decodes to the value its README shows and re-encodes
//! byte for byte; every invalid one is refused with the C decoder's errno and
//! message. Plus what the README says a decoder must also do.

use cachepot_sandbox::proto::{self, ExitStatus, Msg, OutputMsg};
use std::collections::BTreeSet;
use std::path::PathBuf;

fn vectors_dir() -> PathBuf {
    match std::env::var_os("CPS_VECTORS_DIR") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/vectors"),
    }
}

fn readme() -> String {
    std::fs::read_to_string(vectors_dir().join("README.md")).expect("tests/vectors/README.md")
}

/// CBOR diagnostic notation as the README writes it ({"k": v, ...}, h'..').
fn diag(b: &[u8], pos: &mut usize) -> String {
    let ib = b[*pos];
    let (major, ai) = (ib >> 5, ib & 0x1f);
    *pos += 1;
    let arg = |pos: &mut usize| -> u64 {
        let n = match ai {
            0..=23 => return ai as u64,
            24 => 1,
            25 => 2,
            26 => 4,
            27 => 8,
            _ => panic!("unexpected additional info {ai}"),
        };
        let mut v = 0;
        for _ in 0..n {
            v = v << 8 | b[*pos] as u64;
            *pos += 1;
        }
        v
    };
    match major {
        0 => arg(pos).to_string(),
        2 => {
            let n = arg(pos) as usize;
            let s: String = b[*pos..*pos + n].iter().map(|x| format!("{x:02x}")).collect();
            *pos += n;
            format!("h'{s}'")
        }
        3 => {
            let n = arg(pos) as usize;
            let s = std::str::from_utf8(&b[*pos..*pos + n]).unwrap();
            *pos += n;
            format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
        }
        4 => {
            let n = arg(pos);
            let items: Vec<String> = (0..n).map(|_| diag(b, pos)).collect();
            format!("[{}]", items.join(", "))
        }
        5 => {
            let n = arg(pos);
            let items: Vec<String> = (0..n)
                .map(|_| {
                    let k = diag(b, pos);
                    format!("{k}: {}", diag(b, pos))
                })
                .collect();
            format!("{{{}}}", items.join(", "))
        }
        7 if ai == 20 => "false".into(),
        7 if ai == 21 => "true".into(),
        _ => panic!("unexpected major type {major}"),
    }
}

/// The README's "### name.cbor (N bytes)" sections: name -> diagnostic.
fn valid_table() -> Vec<(String, String)> {
    let text = readme();
    let mut out = Vec::new();
    let mut lines = text.lines();
    while let Some(l) = lines.next() {
        if let Some(rest) = l.strip_prefix("### ") {
            let name = rest.split_whitespace().next().unwrap().to_string();
            let d = lines.by_ref().skip_while(|l| !l.starts_with("```")).nth(1).unwrap().to_string();
            out.push((name, d));
        }
    }
    out
}

/// The README's invalid table: file -> (errno name, message piece).
fn invalid_table() -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for l in readme().lines() {
        let cols: Vec<&str> = l.split(" | ").collect();
        if cols.len() != 3 || !cols[0].starts_with("| `") || !cols[0].contains(".cbor") {
            continue;
        }
        let file = cols[0].trim_start_matches("| `").trim_end_matches('`').to_string();
        let c = cols[2].trim_end_matches(" |").trim_end_matches('|').trim();
        let errno = c.split('`').nth(1).unwrap().trim_start_matches('-').to_string();
        let q = c.find('"').unwrap();
        let piece = c[q + 1..c.len() - 1].replace("\\\"", "\"");
        out.push((file, errno, piece));
    }
    out
}

fn errno_value(name: &str) -> i32 {
    match name {
        "EPROTO" => libc::EPROTO,
        "EPROTONOSUPPORT" => libc::EPROTONOSUPPORT,
        "EMSGSIZE" => libc::EMSGSIZE,
        other => panic!("errno {other} not known to the test"),
    }
}

#[test]
fn every_file_is_listed_and_every_listed_file_exists() {
    let listed: BTreeSet<String> = valid_table().into_iter().map(|(n, _)| n).collect();
    let invalid: BTreeSet<String> = invalid_table().into_iter().map(|(n, _, _)| n).collect();
    let list = |d: PathBuf| -> BTreeSet<String> {
        std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.ends_with(".cbor"))
            .collect()
    };
    assert_eq!(listed, list(vectors_dir()));
    assert_eq!(invalid, list(vectors_dir().join("invalid")));
    assert_eq!(listed.len(), 13);
    assert_eq!(invalid.len(), 27);
}

#[test]
fn valid_vectors_decode_to_their_readme_value_and_reencode_byte_for_byte() {
    for (name, expected) in valid_table() {
        let bytes = std::fs::read(vectors_dir().join(&name)).unwrap();
        let msg = proto::decode(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        let again = proto::encode(&msg).unwrap_or_else(|e| panic!("{name}: encode: {e}"));
        assert_eq!(again, bytes, "{name}: re-encoding differs");
        let mut pos = 0;
        assert_eq!(diag(&again, &mut pos), expected, "{name}: decoded value differs from the README");
        assert_eq!(pos, again.len());
        assert_eq!(msg.type_name(), name.split(|c| c == '.' || c == '_').next().unwrap());
    }
}

#[test]
fn decoded_values_are_the_readmes() {
    let read = |n: &str| std::fs::read(vectors_dir().join(n)).unwrap();
    let hello = read("hello.cbor");
    match proto::decode(&hello).unwrap() {
        Msg::Hello(h) => {
            assert_eq!((h.protocol, h.uid, h.gid, h.seccomp), (1, 1000, 1000, true));
            assert_eq!(h.backends, vec!["userns", "bubblewrap"]);
            assert_eq!(h.overlay_modes, vec!["native", "bind"]);
            assert_eq!((h.max_frame, h.max_chunk), (1048576, 65536));
        }
        m => panic!("{m:?}"),
    }
    let job = read("job_full.cbor");
    match proto::decode(&job).unwrap() {
        Msg::Job(j) => {
            assert_eq!(j.argv.len(), 8);
            assert_eq!(j.env[2], ("EMPTY".to_string(), String::new()));
            assert_eq!(j.inputs[1].mode, 0o600);
            assert_eq!(j.limits.scratch_bytes, 2147483648);
            assert_eq!(j.overlay.as_deref(), Some("fuse"));
            assert_eq!((j.uid, j.gid, j.seccomp), (Some(0), Some(65534), Some(false)));
        }
        m => panic!("{m:?}"),
    }
    let sig = read("exit_signal.cbor");
    match proto::decode(&sig).unwrap() {
        Msg::Exit(x) => {
            assert_eq!(x.status, ExitStatus::Signal(9));
            assert!(x.timed_out);
            assert_eq!(x.limit.as_deref(), Some("timeout"));
        }
        m => panic!("{m:?}"),
    }
    let out = read("output.cbor");
    match proto::decode(&out).unwrap() {
        Msg::Output(OutputMsg::Chunk { size, data, end, .. }) => {
            assert_eq!((size, data.len(), end), (70000, 10, false));
        }
        m => panic!("{m:?}"),
    }
    let err = read("error.cbor");
    match proto::decode(&err).unwrap() {
        Msg::Error(e) => {
            assert_eq!((e.stage.as_str(), e.errno), ("uid_map", 1));
            assert!(e.hint.starts_with("sysctl"));
        }
        m => panic!("{m:?}"),
    }
}

#[test]
fn invalid_vectors_are_refused_with_the_c_decoders_errno_and_message() {
    for (file, errno, piece) in invalid_table() {
        let bytes = std::fs::read(vectors_dir().join("invalid").join(&file)).unwrap();
        let e = match proto::decode(&bytes) {
            Ok(m) => panic!("{file}: accepted as {m:?}"),
            Err(e) => e,
        };
        assert_eq!(e.stage, "decode", "{file}");
        assert_eq!(e.errno, errno_value(&errno), "{file}: {}", e.message);
        assert!(e.message.contains(&piece), "{file}: message {:?} lacks {:?}", e.message, piece);
    }
}

/// Decoders accept keys in any order and longer-than-needed integers.
#[test]
fn non_canonical_but_valid_forms_are_accepted() {
    // {"data": h'6869', "type": "stdout"} with the map head and the byte
    // string length in two-byte form.
    let mut f = vec![0xb9, 0x00, 0x02];
    f.extend_from_slice(b"\x64data\x59\x00\x02hi\x64type\x66stdout");
    assert_eq!(proto::decode(&f).unwrap(), Msg::Stdout(b"hi"));
    // exit code 1 as a 4-byte integer.
    let canon = std::fs::read(vectors_dir().join("exit_code.cbor")).unwrap();
    let at = canon.windows(5).position(|w| w == b"\x64code").unwrap() + 5;
    let mut long = canon[..at].to_vec();
    long.extend_from_slice(&[0x1a, 0, 0, 0, 1]);
    long.extend_from_slice(&canon[at + 1..]);
    let m = proto::decode(&long).unwrap();
    assert_eq!(proto::encode(&m).unwrap(), canon);
}

#[test]
fn frame_sizes_outside_1_to_1mib_are_emsgsize() {
    assert_eq!(proto::decode(&[]).unwrap_err().errno, libc::EMSGSIZE);
    let big = vec![0u8; 1024 * 1024 + 1];
    assert_eq!(proto::decode(&big).unwrap_err().errno, libc::EMSGSIZE);
}

#[test]
fn hello_with_unknown_capabilities_skips_them_but_not_an_unknown_backend() {
    let mut h = std::fs::read(vectors_dir().join("hello.cbor")).unwrap();
    // "bubblewrap" -> "bubblewrep": an unknown capability name is skipped.
    let at = h.windows(10).position(|w| w == b"bubblewrap").unwrap();
    h[at + 8] = b'e';
    match proto::decode(&h).unwrap() {
        Msg::Hello(x) => assert_eq!(x.backends, vec!["userns"]),
        m => panic!("{m:?}"),
    }
    // "backend": "userns" -> "usernz" is refused.
    let mut h2 = std::fs::read(vectors_dir().join("hello.cbor")).unwrap();
    let at = h2.windows(15).position(|w| w == b"\x67backend\x66userns").unwrap();
    h2[at + 14] = b'z';
    let e = proto::decode(&h2).unwrap_err();
    assert!(e.message.contains("hello.backend: unknown backend \"usernz\""), "{}", e.message);
}

/// Every prefix of every valid vector is refused (never accepted, never a
/// panic), and flipping any byte never panics.
#[test]
fn truncated_and_mutated_frames_never_panic_and_prefixes_are_refused() {
    for (name, _) in valid_table() {
        let bytes = std::fs::read(vectors_dir().join(&name)).unwrap();
        for n in 0..bytes.len() {
            assert!(proto::decode(&bytes[..n]).is_err(), "{name}: prefix of {n} bytes accepted");
        }
        for i in 0..bytes.len() {
            for x in [0x01u8, 0x1f, 0x20, 0x80, 0xff] {
                let mut m = bytes.clone();
                m[i] ^= x;
                if let Ok(msg) = proto::decode(&m) {
                    // Whatever is accepted must be canonical-encodable.
                    proto::encode(&msg).unwrap();
                }
            }
        }
    }
}

#[test]
fn the_encoder_refuses_what_the_decoder_would() {
    let e = proto::encode(&Msg::Stdout(b"")).unwrap_err();
    assert_eq!((e.stage.as_str(), e.errno), ("encode", libc::EINVAL));
    assert!(e.message.contains("stdout.data: chunk is empty"));
    let e = proto::encode(&Msg::Input { path: "rel".into(), data: b"x", end: true }).unwrap_err();
    assert!(e.message.contains("input.path: path is not absolute"));
}
