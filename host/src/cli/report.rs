//! `tickscope report DIR...`: load runs from their directories and render the comparison table and
//! overlaid plots as `report.md` and a self-contained `report.html`, plus a terminal table.

use std::path::PathBuf;

use anyhow::Result;
use serde::Serialize;

use super::output::print_json;
use crate::analysis::summary::Summary;
use crate::render::plot::Kind;
use crate::render::report::{self, ReportRun};
use crate::rundir::{self, Loaded, now_stamps};
use crate::{fail, render, status, workspace};

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
        .map(|d| rundir::load(d))
        .collect::<Result<_>>()?;
    if runs.is_empty() {
        return Err(fail(status::CONFIG, "no run directories given"));
    }
    let out = match (&a.out, runs.len()) {
        (Some(o), _) => o.clone(),
        (None, 1) => runs[0].dir.path.clone(),
        (None, _) => workspace::results()?.join("reports").join(now_stamps().0),
    };
    let views: Vec<ReportRun> = runs
        .iter()
        .map(|r| ReportRun {
            info: &r.info,
            view: render::view(&r.summary, &r.analysis, &r.splits),
        })
        .collect();
    let mut files = report::write(&views, &out)?;
    for k in Kind::ALL {
        for ext in ["png", "svg"] {
            files.push(out.join(format!("{}.{ext}", k.stem())));
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
        print!("{}", render::table(&summaries));
        println!("report: {}", out.join("report.html").display());
    }
    Ok(status::OK)
}
