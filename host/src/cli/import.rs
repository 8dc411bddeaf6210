//! `tickscope import FILE --label NAME`: makes a run directory from a capture copied back from a
//! board (the Linux probe's output on the board's own Linux, or a saved UART capture), so
//! `report` and `check` treat it like any other run.

use std::path::PathBuf;

use anyhow::Result;

use super::options::OutArgs;
use crate::guest::file;
use crate::machine::Emulation;
use crate::pipeline::{self, Request};
use crate::{fail, status};

/// `tickscope import` options.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  # on the board: sudo ./tickscope-probe mode=noise cores=47 duration=60s --out generic.bin
  tickscope import generic.bin --label enzian-generic --emulation hardware
  tickscope report results/runs/*enzian-generic results/runs/*enzian-tickless")]
pub struct Args {
    /// The capture (probe output or firmware UART capture).
    file: PathBuf,
    /// How it was produced: `hardware` (default), `tcg` or `icount`.
    #[arg(long, default_value = "hardware")]
    emulation: String,
    /// Firmware ELF for defmt logs (firmware captures).
    #[arg(long)]
    elf: Option<PathBuf>,
    #[command(flatten)]
    out: OutArgs,
}

/// Runs `import`.
pub fn run(a: Args) -> Result<u8> {
    let emulation = Emulation::parse(&a.emulation)
        .filter(|e| *e != Emulation::Unknown)
        .ok_or_else(|| {
            fail(
                status::CONFIG,
                "--emulation must be hardware, tcg or icount",
            )
        })?;
    if a.out.label.is_none() {
        return Err(fail(
            status::CONFIG,
            "--label NAME is required for an import",
        ));
    }
    let req = Request::File(file::Request {
        file: a.file.clone(),
        emulation,
        elf: a.elf.clone(),
    });
    let run = pipeline::run(&req, &a.out.output("import"))?;
    super::output::print_run(&run, a.out.json, ())?;
    Ok(run.status())
}
