//! `tickscope report DIR...`: the comparison table and overlaid plots of several runs, written as
//! `report.md` and a self-contained `report.html` (plots inlined), plus a short terminal table.

use std::path::PathBuf;

use anyhow::Result;
use serde::Serialize;

use super::print_json;
use crate::report::{self, Loaded};
use crate::rundir::now_stamps;
use crate::summary::Summary;
use crate::{fail, status, workspace};

/// `tickscope report` options.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  tickscope report results/runs/20261126-120000-noise
  tickscope report RUN_BARE RUN_GENERIC RUN_TICKLESS --out /tmp/report")]
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
}

#[derive(Serialize)]
struct ReportJson<'a> {
    out: String,
    files: Vec<String>,
    runs: Vec<&'a Summary>,
}

/// Runs `report`.
pub fn run(a: Args) -> Result<u8> {
    let runs: Vec<Loaded> = a
        .dirs
        .iter()
        .map(|d| report::load(d))
        .collect::<Result<_>>()?;
    if runs.is_empty() {
        return Err(fail(status::CONFIG, "no run directories given"));
    }
    let out = match (&a.out, runs.len()) {
        (Some(o), _) => o.clone(),
        (None, 1) => runs[0].dir.path.clone(),
        (None, _) => workspace::results()?.join("reports").join(now_stamps().0),
    };
    let mut files = report::write_report(&runs, &out)?;
    for k in ["ccdf", "histogram", "timeline"] {
        for ext in ["png", "svg"] {
            files.push(out.join(format!("{k}.{ext}")));
        }
    }
    let summaries: Vec<&Summary> = runs.iter().map(|r| &r.summary).collect();
    if a.json {
        print_json(&ReportJson {
            out: out.display().to_string(),
            files: files.iter().map(|f| f.display().to_string()).collect(),
            runs: summaries,
        })?;
    } else {
        report::print_table(&summaries);
        println!("report: {}", out.join("report.html").display());
    }
    Ok(status::OK)
}
