//! `tickscope linux --kernel-mode generic|tickless|rt|rt-tickless`: boots an arm64 kernel in QEMU
//! (same machine options as the bare-metal run) with the Linux probe as init, measures the
//! isolated CPU and attributes its noise; tickless runs verify the tick really stopped; `--peers`
//! runs oslat and cyclictest after the probe in the same VM.

use anyhow::Result;
use serde::Serialize;

use super::options::{KernelArgs, MachineArgs, OutArgs, WindowArgs, duration};
use crate::guest::linux;
use crate::kernel::KernelMode;
use crate::pipeline::{self, Request};

/// `tickscope linux` options.
#[derive(clap::Args, Debug, Clone)]
#[command(after_help = "Examples:
  tickscope linux --kernel-mode generic --json
  tickscope linux --kernel-mode tickless --duration 5s --smp 4 --core 3 --icount
  tickscope linux --kernel-mode generic --attribution counters
  tickscope linux --kernel-mode generic --kernel ./Image --mode timer --period 1ms
  tickscope linux --kernel-mode rt --mode timer --period 1ms --duration 2s --json
  tickscope linux --kernel-mode generic --peers --duration 2s")]
pub struct Args {
    #[command(flatten)]
    machine: MachineArgs,
    /// Which kernel: `generic` (isolcpus), `tickless` (plus nohz_full), `rt` (the PREEMPT_RT
    /// build, isolcpus) or `rt-tickless`.
    #[arg(long, value_enum)]
    kernel_mode: KernelMode,
    #[command(flatten)]
    kernel: KernelArgs,
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
    if a.machine.boot_core.is_some() {
        return Err(crate::fail(
            crate::status::CONFIG,
            "--boot-core applies to the bare-metal firmware; Linux boots on CPU 0",
        ));
    }
    let machine = a.machine.spec(false)?;
    let cpu = a.window.linux_cpu(machine.smp)?;
    let req = Request::Linux(linux::Request {
        machine,
        kernel_mode: a.kernel_mode,
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
        timeout: a.machine.timeout(),
        quiet: a.out.json,
    });
    let run = pipeline::run(&req, &a.out.output(a.kernel_mode.name()))?;
    let nohz = run
        .analysis
        .linux
        .as_ref()
        .map(|l| l.nohz_full.to_string())
        .unwrap_or_default();
    let extra = Extra {
        kernel_mode: a.kernel_mode.name(),
        kernel: run.record.info.kernel.clone().unwrap_or_default(),
        kernel_package: run.record.info.kernel_package.clone(),
        tick_stopped: crate::kernel::parse_cpu_list(&nohz).contains(&cpu),
        nohz_full: nohz,
    };
    super::output::print_run(&run, a.out.json, extra)?;
    if !a.out.json {
        for (k, v) in &run.record.summary.interrupts_per_s {
            println!("  {v:>10.1}/s  {k}");
        }
        print!("{}", crate::render::peers_table(&[&run.record.summary]));
    }
    Ok(run.status())
}
