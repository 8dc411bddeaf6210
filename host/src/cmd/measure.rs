//! `tickscope measure`: one bare-metal measurement (timer latency or noise) under QEMU, saved as
//! a run directory and summarised in the terminal or as one JSON object.

use anyhow::Result;
use serde::Serialize;

use super::args::{MachineArgs, MeasureArgs, OutArgs};
use super::{bare, print_json};
use crate::summary::Summary;
use crate::{report, status};

/// `tickscope measure` options.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  tickscope measure --mode noise --icount --duration 1s
  tickscope measure --mode noise --inject-tick 250:10us --icount --duration 2s --json
  tickscope measure --mode timer --period 1ms --duration 5s --el 2 --gic 3 --smp 8 --core 5,7
  tickscope measure --mode timer --inject-tick 250:10us --icount --out /tmp/run")]
pub struct Args {
    #[command(flatten)]
    pub machine: MachineArgs,
    #[command(flatten)]
    pub measure: MeasureArgs,
    #[command(flatten)]
    pub out: OutArgs,
}

/// `--json` output: the summary plus where it is and how it ended.
#[derive(Serialize)]
pub struct MeasureJson<'a> {
    #[serde(flatten)]
    summary: &'a Summary,
    status: u8,
    run_dir: String,
}

/// Runs `measure`.
pub fn run(a: Args) -> Result<u8> {
    let machine = a.machine.spec()?;
    let config = a.measure.config(&a.machine)?;
    let label = a
        .out
        .label
        .clone()
        .unwrap_or_else(|| default_label(&config));
    let r = bare::run(bare::Request {
        machine,
        config,
        label,
        out: a.out.out.clone(),
        timeout: a.machine.timeout,
        json: a.out.json,
        plots: true,
    })?;
    let mut st = r.status;
    if let Some(p) = r.decode.problems() {
        eprintln!("tickscope: capture: {p}");
        if st == status::OK && r.decode.lossy() && !a.out.allow_loss {
            st = status::FAILURE;
        }
    }
    if r.summary.lost > 0 {
        eprintln!(
            "tickscope: {} record(s) lost on the device (ring full){}",
            r.summary.lost,
            if a.out.allow_loss {
                ""
            } else {
                "; pass --allow-loss to accept"
            }
        );
        if st == status::OK && !a.out.allow_loss {
            st = status::FAILURE;
        }
    }
    if a.out.json {
        print_json(&MeasureJson {
            summary: &r.summary,
            status: st,
            run_dir: r.dir.path.display().to_string(),
        })?;
    } else {
        report::print_table(&[&r.summary]);
        println!("run directory: {}", r.dir.path.display());
    }
    for f in &r.analysis.faults {
        eprintln!(
            "tickscope: firmware fault on core {}: ESR {:#x} ELR {:#x} FAR {:#x}",
            f.core, f.esr, f.elr, f.far
        );
    }
    if let Some(p) = &r.problem {
        eprintln!("tickscope: {p}");
    }
    Ok(st)
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
