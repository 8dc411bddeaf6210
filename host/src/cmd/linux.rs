//! `tickscope linux --kernel-mode generic|tickless`: boots an arm64 kernel in QEMU (same machine
//! options as the bare-metal run) with an initramfs whose /init is the Linux probe, measures the
//! isolated CPU, and makes a run directory; tickless runs verify the tick really stopped.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Result;
use serde::Serialize;

use super::args::{MachineArgs, ModeArg, duration};
use super::print_json;
use crate::analysis::Analysis;
use crate::decode::{self, Report};
use crate::linux::{self, Kernel, KernelMode};
use crate::progress::Progress;
use crate::qemu::{self, Launch, MachineSpec, Serial};
use crate::rundir::{RunDir, RunInfo, now_stamps};
use crate::summary::{Summary, summarize};
use crate::{deps, fail, report, status};

/// `tickscope linux` options.
#[derive(clap::Args, Debug, Clone)]
#[command(after_help = "Examples:
  tickscope linux --kernel-mode generic --json
  tickscope linux --kernel-mode tickless --duration 5s --smp 4 --core 3
  tickscope linux --kernel-mode generic --kernel ./Image --mode timer --period 1ms")]
pub struct Args {
    #[command(flatten)]
    pub machine: MachineArgs,
    /// Which kernel command line: `generic` (isolcpus) or `tickless` (plus nohz_full).
    #[arg(long, value_enum)]
    pub kernel_mode: KernelMode,
    /// An arm64 kernel Image (default: Debian's linux-image-arm64, fetched and cached).
    #[arg(long)]
    pub kernel: Option<PathBuf>,
    /// Measurement mode.
    #[arg(long, value_enum, default_value = "noise")]
    pub mode: ModeArg,
    /// Isolated, measured CPU (default: the last).
    #[arg(long)]
    pub core: Option<usize>,
    /// Measurement window.
    #[arg(long, default_value = "5s", value_parser = duration)]
    pub duration: u64,
    /// Timer period in `timer` mode.
    #[arg(long, default_value = "1ms", value_parser = duration)]
    pub period: u64,
    /// Event threshold.
    #[arg(long, default_value = "1us", value_parser = duration)]
    pub threshold: u64,
    /// Time the probe waits after boot before measuring (boot activity settles).
    #[arg(long, default_value = "1s", value_parser = duration)]
    pub settle: u64,
    /// Run directory.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Run label (default: the kernel mode).
    #[arg(long)]
    pub label: Option<String>,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Accept lost frames or samples.
    #[arg(long)]
    pub allow_loss: bool,
}

/// A finished Linux run.
pub struct LinuxRun {
    /// Run directory.
    pub dir: RunDir,
    /// Figures.
    pub summary: Summary,
    /// Statistics.
    pub analysis: Analysis,
    /// Exit status for tickscope.
    pub status: u8,
    /// First problem, for the user.
    pub problem: Option<String>,
    /// Seconds from QEMU start to the probe's window (boot).
    pub boot_s: f64,
}

/// `--json` output.
#[derive(Serialize)]
pub struct LinuxJson<'a> {
    #[serde(flatten)]
    summary: &'a Summary,
    kernel_mode: &'static str,
    kernel: String,
    nohz_full: String,
    tick_stopped: bool,
    status: u8,
    run_dir: String,
}

/// Runs one Linux measurement (shared with `compare`).
pub fn run_one(
    a: &Args,
    machine: &MachineSpec,
    kernel: &Kernel,
    probe: &std::path::Path,
) -> Result<LinuxRun> {
    let started = Instant::now();
    let (_, start_time) = now_stamps();
    let cpus = machine.smp as usize;
    let cpu = a.core.unwrap_or(cpus - 1);
    if cpu >= cpus {
        return Err(fail(
            status::CONFIG,
            format!("--core {cpu} does not exist: {cpus} CPUs (0..{})", cpus - 1),
        ));
    }
    if cpus < 2 {
        return Err(fail(
            status::CONFIG,
            "isolating a CPU needs at least 2 (--smp 2 or more)",
        ));
    }
    let label = a
        .label
        .clone()
        .unwrap_or_else(|| a.kernel_mode.name().to_string());
    let dir = RunDir::create(a.out.as_deref(), &label)?;
    let mode = match a.mode {
        ModeArg::Timer => "timer",
        ModeArg::Noise => "noise",
    };
    let probe_args = format!(
        "--out /dev/ttyAMA0 --settle {}ns mode={mode} cores={cpu} duration={}ns period={}ns threshold={}ns icount={}",
        a.settle,
        a.duration,
        a.period,
        a.threshold,
        if machine.icount { "on" } else { "off" }
    );
    let initrd = dir.file("initramfs.cpio");
    std::fs::write(
        &initrd,
        linux::initramfs(&std::fs::read(probe)?, &probe_args),
    )?;
    let append = linux::cmdline(a.kernel_mode, cpu, cpus, "ttyAMA0");
    let mut machine = machine.clone();
    // A Linux guest needs more room than the firmware; everything else is the same machine.
    machine.memory_mib = machine.memory_mib.max(512);
    let window_s = a.duration as f64 / 1e9;
    let expected = Duration::from_secs_f64(
        if machine.icount { 40.0 } else { 15.0 }
            + (window_s + a.settle as f64 / 1e9) * if machine.icount { 6.0 } else { 1.5 },
    );
    let launch = Launch {
        machine: machine.clone(),
        kernel: kernel.image.clone(),
        initrd: Some(initrd.clone()),
        append: Some(append.clone()),
        semihosting: None,
        serial: Serial::File(dir.file("capture.bin")),
        extra: vec!["-no-reboot".into()],
        cwd: dir.path.clone(),
        timeout: Duration::from_secs(a.machine.timeout.unwrap_or(expected.as_secs() * 4 + 60)),
    };
    let qemu_bin = deps::qemu_system()?;
    let progress = Progress::new(
        &format!("Linux {} ({})", a.kernel_mode.name(), machine.emulation()),
        expected,
        a.json,
    );
    let outcome = qemu::run(&launch, &mut |t| progress.tick(t))?;
    progress.finish();
    let _ = std::fs::remove_file(&initrd);

    let mut analysis = Analysis::default();
    let cap = dir.file("capture.bin");
    let rep = if cap.is_file() {
        decode::decode_file(&cap, None, &mut analysis)?
    } else {
        Report::default()
    };
    let console: String = rep.text_lines.iter().map(|l| format!("{l}\n")).collect();
    dir.write("console.log", console.as_bytes())?;
    if !outcome.stderr.is_empty() {
        dir.write("qemu-stderr.log", &outcome.stderr)?;
    }
    let summary = summarize(
        &analysis,
        &label,
        machine.emulation(),
        rep.link.frames_lost(),
    );
    let mut st = outcome.status();
    let mut problem = outcome.problem();
    if problem.is_none() && analysis.header.is_none() {
        st = status::FAILURE;
        let tail: Vec<&String> = rep.text_lines.iter().rev().take(8).collect();
        problem = Some(format!(
            "the probe produced no data; last console lines:\n{}",
            tail.into_iter()
                .rev()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join("\n")
        ));
    }
    if let Some(t) = analysis.trailer
        && st == status::OK
        && t.status != status::OK
    {
        st = t.status;
        problem = Some(format!(
            "the probe failed (status {}): {}",
            t.status,
            rep.text_lines
                .iter()
                .rev()
                .find(|l| l.contains("tickscope-probe"))
                .cloned()
                .unwrap_or_default()
        ));
    }
    let nohz = analysis
        .linux
        .as_ref()
        .map(|l| l.nohz_full.to_string())
        .unwrap_or_default();
    if st == status::OK && a.kernel_mode == KernelMode::Tickless {
        let listed = crate::linux::parse_cpu_list(&nohz).contains(&cpu);
        if !listed {
            st = status::FAILURE;
            problem = Some(format!(
                "the kernel did not stop the tick on CPU {cpu}: /sys/devices/system/cpu/nohz_full is `{nohz}` \
                 (needs CONFIG_NO_HZ_FULL=y and nohz_full={cpu})"
            ));
        }
    }
    let boot_s = match analysis.header.as_ref() {
        Some(_) => (outcome.wall.as_secs_f64() - window_s - a.settle as f64 / 1e9).max(0.0),
        None => outcome.wall.as_secs_f64(),
    };
    let info = RunInfo {
        label: label.clone(),
        kind: "linux".into(),
        board: machine.board.clone(),
        cpu: machine.cpu.clone(),
        el: 0,
        entry_el: machine.entry_el,
        gic: machine.gic,
        smp: machine.smp,
        emulation: machine.emulation().into(),
        qemu_version: Some(deps::qemu_version(&qemu_bin)),
        qemu_command: Some(outcome.command.clone()),
        kernel: Some(
            analysis
                .header
                .as_ref()
                .map(|h| h.kernel.to_string())
                .unwrap_or_else(|| kernel.release.clone()),
        ),
        kernel_cmdline: Some(append),
        revision: analysis
            .header
            .as_ref()
            .map(|h| h.revision.to_string())
            .unwrap_or_default(),
        config: probe_args,
        start_time,
        wall_s: crate::summary::round6(started.elapsed().as_secs_f64()),
        status: st,
        tickscope: env!("CARGO_PKG_VERSION").into(),
    };
    dir.write_json("run.json", &info)?;
    dir.write_json("summary.json", &summary)?;
    if analysis.header.is_some() {
        report::write_run_files(&dir, &analysis, &summary, true)?;
    }
    if summary.lost > 0 && !a.allow_loss && st == status::OK {
        st = status::FAILURE;
        problem = Some(format!("{} samples lost in the probe's ring", summary.lost));
    }
    if rep.lossy() && !a.allow_loss && st == status::OK {
        st = status::FAILURE;
        problem = rep.problems();
    }
    Ok(LinuxRun {
        dir,
        summary,
        analysis,
        status: st,
        problem,
        boot_s,
    })
}

/// The kernel to boot: `--kernel`, or Debian's.
pub fn kernel(path: Option<&std::path::Path>) -> Result<Kernel> {
    match path {
        Some(p) => linux::user_kernel(p),
        None => linux::debian_kernel(),
    }
}

/// Runs `linux`.
pub fn run(a: Args) -> Result<u8> {
    let machine = a.machine.spec()?;
    let kernel = kernel(a.kernel.as_deref())?;
    let probe = linux::build_probe()?;
    let r = run_one(&a, &machine, &kernel, &probe)?;
    let nohz = r
        .analysis
        .linux
        .as_ref()
        .map(|l| l.nohz_full.to_string())
        .unwrap_or_default();
    if a.json {
        print_json(&LinuxJson {
            summary: &r.summary,
            kernel_mode: a.kernel_mode.name(),
            kernel: r
                .analysis
                .header
                .as_ref()
                .map(|h| h.kernel.to_string())
                .unwrap_or_default(),
            tick_stopped: !nohz.is_empty(),
            nohz_full: nohz,
            status: r.status,
            run_dir: r.dir.path.display().to_string(),
        })?;
    } else {
        report::print_table(&[&r.summary]);
        for (k, v) in &r.summary.interrupts_per_s {
            println!("  {v:>10.1}/s  {k}");
        }
        println!("run directory: {}", r.dir.path.display());
    }
    if let Some(p) = &r.problem {
        eprintln!("tickscope: {p}");
    }
    Ok(r.status)
}
