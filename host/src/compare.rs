//! The comparison: bare metal and each kernel (generic, tickless) on the same machine with the
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
    /// Probe settle time, ns.
    pub settle_ns: u64,
    /// Wall-clock limit per run.
    pub timeout: Option<std::time::Duration>,
    /// No progress display.
    pub quiet: bool,
}

/// The runs of a comparison: bare metal, then each kernel.
pub fn plan(s: &Settings, out: Option<PathBuf>, policy: Policy) -> Plan {
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
        ..Config::default()
    };
    let mut runs = vec![(
        "bare-metal".to_string(),
        Request::Bare(bare::Request {
            machine: s.machine.clone(),
            config,
            timeout: s.timeout,
            quiet: s.quiet,
        }),
    )];
    for &k in &s.kernels {
        runs.push((
            k.name().to_string(),
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
                attribution: s.attribution,
                timeout: s.timeout,
                quiet: s.quiet,
            }),
        ));
    }
    Plan { runs, out, policy }
}

/// Wall-clock split of a comparison.
#[derive(Serialize, Clone, Default, Debug)]
pub struct Wall {
    /// Building firmware and probe, fetching the kernel.
    pub build_s: f64,
    /// Booting Linux (all kernels), until the probe spoke.
    pub linux_boot_s: f64,
    /// The rest of the runs (measurement windows, decoding, writing).
    pub measure_s: f64,
    /// Total.
    pub total_s: f64,
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

/// Runs a comparison.
pub fn run(plan: &Plan) -> Result<Comparison> {
    let started = Instant::now();
    for (_, r) in &plan.runs {
        r.validate()?;
    }
    let top = RunDir::create(plan.out.as_deref(), "compare")?;
    // Build and fetch everything first, so the split of the wall time is honest.
    let t_build = Instant::now();
    let mut prepared = Vec::new();
    for (_, r) in &plan.runs {
        prepared.push(pipeline::prepare(r)?);
    }
    let build_s = t_build.elapsed().as_secs_f64();
    let t_runs = Instant::now();
    let mut runs = Vec::new();
    let mut boot_s = 0.0;
    let mut status = status::OK;
    for ((label, req), prep) in plan.runs.iter().zip(&prepared) {
        let (_, start_time) = now_stamps();
        let cap = pipeline::capture(req, prep)?;
        boot_s += cap.boot_s.unwrap_or(0.0);
        let out = Output {
            label: label.clone(),
            out: Some(top.path.join(crate::rundir::sanitize(label))),
            policy: plan.policy.clone(),
            plots: true,
        };
        let run = pipeline::finish(&cap, req.kind(), start_time, &out)?;
        if status == status::OK {
            status = run.status();
        }
        runs.push(run);
        if crate::interrupt::requested().is_some() {
            break;
        }
    }
    let runs_s = t_runs.elapsed().as_secs_f64();
    let views: Vec<ReportRun> = runs
        .iter()
        .map(|r| ReportRun {
            info: &r.record.info,
            view: render::view(&r.record.summary, &r.analysis, &r.record.splits),
        })
        .collect();
    report::write(&views, &top.path)?;
    let rows: Vec<&crate::analysis::summary::Summary> =
        runs.iter().map(|r| &r.record.summary).collect();
    let mut text = serde_json::to_string_pretty(&rows)?;
    text.push('\n');
    write_atomic(&top.file("compare.json"), text.as_bytes())?;
    let wall = Wall {
        build_s: summary_round6(build_s),
        linux_boot_s: summary_round6(boot_s),
        measure_s: summary_round6(runs_s - boot_s),
        total_s: summary_round6(started.elapsed().as_secs_f64()),
    };
    Ok(Comparison {
        runs,
        report: top.path.join("report.html"),
        dir: top.path,
        wall,
        status,
    })
}
