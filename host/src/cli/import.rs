//! `tickscope import FILE --label NAME`: makes a run directory from a capture copied back from a
//! board (the Linux probe's output on the board's own Linux, or a saved UART capture), or from
//! rt-tests' output (cyclictest `--json`/`-h`, oslat), so `report` and `check` treat it like any
//! other run and reports overlay it.

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
  tickscope report results/runs/*enzian-generic results/runs/*enzian-tickless
  cyclictest -m -p 99 -i 1000 -t 1 -a 3 -D 60 --json=ct.json && tickscope import ct.json --label ct
  cyclictest ... -h 1000 -q > hist.txt && tickscope import hist.txt --label ct-hist
  oslat -c 3 -D 60 > oslat.txt && tickscope import oslat.txt --label oslat")]
pub struct Args {
    /// The capture (probe output or firmware UART capture), or rt-tests output: cyclictest
    /// `--json` file or `-h` histogram output, oslat `--json` file or printed summary.
    file: PathBuf,
    /// How it was produced: `hardware` (default), `tcg` or `icount`.
    #[arg(long, default_value = "hardware")]
    emulation: String,
    /// Firmware ELF for defmt logs (firmware captures).
    #[arg(long)]
    elf: Option<PathBuf>,
    /// The QEMU that produced the capture (`qemu-system-aarch64 --version`), when it was an
    /// emulator's UART: recorded in run.json, and what `check` compares with a baseline's.
    #[arg(long)]
    qemu_version: Option<String>,
    /// Event threshold for rt-tests output (whole microseconds are what it resolves).
    #[arg(long, default_value = "1us", value_parser = super::options::duration)]
    threshold: u64,
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
        threshold_ns: a.threshold,
        qemu_version: a.qemu_version.clone(),
    });
    let run = pipeline::run(&req, &a.out.output("import"))?;
    super::output::print_run(&run, &a.out, ())?;
    if a.out.explain && !a.out.json {
        super::output::print_explained(&run);
    }
    Ok(run.status())
}
