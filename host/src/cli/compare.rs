//! `tickscope compare`: bare metal and each kernel of `--kernels` (default generic and tickless
//! Linux; `rt`, `rt-tickless` add the PREEMPT_RT kernel) on the same QEMU machine with
//! the same measurement, into one results directory with the overlaid report; the table leads
//! with each run's OS noise and shows the hardware/emulator noise beside it.

use std::path::PathBuf;

use anyhow::Result;
use serde::Serialize;

use super::options::{KernelArgs, MachineArgs, WindowArgs, duration};
use super::output::print_json;
use crate::analysis::summary::Summary;
use crate::compare::{self, Settings, Wall};
use crate::kernel::KernelMode;
use crate::record::Policy;

/// `tickscope compare` options.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  tickscope compare                          # icount, 5 s per run, noise mode, CPU 3 of 4
  tickscope compare --duration 2s --json
  tickscope compare --tcg --mode timer --period 1ms
  tickscope compare --kernel ./Image --smp 8 --core 7
  tickscope compare --kernels generic,tickless,rt --duration 2s --json
  tickscope compare --peers                  # oslat and cyclictest beside each kernel's probe
  tickscope compare --load none,hackbench --duration 2s   # each kernel idle and loaded
  tickscope compare --runs results/runs/*-enzian-generic results/runs/*-enzian-tickless")]
pub struct Args {
    /// Compare runs already made (separate boots of one board: `linux --ssh` on the generic
    /// kernel, then on the tickless one) instead of running QEMU: the same table and plots.
    #[arg(long, num_args = 1.., value_name = "RUN_DIR")]
    runs: Vec<PathBuf>,
    /// The report's maxima plot: the largest event per INTERVAL of the window (OSADL plots 5
    /// minutes: `--interval 5m`); default: the window in at most 120 intervals of a 1-2-5 length.
    #[arg(long, value_parser = super::options::duration, value_name = "INTERVAL")]
    interval: Option<u64>,
    #[command(flatten)]
    machine: MachineArgs,
    #[command(flatten)]
    window: WindowArgs,
    /// Measurement window of each run.
    #[arg(long, default_value = "5s", value_parser = duration)]
    duration: u64,
    #[command(flatten)]
    kernel: KernelArgs,
    /// Kernels to compare after bare metal, in report order: generic, tickless, rt (PREEMPT_RT),
    /// rt-tickless.
    #[arg(long, default_value = "generic,tickless", value_parser = kernels)]
    kernels: KernelList,
    /// Loads to run each kernel under, in turn, one instance pinned to every CPU but the measured
    /// one: `none`, `hackbench` (rt-tests), `memory` (a bandwidth hog), several joined by `+`
    /// (`--load none,hackbench` puts each kernel idle and loaded side by side). Bare metal runs
    /// the firmware's memory interference for any load.
    #[arg(long, default_value = "none", value_name = "LIST")]
    load: String,
    /// Results directory (default: results/runs/<time>-compare).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Replace the runs already in `--out` (without it, a directory holding a run is refused).
    #[arg(long)]
    force: bool,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
    /// Print every column of the table (as report.md has them) instead of the headline
    /// columns within 120 characters.
    #[arg(long)]
    wide: bool,
    /// Accept lost frames or samples.
    #[arg(long)]
    allow_loss: bool,
    /// Runs at once (default: all of them; each QEMU uses one host core). Under icount the
    /// figures do not depend on it.
    #[arg(long)]
    jobs: Option<usize>,
    /// One run after the other (`--jobs 1`).
    #[arg(long, conflicts_with = "jobs")]
    sequential: bool,
}

/// `--kernels`: a list in one value.
#[derive(Debug, Clone)]
struct KernelList(Vec<KernelMode>);

fn kernels(s: &str) -> Result<KernelList, String> {
    crate::kernel::parse_kernel_modes(s).map(KernelList)
}

#[derive(Serialize)]
struct RunRow<'a> {
    #[serde(flatten)]
    summary: &'a Summary,
    kernel: Option<String>,
    kernel_package: Option<String>,
    kernel_cmdline: Option<String>,
    status: u8,
    problems: &'a [String],
    run_dir: String,
}

#[derive(Serialize)]
struct CompareJson<'a> {
    runs: Vec<RunRow<'a>>,
    report: String,
    run_dir: String,
    wall: Wall,
    status: u8,
}

/// `compare --runs`: the comparison of runs already made.
#[derive(Serialize)]
struct RunsJson<'a> {
    runs: Vec<&'a Summary>,
    report: String,
    run_dir: String,
}

fn compare_runs(a: &Args) -> Result<u8> {
    let dir = crate::rundir::RunDir::create(a.out.as_deref(), "compare")?.path;
    let o = crate::overlay::write(&a.runs, &dir, a.interval.map(|ns| ns as f64 / 1e9))?;
    let summaries: Vec<&Summary> = o.runs.iter().map(|r| &r.summary).collect();
    let report = dir.join("report.html").display().to_string();
    if a.json {
        print_json(&RunsJson {
            runs: summaries,
            report,
            run_dir: dir.display().to_string(),
        })?;
    } else {
        print!("{}", crate::render::table(&summaries, a.wide));
        print!("{}", crate::render::peers_table(&summaries));
        print!("{}", crate::render::load::table(&summaries));
        println!("report: {report}");
    }
    Ok(crate::status::OK)
}

/// Runs `compare`.
pub fn run(a: Args) -> Result<u8> {
    if !a.runs.is_empty() {
        return compare_runs(&a);
    }
    if a.machine.boot_core.is_some() {
        return Err(crate::fail(
            crate::status::CONFIG,
            "--boot-core is not supported by compare (Linux boots on CPU 0); use measure",
        ));
    }
    let settings = settings(&a)?;
    if !a.json {
        announce(&settings);
    }
    let jobs = if a.sequential {
        1
    } else {
        a.jobs.unwrap_or(1 + settings.kernels.len())
    };
    let interval_s = a.interval.map(|ns| ns as f64 / 1e9);
    if let Some(asked) = interval_s {
        crate::render::maxima::check_interval(asked, settings.duration_ns as f64 / 1e9)
            .map_err(|why| crate::fail(crate::status::CONFIG, why))?;
    }
    let plan = compare::Plan {
        replace: a.force,
        interval_s,
        ..compare::plan(
            &settings,
            a.out.clone(),
            Policy {
                allow_loss: a.allow_loss,
                ..Policy::default()
            },
            jobs,
        )
    };
    let c = compare::run(&plan)?;
    if a.json {
        print_compare_json(&c)?;
    } else {
        print_comparison(&c, settings.machine.emulation(), a.wide);
    }
    for r in &c.runs {
        super::output::print_problems(r);
    }
    Ok(c.status)
}

/// The comparison's settings from the command line; it runs under -icount unless --tcg:
/// deterministic figures by default.
fn settings(a: &Args) -> Result<Settings> {
    let machine = a.machine.spec(true)?;
    let cpu = a.window.linux_cpu(machine.smp)?;
    Ok(Settings {
        el: a.machine.el,
        mode: a.window.mode.mode(),
        cpu,
        duration_ns: a.duration,
        period_ns: a.window.period,
        threshold_ns: a.window.threshold,
        kernel: a.kernel.source(),
        kernels: a.kernels.0.clone(),
        attribution: a.kernel.attribution,
        priority: a.kernel.priority,
        peers: a.kernel.peers,
        loads: crate::load::Load::parse_list(&a.load)?,
        settle_ns: a.kernel.settle,
        checkpoint_ns: a.window.checkpoint,
        timeout: a.machine.timeout(),
        quiet: a.json,
        machine,
    })
}

/// The line that says what is about to be compared.
fn announce(s: &Settings) {
    let m = &s.machine;
    eprintln!(
        "tickscope: comparing bare metal and {} Linux on {} ({} cores, GICv{}, EL{}, {}), CPU {}, {} mode, {} s each",
        s.kernels
            .iter()
            .map(|k| k.name())
            .collect::<Vec<_>>()
            .join(", "),
        m.board,
        m.smp,
        m.gic,
        s.el,
        m.emulation().name(),
        s.cpu,
        s.mode.name(),
        s.duration_ns as f64 / 1e9
    );
    if s.loads.iter().any(|l| !l.is_none()) {
        let loads: Vec<String> = s.loads.iter().map(|l| l.name()).collect();
        eprintln!(
            "tickscope: each kernel under {} in turn, on every CPU but {} (bare metal: the firmware's interference)",
            loads.join(", "),
            s.cpu
        );
    }
}

fn print_compare_json(c: &compare::Comparison) -> Result<()> {
    print_json(&CompareJson {
        runs: c
            .runs
            .iter()
            .map(|r| RunRow {
                summary: &r.record.summary,
                kernel: r.record.info.kernel.clone(),
                kernel_package: r.record.info.kernel_package.clone(),
                kernel_cmdline: r.record.info.kernel_cmdline.clone(),
                status: r.status(),
                problems: &r.record.info.problems,
                run_dir: r.dir.path.display().to_string(),
            })
            .collect(),
        report: c.report.display().to_string(),
        run_dir: c.dir.display().to_string(),
        wall: c.wall.clone(),
        status: c.status,
    })
}

fn print_comparison(c: &compare::Comparison, emulation: crate::machine::Emulation, wide: bool) {
    let summaries: Vec<&Summary> = c.runs.iter().map(|r| &r.record.summary).collect();
    println!();
    print!("{}", crate::render::table(&summaries, wide));
    print!("{}", crate::render::peers_table(&summaries));
    print!("{}", crate::render::load::table(&summaries));
    for r in &c.runs {
        if let (Some(k), Some(p)) = (&r.record.info.kernel, &r.record.info.kernel_package) {
            println!("  {}: kernel {k} ({p})", r.record.info.label);
        }
    }
    println!(
        "(OS = time the measured CPU's OS ran inside each event; HW = the rest: {} time; see the report)",
        crate::analysis::summary::hw_cause_name(emulation)
    );
    print_wall(&c.wall);
    println!("report: {}", c.report.display());
}

/// Where the comparison's time went, and what its guests cost.
fn print_wall(w: &compare::Wall) {
    println!(
        "wall time: {:.1} s (build {:.1} s, runs {:.1} s with {} at a time; of the runs' own time, Linux start from its snapshot {:.1} s{})",
        w.total_s,
        w.build_s,
        w.runs_s,
        w.jobs,
        w.linux_boot_s,
        if w.snapshot_s > 0.0 {
            format!(", making snapshots {:.1} s", w.snapshot_s)
        } else {
            String::new()
        }
    );
    println!(
        "guests' CPU: {:.1} s ({:.2} s per second of window); on {} core(s) the runs' floor is {:.1} s, the runs took {:.2}x that",
        w.guest_cpu_s,
        w.guest_cpu_s_per_window_s,
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        w.cpu_floor_s,
        w.runs_over_floor
    );
}
