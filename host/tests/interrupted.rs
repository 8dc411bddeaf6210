//! Runs that do not finish keep what they covered: a long `-icount` run interrupted with Ctrl-C,
//! and one whose QEMU is killed, each write their run directory from the checkpoints that
//! arrived (marked partial, with the covered window), exit non-zero, and leave no QEMU behind.
//! The injected 250 Hz tick is the known answer for the covered part.

mod common;
use common::*;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The parent of `pid`, from /proc/PID/stat (the field after the command name's parenthesis).
fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 1..];
    after.split_whitespace().nth(1)?.parse().ok()
}

/// Whether `pid` is a QEMU for aarch64.
fn is_qemu(pid: u32) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|c| String::from_utf8_lossy(&c).contains("qemu-system-aarch64"))
        .unwrap_or(false)
}

/// The QEMU processes below `ancestor` (this test's tickscope) in the process tree.
fn qemus(ancestor: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let mut p = pid;
        while let Some(parent) = parent_of(p).filter(|&x| x > 1) {
            if parent == ancestor {
                if is_qemu(pid) {
                    out.push(pid);
                }
                break;
            }
            p = parent;
        }
    }
    out
}

fn start(duration: &str, out_dir: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_tickscope"))
        .args([
            "measure",
            "--mode",
            "noise",
            "--icount",
            "--duration",
            duration,
            "--inject-tick",
            "250:10us",
            "--checkpoint",
            "250ms",
            "--out",
            out_dir,
        ])
        .current_dir(root())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits until the guest of `child` has run for `secs` seconds of wall time; returns its QEMU.
fn let_it_run(child: &Child, secs: u64) -> Vec<u32> {
    let t0 = Instant::now();
    let mut found = qemus(child.id());
    while found.is_empty() {
        assert!(
            t0.elapsed() < Duration::from_secs(300),
            "QEMU never started"
        );
        std::thread::sleep(Duration::from_millis(200));
        found = qemus(child.id());
    }
    std::thread::sleep(Duration::from_secs(secs));
    found
}

fn finish(child: Child) -> (i32, String) {
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The covered part of a partial run holds the tick's known answer: 250 ticks per second.
fn check_partial(dir: &str, window_s: f64) -> serde_json::Value {
    let read = |f: &str| -> serde_json::Value {
        let p = std::path::Path::new(dir).join(f);
        serde_json::from_str(
            &std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())),
        )
        .unwrap()
    };
    let s = read("summary.json");
    let run = read("run.json");
    let covered = num(&s, "partial.covered_s");
    assert_eq!(num(&s, "partial.window_s"), window_s, "{s:#}");
    assert_eq!(
        run["partial"], s["partial"],
        "run.json and summary.json agree"
    );
    assert!(
        covered >= 0.25 && covered < window_s,
        "covered {covered} s: {s:#}"
    );
    assert_eq!(
        num(&s, "duration_s"),
        covered,
        "figures are per covered second"
    );
    // Checkpoints come every 250 ms of window: the covered part ends on one.
    let quarters = covered / 0.25;
    assert!(
        (quarters - quarters.round()).abs() < 0.01,
        "covered {covered} s"
    );
    let ticks = num(&s, "os_noise.events");
    assert!(
        (ticks - covered * 250.0).abs() <= 1.0,
        "{ticks} tick events in {covered} s: {s:#}"
    );
    // Ten-instruction iterations fill the covered window but for the ticks and checkpoints.
    let samples = num(&s, "samples");
    assert!(
        samples > covered * 0.99e8 && samples <= covered * 1e8,
        "{samples} iterations in {covered} s"
    );
    s
}

#[test]
fn ctrl_c_keeps_the_covered_window_and_stops_qemu() {
    let d = tmp();
    let o = out(&d, "run");
    let child = start("60s", &o);
    let qemu = let_it_run(&child, 20);
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap()
            .success()
    );
    let (status, stderr) = finish(child);
    assert_eq!(status, 130, "{stderr}");
    assert!(
        stderr.contains("partial run") && stderr.contains("interrupted"),
        "{stderr}"
    );
    assert!(
        !qemu.iter().any(|&pid| is_qemu(pid)),
        "QEMU outlived tickscope"
    );
    check_partial(&o, 60.0);
}

#[test]
fn a_killed_qemu_keeps_the_covered_window() {
    let d = tmp();
    let o = out(&d, "run");
    let child = start("50s", &o);
    for pid in let_it_run(&child, 15) {
        let _ = Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status();
    }
    let (status, stderr) = finish(child);
    assert_eq!(status, 124, "{stderr}");
    assert!(stderr.contains("QEMU died of signal 9"), "{stderr}");
    let s = check_partial(&o, 50.0);
    assert_eq!(s["mode"], "noise");
}
