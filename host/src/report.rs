//! Everything written for people and scripts from a run's figures: the terminal table, the
//! cyclictest-style histogram text, CSV, per-run plots, and the multi-run report
//! (`report.md`, self-contained `report.html`) with the overlaid tail-latency plots.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Result;
use base64::Engine;
use tickscope_core::hist::{Histogram, bucket_range};

use crate::analysis::Analysis;
use crate::plot::{self, Kind, Series};
use crate::rundir::RunDir;
use crate::summary::Summary;

fn us(ns: u64) -> String {
    if ns >= 10_000_000 {
        format!("{:.1}ms", ns as f64 / 1e6)
    } else {
        format!("{:.2}", ns as f64 / 1e3)
    }
}

/// Prints the comparison table (one row per run).
pub fn print_table(rows: &[&Summary]) {
    println!(
        "{:<22} {:<6} {:<7} {:>10} {:>6} {:>7} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "run",
        "mode",
        "emul",
        "samples",
        "lost",
        "events",
        "events/s",
        "p50 µs",
        "p99 µs",
        "p99.99µs",
        "max µs",
        "tick µs",
        "irq/s"
    );
    for s in rows {
        println!(
            "{:<22} {:<6} {:<7} {:>10} {:>6} {:>7} {:>9.2} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
            truncate(&s.label, 22),
            s.mode,
            s.emulation,
            s.samples,
            s.lost,
            s.events,
            s.events_per_s,
            us(s.latency_ns.p50),
            us(s.latency_ns.p99),
            us(s.latency_ns.p9999),
            us(s.latency_ns.max),
            s.tick_cost_ns.map(us).unwrap_or_else(|| "-".into()),
            s.timer_irqs_per_s
                .map(|r| format!("{r:.1}"))
                .unwrap_or_else(|| "-".into()),
        );
    }
    let latency_is_gap = rows.iter().any(|s| s.mode == "noise");
    if latency_is_gap {
        println!(
            "(noise mode: p50..max are loop gaps; events are gaps above the threshold; tick = median tick-coincident event)"
        );
    }
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        s.chars().take(n - 1).collect::<String>() + "…"
    }
}

/// The histogram in cyclictest's `-h` text format: one row per microsecond up to the maximum
/// (so scripts written for cyclictest read it), per-core columns.
pub fn cyclictest_histogram(cores: &[(u16, &Histogram)]) -> String {
    const MAX_ROWS: u64 = 1_000_000;
    let max_us = cores.iter().filter_map(|(_, h)| h.max()).max().unwrap_or(0) / 1000;
    let rows = (max_us + 1).min(MAX_ROWS);
    let mut bins: Vec<Vec<u64>> = vec![vec![0; rows as usize]; cores.len()];
    let mut overflow = vec![0u64; cores.len()];
    for (k, (_, h)) in cores.iter().enumerate() {
        for (i, n) in h.buckets() {
            let (lo, w) = bucket_range(i);
            let b = (lo + (w - 1) / 2) / 1000;
            if b < rows {
                bins[k][b as usize] += n;
            } else {
                overflow[k] += n;
            }
        }
        overflow[k] += h.overflow();
    }
    let mut s = String::from("# Histogram\n");
    for r in 0..rows as usize {
        let _ = write!(s, "{r:06}");
        for b in &bins {
            let _ = write!(s, " {:06}", b[r]);
        }
        s.push('\n');
    }
    let line = |name: &str, f: &dyn Fn(&Histogram) -> u64| {
        let mut l = format!("# {name}:");
        for (_, h) in cores {
            let _ = write!(l, " {:05}", f(h));
        }
        l.push('\n');
        l
    };
    s += &line("Total", &|h| h.count());
    s += &line("Min Latencies", &|h| h.min().unwrap_or(0) / 1000);
    s += &line("Avg Latencies", &|h| h.mean().unwrap_or(0) / 1000);
    s += &line("Max Latencies", &|h| h.max().unwrap_or(0) / 1000);
    let mut l = String::from("# Histogram Overflows:");
    for o in &overflow {
        let _ = write!(l, " {o:05}");
    }
    s += &l;
    s.push('\n');
    let mut t = String::from("# Cores:");
    for (c, _) in cores {
        let _ = write!(t, " {c}");
    }
    s += &t;
    s.push('\n');
    s
}

/// CSV: one row per core plus an `all` row.
pub fn csv(s: &Summary) -> String {
    let mut out = String::from(
        "label,emulation,mode,core,samples,lost,events,events_per_s,min_ns,mean_ns,p50_ns,p90_ns,p99_ns,p999_ns,p9999_ns,max_ns,event_p50_ns,event_max_ns,tick_cost_ns\n",
    );
    let row = |out: &mut String,
               core: &str,
               samples,
               lost,
               events,
               eps: f64,
               q: &tickscope_core::hist::Quantiles,
               e: &tickscope_core::hist::Quantiles| {
        let _ = writeln!(
            out,
            "{},{},{},{core},{samples},{lost},{events},{eps},{},{},{},{},{},{},{},{},{},{},{}",
            s.label,
            s.emulation,
            s.mode,
            q.min,
            q.mean,
            q.p50,
            q.p90,
            q.p99,
            q.p999,
            q.p9999,
            q.max,
            e.p50,
            e.max,
            s.tick_cost_ns.map(|v| v.to_string()).unwrap_or_default()
        );
    };
    for c in &s.cores {
        row(
            &mut out,
            &c.core.to_string(),
            c.samples,
            c.lost,
            c.events,
            c.events_per_s,
            &c.latency_ns,
            &c.event_ns,
        );
    }
    row(
        &mut out,
        "all",
        s.samples,
        s.lost,
        s.events,
        s.events_per_s,
        &s.latency_ns,
        &s.event_ns,
    );
    out
}

/// What the x axis of latency plots is, per mode.
pub fn unit_label(mode: &str) -> &'static str {
    match mode {
        "timer" => "wake-up latency (ns, log)",
        _ => "counter-loop gap (ns, log)",
    }
}

/// Plot series of one analysed run.
pub fn series<'a>(a: &'a Analysis, values: &'a Histogram, label: &str) -> Series<'a> {
    let events = a
        .cores
        .values()
        .flat_map(|c| {
            c.timeline
                .iter()
                .map(move |&(at, d, _)| (at as f64 / 1e9, d as f64 / 1e3, c.core))
        })
        .collect();
    Series {
        label: label.to_string(),
        values,
        events,
    }
}

/// Writes the per-run files: `histogram.txt` (cyclictest format), `summary.csv`, and the plots.
pub fn write_run_files(dir: &RunDir, a: &Analysis, s: &Summary, plots: bool) -> Result<()> {
    let cores: Vec<(u16, &Histogram)> = a.cores.values().map(|c| (c.core, &c.acc.values)).collect();
    dir.write("histogram.txt", cyclictest_histogram(&cores).as_bytes())?;
    dir.write("summary.csv", csv(s).as_bytes())?;
    if plots {
        let mut merged = Histogram::new();
        for c in a.cores.values() {
            merged.merge(&c.acc.values);
        }
        let label = format!("{} ({})", s.label, s.emulation);
        let ser = [series(a, &merged, &label)];
        let unit = unit_label(&s.mode);
        plot::draw(
            &dir.path,
            Kind::Ccdf,
            &ser,
            &format!("Tail latency: {}", s.label),
            unit,
        )?;
        plot::draw(
            &dir.path,
            Kind::Histogram,
            &ser,
            &format!("Histogram: {}", s.label),
            unit,
        )?;
        plot::draw(
            &dir.path,
            Kind::Timeline,
            &ser,
            &format!("Noise events: {}", s.label),
            unit,
        )?;
    }
    Ok(())
}

/// A run loaded for a report: its figures and re-decoded data.
pub struct Loaded {
    /// Directory.
    pub dir: RunDir,
    /// Figures (summary.json).
    pub summary: Summary,
    /// Data re-decoded from capture.bin.
    pub analysis: Analysis,
    /// All values merged over cores.
    pub merged: Histogram,
}

/// Loads a run directory (streaming its capture).
pub fn load(path: &Path) -> Result<Loaded> {
    let dir = RunDir::open(path)?;
    let summary = dir.summary()?;
    let mut analysis = Analysis::default();
    let cap = dir.file("capture.bin");
    if cap.is_file() {
        crate::decode::decode_file(&cap, None, &mut analysis)?;
    }
    let mut merged = Histogram::new();
    for c in analysis.cores.values() {
        merged.merge(&c.acc.values);
    }
    Ok(Loaded {
        dir,
        summary,
        analysis,
        merged,
    })
}

/// Markdown table of runs (the report's comparison table).
pub fn markdown_table(runs: &[&Summary]) -> String {
    let mut t = String::from(
        "| run | source | mode | emulation | samples | lost | events | events/s | p50 ns | p90 ns | p99 ns | p99.9 ns | p99.99 ns | max ns | tick cost ns | timer irq/s |\n|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for s in runs {
        let _ = writeln!(
            t,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            s.label,
            s.source,
            s.mode,
            s.emulation,
            s.samples,
            s.lost,
            s.events,
            s.events_per_s,
            s.latency_ns.p50,
            s.latency_ns.p90,
            s.latency_ns.p99,
            s.latency_ns.p999,
            s.latency_ns.p9999,
            s.latency_ns.max,
            s.tick_cost_ns
                .map(|v| v.to_string())
                .unwrap_or_else(|| "-".into()),
            s.timer_irqs_per_s
                .map(|v| v.to_string())
                .unwrap_or_else(|| "-".into()),
        );
    }
    t
}

/// Writes report.md, report.html and the overlaid plots for `runs` into `out`.
pub fn write_report(runs: &[Loaded], out: &Path) -> Result<Vec<std::path::PathBuf>> {
    std::fs::create_dir_all(out)?;
    let series: Vec<Series> = runs
        .iter()
        .map(|r| {
            series(
                &r.analysis,
                &r.merged,
                &format!("{} ({})", r.summary.label, r.summary.emulation),
            )
        })
        .collect();
    let mode = runs
        .first()
        .map(|r| r.summary.mode.clone())
        .unwrap_or_default();
    let unit = unit_label(&mode);
    let plots = [
        (
            Kind::Ccdf,
            "Tail latency (CCDF): fraction of samples above each value",
        ),
        (Kind::Histogram, "Latency histogram"),
        (Kind::Timeline, "Noise events over time"),
    ];
    for (kind, title) in plots {
        plot::draw(out, kind, &series, title, unit)?;
    }
    let summaries: Vec<&Summary> = runs.iter().map(|r| &r.summary).collect();
    let table = markdown_table(&summaries);
    let mut md = String::from("# tickscope report\n\n");
    let _ = writeln!(
        md,
        "Runs: {}\n",
        runs.iter()
            .map(|r| format!("`{}`", r.dir.path.display()))
            .collect::<Vec<_>>()
            .join(", ")
    );
    md += &table;
    md += "\nEvents are gaps (noise mode) or latencies (timer mode) above each run's threshold. Figures \
           labelled `icount` are deterministic instruction-count time; `tcg` figures include host noise.\n\n";
    for (kind, title) in plots {
        let _ = writeln!(md, "## {title}\n\n![{title}]({}.png)\n", kind.stem());
    }
    for r in runs {
        let s = &r.summary;
        let _ = writeln!(md, "## {}\n", s.label);
        let _ = writeln!(
            md,
            "{} on {}, EL{}, GICv{}, {} emulation, {} s window, threshold {} ns, cores {:?}.\n",
            s.source,
            s.board,
            s.el,
            s.gic,
            s.emulation,
            s.duration_s,
            s.threshold_ns,
            s.measured_cores
        );
        if let Some(t) = &s.inject {
            let _ = writeln!(
                md,
                "Injected tick {} Hz × {} ns: {} taken, {} matched noise events, tick cost {} ns, entry+exit overhead {} ns.\n",
                t.hz,
                t.duration_ns,
                t.taken,
                t.matched_events,
                s.tick_cost_ns.map(|v| v.to_string()).unwrap_or("-".into()),
                s.irq_overhead_ns
                    .map(|v| v.to_string())
                    .unwrap_or("-".into())
            );
        }
        if !s.interrupts_per_s.is_empty() {
            md += "| interrupt source on the measured CPU | per second |\n|---|---:|\n";
            for (k, v) in &s.interrupts_per_s {
                let _ = writeln!(md, "| {k} | {v} |");
            }
            md.push('\n');
        }
        if let Some(w) = s.cores.first().map(|c| &c.worst)
            && !w.is_empty()
        {
            md += "| worst event (ns) | at (s) | core |\n|---:|---:|---:|\n";
            for e in w.iter().take(5) {
                let _ = writeln!(
                    md,
                    "| {} | {:.6} | {} |",
                    e.value,
                    e.at as f64 / 1e9,
                    e.core
                );
            }
            md.push('\n');
        }
    }
    let md_path = crate::rundir::write_atomic(&out.join("report.md"), md.as_bytes())?;
    let html = html(&md, out)?;
    let html_path = crate::rundir::write_atomic(&out.join("report.html"), html.as_bytes())?;
    Ok(vec![md_path, html_path])
}

/// A self-contained HTML page: the markdown's tables and text, the PNG plots inlined as data URIs.
fn html(md: &str, dir: &Path) -> Result<String> {
    let mut h = String::from(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>tickscope report</title><style>\
         body{font-family:sans-serif;max-width:1250px;margin:2em auto;color:#222}\
         table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}\
         th{background:#f0f0f0}td:first-child,th:first-child{text-align:left}img{max-width:100%}</style></head><body>\n",
    );
    let mut in_table = false;
    for line in md.lines() {
        if line.starts_with('|') {
            let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
            if cells
                .iter()
                .all(|c| c.chars().all(|ch| ch == '-' || ch == ':'))
            {
                continue;
            }
            if !in_table {
                h += "<table>";
                in_table = true;
                h += "<tr>";
                for c in &cells {
                    let _ = write!(h, "<th>{}</th>", esc(c));
                }
                h += "</tr>\n";
                continue;
            }
            h += "<tr>";
            for c in &cells {
                let _ = write!(h, "<td>{}</td>", esc(c));
            }
            h += "</tr>\n";
            continue;
        }
        if in_table {
            h += "</table>\n";
            in_table = false;
        }
        if let Some(t) = line.strip_prefix("# ") {
            let _ = writeln!(h, "<h1>{}</h1>", esc(t));
        } else if let Some(t) = line.strip_prefix("## ") {
            let _ = writeln!(h, "<h2>{}</h2>", esc(t));
        } else if let Some(rest) = line.strip_prefix("![") {
            let (alt, rest) = rest.split_once("](").unwrap_or((rest, ""));
            let file = rest.trim_end_matches(')');
            let bytes = std::fs::read(dir.join(file))?;
            let b64 = base64::engine::general_purpose::STANDARD.encode(bytes);
            let _ = writeln!(
                h,
                "<p><img alt=\"{}\" src=\"data:image/png;base64,{b64}\"></p>",
                esc(alt)
            );
        } else if !line.trim().is_empty() {
            let _ = writeln!(h, "<p>{}</p>", esc(line).replace('`', ""));
        }
    }
    if in_table {
        h += "</table>\n";
    }
    h += "</body></html>\n";
    Ok(h)
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
