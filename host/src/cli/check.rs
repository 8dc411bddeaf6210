//! `tickscope check --baseline FILE DIR`: the regression gate. Exit 0 when every metric is within
//! its bound, 1 when any moved out, 2 when the run is not comparable with the baseline.

use std::path::PathBuf;

use anyhow::Result;
use serde::Serialize;

use super::output::print_json;
use crate::baseline::{self, Baseline, Verdict};
use crate::rundir::{RunDir, read_json};
use crate::{fail, status};

/// `tickscope check` options.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  tickscope check --baseline results/baselines/qemu-icount-noise-tick250.json results/runs/RUN")]
pub struct Args {
    /// Baseline file.
    #[arg(long)]
    baseline: PathBuf,
    /// Run directory to check.
    dir: PathBuf,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

/// Runs `check`.
pub fn run(a: Args) -> Result<u8> {
    let base: Baseline = read_json(&a.baseline)?;
    let dir = RunDir::open(&a.dir)?;
    let s = dir.summary()?;
    let info = dir.info()?;
    baseline::comparable(&base, &s, &info).map_err(|e| fail(status::CONFIG, e))?;
    let verdicts: Vec<Verdict> = baseline::check(&base, &s);
    let failed = verdicts.iter().filter(|v| !v.ok).count();
    if a.json {
        #[derive(Serialize)]
        struct J<'a> {
            baseline: String,
            run: String,
            pass: bool,
            failed: usize,
            metrics: &'a [Verdict],
        }
        print_json(&J {
            baseline: a.baseline.display().to_string(),
            run: a.dir.display().to_string(),
            pass: failed == 0,
            failed,
            metrics: &verdicts,
        })?;
    } else {
        println!(
            "{:<24} {:>14} {:>14} {:>9}  {:<22} verdict",
            "metric", "baseline", "run", "ratio", "bound"
        );
        for v in &verdicts {
            println!(
                "{:<24} {:>14} {:>14} {:>9}  {:<22} {}",
                v.metric,
                v.baseline,
                v.run
                    .map(|r| r.to_string())
                    .unwrap_or_else(|| "missing".into()),
                v.ratio
                    .map(|r| format!("{r:.3}"))
                    .unwrap_or_else(|| "-".into()),
                v.bound,
                if v.ok { "ok" } else { "MOVED" }
            );
        }
        println!(
            "{}: {} of {} metric(s) out of bounds",
            if failed == 0 { "PASS" } else { "FAIL" },
            failed,
            verdicts.len()
        );
    }
    Ok(if failed == 0 {
        status::OK
    } else {
        status::FAILURE
    })
}
