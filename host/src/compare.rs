//! The comparison: bare metal and each kernel (generic, tickless, rt, rt-tickless) on the same machine with the
//! same measurement, as a list of run requests through the one pipeline, into one directory with
//! the overlaid report. Used by `tickscope compare` and by the benchmarks.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;
use serde::Serialize;
use tickscope_core::config::{Config, Mode};

use crate::analysis::summary::round6 as summary_round6;
use crate::guest::{bare, linux};
use crate::kernel::KernelMode;
use crate::load::Load;
use crate::machine::MachineSpec;
use crate::pipeline::{self, Output, Request, Run};
use crate::record::Policy;
use crate::render::report::{self, ReportRun};
use crate::rundir::{RunDir, now_stamps, write_atomic};
use crate::{render, status};

/// What to compare.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Runs, in report order: (label, request).
    pub runs: Vec<(String, Request)>,
    /// The comparison's directory (default: results/runs/<time>-compare).
    pub out: Option<PathBuf>,
    /// Loss policy of every run.
    pub policy: Policy,
    /// Runs at once (1: one after the other). Under icount each QEMU is single-threaded and its
    /// virtual time does not depend on the host's load, so the figures are the same either way.
    pub jobs: usize,
    /// Replace runs already in `out` (`--force`).
    pub replace: bool,
    /// The report's maxima interval (`--interval`, seconds); `None`: from the window.
    pub interval_s: Option<f64>,
}

/// The settings every run of a comparison shares.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The machine.
    pub machine: MachineSpec,
    /// EL of the bare-metal run.
    pub el: u8,
    /// Measurement mode.
    pub mode: Mode,
    /// The isolated, measured CPU.
    pub cpu: usize,
    /// Window, ns.
    pub duration_ns: u64,
    /// Timer period, ns.
    pub period_ns: u64,
    /// Threshold, ns.
    pub threshold_ns: u64,
    /// Kernel source.
    pub kernel: linux::KernelSource,
    /// Kernels to compare, after bare metal.
    pub kernels: Vec<KernelMode>,
    /// Probe attribution.
    pub attribution: linux::AttributionChoice,
    /// Probe (and peers) priority.
    pub priority: Option<i32>,
    /// Run oslat and cyclictest after each probe.
    pub peers: bool,
    /// The loads each kernel runs under, in turn (`--load none,hackbench`; at least one).
    pub loads: Vec<Load>,
    /// Probe settle time, ns.
    pub settle_ns: u64,
    /// Checkpoint interval, ns (0: none).
    pub checkpoint_ns: u64,
    /// Wall-clock limit per run.
    pub timeout: Option<std::time::Duration>,
    /// No progress display.
    pub quiet: bool,
}

/// The runs of a comparison: bare metal, then each kernel; each under every load in turn
/// (bare metal's load is the firmware's interference, whatever the kernels run).
pub fn plan(s: &Settings, out: Option<PathBuf>, policy: Policy, jobs: usize) -> Plan {
    let mut runs = Vec::new();
    let idle = s.loads.iter().any(Load::is_none);
    let loaded = s.loads.iter().any(|l| !l.is_none());
    for interference in [false, true]
        .into_iter()
        .filter(|&i| if i { loaded } else { idle })
    {
        let label = if interference {
            "bare-metal+interference"
        } else {
            "bare-metal"
        };
        runs.push((label.to_string(), bare_request(s, interference)));
    }
    for &k in &s.kernels {
        for load in &s.loads {
            runs.push((
                crate::cli::linux::label(k.name(), load),
                linux_request(s, k, load),
            ));
        }
    }
    Plan {
        runs,
        out,
        policy,
        jobs: jobs.max(1),
        replace: false,
        interval_s: None,
    }
}

fn bare_request(s: &Settings, interference: bool) -> Request {
    let config = Config {
        mode: s.mode,
        el: s.el,
        smp: s.machine.smp,
        gic: s.machine.gic,
        cores: 1 << s.cpu,
        duration_ns: s.duration_ns,
        period_ns: s.period_ns,
        threshold_ns: s.threshold_ns,
        icount: s.machine.icount,
        checkpoint_ns: s.checkpoint_ns,
        interference,
        ..Config::default()
    };
    Request::Bare(bare::Request {
        machine: s.machine.clone(),
        config,
        timeout: s.timeout,
        quiet: s.quiet,
    })
}

fn linux_request(s: &Settings, k: KernelMode, load: &Load) -> Request {
    Request::Linux(linux::Request {
        machine: s.machine.clone(),
        kernel_mode: k,
        kernel: s.kernel.clone(),
        mode: s.mode,
        cpu: s.cpu,
        duration_ns: s.duration_ns,
        period_ns: s.period_ns,
        threshold_ns: s.threshold_ns,
        settle_ns: s.settle_ns,
        checkpoint_ns: s.checkpoint_ns,
        attribution: s.attribution,
        priority: s.priority,
        peers: s.peers,
        load: load.clone(),
        timeout: s.timeout,
        quiet: s.quiet,
    })
}

/// Wall-clock split of a comparison.
#[derive(Serialize, Clone, Default, Debug)]
pub struct Wall {
    /// Building firmware and probe, fetching the kernel.
    pub build_s: f64,
    /// Running the guests (in parallel when `jobs` > 1), decoding and writing their directories.
    pub runs_s: f64,
    /// Of the guests' own wall time, starting Linux until the probe spoke: restoring its
    /// snapshot (summed over kernels).
    pub linux_boot_s: f64,
    /// Of the guests' own wall time, making the snapshots that were not cached yet (booting each
    /// kernel to the probe's snapshot point and saving it; 0 when all were cached).
    pub snapshot_s: f64,
    /// Of the guests' own wall time, the rest: measurement windows and shipping (summed over runs).
    pub measure_s: f64,
    /// Writing the comparison's report and plots.
    pub report_s: f64,
    /// Total.
    pub total_s: f64,
    /// Runs at once.
    pub jobs: usize,
    /// CPU seconds the guests used (QEMU and its helpers: the kernel's account of the child
    /// processes tickscope waited for while the runs went on), user + system.
    pub guest_cpu_s: f64,
    /// The runs' CPU floor: `guest_cpu_s` over this machine's cores, the shortest the runs could
    /// take with every core busy with them.
    pub cpu_floor_s: f64,
    /// `runs_s` over `cpu_floor_s`: 1.0 when the runs kept every core busy; what is above it is
    /// time the cores waited (too few runs to share them, a serial part). Comparable across
    /// machines, where seconds are not.
    pub runs_over_floor: f64,
    /// Guest CPU seconds per second of measurement window (all runs' windows summed): what a
    /// virtual second costs the host, booting and shipping included.
    pub guest_cpu_s_per_window_s: f64,
}

impl Wall {
    /// Adds the guests' CPU figures: `guest_cpu_s` over the machine's cores is the runs' floor;
    /// `windows_s` the measurement windows they ran.
    fn with_guest_cpu(mut self, guest_cpu_s: f64, windows_s: f64) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
        let ratio = |a: f64, b: f64| if b > 0.0 { summary_round6(a / b) } else { 0.0 };
        self.guest_cpu_s = summary_round6(guest_cpu_s);
        self.cpu_floor_s = summary_round6(guest_cpu_s / cores);
        self.runs_over_floor = ratio(self.runs_s, guest_cpu_s / cores);
        self.guest_cpu_s_per_window_s = ratio(guest_cpu_s, windows_s);
        self
    }
}

/// CPU seconds (user + system) of the child processes this process has waited for, from
/// `/proc/self/stat` (`cutime`, `cstime`, in the kernel's fixed 100 Hz USER_HZ).
pub fn children_cpu_s() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the command name (which may hold spaces) in parentheses; cutime and cstime
    // are the 16th and 17th of the line, the 14th and 15th after it.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<u64> = rest
        .split_whitespace()
        .skip(1)
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    match (f.get(12), f.get(13)) {
        (Some(u), Some(s)) => (u + s) as f64 / 100.0,
        _ => 0.0,
    }
}

/// A finished comparison.
pub struct Comparison {
    /// The runs, in plan order.
    pub runs: Vec<Run>,
    /// Its directory.
    pub dir: PathBuf,
    /// report.html.
    pub report: PathBuf,
    /// Where the time went.
    pub wall: Wall,
    /// The worst status of its runs.
    pub status: u8,
}

/// Captures every run of the plan, `plan.jobs` at a time. Stops starting new runs once
/// tickscope is interrupted (the running ones stop themselves and keep what arrived).
fn capture_all(
    plan: &Plan,
    prepared: &[pipeline::Prepared],
) -> Result<Vec<(String, crate::guest::Capture)>> {
    let n = plan.runs.len();
    let next = std::sync::atomic::AtomicUsize::new(0);
    type Slot = std::sync::Mutex<Option<Result<(String, crate::guest::Capture)>>>;
    let results: Vec<Slot> = (0..n).map(|_| std::sync::Mutex::new(None)).collect();
    std::thread::scope(|s| {
        for _ in 0..plan.jobs.min(n) {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    if i >= n {
                        break;
                    }
                    let (_, req) = &plan.runs[i];
                    let r = if crate::interrupt::requested().is_some() {
                        Err(crate::fail(
                            status::INTERRUPTED,
                            "interrupted before this run started",
                        ))
                    } else {
                        let (_, start_time) = now_stamps();
                        pipeline::capture(req, &prepared[i]).map(|c| (start_time, c))
                    };
                    *results[i].lock().unwrap() = Some(r);
                }
            });
        }
    });
    results
        .into_iter()
        .map(|m| m.into_inner().unwrap().expect("every run was captured"))
        .collect()
}

/// Builds and fetches what every run needs, all at once: the firmware and the probe build in
/// their own target directories, the kernel comes from the cache (the probe is built once for
/// every Linux run).
fn prepare_all(plan: &Plan) -> Result<Vec<pipeline::Prepared>> {
    std::thread::scope(|s| {
        let handles: Vec<_> = plan
            .runs
            .iter()
            .map(|(_, r)| s.spawn(move || pipeline::prepare(r)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a prepare thread panicked"))
            .collect::<Result<Vec<_>>>()
    })
}

/// The comparison's report (every run overlaid) and `compare.json` (every run's summary).
fn write_comparison(runs: &[pipeline::Run], top: &RunDir, interval_s: Option<f64>) -> Result<()> {
    let views: Vec<ReportRun> = runs
        .iter()
        .map(|r| ReportRun {
            info: &r.record.info,
            view: render::view(&r.record.summary, &r.analysis, &r.record.splits),
        })
        .collect();
    let opts = crate::render::plot::PlotOptions { interval_s };
    report::render(&views, &opts, &mut crate::files::Dir { path: &top.path })?;
    let rows: Vec<&crate::analysis::summary::Summary> =
        runs.iter().map(|r| &r.record.summary).collect();
    let mut text = serde_json::to_string_pretty(&rows)?;
    text.push('\n');
    write_atomic(&top.file("compare.json"), text.as_bytes())?;
    Ok(())
}

/// Runs a comparison.
pub fn run(plan: &Plan) -> Result<Comparison> {
    let started = Instant::now();
    for (_, r) in &plan.runs {
        r.validate()?;
    }
    let top = RunDir::create(plan.out.as_deref(), "compare")?;
    // Build and fetch everything first, so the split of the wall time is honest.
    let t_build = Instant::now();
    let prepared = prepare_all(plan)?;
    let build_s = t_build.elapsed().as_secs_f64();
    let t_runs = Instant::now();
    // The guests run `jobs` at a time, each in its own thread with its own QEMU; their captures
    // are then decoded and written in plan order.
    let cpu_before = children_cpu_s();
    let captures = capture_all(plan, &prepared)?;
    let guest_cpu_s = children_cpu_s() - cpu_before;
    let mut runs = Vec::new();
    let mut boot_s = 0.0;
    let mut snapshot_s = 0.0;
    let mut status = status::OK;
    for ((label, req), (start_time, cap)) in plan.runs.iter().zip(captures) {
        boot_s += cap.boot_s.unwrap_or(0.0);
        snapshot_s += cap
            .facts
            .kernel
            .as_ref()
            .and_then(|k| k.snapshot.as_ref())
            .and_then(|s| s.create_s)
            .unwrap_or(0.0);
        let out = Output {
            label: label.clone(),
            out: Some(top.path.join(crate::rundir::sanitize(label))),
            policy: plan.policy.clone(),
            plots: true,
            replace: plan.replace,
        };
        let run = pipeline::finish(&cap, req.kind(), start_time, &out)?;
        if status == status::OK {
            status = run.status();
        }
        runs.push(run);
    }
    let runs_s = t_runs.elapsed().as_secs_f64();
    let guests_s: f64 = runs.iter().map(|r| r.record.info.wall_s).sum();
    let t_report = Instant::now();
    write_comparison(&runs, &top, plan.interval_s)?;
    let windows_s: f64 = runs.iter().map(|r| r.record.summary.duration_s).sum();
    let wall = Wall {
        build_s: summary_round6(build_s),
        runs_s: summary_round6(runs_s),
        linux_boot_s: summary_round6(boot_s),
        snapshot_s: summary_round6(snapshot_s),
        measure_s: summary_round6(guests_s - boot_s - snapshot_s),
        report_s: summary_round6(t_report.elapsed().as_secs_f64()),
        total_s: summary_round6(started.elapsed().as_secs_f64()),
        jobs: plan.jobs,
        ..Wall::default()
    }
    .with_guest_cpu(guest_cpu_s, windows_s);
    Ok(Comparison {
        runs,
        report: top.path.join("report.html"),
        dir: top.path,
        wall,
        status,
    })
}
