//! `tickscope linux --kernel-mode generic|tickless|rt|rt-tickless`: boots an arm64 kernel in QEMU
//! (same machine options as the bare-metal run) with the Linux probe as init, measures the
//! isolated CPU and attributes its noise; tickless runs verify the tick really stopped; `--peers`
//! runs oslat and cyclictest after the probe in the same VM. `--here` and `--ssh HOST` run the
//! same probe on a real machine: this one, or another over ssh.

use anyhow::Result;
use serde::Serialize;

use super::options::{KernelArgs, MachineArgs, OutArgs, WindowArgs, duration};
use crate::guest::{linux, remote};
use crate::kernel::KernelMode;
use crate::load::Load;
use crate::pipeline::{self, Request};

/// `tickscope linux` options.
#[derive(clap::Args, Debug, Clone)]
#[command(after_help = "Examples:
  tickscope linux --kernel-mode generic --json
  tickscope linux --kernel-mode tickless --duration 5s --smp 4 --core 3 --icount
  tickscope linux --kernel-mode generic --attribution counters
  tickscope linux --kernel-mode generic --kernel ./Image --mode timer --period 1ms
  tickscope linux --kernel-mode rt --mode timer --period 1ms --duration 2s --json
  tickscope linux --kernel-mode generic --peers --duration 2s
  tickscope linux --kernel-mode tickless --load hackbench --duration 2s --icount
  sudo tickscope linux --here --core 1 --duration 5s --json     # this machine's CPU 1
  tickscope linux --ssh root@enzian-3 --core 47 --duration 60s --label enzian-generic")]
pub struct Args {
    #[command(flatten)]
    machine: MachineArgs,
    /// Which kernel: `generic` (isolcpus), `tickless` (plus nohz_full), `rt` (the PREEMPT_RT
    /// build, isolcpus) or `rt-tickless`.
    #[arg(long, value_enum, required_unless_present_any = ["here", "ssh"], conflicts_with_all = ["here", "ssh"])]
    kernel_mode: Option<KernelMode>,
    /// Run the probe on this machine's CPU (`--core`; as root) instead of a QEMU guest.
    #[arg(long, conflicts_with = "ssh")]
    here: bool,
    /// Run the probe on another machine through the system's `ssh` ([USER@]HOST[:PORT]; your
    /// ssh config, agent and keys apply; root or passwordless sudo there).
    #[arg(long, value_name = "[USER@]HOST[:PORT]")]
    ssh: Option<String>,
    /// An ssh option for `--ssh` (`-o OPTION`), repeatable: `--ssh-option IdentityFile=~/.ssh/lab`.
    #[arg(long, requires = "ssh")]
    ssh_option: Vec<String>,
    #[command(flatten)]
    kernel: KernelArgs,
    /// Load on every CPU but the measured one through the window, one instance pinned to each:
    /// `hackbench` (rt-tests), `memory` (a bandwidth hog), `stress-ng:ARGS` (Debian's, in QEMU),
    /// several joined by `+` or `,`; `none`. Its progress is counted and kept in run.json.
    #[arg(long, default_value = "none", value_name = "LIST")]
    load: String,
    #[command(flatten)]
    window: WindowArgs,
    /// Measurement window.
    #[arg(long, default_value = "5s", value_parser = duration)]
    duration: u64,
    #[command(flatten)]
    out: OutArgs,
}

#[derive(Serialize)]
struct Extra {
    kernel_mode: &'static str,
    kernel: String,
    kernel_package: Option<String>,
    nohz_full: String,
    tick_stopped: bool,
}

/// Runs `linux`.
pub fn run(a: Args) -> Result<u8> {
    let Some(kernel_mode) = a.kernel_mode else {
        return run_real(a);
    };
    if a.machine.boot_core.is_some() {
        return Err(crate::fail(
            crate::status::CONFIG,
            "--boot-core applies to the bare-metal firmware; Linux boots on CPU 0",
        ));
    }
    if a.machine.boot != crate::machine::BootMethod::Direct {
        return Err(crate::fail(
            crate::status::CONFIG,
            "--boot uefi starts the bare-metal firmware through UEFI; the Linux guest is loaded directly",
        ));
    }
    let machine = a.machine.spec(false)?;
    let cpu = a.window.linux_cpu(machine.smp)?;
    let load = Load::parse(&a.load)?;
    let req = Request::Linux(linux::Request {
        machine,
        kernel_mode,
        kernel: a.kernel.source(),
        mode: a.window.mode.mode(),
        cpu,
        duration_ns: a.duration,
        period_ns: a.window.period,
        threshold_ns: a.window.threshold,
        settle_ns: a.kernel.settle,
        checkpoint_ns: a.window.checkpoint,
        attribution: a.kernel.attribution,
        priority: a.kernel.priority,
        peers: a.kernel.peers,
        load: load.clone(),
        timeout: a.machine.timeout(),
        quiet: a.out.json,
    });
    let run = pipeline::run(&req, &a.out.output(&label(kernel_mode.name(), &load)))?;
    print(&run, &a.out, kernel_mode.name(), Some(cpu))
}

/// A run's default label: where or what it ran, and its load (`tickless+hackbench`).
pub fn label(base: &str, load: &Load) -> String {
    if load.is_none() {
        base.to_string()
    } else {
        format!("{base}+{}", load.label())
    }
}

/// Prints a Linux run (JSON or tables), its interrupt sources and peers; returns its status.
/// `cpu`: the measured CPU (a real machine's is in its facts).
fn print(
    run: &pipeline::Run,
    out: &super::options::OutArgs,
    kernel_mode: &'static str,
    cpu: Option<usize>,
) -> Result<u8> {
    let nohz = run
        .analysis
        .linux
        .as_ref()
        .map(|l| l.nohz_full.to_string())
        .unwrap_or_default();
    let cpu = cpu.or_else(|| run.record.info.system.as_ref().map(|s| s.measured_cpu));
    let extra = Extra {
        kernel_mode,
        kernel: run.record.info.kernel.clone().unwrap_or_default(),
        kernel_package: run.record.info.kernel_package.clone(),
        tick_stopped: cpu.is_some_and(|c| crate::kernel::parse_cpu_list(&nohz).contains(&c)),
        nohz_full: nohz,
    };
    super::output::print_run(run, out, extra)?;
    if out.explain && !out.json {
        super::output::print_explained(run);
    }
    if !out.json {
        for (k, v) in &run.record.summary.interrupts_per_s {
            println!("  {v:>10.1}/s  {k}");
        }
        print!("{}", crate::render::peers_table(&[&run.record.summary]));
        print!("{}", crate::render::load::table(&[&run.record.summary]));
    }
    Ok(run.status())
}

/// `linux --here` / `--ssh`: the probe on a real machine.
fn run_real(a: Args) -> Result<u8> {
    let place = match &a.ssh {
        Some(spec) => remote::Place::ssh(spec, a.ssh_option.clone())?,
        None => remote::Place::Here,
    };
    let load = Load::parse(&a.load)?;
    let cpu = match a.window.core.as_deref() {
        None => None,
        Some(_) => Some(a.window.linux_cpu(u16::MAX)?),
    };
    let label = match &place {
        remote::Place::Here => "here".to_string(),
        remote::Place::Ssh { dest, .. } => dest.rsplit('@').next().unwrap_or(dest).to_string(),
    };
    let req = Request::Remote(remote::Request {
        place,
        mode: a.window.mode.mode(),
        cpu,
        duration_ns: a.duration,
        period_ns: a.window.period,
        threshold_ns: a.window.threshold,
        settle_ns: a.kernel.settle,
        checkpoint_ns: a.window.checkpoint,
        attribution: a.kernel.attribution,
        priority: a.kernel.priority,
        peers: a.kernel.peers,
        load: load.clone(),
        timeout: a.machine.timeout(),
        quiet: a.out.json,
    });
    let run = pipeline::run(&req, &a.out.output(&self::label(&label, &load)))?;
    print(&run, &a.out, "native", None)
}
