//! `tickscope probe-run` (feature `probe-rs`): runs the firmware on a board behind a debug probe
//! (see `guest::debug_probe`) and makes a run directory of it.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;

use super::options::OutArgs;
use crate::guest::debug_probe;
use crate::pipeline::{self, Output};
use crate::rundir::now_stamps;

/// `tickscope probe-run` options.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// probe-rs target name of the chip.
    #[arg(long)]
    chip: String,
    /// Firmware ELF (built for a board whose load address is RAM on that chip).
    #[arg(long)]
    elf: PathBuf,
    /// Configuration tokens passed as the semihosting command line.
    #[arg(long, default_value = "mode=boot")]
    config: String,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 120)]
    timeout: u64,
    #[command(flatten)]
    out: OutArgs,
}

/// Runs `probe-run`.
pub fn run(a: Args) -> Result<u8> {
    tickscope_core::Config::parse(&a.config)
        .map_err(|e| crate::fail(crate::status::CONFIG, format!("--config: {e}")))?;
    let (_, start_time) = now_stamps();
    let capture = debug_probe::run(&debug_probe::Request {
        chip: a.chip.clone(),
        elf: a.elf.clone(),
        config: a.config.clone(),
        timeout: Duration::from_secs(a.timeout),
    })?;
    let out: Output = a.out.output("probe-run");
    let run = pipeline::finish(&capture, "probe-run", start_time, &out)?;
    super::output::print_run(&run, &a.out, ())?;
    Ok(run.status())
}
