//! The golden frames of tests/vectors/ both ways (tests/vectors/README.md):
//! every valid vector decodes to the value its README shows and re-encodes
//! byte for byte; every invalid one is refused with the C decoder's errno and
//! message. Plus what the README says a decoder must also do, and the
//! optional job keys of hello.features (which a job sets, which a helper
//! announced, the refusal of a job that needs more).

use cachepot_sandbox::features;
use cachepot_sandbox::proto::{self, ExitStatus, Msg, OutputMsg, WireJob, WireLimits};
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
    assert_eq!(listed.len(), 15);
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
            assert_eq!(h.features, None);
            assert_eq!(h.reuse, None);
        }
        m => panic!("{m:?}"),
    }
    match proto::decode(&read("hello_reuse.cbor")).unwrap() {
        Msg::Hello(h) => assert_eq!((h.features.map(|f| f.len()), h.reuse), (Some(features::NAMES.len()), Some(3))),
        m => panic!("{m:?}"),
    }
    match proto::decode(&read("hello_features.cbor")).unwrap() {
        Msg::Hello(h) => {
            assert_eq!(h.helper_version, "0.2.0");
            assert_eq!(h.features, Some(features::NAMES.iter().map(|n| n.to_string()).collect()));
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

fn cbor_text(s: &[u8]) -> Vec<u8> {
    let mut b = match s.len() {
        n if n < 24 => vec![0x60 | n as u8],
        n if n < 256 => vec![0x78, n as u8],
        n => vec![0x79, (n >> 8) as u8, n as u8],
    };
    b.extend_from_slice(s);
    b
}

/// hello.cbor with "features" added, its value given as CBOR bytes.
fn hello_with_features(value: &[u8]) -> Vec<u8> {
    let mut h = std::fs::read(vectors_dir().join("hello.cbor")).unwrap();
    assert_eq!(h[0], 0xab, "hello.cbor is an 11-key map");
    h[0] = 0xac;
    h.extend(cbor_text(b"features"));
    h.extend_from_slice(value);
    h
}

fn names_array(names: &[&[u8]]) -> Vec<u8> {
    let mut b = if names.len() < 24 { vec![0x80 | names.len() as u8] } else { vec![0x98, names.len() as u8] };
    for n in names {
        b.extend(cbor_text(n));
    }
    b
}

fn decoded_features(frame: &[u8]) -> Option<Vec<String>> {
    match proto::decode(frame).unwrap() {
        Msg::Hello(h) => h.features,
        m => panic!("{m:?}"),
    }
}

/// Names this side does not know are skipped, known ones kept once each in
/// the table's order, and the encoder writes just those (common/'s rules).
#[test]
fn hello_features_skip_unknown_names_and_reencode_in_table_order() {
    let f = hello_with_features(&names_array(&[b"job.limits.future", b"job.uid", b"job.backend", b"job.uid"]));
    assert_eq!(decoded_features(&f), Some(vec!["job.backend".to_string(), "job.uid".to_string()]));
    let again = proto::encode(&proto::decode(&f).unwrap()).unwrap();
    assert_eq!(again, hello_with_features(&names_array(&[b"job.backend", b"job.uid"])));
    let f = hello_with_features(&names_array(&[b"job.future"]));
    assert_eq!(decoded_features(&f), Some(vec![]));
    assert_eq!(proto::encode(&proto::decode(&f).unwrap()).unwrap(), hello_with_features(&[0x80]));
    let many: Vec<Vec<u8>> = (0..64).map(|i| format!("job.k{i}").into_bytes()).collect();
    let many: Vec<&[u8]> = many.iter().map(|v| &v[..]).collect();
    assert_eq!(decoded_features(&hello_with_features(&names_array(&many))), Some(vec![]));
    // A hello without the key stays without it.
    let plain = std::fs::read(vectors_dir().join("hello.cbor")).unwrap();
    assert_eq!(proto::encode(&proto::decode(&plain).unwrap()).unwrap(), plain);
}

#[test]
fn hello_features_bad_values_are_refused_with_the_c_decoders_messages() {
    let long = vec![b'x'; 257];
    let many: Vec<Vec<u8>> = (0..65).map(|i| format!("job.k{i}").into_bytes()).collect();
    let many: Vec<&[u8]> = many.iter().map(|v| &v[..]).collect();
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (cbor_text(b"job.uid"), "hello.features: expected an array, got a text string"),
        (names_array(&many), "hello.features: 65 entries, more than 64"),
        (names_array(&[b"job.uid", b""]), "hello.features[1]: text is empty"),
        ([&[0x82u8][..], &cbor_text(b"job.uid"), &[0x07]].concat(), "hello.features[1]: expected a text string"),
        (names_array(&[&long]), "hello.features[0]: text of 257 bytes is longer than the limit of 256 bytes"),
        (names_array(&[b"job.\0uid"]), "hello.features[0]: text contains NUL"),
        (names_array(&[b"job.uid", b"\xff"]), "hello.features[1]: text is not valid UTF-8"),
        ([&[0x81u8][..], &names_array(&[b"job.uid"])].concat(), "hello.features[0]: expected a text string"),
    ];
    for (value, piece) in cases {
        let e = proto::decode(&hello_with_features(&value)).unwrap_err();
        assert_eq!((e.stage.as_str(), e.errno), ("decode", libc::EPROTO), "{piece}: {e}");
        assert!(e.message.contains(piece), "{:?} lacks {piece:?}", e.message);
    }
}

/// hello.reuse (a helper serving several jobs): 1..=1000, with the C
/// decoder's messages outside; re-encoded as it came.
#[test]
fn hello_reuse_bounds() {
    let with = |value: &[u8]| -> Vec<u8> {
        let mut h = std::fs::read(vectors_dir().join("hello.cbor")).unwrap();
        h[0] += 1;
        h.extend(cbor_text(b"reuse"));
        h.extend_from_slice(value);
        h
    };
    for (value, n) in [(&[0x01u8][..], 1u32), (&[0x19, 0x03, 0xe8][..], 1000)] {
        let f = with(value);
        match proto::decode(&f).unwrap() {
            Msg::Hello(h) => assert_eq!(h.reuse, Some(n)),
            m => panic!("{m:?}"),
        }
        assert_eq!(proto::encode(&proto::decode(&f).unwrap()).unwrap(), f);
    }
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (vec![0x00], "hello.reuse: 0 is not a number of jobs (1..1000)"),
        (vec![0x19, 0x03, 0xe9], "hello.reuse: 1001 is larger than 1000"),
        (vec![0x20], "hello.reuse: expected an unsigned integer, got a negative integer"),
        (cbor_text(b"2"), "hello.reuse: expected an unsigned integer, got a text string"),
    ];
    for (value, piece) in cases {
        let e = proto::decode(&with(&value)).unwrap_err();
        assert_eq!((e.stage.as_str(), e.errno), ("decode", libc::EPROTO), "{piece}: {e}");
        assert!(e.message.contains(piece), "{:?} lacks {piece:?}", e.message);
    }
}

fn job() -> WireJob {
    WireJob {
        toolchain: "/t".into(),
        build_dir: "/b".into(),
        argv: vec!["cc".into()],
        env: vec![],
        cwd: "/build".into(),
        outputs: vec![],
        inputs: vec![],
        backend: None,
        overlay: None,
        uid: None,
        gid: None,
        seccomp: None,
        limits: WireLimits::default(),
    }
}

/// The keys beyond the required ones of an encoded job, as feature names.
fn optional_keys_on_the_wire(b: &[u8]) -> Vec<String> {
    const REQUIRED: [&str; 8] = ["type", "toolchain", "build_dir", "argv", "env", "cwd", "outputs", "inputs"];
    let mut pos = 0;
    let n = b[0] & 0x1f;
    assert!(b[0] >> 5 == 5 && n < 24, "a small map");
    pos += 1;
    let mut out = Vec::new();
    for _ in 0..n {
        let k = diag(b, &mut pos).trim_matches('"').to_string();
        if k == "limits" {
            let m = b[pos] & 0x1f;
            pos += 1;
            for _ in 0..m {
                out.push(format!("job.limits.{}", diag(b, &mut pos).trim_matches('"')));
                diag(b, &mut pos);
            }
            continue;
        }
        diag(b, &mut pos);
        if !REQUIRED.contains(&k.as_str()) {
            out.push(format!("job.{k}"));
        }
    }
    assert_eq!(pos, b.len());
    out
}

/// features::job_features names exactly the optional keys the encoder
/// writes, for every row of the table, and nothing for a minimal job.
#[test]
fn job_features_are_the_optional_keys_the_encoder_writes() {
    assert_eq!(features::job_features(&job()), Vec::<&str>::new());
    assert_eq!(optional_keys_on_the_wire(&proto::encode(&Msg::Job(job())).unwrap()), Vec::<String>::new());
    for (i, name) in features::NAMES.iter().enumerate() {
        let mut j = job();
        match i {
            0 => j.backend = Some("userns".into()),
            1 => j.overlay = Some("bind".into()),
            2 => j.uid = Some(0),
            3 => j.gid = Some(0),
            4 => j.seccomp = Some(true),
            _ => {
                let l = &mut j.limits;
                let mut slots = [
                    &mut l.timeout_ms,
                    &mut l.max_output_bytes,
                    &mut l.cpu_seconds,
                    &mut l.address_space,
                    &mut l.file_size,
                    &mut l.open_files,
                    &mut l.processes,
                    &mut l.tmp_bytes,
                    &mut l.scratch_bytes,
                ];
                *slots[i - 5] = 1;
            }
        }
        assert_eq!(features::job_features(&j), vec![*name], "row {i}");
        assert_eq!(optional_keys_on_the_wire(&proto::encode(&Msg::Job(j)).unwrap()), vec![name.to_string()]);
    }
}

/// A job needing keys the hello did not announce is refused with every
/// such key, in table order, worded as the C library's refusal.
#[test]
fn a_job_setting_unannounced_keys_is_refused_naming_them() {
    let hello = match proto::decode(&std::fs::read(vectors_dir().join("hello_features.cbor")).unwrap()).unwrap() {
        Msg::Hello(h) => h,
        m => panic!("{m:?}"),
    };
    let mut j = job();
    j.uid = Some(0);
    j.limits.scratch_bytes = 1 << 20;
    j.limits.timeout_ms = 1000;
    assert_eq!(features::job_features(&j), vec!["job.uid", "job.limits.timeout_ms", "job.limits.scratch_bytes"]);
    assert_eq!(features::check(&j, &hello, "/h (pid 7)"), Ok(()));
    let mut old = hello.clone();
    old.features = None;
    assert_eq!(features::announced(&old), features::NAMES.to_vec());
    assert_eq!(features::check(&j, &old, "/h (pid 7)"), Ok(()));
    let mut few = hello.clone();
    few.features = Some(vec!["job.backend".into(), "job.limits.timeout_ms".into()]);
    let e = features::check(&j, &few, "/h (pid 7)").unwrap_err();
    assert_eq!((e.stage.as_str(), e.errno), ("job", libc::EOPNOTSUPP));
    assert_eq!(
        e.message,
        "helper /h (pid 7) of release 0.2.0 does not understand job.uid, job.limits.scratch_bytes, which this job \
         sets; helpers of release 0.1.0 and later do"
    );
    assert_eq!(e.hint, "install a helper of release 0.1.0 or later on this host, or leave those keys unset");
}
