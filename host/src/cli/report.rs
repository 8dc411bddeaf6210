//! `tickscope report DIR...`: load runs from their directories and render the comparison table and
//! overlaid plots as `report.md` and a self-contained `report.html`, plus a terminal table.

use std::path::PathBuf;

use anyhow::Result;
use serde::Serialize;

use super::output::print_json;
use crate::analysis::summary::Summary;
use crate::rundir::{self, now_stamps};
use crate::{overlay, render, status, workspace};

/// `tickscope report` options.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  tickscope report results/runs/20261126-120000-noise
  tickscope report RUN_BARE RUN_GENERIC RUN_TICKLESS --out /tmp/report
  tickscope report results/runs/20261126-120000-noise --interval 5m   # OSADL's maxima")]
pub struct Args {
    /// Run directories.
    #[arg(required = true)]
    dirs: Vec<PathBuf>,
    /// Where to write the report (default: the run directory for one run,
    /// results/reports/<time>/ for several).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
    /// Print every column of the table (as report.md has them) instead of the headline
    /// columns within 120 characters.
    #[arg(long)]
    wide: bool,
    /// The maxima plot: the largest event per INTERVAL of the window (OSADL plots 5 minutes:
    /// `--interval 5m`); default: the window in at most 120 intervals of a 1-2-5 length.
    #[arg(long, value_parser = super::options::duration, value_name = "INTERVAL")]
    interval: Option<u64>,
}

#[derive(Serialize)]
struct ReportJson<'a> {
    out: String,
    files: Vec<String>,
    runs: Vec<&'a Summary>,
}

/// Runs `report`.
pub fn run(a: Args) -> Result<u8> {
    let out = match (&a.out, a.dirs.len()) {
        (Some(o), _) => o.clone(),
        (None, 1) => rundir::RunDir::open(&a.dirs[0])?.path,
        (None, _) => workspace::results()?.join("reports").join(now_stamps().0),
    };
    let o = overlay::write(&a.dirs, &out, a.interval.map(|ns| ns as f64 / 1e9))?;
    let summaries: Vec<&Summary> = o.runs.iter().map(|r| &r.summary).collect();
    if a.json {
        print_json(&ReportJson {
            out: out.display().to_string(),
            files: o.files.iter().map(|f| f.display().to_string()).collect(),
            runs: summaries,
        })?;
    } else {
        print!("{}", render::table(&summaries, a.wide));
        println!("report: {}", out.join("report.html").display());
    }
    Ok(status::OK)
}
