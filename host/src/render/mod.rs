//! Everything drawn or printed from runs in memory: one column model for the terminal table,
//! report.md and CSV (`columns`), the cyclictest histogram text (`text`), the plots (`plot`) and
//! the multi-run report (`report`). Nothing here decodes or runs anything.

pub mod columns;
pub mod plot;
pub mod report;
pub mod text;

use std::path::Path;

use anyhow::Result;
use tickscope_core::hist::Histogram;

use crate::analysis::Analysis;
use crate::analysis::summary::{CoreSplits, Summary};
use crate::record::RunRecord;

/// The plots' view of a run.
pub fn view<'a>(
    summary: &'a Summary,
    analysis: &Analysis,
    splits: &'a [CoreSplits],
) -> plot::View<'a> {
    let mut values = Histogram::new();
    for c in analysis.cores.values() {
        values.merge(&c.acc.values);
    }
    plot::View {
        summary,
        values,
        splits,
    }
}

/// The terminal table of runs (one row each).
pub fn table(runs: &[&Summary]) -> String {
    let cols = columns::columns(runs, false);
    let rows: Vec<columns::Row> = runs.iter().map(|s| columns::Row::run(s)).collect();
    columns::terminal(&cols, &rows)
}

/// The per-run files: `histogram.txt` (cyclictest's format), `summary.csv` (one row per core and
/// an `all` row) and the run's own plots.
pub fn run_files(dir: &Path, a: &Analysis, record: &RunRecord, plots: bool) -> Result<()> {
    let s = &record.summary;
    let cores: Vec<(u16, &Histogram)> = a.cores.values().map(|c| (c.core, &c.acc.values)).collect();
    crate::files::write_atomic(
        &dir.join("histogram.txt"),
        text::cyclictest_histogram(&cores).as_bytes(),
    )?;
    let cols = columns::columns(&[s], true);
    let mut rows = columns::Row::cores(s);
    rows.push(columns::Row::run(s));
    crate::files::write_atomic(
        &dir.join("summary.csv"),
        columns::csv(&cols, &rows).as_bytes(),
    )?;
    if plots {
        let v = [view(s, a, &record.splits)];
        for kind in plot::Kind::ALL {
            plot::draw(dir, kind, &v)?;
        }
    }
    Ok(())
}
