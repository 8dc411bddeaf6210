//! `tickscope bench`: every speed and size figure, each with its unit and how it was measured.
//! Figures under `-icount` are exact (instruction counts, virtual time) and repeat bit for bit;
//! host figures (decode throughput, wall times) depend on the machine and say so.

use std::collections::BTreeMap;

use anyhow::Result;
use serde::Serialize;

use super::output::print_json;
use crate::bench::{self, Figures, Only};
use crate::status;

/// `tickscope bench` options.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  tickscope bench                 # everything, a few minutes
  tickscope bench --only icount --json")]
pub struct Args {
    /// Subset of figures.
    #[arg(long, value_enum, default_value = "all")]
    only: Only,
    /// Samples in the synthetic capture used for host figures.
    #[arg(long, default_value_t = 10_000_000)]
    samples: u64,
    /// Seconds per run of the end-to-end comparison.
    #[arg(long, default_value = "5s", value_parser = super::options::duration)]
    compare_duration: u64,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

/// Runs `bench`.
pub fn run(a: Args) -> Result<u8> {
    let f: Figures = bench::figures(a.only, a.samples, a.compare_duration)?;
    if a.json {
        let values: BTreeMap<&String, f64> = f.iter().map(|(k, v)| (k, v.value)).collect();
        #[derive(Serialize)]
        struct J<'a> {
            figures: &'a Figures,
            values: BTreeMap<&'a String, f64>,
        }
        print_json(&J {
            figures: &f,
            values,
        })?;
    } else {
        println!(
            "{:<52} {:>16}  {:<12} {:<7} how",
            "figure", "value", "unit", "kind"
        );
        for (k, v) in &f {
            println!(
                "{:<52} {:>16}  {:<12} {:<7} {}",
                k, v.value, v.unit, v.kind, v.how
            );
        }
    }
    Ok(status::OK)
}
