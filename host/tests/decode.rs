//! `tickscope decode` on bad input: random bytes, a truncated capture, a damaged capture.

mod common;
use common::*;

fn write(d: &tempfile::TempDir, name: &str, bytes: &[u8]) -> String {
    let p = d.path().join(name);
    std::fs::write(&p, bytes).unwrap();
    p.display().to_string()
}

const RECORDED: &[u8] = include_bytes!("../../tickscope-core/tests/data/timer-tick.capture");

#[test]
fn random_bytes_are_refused_with_a_clear_message() {
    let d = tmp();
    // A deterministic pseudo-random megabyte.
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let bytes: Vec<u8> = (0..1 << 20)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    let f = write(&d, "random.bin", &bytes);
    let started = std::time::Instant::now();
    let r = tickscope(&["decode", &f]);
    eprintln!(
        "decode of 1 MiB of random bytes took {:?}",
        started.elapsed()
    );
    assert_eq!(r.status, 1, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr
            .contains("no tickscope frames found in 1048576 bytes"),
        "{}",
        r.stderr
    );
}

#[test]
fn a_truncated_capture_keeps_what_was_decoded_and_says_where_it_stopped() {
    let d = tmp();
    let f = write(&d, "cut.bin", &RECORDED[..RECORDED.len() * 2 / 3]);
    let r = tickscope(&["decode", &f, "--json"]);
    assert_eq!(r.status, 1, "{}", r.stderr);
    let j = r.json();
    assert!(num(&j, "capture.link.frames_ok") > 10.0, "{j:#}");
    assert!(
        r.stderr.contains("stream truncated") || r.stderr.contains("no end-of-run trailer"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("at byte") || r.stderr.contains("at offset"),
        "{}",
        r.stderr
    );
    assert!(
        j["summary"]["samples"].as_u64().unwrap() > 0,
        "the decoded part is still summarised"
    );
    // --allow-loss accepts it (still reported).
    let r = tickscope(&["decode", &f, "--allow-loss"]);
    assert_eq!(r.status, 0, "{}", r.stderr);
}

#[test]
fn a_clean_recording_decodes_with_logs_counted() {
    let d = tmp();
    let f = write(&d, "ok.bin", RECORDED);
    let r = tickscope(&["decode", &f, "--json"]);
    r.expect_status(0);
    let j = r.json();
    // The recording (scripts/record-fixture.sh) holds 23 frames, 5 of them defmt logs.
    assert_eq!(
        num(&j, "capture.log_frames"),
        5.0,
        "log frames are counted without the ELF: {j:#}"
    );
    assert_eq!(num(&j, "capture.link.frames_ok"), 23.0, "{j:#}");
    assert_eq!(j["capture"]["logs_decoded"], false);
    assert_eq!(j["summary"]["mode"], "timer");
}
