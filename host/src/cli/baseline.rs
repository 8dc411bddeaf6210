//! `tickscope baseline DIR -o FILE`: freezes a run's figures into a baseline file for
//! `tickscope check` (exact bounds under icount, ratios otherwise).

use std::path::PathBuf;

use anyhow::Result;

use super::output::print_json;
use crate::baseline::{self, Tolerance};
use crate::rundir::{RunDir, write_atomic};
use crate::{fail, status};

/// `tickscope baseline` options.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  tickscope baseline results/runs/RUN -o results/baselines/qemu-icount-noise.json
  tickscope baseline RUN -o base.json --ratio 1.5")]
pub struct Args {
    /// Run directory.
    dir: PathBuf,
    /// Baseline file to write.
    #[arg(short = 'o', long = "output")]
    output: PathBuf,
    /// Allowed ratio for latency and event-size metrics (bigger is worse), non-icount runs.
    #[arg(long, default_value_t = 1.25)]
    ratio: f64,
    /// Allowed relative change of event rates, both ways, non-icount runs.
    #[arg(long, default_value_t = 0.1)]
    rate_tolerance: f64,
    /// Description stored in the file.
    #[arg(long)]
    description: Option<String>,
    /// Print the baseline as JSON on stdout too.
    #[arg(long)]
    json: bool,
}

/// Runs `baseline`.
pub fn run(a: Args) -> Result<u8> {
    if a.ratio < 1.0 || !(0.0..1.0).contains(&a.rate_tolerance) {
        return Err(fail(
            status::CONFIG,
            "--ratio must be >= 1 and --rate-tolerance in [0, 1)",
        ));
    }
    let dir = RunDir::open(&a.dir)?;
    let s = dir.summary()?;
    let info = dir.info()?;
    let b = baseline::from_run(
        &s,
        &info,
        a.description.clone(),
        Tolerance {
            ratio: a.ratio,
            rate: a.rate_tolerance,
        },
    );
    let mut text = serde_json::to_string_pretty(&b)?;
    text.push('\n');
    write_atomic(&a.output, text.as_bytes())?;
    if a.json {
        print_json(&b)?;
    } else {
        println!(
            "baseline with {} metric(s){} written to {}",
            b.metrics.len(),
            if b.emulation == "icount" {
                " (exact: icount)"
            } else {
                ""
            },
            a.output.display()
        );
    }
    Ok(status::OK)
}
