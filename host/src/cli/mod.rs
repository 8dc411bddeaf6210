//! The command line: one module per subcommand, each parsing its options into requests for the
//! library and printing what comes back. Commands share option groups (`options`) and never
//! call one another.

pub mod apt_fetch;
pub mod baseline;
pub mod bench;
pub mod boot;
pub mod capture;
pub mod check;
pub mod compare;
pub mod config;
pub mod decode;
pub mod doctor;
pub mod export;
pub mod image;
pub mod import;
pub mod kernel;
pub mod linux;
pub mod measure;
pub mod options;
pub mod output;
#[cfg(feature = "probe-rs")]
pub mod probe_run;
pub mod report;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::{Fail, status};

const AFTER_HELP: &str = "\
Examples:
  tickscope compare                                  # bare metal vs generic vs tickless Linux
  tickscope boot --el 2 --gic 3 --smp 8 --json       # bring up 8 cores at EL2 with GICv3
  tickscope measure --mode noise --inject-tick 250:10us --icount --duration 2s
  tickscope measure --mode timer --period 1ms --duration 5s --json
  tickscope report results/runs/*                    # plots + report.md/html of several runs
  tickscope check --baseline results/baselines/qemu-icount-noise-tick250.json DIR
  tickscope doctor                                   # what a run needs, and how to get it

Exit codes: 0 ok, 1 failure (lost data, regression, check failed, partial run), 2 bad
configuration, 3 device fault, 4 device panic, 5 measured core timed out, 124 guest hung or
emulator crashed, 127 a needed tool is missing, 130 interrupted (what arrived is kept).";

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
    Boot(boot::Args),
    /// Run a bare-metal measurement (timer latency or noise) and save a run directory.
    Measure(measure::Args),
    /// Boot Linux (generic, tickless, rt, rt-tickless) in QEMU and measure with the Linux probe.
    Linux(linux::Args),
    /// Bare metal vs generic vs tickless Linux on the same machine: the main job.
    Compare(compare::Args),
    /// Capture a run from a serial port (a board running the firmware).
    Capture(capture::Args),
    /// Decode a capture file (raw wire bytes) and print what it holds.
    Decode(decode::Args),
    /// Make a run directory from a probe output file copied back from a board, or from
    /// cyclictest/oslat output.
    Import(import::Args),
    /// Write a run in another tool's format (`--format rt-tests`: cyclictest's JSON).
    Export(export::Args),
    /// Write report.md, report.html and plots for one or more run directories.
    Report(report::Args),
    /// Compare a run with a baseline; exit 1 if a metric moved out of bounds.
    Check(check::Args),
    /// Make a baseline file from a run directory.
    Baseline(baseline::Args),
    /// Firmware image size and static RAM use; writes the raw .bin for boot loaders.
    Image(image::Args),
    /// The firmware's configuration in the binary form it reads (for QEMU command lines by hand).
    Config(config::Args),
    /// Print every speed and size figure (benchmarks).
    Bench(bench::Args),
    /// Check what a run needs (toolchain, targets, QEMU, kernel, tracefs) and say how to fix it.
    Doctor(doctor::Args),
    /// Fetch Debian packages (arm64 or all) with the private apt state and unpack them.
    AptFetch(apt_fetch::Args),
    /// Fetch the arm64 kernel Linux runs boot (or find it in the cache) and say which it is.
    Kernel(kernel::Args),
    /// Load and run the firmware on a board behind a debug probe (feature `probe-rs`).
    #[cfg(feature = "probe-rs")]
    ProbeRun(probe_run::Args),
}

/// `tickscope decode FILE | head`: when the reader closes the pipe, stop as Unix tools do (exit
/// status 141, 128 + SIGPIPE) instead of a panic message. Rust ignores SIGPIPE, so the write fails
/// and `println!` panics with "failed printing to stdout"; only that panic is taken over.
fn quiet_on_closed_stdout() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let msg = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if msg.starts_with("failed printing to stdout") && msg.contains("Broken pipe") {
            std::process::exit(141);
        }
        default(info);
    }));
}

/// Parses the command line, runs the command, and maps the result to the exit status.
pub fn main() -> ExitCode {
    quiet_on_closed_stdout();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Boot(a) => boot::run(a),
        Command::Measure(a) => measure::run(a),
        Command::Linux(a) => linux::run(a),
        Command::Compare(a) => compare::run(a),
        Command::Capture(a) => capture::run(a),
        Command::Decode(a) => decode::run(a),
        Command::Import(a) => import::run(a),
        Command::Export(a) => export::run(a),
        Command::Report(a) => report::run(a),
        Command::Check(a) => check::run(a),
        Command::Baseline(a) => baseline::run(a),
        Command::Image(a) => image::run(a),
        Command::Config(a) => config::run(a),
        Command::Bench(a) => bench::run(a),
        Command::Doctor(a) => doctor::run(a),
        Command::Kernel(a) => kernel::run(a),
        Command::AptFetch(a) => apt_fetch::run(a),
        #[cfg(feature = "probe-rs")]
        Command::ProbeRun(a) => probe_run::run(a),
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
