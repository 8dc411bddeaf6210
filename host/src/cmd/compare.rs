//! `tickscope compare`: bare metal, generic Linux and tickless Linux on the same QEMU machine with
//! the same measurement, into one results directory with the overlaid tail-latency report, and
//! the two numbers that matter on an isolated core: ticks per second and the cost of one tick.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;
use serde::Serialize;
use tickscope_core::config::{Config, Mode};

use super::args::{MachineArgs, ModeArg, duration};
use super::linux::{self as linux_cmd, LinuxRun};
use super::{bare, print_json};
use crate::linux::{self, KernelMode};
use crate::report;
use crate::rundir::{RunDir, write_atomic};
use crate::status;
use crate::summary::{Summary, round6};

/// `tickscope compare` options.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  tickscope compare                          # icount, 5 s per run, noise mode, CPU 3 of 4
  tickscope compare --duration 2s --json
  tickscope compare --tcg --mode timer --period 1ms
  tickscope compare --kernel ./Image --smp 8 --core 7")]
pub struct Args {
    #[command(flatten)]
    machine: MachineArgs,
    /// Run under plain TCG instead of -icount (faster, but timing is host noise).
    #[arg(long)]
    tcg: bool,
    /// Measurement mode of all three runs.
    #[arg(long, value_enum, default_value = "noise")]
    mode: ModeArg,
    /// Measurement window of each run.
    #[arg(long, default_value = "5s", value_parser = duration)]
    duration: u64,
    /// Timer period in `timer` mode.
    #[arg(long, default_value = "1ms", value_parser = duration)]
    period: u64,
    /// Event threshold.
    #[arg(long, default_value = "1us", value_parser = duration)]
    threshold: u64,
    /// The isolated, measured CPU (default: the last).
    #[arg(long)]
    core: Option<usize>,
    /// An arm64 kernel Image (default: Debian's, fetched and cached).
    #[arg(long)]
    kernel: Option<PathBuf>,
    /// Results directory (default: results/runs/<time>-compare).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
    /// Accept lost frames or samples.
    #[arg(long)]
    allow_loss: bool,
}

impl Args {
    /// The default comparison (icount, noise, last core) with `duration` per run into `out`.
    pub fn for_bench(duration: u64, out: PathBuf) -> Args {
        Args {
            machine: MachineArgs {
                board: "qemu-virt".into(),
                el: 1,
                entry_el: None,
                gic: 2,
                smp: 4,
                cpu: None,
                icount: true,
                timeout: None,
            },
            tcg: false,
            mode: ModeArg::Noise,
            duration,
            period: 1_000_000,
            threshold: 1_000,
            core: None,
            kernel: None,
            out: Some(out),
            json: true,
            allow_loss: false,
        }
    }
}

/// One row of `--json`.
#[derive(Serialize)]
pub struct RunJson {
    /// Run label.
    pub label: String,
    emulation: String,
    source: String,
    mode: String,
    /// Timer interrupts per second on the isolated core.
    timer_irqs_per_s: Option<f64>,
    /// Noise events per second coinciding with a timer interrupt (the tick) on the isolated core.
    tick_events_per_s: Option<f64>,
    /// Cost of one tick.
    tick_cost_ns: Option<u64>,
    events_per_s: f64,
    events: u64,
    /// Samples (loop iterations in noise mode).
    pub samples: u64,
    lost: u64,
    latency_ns: tickscope_core::hist::Quantiles,
    event_ns: tickscope_core::hist::Quantiles,
    interrupts_per_s: std::collections::BTreeMap<String, f64>,
    kernel_cmdline: Option<String>,
    status: u8,
    run_dir: String,
}

/// Wall-clock split of the comparison.
#[derive(Serialize, Clone, Default)]
pub struct Timing {
    /// Building firmware and probe, fetching the kernel.
    pub build_s: f64,
    /// Booting Linux (both kernels).
    pub linux_boot_s: f64,
    /// Everything else (QEMU runs minus Linux boot).
    pub measure_s: f64,
    /// Total.
    pub total_s: f64,
}

#[derive(Serialize)]
struct CompareJson {
    runs: Vec<RunJson>,
    report: String,
    run_dir: String,
    wall: Timing,
    status: u8,
}

fn row(s: &Summary, dir: &RunDir, cmdline: Option<String>, status: u8) -> RunJson {
    RunJson {
        label: s.label.clone(),
        emulation: s.emulation.clone(),
        source: s.source.clone(),
        mode: s.mode.clone(),
        timer_irqs_per_s: s.timer_irqs_per_s,
        tick_events_per_s: s.tick_events_per_s,
        tick_cost_ns: s.tick_cost_ns,
        events_per_s: s.events_per_s,
        events: s.events,
        samples: s.samples,
        lost: s.lost,
        latency_ns: s.latency_ns,
        event_ns: s.event_ns,
        interrupts_per_s: s.interrupts_per_s.clone(),
        kernel_cmdline: cmdline,
        status,
        run_dir: dir.path.display().to_string(),
    }
}

/// Runs the comparison; also used by `bench`.
pub fn compare(a: &Args) -> Result<(Vec<RunJson>, PathBuf, PathBuf, Timing, u8)> {
    let started = Instant::now();
    let mut machine_args = a.machine.clone();
    machine_args.icount = !a.tcg;
    let machine = machine_args.spec()?;
    let cpu = a.core.unwrap_or(machine.smp as usize - 1);
    let top = RunDir::create(a.out.as_deref(), "compare")?;

    // Build and fetch everything first, so the runs are comparable and the split is honest.
    let t_build = Instant::now();
    let kernel = linux_cmd::kernel(a.kernel.as_deref())?;
    let probe = linux::build_probe()?;
    crate::firmware::ensure_built(&machine.board, a.json)?;
    let mut timing = Timing {
        build_s: t_build.elapsed().as_secs_f64(),
        ..Timing::default()
    };

    let mode = match a.mode {
        ModeArg::Timer => Mode::Timer,
        ModeArg::Noise => Mode::Noise,
    };
    let config = Config {
        mode,
        el: machine_args.el,
        smp: machine.smp,
        gic: machine.gic,
        cores: 1 << cpu,
        duration_ns: a.duration,
        period_ns: a.period,
        threshold_ns: a.threshold,
        icount: machine.icount,
        ..Config::default()
    };
    if !a.json {
        eprintln!(
            "tickscope: comparing bare metal, generic and tickless Linux on {} ({} cores, GICv{}, EL{}, {}), CPU {cpu}, {} mode, {} s each",
            machine.board,
            machine.smp,
            machine.gic,
            machine_args.el,
            machine.emulation(),
            config.mode.name(),
            a.duration as f64 / 1e9
        );
    }
    let t_run = Instant::now();
    let bare = bare::run(bare::Request {
        machine: machine.clone(),
        config,
        label: "bare-metal".into(),
        out: Some(top.path.join("bare-metal")),
        timeout: a.machine.timeout,
        json: a.json,
        plots: true,
    })?;
    let mut rows = vec![row(&bare.summary, &bare.dir, None, bare.status)];
    let mut status = bare.status;
    if let Some(p) = &bare.problem {
        eprintln!("tickscope: bare metal: {p}");
    }
    let mut linux_runs: Vec<LinuxRun> = Vec::new();
    for mode in [KernelMode::Generic, KernelMode::Tickless] {
        let la = linux_cmd::Args {
            machine: machine_args.clone(),
            kernel_mode: mode,
            kernel: a.kernel.clone(),
            mode: a.mode,
            core: Some(cpu),
            duration: a.duration,
            period: a.period,
            threshold: a.threshold,
            settle: 1_000_000_000,
            out: Some(top.path.join(mode.name())),
            label: None,
            json: a.json,
            allow_loss: a.allow_loss,
        };
        let r = linux_cmd::run_one(&la, &machine, &kernel, &probe)?;
        timing.linux_boot_s += r.boot_s;
        if let Some(p) = &r.problem {
            eprintln!("tickscope: {}: {p}", mode.name());
        }
        if status == status::OK {
            status = r.status;
        }
        rows.push(row(
            &r.summary,
            &r.dir,
            r.dir.info().ok().and_then(|i| i.kernel_cmdline),
            r.status,
        ));
        linux_runs.push(r);
    }
    timing.measure_s = round6(t_run.elapsed().as_secs_f64() - timing.linux_boot_s);
    timing.linux_boot_s = round6(timing.linux_boot_s);
    timing.build_s = round6(timing.build_s);

    let dirs = [
        bare.dir.path.clone(),
        linux_runs[0].dir.path.clone(),
        linux_runs[1].dir.path.clone(),
    ];
    let loaded: Vec<report::Loaded> = dirs
        .iter()
        .map(|d| report::load(d))
        .collect::<Result<_>>()?;
    report::write_report(&loaded, &top.path)?;
    timing.total_s = round6(started.elapsed().as_secs_f64());
    let mut text = serde_json::to_string_pretty(&rows)?;
    text.push('\n');
    write_atomic(&top.file("compare.json"), text.as_bytes())?;
    Ok((rows, top.path.join("report.html"), top.path, timing, status))
}

/// Runs `compare`.
pub fn run(a: Args) -> Result<u8> {
    let (rows, report_path, dir, timing, status) = compare(&a)?;
    if a.json {
        print_json(&CompareJson {
            runs: rows,
            report: report_path.display().to_string(),
            run_dir: dir.display().to_string(),
            wall: timing,
            status,
        })?;
    } else {
        println!();
        println!(
            "{:<11} {:<7} {:>12} {:>12} {:>10} {:>10} {:>9} {:>9} {:>10} {:>10}",
            "run",
            "emul",
            "timer irq/s",
            "tick evts/s",
            "tick cost",
            "events/s",
            "p50",
            "p99",
            "p99.99",
            "max"
        );
        let ns = |v: u64| crate::plot::fmt_ns(v as f64);
        for r in &rows {
            println!(
                "{:<11} {:<7} {:>12} {:>12} {:>10} {:>10.1} {:>9} {:>9} {:>10} {:>10}",
                r.label,
                r.emulation,
                r.timer_irqs_per_s
                    .map(|v| format!("{v:.1}"))
                    .unwrap_or_else(|| "-".into()),
                r.tick_events_per_s
                    .map(|v| format!("{v:.1}"))
                    .unwrap_or_else(|| "-".into()),
                r.tick_cost_ns.map(ns).unwrap_or_else(|| "-".into()),
                r.events_per_s,
                ns(r.latency_ns.p50),
                ns(r.latency_ns.p99),
                ns(r.latency_ns.p9999),
                ns(r.latency_ns.max),
            );
        }
        for r in rows.iter().filter(|r| !r.interrupts_per_s.is_empty()) {
            let sources: Vec<String> = r
                .interrupts_per_s
                .iter()
                .map(|(k, v)| format!("{k} {v:.1}/s"))
                .collect();
            println!(
                "  {} interrupts on the isolated CPU: {}",
                r.label,
                sources.join(", ")
            );
        }
        println!(
            "(noise mode: p50..max are counter-loop gaps; tick = noise events coinciding with a timer interrupt on the isolated CPU)"
        );
        println!(
            "wall time: {:.1} s (build {:.1} s, Linux boot {:.1} s, measurement {:.1} s)",
            timing.total_s, timing.build_s, timing.linux_boot_s, timing.measure_s
        );
        println!("report: {}", report_path.display());
    }
    Ok(status)
}
