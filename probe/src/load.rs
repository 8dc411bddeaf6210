//! Load on the CPUs the probe does not measure (`--load hackbench+memory+stress-ng:ARGS`): one
//! instance of each load pinned to each such CPU, started and seen working before the window,
//! its progress counted over the window and shipped after it, so "loaded" is a measured fact.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use tickscope_core::wire::msg::{LoadKind, LoadProgress};

use crate::{hstring, peers, sys};

/// One load of `--load`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Load {
    /// rt-tests' hackbench, run again as each run ends.
    Hackbench,
    /// The probe's memory-bandwidth hog.
    Memory,
    /// stress-ng with these arguments.
    StressNg(Vec<String>),
}

impl Load {
    fn kind(&self) -> LoadKind {
        match self {
            Load::Hackbench => LoadKind::Hackbench,
            Load::Memory => LoadKind::Memory,
            Load::StressNg(_) => LoadKind::StressNg,
        }
    }
}

/// Parses `--load`: loads joined by `+` (`none` for none); stress-ng's arguments follow its
/// colon, separated by commas (`stress-ng:--cpu,1` runs `stress-ng --cpu 1`).
pub fn parse(spec: &str) -> Result<Vec<Load>, String> {
    let mut loads = Vec::new();
    for item in spec.split('+').filter(|s| !s.is_empty()) {
        let load = match item.split_once(':') {
            None if item == "none" => continue,
            None if item == "hackbench" => Load::Hackbench,
            None if item == "memory" => Load::Memory,
            Some(("stress-ng", args)) => Load::StressNg(
                args.split(',')
                    .filter(|a| !a.is_empty())
                    .map(String::from)
                    .collect(),
            ),
            None if item == "stress-ng" => Load::StressNg(Vec::new()),
            _ => {
                return Err(format!(
                    "--load {item}: expected hackbench, memory, stress-ng[:ARGS] or none"
                ));
            }
        };
        if !loads.contains(&load) {
            loads.push(load);
        }
    }
    Ok(loads)
}

/// How long each instance may take to show it works before the window is refused.
const START_WAIT_NS: u64 = 10_000_000_000;

/// hackbench's arguments for one run: one group of a sender and a receiver thread passing 10
/// messages of 100 bytes, a process that starts and exits each run. Short, so that runs complete
/// many times in a window even under QEMU's icount, where the vCPUs run in turn and a broadcast
/// TLB flush (every process exit) ends the issuing vCPU's turn: with 16 processes a run, a loaded
/// vCPU completed one run a second there.
const HACKBENCH_ARGS: [&str; 9] = ["-T", "-g", "1", "-f", "1", "-l", "10", "-s", "100"];

/// What an instance's thread shares with the probe.
#[derive(Default)]
struct Shared {
    /// Operations so far (memory: bytes).
    ops: AtomicU64,
    /// Runs that failed.
    failures: AtomicU32,
    /// Still working.
    alive: AtomicBool,
    /// The last failure, for the refusal.
    why: Mutex<String>,
    /// stress-ng's pid, to stop it.
    child: AtomicU32,
}

/// One running instance.
struct Instance {
    kind: LoadKind,
    cpu: usize,
    command: String,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<Option<u64>>>,
    /// At the window's opening: operations, the CPU's idle ns, the time.
    open: Option<(u64, u64, u64)>,
    /// At its closing: operations during, busy ns, interval ns, still running.
    close: Option<(u64, u64, u64, bool)>,
}

/// The loads, running.
pub struct Running {
    stop: Arc<AtomicBool>,
    instances: Vec<Instance>,
}

/// Starts every load on every CPU of `cpus` (pinned, at normal priority) and waits until each
/// has worked: hackbench completed a run, memory copied its buffer, stress-ng is still up.
/// `stop_after_s`: stress-ng's own timeout, should the probe die without stopping it.
pub fn start(loads: &[Load], cpus: &[usize], stop_after_s: u64) -> Result<Running, String> {
    if cpus.is_empty() {
        return Err("--load needs a CPU besides the measured one".into());
    }
    let stop = Arc::new(AtomicBool::new(false));
    let mut instances = Vec::new();
    for load in loads {
        let bin = binary(load)?;
        for &cpu in cpus {
            instances.push(spawn(load, bin.clone(), cpu, stop_after_s, &stop));
        }
    }
    let running = Running { stop, instances };
    running.wait_working()?;
    Ok(running)
}

/// The tool a load runs, found where the initramfs or the system keeps it.
fn binary(load: &Load) -> Result<String, String> {
    let name = match load {
        Load::Memory => return Ok(String::new()),
        Load::Hackbench => "hackbench",
        Load::StressNg(_) => "stress-ng",
    };
    peers::find_tool(name).ok_or_else(|| {
        format!(
            "--load {name}: {name} is not installed ({}: apt-get install {})",
            "not in /usr/bin or /usr/sbin",
            if name == "hackbench" {
                "rt-tests"
            } else {
                "stress-ng"
            }
        )
    })
}

fn spawn(
    load: &Load,
    bin: String,
    cpu: usize,
    stop_after_s: u64,
    stop: &Arc<AtomicBool>,
) -> Instance {
    let shared = Arc::new(Shared::default());
    shared.alive.store(true, Ordering::Release);
    let (s, stop) = (shared.clone(), stop.clone());
    let command = match load {
        Load::Memory => format!(
            "memory: copy {} MiB back and forth",
            memory_bytes(cpu) >> 20
        ),
        Load::Hackbench => format!("{bin} {}", HACKBENCH_ARGS.join(" ")),
        Load::StressNg(args) => format!(
            "{bin} {} {}",
            args.join(" "),
            stress_ng_extra(stop_after_s).join(" ")
        ),
    };
    let load2 = load.clone();
    let thread = std::thread::spawn(move || {
        // The load must not take the measured CPU nor outrank anything: this CPU, SCHED_OTHER;
        // the tools it starts inherit both.
        let _ = sys::pin(cpu);
        let _ = sys::normal();
        let total = match load2 {
            Load::Hackbench => hackbench(&bin, &s, &stop),
            Load::Memory => memory(cpu, &s, &stop),
            Load::StressNg(args) => stress_ng(&bin, &args, stop_after_s, &s, &stop),
        };
        s.alive.store(false, Ordering::Release);
        total
    });
    Instance {
        kind: load.kind(),
        cpu,
        command,
        shared,
        thread: Some(thread),
        open: None,
        close: None,
    }
}

/// Runs hackbench until told to stop; counts the runs that completed.
fn hackbench(bin: &str, s: &Shared, stop: &AtomicBool) -> Option<u64> {
    while !stop.load(Ordering::Acquire) {
        let mut c = Command::new(bin);
        c.args(HACKBENCH_ARGS).stdin(Stdio::null());
        dies_with_its_starter(&mut c, libc::SIGKILL);
        match c.output() {
            Ok(o) if o.status.success() => {
                s.ops.fetch_add(1, Ordering::AcqRel);
            }
            Ok(o) => failed(
                s,
                &format!("{bin} exited with {}: {}", o.status, first_line(&o.stderr)),
            ),
            Err(e) => failed(s, &format!("cannot run {bin}: {e}")),
        }
        if s.failures.load(Ordering::Acquire) > 0 && s.ops.load(Ordering::Acquire) == 0 {
            // It never worked: do not spin on a broken tool.
            break;
        }
    }
    None
}

fn failed(s: &Shared, why: &str) {
    s.failures.fetch_add(1, Ordering::AcqRel);
    if let Ok(mut w) = s.why.lock() {
        *w = why.to_string();
    }
}

fn first_line(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .to_string()
}

/// The hog's buffer: twice the largest cache the CPU reports (so every copy goes to memory),
/// within 4..64 MiB.
fn memory_bytes(cpu: usize) -> usize {
    let mut largest = 0usize;
    for index in 0..8 {
        let path = format!("/sys/devices/system/cpu/cpu{cpu}/cache/index{index}/size");
        let Ok(text) = std::fs::read_to_string(&path) else {
            break;
        };
        largest = largest.max(parse_size(text.trim()));
    }
    (2 * largest).clamp(4 << 20, 64 << 20)
}

/// `512K`, `32768K`, `16M` (sysfs's cache sizes).
fn parse_size(s: &str) -> usize {
    let (n, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: usize = n.parse().unwrap_or(0);
    match unit {
        "K" => n << 10,
        "M" => n << 20,
        "G" => n << 30,
        _ => n,
    }
}

/// Copies one half of a buffer onto the other and back until told to stop; counts bytes.
fn memory(cpu: usize, s: &Shared, stop: &AtomicBool) -> Option<u64> {
    let half = memory_bytes(cpu) / 2;
    let mut a = vec![1u8; half];
    let mut b = vec![2u8; half];
    while !stop.load(Ordering::Acquire) {
        b.copy_from_slice(std::hint::black_box(&a));
        std::mem::swap(&mut a, &mut b);
        s.ops.fetch_add(half as u64, Ordering::AcqRel);
    }
    None
}

/// stress-ng's own arguments after the user's: a timeout, should the probe die, and its metrics.
fn stress_ng_extra(stop_after_s: u64) -> Vec<String> {
    vec![
        "--timeout".into(),
        format!("{stop_after_s}s"),
        "--metrics-brief".into(),
    ]
}

/// Runs stress-ng until told to stop (SIGINT: it stops its stressors and prints its metrics);
/// returns its bogo ops.
fn stress_ng(
    bin: &str,
    args: &[String],
    stop_after_s: u64,
    s: &Shared,
    stop: &AtomicBool,
) -> Option<u64> {
    let mut c = Command::new(bin);
    c.args(args)
        .args(stress_ng_extra(stop_after_s))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // SIGINT: stress-ng stops its stressors on it.
    dies_with_its_starter(&mut c, libc::SIGINT);
    let child = c.spawn();
    let mut child: Child = match child {
        Ok(c) => c,
        Err(e) => {
            failed(s, &format!("cannot run {bin}: {e}"));
            return None;
        }
    };
    s.child.store(child.id(), Ordering::Release);
    while !stop.load(Ordering::Acquire) {
        if let Ok(Some(status)) = child.try_wait() {
            let mut err = Vec::new();
            if let Some(mut e) = child.stderr.take() {
                let _ = e.read_to_end(&mut err);
            }
            failed(
                s,
                &format!("{bin} ended early ({status}): {}", first_line(&err)),
            );
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    // SAFETY: kill() only sends a signal to the child we started (still unreaped, so its pid is ours).
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let out = child.wait_with_output().ok()?;
    let text = String::from_utf8_lossy(&out.stderr) + String::from_utf8_lossy(&out.stdout);
    let ops = bogo_ops(&text);
    if let Some(n) = ops {
        s.ops.store(n, Ordering::Release);
    }
    ops
}

/// The bogo ops of stress-ng's `--metrics-brief` table, summed over its stressors: the lines
/// after the one naming "bogo ops", each `stressor OPS real usr sys ...`.
pub fn bogo_ops(text: &str) -> Option<u64> {
    let mut total = None;
    let mut in_table = false;
    for line in text.lines() {
        let body = line.split_once(']').map(|(_, b)| b).unwrap_or(line);
        if body.contains("bogo ops") {
            in_table = true;
            continue;
        }
        if !in_table {
            continue;
        }
        let words: Vec<&str> = body.split_whitespace().collect();
        if let [name, ops, ..] = words.as_slice()
            && !name.starts_with('(')
            && let Ok(n) = ops.parse::<u64>()
        {
            *total.get_or_insert(0) += n;
        }
    }
    total
}

/// Asks the kernel to signal a started tool when the thread that started it ends (the probe
/// killed, say): a load never outlives the probe.
fn dies_with_its_starter(c: &mut Command, signal: i32) {
    // The closure runs in the child between fork and exec.
    // SAFETY: it only makes the prctl system call (async-signal-safe; no allocation, no lock).
    unsafe {
        c.pre_exec(move || {
            libc::prctl(libc::PR_SET_PDEATHSIG, signal as libc::c_ulong);
            Ok(())
        });
    }
}

impl Drop for Running {
    /// An early return (a refusal after the start) stops the loads too.
    fn drop(&mut self) {
        self.stop_all();
        for i in &mut self.instances {
            if let Some(t) = i.thread.take() {
                let _ = t.join();
            }
        }
    }
}

impl Running {
    /// Waits until every instance has worked, or refuses with the first one that failed.
    fn wait_working(&self) -> Result<(), String> {
        let t0 = sys::monotonic_ns();
        loop {
            let mut all = true;
            for i in &self.instances {
                let s = &i.shared;
                let worked = match i.kind {
                    LoadKind::StressNg => sys::monotonic_ns() - t0 > 300_000_000,
                    _ => s.ops.load(Ordering::Acquire) > 0,
                };
                if !s.alive.load(Ordering::Acquire)
                    || (!worked && s.failures.load(Ordering::Acquire) > 0)
                {
                    let why = s.why.lock().map(|w| w.clone()).unwrap_or_default();
                    self.stop_all();
                    return Err(format!(
                        "--load {} on CPU {} did not start: {why}",
                        i.kind.name(),
                        i.cpu
                    ));
                }
                all &= worked;
            }
            if all {
                return Ok(());
            }
            if sys::monotonic_ns() - t0 > START_WAIT_NS {
                self.stop_all();
                return Err(format!(
                    "--load: not every instance worked within {} s",
                    START_WAIT_NS / 1_000_000_000
                ));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn stop_all(&self) {
        self.stop.store(true, Ordering::Release);
    }

    /// Notes where each instance stands as the window opens.
    pub fn open(&mut self) {
        for i in &mut self.instances {
            i.open = Some((
                i.shared.ops.load(Ordering::Acquire),
                peers::idle_ns(i.cpu).unwrap_or(0),
                sys::monotonic_ns(),
            ));
        }
    }

    /// Notes each instance's progress as the window closes.
    pub fn close(&mut self) {
        for i in &mut self.instances {
            let Some((ops0, idle0, t0)) = i.open else {
                continue;
            };
            let t1 = sys::monotonic_ns();
            let idle1 = peers::idle_ns(i.cpu).unwrap_or(idle0);
            let interval = t1.saturating_sub(t0);
            let ops = i.shared.ops.load(Ordering::Acquire).saturating_sub(ops0);
            let busy = interval.saturating_sub(idle1.saturating_sub(idle0));
            i.close = Some((ops, busy, interval, i.shared.alive.load(Ordering::Acquire)));
        }
    }

    /// Stops every instance and returns their progress.
    pub fn stop(mut self) -> Vec<LoadProgress> {
        self.stop_all();
        let mut out = Vec::new();
        for i in &mut self.instances {
            let total = i.thread.take().and_then(|t| t.join().ok()).flatten();
            let counted = i.kind != LoadKind::StressNg;
            let scale = |n: u64| {
                if i.kind == LoadKind::Memory {
                    n >> 20
                } else {
                    n
                }
            };
            let (during, busy, interval, running) = i.close.unwrap_or_default();
            out.push(LoadProgress {
                kind: i.kind,
                cpu: i.cpu as u16,
                command: hstring(&i.command),
                before: i.open.filter(|_| counted).map(|o| scale(o.0)),
                during: i.close.filter(|_| counted).map(|_| scale(during)),
                total: total.unwrap_or_else(|| scale(i.shared.ops.load(Ordering::Acquire))),
                interval_ns: interval,
                busy_ns: busy,
                failures: i.shared.failures.load(Ordering::Acquire),
                running,
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_lists_parse_and_refuse_unknown_loads() {
        assert_eq!(parse("none").unwrap(), []);
        assert_eq!(
            parse("hackbench+memory+hackbench").unwrap(),
            [Load::Hackbench, Load::Memory]
        );
        assert_eq!(
            parse("stress-ng:--cpu,1,--vm,1").unwrap(),
            [Load::StressNg(vec![
                "--cpu".into(),
                "1".into(),
                "--vm".into(),
                "1".into()
            ])]
        );
        let e = parse("kcompile").unwrap_err();
        assert!(e.contains("kcompile") && e.contains("hackbench"), "{e}");
    }

    #[test]
    fn stress_ng_metrics_are_summed_over_stressors() {
        let text = "stress-ng: info:  [77] setting to a 2 secs run per stressor\n\
stress-ng: info:  [77] dispatching hogs: 1 cpu, 1 vm\n\
stress-ng: metrc: [77] stressor       bogo ops real time  usr time  sys time   bogo ops/s     bogo ops/s\n\
stress-ng: metrc: [77]                           (secs)    (secs)    (secs)   (real time) (usr+sys time)\n\
stress-ng: metrc: [77] cpu                 1234      2.00      1.99      0.00       617.00         620.10\n\
stress-ng: metrc: [77] vm                    56      2.00      0.50      1.40        28.00          29.47\n\
stress-ng: info:  [77] successful run completed in 2.01s\n";
        assert_eq!(bogo_ops(text), Some(1290));
        assert_eq!(bogo_ops("stress-ng: info: [1] no metrics\n"), None);
    }

    #[test]
    fn cache_sizes_read_as_sysfs_writes_them() {
        assert_eq!(parse_size("512K"), 512 << 10);
        assert_eq!(parse_size("16M"), 16 << 20);
        assert_eq!(parse_size("?"), 0);
    }

    #[test]
    fn memory_load_copies_and_counts_until_stopped() {
        let s = Shared::default();
        let stop = AtomicBool::new(false);
        std::thread::scope(|sc| {
            sc.spawn(|| memory(0, &s, &stop));
            while s.ops.load(Ordering::Acquire) < 3 * (2 << 20) {
                std::thread::yield_now();
            }
            stop.store(true, Ordering::Release);
        });
        let ops = s.ops.load(Ordering::Acquire);
        assert!(
            ops >= 3 * (2 << 20) && ops % (memory_bytes(0) as u64 / 2) == 0,
            "{ops}"
        );
    }
}
