//! Everything drawn or printed from runs in memory: one column model for the terminal table,
//! report.md and CSV (`columns`), the cyclictest histogram text (`text`), the plots (`plot`) and
//! the multi-run report (`report`), each returned as named files ([`Artifact`]) for the host to
//! write. Nothing here decodes, runs or writes anything.

pub mod artifact;
pub mod band;
pub mod columns;
pub mod legend;
pub mod load;
pub mod maxima;
pub mod plot;
pub mod report;
pub mod text;

pub use artifact::{Artifact, Files};

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
        peers: peer_curves(analysis, summary.duration_s),
    }
}

/// The peers' tails as the CCDF draws them: per tool, (duration, its samples per second at least
/// that long) at each of its microsecond buckets at or above the threshold.
fn peer_curves(a: &Analysis, probe_duration_s: f64) -> Vec<(String, Vec<(f64, f64)>)> {
    let threshold_us = a.threshold_ns().div_ceil(1000).max(1);
    let mut out = Vec::new();
    for (tool, d) in &a.peers {
        let Ok(run) = crate::rttests::parse_json(&String::from_utf8_lossy(&d.json), Some(*tool))
        else {
            continue;
        };
        let Some(t) = run.threads.first() else {
            continue;
        };
        let secs = crate::analysis::peers::figures(&run, a.threshold_ns())
            .duration_s
            .unwrap_or(probe_duration_s)
            .max(1e-9);
        let mut above = t.overflow;
        let mut pts = Vec::new();
        for (&us, &n) in t.histogram.range(threshold_us..).rev() {
            if pts.is_empty() {
                pts.push(((t.max_us.max(us) * 1000) as f64, 0.0));
            }
            let x = (us * 1000).max(1) as f64;
            pts.push((x, above as f64 / secs));
            above += n;
            pts.push((x, above as f64 / secs));
        }
        // Drawn from the shortest duration up, like the other curves.
        pts.reverse();
        pts.retain(|p| p.1 > 0.0);
        if !pts.is_empty() {
            out.push((tool.name().to_string(), pts));
        }
    }
    out
}

/// The peers table: for each run with peers, the probe's row then one row per peer, with the
/// figures they share (max, p99, samples at or above the threshold per second, the CPU's timer
/// interrupts per second). `None` when no run has peers.
pub fn peers_rows(runs: &[&Summary]) -> Option<(Vec<&'static str>, Vec<Vec<String>>)> {
    if runs.iter().all(|s| s.peers.is_empty()) {
        return None;
    }
    let ns = |v: Option<u64>| {
        v.map(|v| plot::fmt_ns(v as f64))
            .unwrap_or_else(|| "-".into())
    };
    let rate = |v: Option<f64>| v.map(|v| format!("{v:.1}")).unwrap_or_else(|| "-".into());
    // `events/s` counts every sample at or above the threshold, whatever ran in it; only the
    // probe can say which of them the OS caused (`OS ev/s`) and which the hardware or the
    // emulator did (`HW ev/s`); the peers cannot tell them apart.
    let head = vec![
        "run",
        "tool",
        "measures",
        "max",
        "p99",
        "events/s",
        "OS ev/s",
        "HW ev/s",
        "timer irq/s",
        "samples",
    ];
    let mut rows = Vec::new();
    for s in runs.iter().filter(|s| !s.peers.is_empty()) {
        let probe_events = (s.duration_s > 0.0).then_some(s.events_per_s);
        rows.push(vec![
            s.label.clone(),
            "tickscope".into(),
            format!("{} mode", s.mode.name()),
            ns((s.latency_ns.count > 0).then_some(s.latency_ns.max)),
            ns((s.latency_ns.count > 0).then_some(s.latency_ns.p99)),
            rate(probe_events),
            rate(s.attributed.os_noise.as_ref().map(|c| c.events_per_s)),
            rate(s.attributed.hw_noise.as_ref().map(|c| c.events_per_s)),
            rate(s.timer_irqs_per_s),
            s.samples.to_string(),
        ]);
        for (name, p) in &s.peers {
            rows.push(vec![
                s.label.clone(),
                name.clone(),
                match name.as_str() {
                    "oslat" => "loop gaps".into(),
                    _ => "wake-up latency".into(),
                },
                ns(p.max_ns),
                ns(p.p99_ns),
                rate(p.events_per_s),
                "n/a".into(),
                "n/a".into(),
                rate(p.timer_irqs_per_s),
                p.samples.to_string(),
            ]);
        }
    }
    Some((head, rows))
}

/// The peers table for a terminal (empty when no run has peers), with the notes where they
/// disagree.
pub fn peers_table(runs: &[&Summary]) -> String {
    let Some((head, rows)) = peers_rows(runs) else {
        return String::new();
    };
    let mut w: Vec<usize> = head.iter().map(|h| h.len()).collect();
    for r in &rows {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(c.chars().count());
        }
    }
    let line = |cells: Vec<String>| -> String {
        let mut l = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i < 3 {
                l += &format!("{c:<width$}  ", width = w[i]);
            } else {
                l += &format!("{c:>width$}  ", width = w[i]);
            }
        }
        l.trim_end().to_string() + "\n"
    };
    let mut out = String::from(
        "\npeers in the same VM, same CPU, after the probe (events: samples at or above the threshold):\n",
    );
    out += &line(head.iter().map(|h| h.to_string()).collect());
    for r in rows {
        out += &line(r);
    }
    for s in runs {
        for n in &s.peer_notes {
            out += &format!("note ({}): {n}\n", s.label);
        }
    }
    out
}

/// The terminal table's width, unless `--wide`.
pub const TERMINAL_COLUMNS: usize = 120;

/// The terminal table of runs (one row each): the headline columns within
/// [`TERMINAL_COLUMNS`], or with `wide` every column report.md has.
pub fn table(runs: &[&Summary], wide: bool) -> String {
    let rows: Vec<columns::Row> = runs.iter().map(|s| columns::Row::run(s)).collect();
    if wide {
        columns::terminal(&columns::columns(runs, false), &rows)
    } else {
        columns::terminal_within(&columns::headline(runs), &rows, TERMINAL_COLUMNS)
    }
}

/// The per-run files: `histogram.txt` (cyclictest's format), `summary.csv` (one row per core and
/// an `all` row) and the run's own plots.
pub fn run_files(
    a: &Analysis,
    record: &RunRecord,
    plots: bool,
    files: &mut dyn Files,
) -> Result<()> {
    let s = &record.summary;
    let cores: Vec<(u16, &Histogram)> = a.cores.values().map(|c| (c.core, &c.acc.values)).collect();
    let cols = columns::columns(&[s], true);
    let mut rows = columns::Row::cores(s);
    rows.push(columns::Row::run(s));
    files.put(Artifact::new(
        "histogram.txt",
        text::cyclictest_histogram(&cores),
    ))?;
    files.put(Artifact::new("summary.csv", columns::csv(&cols, &rows)))?;
    if plots {
        let v = [view(s, a, &record.splits)];
        for kind in plot::Kind::ALL {
            plot::draw(kind, &v, &plot::PlotOptions::default(), files)?;
        }
    }
    Ok(())
}
