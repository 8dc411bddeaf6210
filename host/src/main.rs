//! `tickscope`: builds and boots the bare-metal firmware under QEMU (or talks to a board), boots
//! Linux generic and tickless with the same probe, decodes the wire format, computes statistics,
//! plots tail latency, and gates CI on regressions against a stored baseline.
//!
//! One module per subcommand in `cmd/`; they share the QEMU launcher (`qemu`), the firmware
//! builder (`firmware`), the decoder (`decode`), the statistics (`analysis`) and run directories
//! (`rundir`).
#![forbid(unsafe_code)]

mod analysis;
mod cmd;
mod decode;
mod deps;
mod firmware;
mod linux;
mod plot;
mod progress;
mod qemu;
mod report;
mod rundir;
mod summary;
mod workspace;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Exit statuses of every subcommand (also in README "Exit codes").
pub mod status {
    pub use tickscope_core::exit::*;
}

/// An error with the exit status it should produce.
#[derive(Debug)]
pub struct Fail {
    /// Exit status.
    pub status: u8,
    /// What happened and what to do.
    pub message: String,
}

impl std::fmt::Display for Fail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Fail {}

/// Builds an error that exits with `status`.
pub fn fail(status: u8, message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Fail {
        status,
        message: message.into(),
    })
}

const AFTER_HELP: &str = "\
Examples:
  tickscope compare                                  # bare metal vs generic vs tickless Linux
  tickscope boot --el 2 --gic 3 --smp 8 --json       # bring up 8 cores at EL2 with GICv3
  tickscope measure --mode noise --inject-tick 250:10us --icount --duration 2s
  tickscope measure --mode timer --period 1ms --duration 5s --json
  tickscope report results/runs/*                    # plots + report.md/html of several runs
  tickscope check --baseline results/baselines/qemu-icount-noise.json DIR

Exit codes: 0 ok, 1 failure (lost data, regression, check failed), 2 bad configuration,
3 device fault, 4 device panic, 5 measured core timed out, 124 guest hung or emulator
crashed, 127 a needed tool is missing.";

/// Measure OS noise and timer-interrupt latency on aarch64, from bare metal to Linux.
#[derive(Parser)]
#[command(name = "tickscope", version, about, after_help = AFTER_HELP)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Boot the firmware on every core and report (cores online, EL, GIC, NEON).
    Boot(cmd::boot::Args),
    /// Run a bare-metal measurement (timer latency or noise) and save a run directory.
    Measure(cmd::measure::Args),
    /// Boot Linux (generic or tickless) in QEMU and measure with the Linux probe.
    Linux(cmd::linux::Args),
    /// Bare metal vs generic vs tickless Linux on the same machine: the main job.
    Compare(cmd::compare::Args),
    /// Capture a run from a serial port (a board running the firmware).
    Capture(cmd::capture::Args),
    /// Decode a capture file (raw wire bytes) and print what it holds.
    Decode(cmd::decode::Args),
    /// Make a run directory from a probe output file copied back from a board.
    Import(cmd::import::Args),
    /// Write report.md, report.html and plots for one or more run directories.
    Report(cmd::report::Args),
    /// Compare a run with a baseline; exit 1 if a metric moved out of bounds.
    Check(cmd::check::Args),
    /// Make a baseline file from a run directory.
    Baseline(cmd::baseline::Args),
    /// Firmware image size and static RAM use; writes the raw .bin for boot loaders.
    Image(cmd::image::Args),
    /// Print every speed and size figure (benchmarks).
    Bench(cmd::bench::Args),
    /// Load and run the firmware on a board behind a debug probe (feature `probe-rs`).
    #[cfg(feature = "probe-rs")]
    ProbeRun(cmd::probe_run::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Boot(a) => cmd::boot::run(a),
        Command::Measure(a) => cmd::measure::run(a),
        Command::Linux(a) => cmd::linux::run(a),
        Command::Compare(a) => cmd::compare::run(a),
        Command::Capture(a) => cmd::capture::run(a),
        Command::Decode(a) => cmd::decode::run(a),
        Command::Import(a) => cmd::import::run(a),
        Command::Report(a) => cmd::report::run(a),
        Command::Check(a) => cmd::check::run(a),
        Command::Baseline(a) => cmd::baseline::run(a),
        Command::Image(a) => cmd::image::run(a),
        Command::Bench(a) => cmd::bench::run(a),
        #[cfg(feature = "probe-rs")]
        Command::ProbeRun(a) => cmd::probe_run::run(a),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            let status = e
                .downcast_ref::<Fail>()
                .map(|f| f.status)
                .unwrap_or(status::FAILURE);
            eprintln!("tickscope: error: {e:#}");
            ExitCode::from(status)
        }
    }
}
