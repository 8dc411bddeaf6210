//! Long runs keep memory flat and count every event. A bare-metal run under plain TCG over the
//! UART (the one that once kept only 2 M of 16.8 M events) and a `--here` run, sampled while they
//! run: tickscope's resident memory (and the probe's, on this machine) stays within the stated
//! bound through capture and analysis, every event is counted and classified, every plot is
//! under 10 MB, and the maxima plot is drawn. By default they are brief and take the long path
//! anyway (`TICKSCOPE_KEEP_RECORDS`); `TICKSCOPE_LONG=1h` runs the bare-metal one for an hour and
//! the `--here` one for a third of that, sampling every minute. On Linux the long path is the
//! probe reading its trace during the window and the host attributing it as it arrives.

mod common;
use common::*;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// One at a time: the `--here` run measures this machine's CPU 1, which the other's QEMU would
/// disturb.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn turn() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

/// tickscope's bound on bare metal: 500 k kept events and interrupt records with their splits
/// (about 200 bytes an event), one checkpoint interval's records, and the plots being drawn.
const HOST_BOUND_MIB: u64 = 256;
/// The probe's bound on this machine: its ring, and the trace pages it reads every half second.
const PROBE_BOUND_MIB: u64 = 256;

/// The run's length and how often it is sampled, and the records kept (brief runs keep few, so
/// they take the long path).
fn plan(fraction: u32) -> (String, Duration, Option<&'static str>) {
    match std::env::var("TICKSCOPE_LONG") {
        Ok(d) if !d.is_empty() => {
            let s = tickscope::cli::options::duration(&d).expect("TICKSCOPE_LONG: a duration")
                / 1_000_000_000
                / fraction as u64;
            (format!("{s}s"), Duration::from_secs(60), None)
        }
        _ => ("12s".into(), Duration::from_secs(1), Some("100")),
    }
}

/// The largest resident set (VmHWM, kB) of the processes named `name`, or of `pid`.
fn peak_kb(pid: Option<u32>, name: &str) -> u64 {
    let field = |status: &str| {
        status
            .lines()
            .find(|l| l.starts_with("VmHWM:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    if let Some(p) = pid {
        return std::fs::read_to_string(format!("/proc/{p}/status"))
            .map(|s| field(&s))
            .unwrap_or(0);
    }
    let mut peak = 0;
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let comm = std::fs::read_to_string(e.path().join("comm")).unwrap_or_default();
        if comm.trim() == name {
            peak = peak.max(field(
                &std::fs::read_to_string(e.path().join("status")).unwrap_or_default(),
            ));
        }
    }
    peak
}

/// Runs tickscope with `args`, sampling its peak memory (and the probe's) every `every`;
/// returns its JSON and the peaks in MiB.
fn sampled(args: &[&str], every: Duration, keep: Option<&str>) -> (serde_json::Value, u64, u64) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tickscope"));
    cmd.args(args)
        .current_dir(root())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    if let Some(k) = keep {
        // The long path on a brief run: few records kept, the capture left in its file.
        cmd.env("TICKSCOPE_KEEP_RECORDS", k)
            .env("TICKSCOPE_SPILL_BYTES", "1");
    }
    let child = cmd.spawn().unwrap();
    let pid = child.id();
    let (mut host, mut probe) = (0u64, 0u64);
    let started = Instant::now();
    let done = std::sync::atomic::AtomicBool::new(false);
    let out = std::thread::scope(|s| {
        let waiter = s.spawn(|| {
            let o = child.wait_with_output().unwrap();
            done.store(true, std::sync::atomic::Ordering::Release);
            o
        });
        let mut next = Instant::now();
        while !done.load(std::sync::atomic::Ordering::Acquire) {
            host = host.max(peak_kb(Some(pid), ""));
            probe = probe.max(peak_kb(None, "tickscope-probe"));
            if Instant::now() >= next {
                eprintln!(
                    "{:>6.0} s: tickscope {} MiB, probe {} MiB (peaks so far)",
                    started.elapsed().as_secs_f64(),
                    host / 1024,
                    probe / 1024
                );
                next += every;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        waiter.join().unwrap()
    });
    assert_eq!(out.status.code(), Some(0), "tickscope {args:?} failed");
    let j = serde_json::from_slice(&out.stdout).unwrap();
    (j, host / 1024, probe / 1024)
}

/// Every plot and page of a run directory under 10 MB, the maxima plot among them.
fn plots_bounded(dir: &Path) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        let ext = p.extension().and_then(|x| x.to_str()).unwrap_or("");
        if ["svg", "png", "html", "json"].contains(&ext) {
            let len = e.metadata().unwrap().len();
            assert!(len < 10_000_000, "{} is {len} bytes", p.display());
        }
    }
    for f in ["maxima.svg", "maxima.png", "maxima.json"] {
        assert!(dir.join(f).is_file(), "no {f} in {}", dir.display());
    }
}

#[test]
fn a_long_bare_metal_run_keeps_memory_within_its_bound_and_counts_every_event() {
    let _t = turn();
    let (duration, every, keep) = plan(1);
    let d = tmp();
    let o = out(&d, "long-bare");
    let (j, host, _) = sampled(
        &[
            "measure",
            "--mode",
            "noise",
            "--transport",
            "uart",
            "--duration",
            &duration,
            "--json",
            "--out",
            &o,
        ],
        every,
        keep,
    );
    eprintln!("bare metal, {duration}: tickscope peaked at {host} MiB");
    assert!(host <= HOST_BOUND_MIB, "tickscope peaked at {host} MiB");
    assert_eq!(j["emulation"], "tcg");
    // The long path was taken, and every event counted and classified: bare metal has no OS, so
    // each event is one hardware (emulator) stretch.
    let note = j["attribution_note"].as_str().unwrap();
    assert!(
        note.contains("attributed as checkpoints closed them"),
        "{j:#}"
    );
    assert!(j["lower_bound"].is_null(), "{j:#}");
    assert_eq!(num(&j, "hw_noise.events"), num(&j, "events"), "{j:#}");
    assert_eq!(num(&j, "os_noise.events"), 0.0);
    plots_bounded(Path::new(&o));
    // The capture moved into the run directory whole (it was never read into memory whole).
    let cap = std::fs::metadata(Path::new(&o).join("capture.bin"))
        .unwrap()
        .len();
    assert!(cap > 1_000, "capture.bin holds {cap} bytes");
    let left: Vec<String> = std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("tickscope-capture-"))
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn a_long_run_here_keeps_host_and_probe_memory_within_their_bounds() {
    let _t = turn();
    let (duration, every, keep) = plan(3);
    let d = tmp();
    let o = out(&d, "long-here");
    let (j, host, probe) = sampled(
        &[
            "linux",
            "--here",
            "--core",
            "1",
            "--duration",
            &duration,
            "--json",
            "--out",
            &o,
        ],
        every,
        keep,
    );
    eprintln!("--here, {duration}: tickscope peaked at {host} MiB, the probe at {probe} MiB");
    assert!(host <= HOST_BOUND_MIB, "tickscope peaked at {host} MiB");
    assert!(
        probe > 0 && probe <= PROBE_BOUND_MIB,
        "the probe peaked at {probe} MiB"
    );
    assert!(j["lower_bound"].is_null(), "{j:#}");
    let counted = num(&j, "os_noise.events") + num(&j, "hw_noise.events");
    assert!(
        counted >= num(&j, "events"),
        "every event in a class: {j:#}"
    );
    // The probe read its trace during the window: the records beyond the kept ones were
    // attributed as it arrived, none lost to a full buffer.
    let note = j["attribution_note"].as_str().unwrap_or_default();
    assert!(note.contains("as the probe's trace arrived"), "{j:#}");
    assert!(!note.contains("trace record(s) lost"), "{j:#}");
    plots_bounded(Path::new(&o));
}
