//! Reports over runs already made (`report DIR...`, `compare --runs DIR...`): their directories
//! loaded and rendered as the comparison's table, report.md, report.html and overlaid plots, so
//! runs from separate boots of one board (generic, then tickless) compare as a QEMU comparison.

use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::render::plot::Kind;
use crate::render::report::{self, ReportRun};
use crate::rundir::{self, Loaded};
use crate::{fail, render, status};

/// The loaded runs and the files written.
pub struct Overlay {
    /// The runs, in the order given.
    pub runs: Vec<Loaded>,
    /// report.md, report.html and the plots.
    pub files: Vec<PathBuf>,
}

/// Loads `dirs` and writes their report into `out`; `interval_s`: the maxima plot's interval
/// (`--interval`), checked against the longest window.
pub fn write(dirs: &[PathBuf], out: &Path, interval_s: Option<f64>) -> Result<Overlay> {
    let runs: Vec<Loaded> = dirs
        .iter()
        .map(|d| rundir::load(d))
        .collect::<Result<_>>()?;
    if runs.is_empty() {
        return Err(fail(status::CONFIG, "no run directories given"));
    }
    if let Some(asked) = interval_s {
        let window = runs
            .iter()
            .map(|r| r.summary.duration_s)
            .fold(0.0, f64::max);
        crate::render::maxima::check_interval(asked, window)
            .map_err(|why| fail(status::CONFIG, why))?;
    }
    let views: Vec<ReportRun> = runs
        .iter()
        .map(|r| ReportRun {
            info: &r.info,
            view: render::view(&r.summary, &r.analysis, &r.splits),
        })
        .collect();
    let opts = crate::render::plot::PlotOptions { interval_s };
    report::render(&views, &opts, &mut crate::files::Dir { path: out })?;
    let mut files = vec![out.join("report.md"), out.join("report.html")];
    for k in Kind::ALL {
        for ext in ["png", "svg"] {
            files.push(out.join(format!("{}.{ext}", k.stem())));
        }
    }
    Ok(Overlay { runs, files })
}
