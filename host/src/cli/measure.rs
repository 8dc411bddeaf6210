//! `tickscope measure`: one bare-metal measurement (timer latency or noise) under QEMU, saved as
//! a run directory and summarised in the terminal or as one JSON object.

use anyhow::Result;

use super::options::{FirmwareArgs, MachineArgs, OutArgs, WindowArgs, duration, firmware_config};
use crate::guest::bare;
use crate::pipeline::{self, Request};

/// `tickscope measure` options.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  tickscope measure --mode noise --icount --duration 1s
  tickscope measure --mode noise --inject-tick 250:10us --icount --duration 2s --json
  tickscope measure --mode timer --period 1ms --duration 5s --el 2 --gic 3 --smp 8 --core 5,7
  tickscope measure --mode timer --inject-tick 250:10us --icount --out /tmp/run")]
pub struct Args {
    #[command(flatten)]
    machine: MachineArgs,
    #[command(flatten)]
    window: WindowArgs,
    /// Measurement window (`2s`, `500ms`).
    #[arg(long, default_value = "1s", value_parser = duration)]
    duration: u64,
    #[command(flatten)]
    firmware: FirmwareArgs,
    #[command(flatten)]
    out: OutArgs,
}

/// `noise`, `noise-tick250x10us`, `timer-1ms`, ...
pub fn default_label(c: &tickscope_core::Config) -> String {
    let mut l = c.mode.name().to_string();
    if c.mode == tickscope_core::Mode::Timer {
        l.push_str(&format!("-{}", tickscope_core::units::Ns(c.period_ns)));
    }
    if let Some(t) = c.inject {
        l.push_str(&format!(
            "-tick{}x{}",
            t.hz,
            tickscope_core::units::Ns(t.duration_ns)
        ));
    }
    l
}

/// Runs `measure`.
pub fn run(a: Args) -> Result<u8> {
    let spec = a.machine.spec(false)?;
    let config = firmware_config(&a.machine, &spec, &a.window, a.duration, &a.firmware)?;
    let req = Request::Bare(bare::Request {
        machine: spec,
        config,
        timeout: a.machine.timeout(),
        quiet: a.out.json,
    });
    let run = pipeline::run(&req, &a.out.output(&default_label(&config)))?;
    super::output::print_run(&run, &a.out, ())?;
    if a.out.explain && !a.out.json {
        super::output::print_explained(&run);
    }
    Ok(run.status())
}
