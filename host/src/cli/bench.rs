//! `tickscope bench`: every speed and size figure, each with its unit and how it was measured.
//! Figures under `-icount` are exact (instruction counts, virtual time) and repeat bit for bit;
//! host figures (decode throughput, wall times) depend on the machine and say so.

use std::collections::BTreeMap;

use anyhow::Result;
use serde::Serialize;

use super::output::print_json;
use crate::bench::{self, Figures, Only};
use crate::bench_gate::Baseline;
use crate::status;
use std::path::{Path, PathBuf};

/// `tickscope bench` options.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  tickscope bench                 # everything, a few minutes
  tickscope bench --only icount --json
  tickscope bench --check results/baselines/bench.json      # the gate CI runs (exit 1 on a regression)
  tickscope bench --only sizes,host --write-baseline results/baselines/bench.json")]
pub struct Args {
    /// Subsets of figures (comma-separated).
    #[arg(long, value_enum, value_delimiter = ',', default_value = "all")]
    only: Vec<Only>,
    /// Samples in the synthetic capture used for host figures.
    #[arg(long, default_value_t = 10_000_000)]
    samples: u64,
    /// Seconds per run of the end-to-end comparison.
    #[arg(long, default_value = "5s", value_parser = super::options::duration)]
    compare_duration: u64,
    /// Compare with a stored baseline (measuring the figure groups it holds, whatever `--only`
    /// says): sizes and icount figures exactly, speed ratios against a floor, memory per sample
    /// against a ceiling. Exit 1 when one moved past its bound.
    #[arg(long, conflicts_with = "write_baseline")]
    check: Option<PathBuf>,
    /// Write this run's exact and ratio figures as a baseline, with their bounds.
    #[arg(long)]
    write_baseline: Option<PathBuf>,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

/// Runs `bench`.
pub fn run(a: Args) -> Result<u8> {
    let baseline = a.check.as_deref().map(Baseline::load).transpose()?;
    let groups = baseline
        .as_ref()
        .map(Baseline::groups)
        .unwrap_or(a.only.clone());
    // A check measures with the baseline's capture size (memory per sample depends on it).
    let samples = baseline.as_ref().map(|b| b.samples).unwrap_or(a.samples);
    let mut f = Figures::new();
    for g in groups {
        f.extend(bench::figures(g, samples, a.compare_duration)?);
    }
    if let Some(path) = &a.write_baseline {
        let host = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|c| {
                c.lines()
                    .find(|l| l.starts_with("model name"))
                    .and_then(|l| l.split(':').nth(1))
                    .map(|m| m.trim().to_string())
            })
            .unwrap_or_else(|| "an unknown CPU".into());
        let b = Baseline::from_figures(
            &f,
            &format!("tickscope bench --samples {samples}, on {host}"),
            samples,
        );
        crate::rundir::RunDir {
            path: path.parent().unwrap_or(Path::new(".")).to_path_buf(),
        }
        .write_json(
            path.file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("bench.json"),
            &b,
        )?;
        eprintln!(
            "tickscope: wrote {} figures to {}",
            b.figures.len(),
            path.display()
        );
    }
    if let Some(b) = &baseline {
        return check(b, &f, a.json);
    }
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

/// Prints each baseline figure against this run's; 1 when any moved past its bound.
fn check(b: &Baseline, f: &Figures, json: bool) -> Result<u8> {
    let verdicts = b.check(f);
    let failed: Vec<&str> = verdicts
        .iter()
        .filter(|v| !v.ok)
        .map(|v| v.figure.as_str())
        .collect();
    if json {
        #[derive(Serialize)]
        struct J<'a> {
            verdicts: &'a [crate::bench_gate::Verdict],
            failed: &'a [&'a str],
        }
        print_json(&J {
            verdicts: &verdicts,
            failed: &failed,
        })?;
    } else {
        println!(
            "{:<44} {:>14} {:>14}  {:<24} verdict",
            "figure", "baseline", "now", "bound"
        );
        for v in &verdicts {
            let now = v
                .value
                .map(|x| format!("{x:.4}"))
                .unwrap_or("missing".into());
            let verdict = if v.ok { "ok" } else { "FAIL" };
            println!(
                "{:<44} {:>14.4} {:>14}  {:<24} {verdict}",
                v.figure, v.baseline, now, v.bound
            );
        }
    }
    if failed.is_empty() {
        Ok(status::OK)
    } else {
        eprintln!(
            "tickscope: {} of {} figure(s) moved past their bound: {}",
            failed.len(),
            verdicts.len(),
            failed.join(", ")
        );
        Ok(status::FAILURE)
    }
}
