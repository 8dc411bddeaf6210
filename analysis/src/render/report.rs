//! The report of one or more runs, from records in memory: `report.md` (the comparison table led
//! by OS noise, notes on what each figure measures, per-run causes, interrupts and worst events)
//! and a self-contained `report.html` with the plots inlined.

use std::fmt::Write as _;

use anyhow::Result;
use base64::Engine;

use super::artifact::{Artifact, Files};
use super::columns::{self, Row};
use super::plot::{self, Kind, View};
use crate::analysis::summary::Summary;
use crate::record::RunInfo;

/// One run of a report.
pub struct ReportRun<'a> {
    /// run.json.
    pub info: &'a RunInfo,
    /// The run as the plots see it (with its summary).
    pub view: View<'a>,
}

impl ReportRun<'_> {
    fn summary(&self) -> &Summary {
        self.view.summary
    }
}

fn facts_line(info: &RunInfo, s: &Summary) -> String {
    let mut l = format!(
        "{} on {} ({}, {} cores, GICv{}), measured at EL{}, {} emulation, {} s window, threshold {} ns, cores {:?}, counter {} Hz.",
        crate::analysis::summary::source_name::name(s.source),
        if info.board.is_empty() {
            &s.board
        } else {
            &info.board
        },
        if info.cpu.is_empty() {
            "cpu unknown"
        } else {
            &info.cpu
        },
        info.smp,
        if info.gic != 0 { info.gic } else { s.gic },
        s.el,
        s.emulation,
        s.duration_s,
        s.threshold_ns,
        s.measured_cores,
        s.counter_hz
    );
    if let Some(k) = &info.kernel {
        let _ = write!(l, " Kernel {k}");
        if let Some(p) = &info.kernel_package {
            let _ = write!(l, " (package {p})");
        }
        if let Some(c) = &info.kernel_cmdline {
            let _ = write!(l, ", command line `{c}`");
        }
        l.push('.');
    }
    if let Some(q) = &info.qemu_version {
        let _ = write!(l, " QEMU {q}.");
    }
    l
}

/// What the headline table's columns mean (printed under it).
const LEGEND: &str = "\nEach event (a counter-loop gap above the threshold in noise mode, a late wake-up in timer mode) \
           is split into its **OS part** — the net time the measured CPU ran interrupt handlers, softirqs, \
           IPIs or other threads inside it (osnoise's classes; nested time counted once) — and its \
           **hardware part**, the rest, during which the CPU ran nothing of the OS: under QEMU the emulator \
           and the other vCPUs (round-robin under `icount`), on a board the hardware, firmware or a \
           hypervisor. Columns: *OS ev/s* counts OS episodes per second (OS pieces less than the \
           threshold apart; an event holds several when hardware time separates them), *OS ns/s* all \
           OS time per second, *OS max* the largest episode's OS time; *HW ev/s* counts hardware \
           stretches reaching the threshold, *HW ns/s* all hardware time per second (shorter slivers \
           included), *HW max* the longest stretch; *tmr irq/s* the measured CPU's timer interrupts \
           besides a timer-mode run's own wake-ups; *tick* the median extent of the episodes the \
           timer interrupt ran in (its OS time with the short hardware time around it), *tick OS* \
           their OS part; *CPU %* 100 × (1 − time in events / window); *events* and *ev max* the \
           events and the largest; *lost* records lost on the device; *blind* the probe's own time \
           (recording events, checkpoints); *loop ns* the loop's own cost per iteration (noise \
           mode: the window less the time in events, over the iterations outside them; under \
           `icount` its instruction count). Figures \
           labelled `icount` are deterministic instruction-count time; `tcg` figures include host noise.\n\n";

/// What the peers' table shows (printed above it).
const PEERS_NOTE: &str = "Run by the probe on the same CPU right after its window, each for the same duration \
               (rt-tests from Debian's arm64 package). Their values are whole microseconds; *events/s* \
               counts their samples at or above the threshold (rounded up to a microsecond), ours our \
               events, each whatever ran in it: only the probe splits its events into *OS ev/s* and \
               *HW ev/s* (hardware or emulator), the peers cannot (`n/a`); *timer irq/s* is the CPU's timer interrupt rate over each one's own run \
               (cyclictest's includes its own wake-ups). The peers' tails are dashed in the tail plot.\n\n";

/// report.md for these runs (plots referenced by file name).
pub fn markdown(runs: &[ReportRun]) -> String {
    let summaries: Vec<&Summary> = runs.iter().map(|r| r.summary()).collect();
    let rows: Vec<Row> = summaries.iter().map(|s| Row::run(s)).collect();
    let mut md = String::from("# tickscope report\n\n");
    let _ = writeln!(
        md,
        "Runs: {}\n",
        runs.iter()
            .map(|r| format!("`{}`", r.summary().label))
            .collect::<Vec<_>>()
            .join(", ")
    );
    md += &finding(&summaries);
    md += "## OS noise and hardware/emulator noise\n\n";
    md += &columns::markdown(&columns::headline(&summaries), &rows);
    md += "\nThe other figures of each run:\n\n";
    md += &columns::markdown(&columns::details(&summaries), &rows);
    md += LEGEND;
    peers_section(&mut md, &summaries);
    super::load::section(&mut md, &summaries);
    for kind in Kind::ALL {
        let _ = writeln!(
            md,
            "## {}\n\n![{}]({}.png)\n",
            kind.title(),
            kind.title(),
            kind.stem()
        );
    }
    for r in runs {
        run_section(&mut md, r);
    }
    md
}

/// The peers' table and whether they agree with the probe, when peers ran.
fn peers_section(md: &mut String, summaries: &[&Summary]) {
    let Some((head, rows)) = crate::render::peers_rows(summaries) else {
        return;
    };
    *md += "## Peers: oslat and cyclictest in the same VM\n\n";
    *md += PEERS_NOTE;
    let _ = writeln!(md, "| {} |", head.join(" | "));
    let _ = writeln!(
        md,
        "|{}",
        head.iter()
            .enumerate()
            .map(|(i, _)| if i < 3 { "---|" } else { "---:|" })
            .collect::<String>()
    );
    for r in rows {
        let _ = writeln!(md, "| {} |", r.join(" | ").replace('\n', " "));
    }
    md.push('\n');
    for s in summaries {
        for n in &s.peer_notes {
            let _ = writeln!(md, "**Disagreement ({})**: {n}\n", s.label);
        }
        if !s.peers.is_empty() && s.peer_notes.is_empty() {
            let _ = writeln!(
                md,
                "{}: the probe and its peers agree within what their loops explain.\n",
                s.label
            );
        }
    }
}

/// One run's section: its facts, problems, window start, attribution by cause, injected tick,
/// interrupt sources, coverage and worst events.
fn run_section(md: &mut String, r: &ReportRun) {
    let s = r.summary();
    let _ = writeln!(md, "## {}\n", s.label);
    let _ = writeln!(md, "{}\n", facts_line(r.info, s));
    if let Some(p) = &s.partial {
        let _ = writeln!(
            md,
            "**Partial run**: the figures cover {:.3} s of the {:.3} s window.\n",
            p.covered_s, p.window_s
        );
    }
    for p in &r.info.problems {
        let _ = writeln!(md, "Problem: {p}\n");
    }
    if s.mode == tickscope_core::Mode::Noise {
        window_start_note(md, s.late_start_ns);
    }
    attribution_table(md, s);
    if let Some(t) = &s.inject {
        let _ = writeln!(
            md,
            "Injected tick {} Hz × {} ns: {} taken, {} events it ran in, tick cost {} ns, entry + exit around its busy time {} ns, handler wake-up latency {} ns.\n",
            t.hz,
            t.duration_ns,
            t.taken,
            t.matched_events,
            opt(s.tick_cost_ns),
            opt(s.irq_overhead_ns),
            opt(t.entry_ns)
        );
    }
    if !s.interrupts_per_s.is_empty() {
        *md += "| interrupt source on the measured CPU (/proc/interrupts) | per second |\n|---|---:|\n";
        for (k, v) in &s.interrupts_per_s {
            let _ = writeln!(md, "| {k} | {v} |");
        }
        md.push('\n');
    }
    if let Some(c) = &s.attribution_coverage {
        *md += &coverage_table(c);
    }
    worst_table(md, s);
}

/// Noise mode: whether the loop was running when the window opened.
fn window_start_note(md: &mut String, late_start_ns: Option<u64>) {
    match late_start_ns {
        Some(ns) => {
            let _ = writeln!(
                md,
                "Window start: the measuring loop was not yet running when the window opened; its first gap ({ns} ns, from the opening) is counted as an event (flagged, not excluded).\n"
            );
        }
        None => {
            *md += "Window start: the measuring loop was running when the window opened (no start-up transient).\n\n"
        }
    }
}

/// How the run was attributed, and its causes.
fn attribution_table(md: &mut String, s: &Summary) {
    let a = &s.attributed;
    let _ = write!(md, "Attribution: `{}`", a.attribution);
    if !a.attribution_note.is_empty() {
        let _ = write!(md, " ({})", a.attribution_note);
    }
    let _ = writeln!(
        md,
        ". The measuring loop was blind for {} ns in all (recording its events).\n",
        a.blind_ns
    );
    if a.causes.is_empty() {
        return;
    }
    *md +=
        "| cause | kind | events | events/s | total ns | max ns |\n|---|---|---:|---:|---:|---:|\n";
    for c in &a.causes {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} |",
            c.name.replace('|', "/"),
            c.kind,
            c.events,
            c.events_per_s,
            c.total_ns,
            c.max_ns
        );
    }
    md.push('\n');
}

/// The run's eight largest events, each with what it was in time order.
fn worst_table(md: &mut String, s: &Summary) {
    let mut worst: Vec<_> = s.cores.iter().flat_map(|c| c.worst.iter()).collect();
    worst.sort_by(|a, b| {
        b.event
            .value
            .cmp(&a.event.value)
            .then(a.event.at.cmp(&b.event.at))
    });
    if worst.is_empty() {
        return;
    }
    *md +=
        "| worst event (ns) | at (s) | core | what it was, in time order |\n|---:|---:|---:|---|\n";
    for w in worst.iter().take(8) {
        let _ = writeln!(
            md,
            "| {} | {:.6} | {} | {} |",
            w.event.value,
            w.event.at as f64 / 1e9,
            w.event.core,
            crate::analysis::explain::describe(&w.pieces)
        );
    }
    md.push('\n');
}

/// What the attribution was built from: per source counted, traced, inside events.
/// The report's first sentence: what the runs found, in numbers: each run's OS events per second
/// (with its tick), and for a run without a tick beside one with, what remains on its CPU.
fn finding(runs: &[&Summary]) -> String {
    let os = |s: &Summary| s.attributed.os_noise.as_ref().map(|n| n.events_per_s);
    let hw = |s: &Summary| s.attributed.hw_noise.as_ref().map(|n| n.events_per_s);
    let tick = |s: &Summary| s.tick_events_per_s.filter(|&t| t > 0.0);
    let mut parts = vec![];
    for s in runs {
        let Some(o) = os(s) else {
            parts.push(format!("`{}` has no attribution", s.label));
            continue;
        };
        let t = tick(s)
            .map(|t| format!(", a {t:.0}/s timer tick among them"))
            .unwrap_or_default();
        parts.push(format!("`{}` {o:.1} OS events/s{t}", s.label));
    }
    let mut line = format!("In one line: {}.", parts.join("; "));
    if let Some(with) = runs.iter().find(|s| tick(s).is_some()) {
        for s in runs.iter().filter(|s| tick(s).is_none() && os(s).is_some()) {
            let what = crate::analysis::summary::hw_cause_name(s.emulation);
            let _ = write!(
                line,
                " `{}` has no tick where `{}` has {:.0}/s; what remains on its CPU is {:.1}/s of {what} noise.",
                s.label,
                with.label,
                tick(with).unwrap_or(0.0),
                hw(s).unwrap_or(0.0)
            );
        }
    }
    line + "\n\n"
}

fn coverage_table(c: &crate::analysis::coverage::Coverage) -> String {
    let pct = |v: Option<f64>| v.map_or("n/a".to_string(), |v| format!("{:.1} %", v * 100.0));
    let n = |v: Option<u64>| v.map_or("-".to_string(), |v| v.to_string());
    let mut md = format!(
        "Attribution coverage (noise mode: handler entries inside events; timer mode: in the trace, \
         per interrupt the kernel counted): the timer {}, all traced sources {}.\n\n\
         | interrupt source | counted (/proc/interrupts) | traced | inside events |\n|---|---:|---:|---:|\n",
        pct(c.timer),
        pct(c.overall)
    );
    for s in &c.sources {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} |",
            s.name,
            s.counted,
            n(s.traced),
            n(s.in_events)
        );
    }
    md.push('\n');
    md
}

fn opt(v: Option<u64>) -> String {
    v.map(|v| v.to_string()).unwrap_or_else(|| "-".into())
}

/// The report's files, put into `files` as made: the plots for `runs`, report.md and
/// report.html (which inlines the PNGs, so those are kept until it is made).
pub fn render(runs: &[ReportRun], opts: &plot::PlotOptions, files: &mut dyn Files) -> Result<()> {
    let views: Vec<View> = runs
        .iter()
        .map(|r| View {
            summary: r.view.summary,
            values: r.view.values.clone(),
            splits: r.view.splits,
            peers: r.view.peers.clone(),
        })
        .collect();
    let mut pngs = KeepPngs {
        pngs: Vec::new(),
        next: files,
    };
    for kind in Kind::ALL {
        plot::draw(kind, &views, opts, &mut pngs)?;
    }
    let md = markdown(runs);
    let html = html(&md, &pngs.pngs)?;
    files.put(Artifact::new("report.md", md))?;
    files.put(Artifact::new("report.html", html))
}

/// Passes files on, keeping a copy of the PNGs (the HTML inlines them).
struct KeepPngs<'a> {
    pngs: Vec<Artifact>,
    next: &'a mut dyn Files,
}

impl Files for KeepPngs<'_> {
    fn put(&mut self, file: Artifact) -> Result<()> {
        if file.name.ends_with(".png") {
            self.pngs.push(file.clone());
        }
        self.next.put(file)
    }
}

/// A self-contained HTML page: the markdown's tables and text, the PNG plots (`pngs`) inlined as
/// data URIs.
fn html(md: &str, pngs: &[Artifact]) -> Result<String> {
    use pulldown_cmark::{CowStr, Event, Options, Parser, Tag};
    let mut h = String::from(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>tickscope report</title><style>\
         body{font-family:sans-serif;max-width:1400px;margin:2em auto;padding:0 1em;color:#222}\
         table{border-collapse:collapse;margin:1em 0;display:block;overflow-x:auto;font-size:0.85em}\
         td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}td{white-space:nowrap}td:last-child{white-space:normal}\
         th{background:#f0f0f0;vertical-align:bottom}td:first-child,th:first-child{text-align:left}img{max-width:100%}\
         p.finding{font-size:1.1em;background:#f6f8fa;border-left:4px solid #4a7;padding:0.6em 1em}</style></head><body>\n",
    );
    // Plots are referenced by file name in report.md; the HTML carries them inline.
    let mut failed = None;
    let events = Parser::new_ext(md, Options::ENABLE_TABLES).map(|e| match e {
        Event::Start(Tag::Image {
            link_type,
            dest_url,
            title,
            id,
        }) => {
            let inline = match pngs.iter().find(|f| f.name == dest_url.as_ref()) {
                Some(f) => format!(
                    "data:image/png;base64,{}",
                    base64::engine::general_purpose::STANDARD.encode(&f.bytes)
                ),
                None => {
                    failed.get_or_insert(format!("{dest_url}: no such plot"));
                    dest_url.to_string()
                }
            };
            Event::Start(Tag::Image {
                link_type,
                dest_url: CowStr::from(inline),
                title,
                id,
            })
        }
        other => other,
    });
    pulldown_cmark::html::push_html(&mut h, events);
    if let Some(f) = failed {
        anyhow::bail!("inlining a plot into report.html: {f}");
    }
    // The opening finding stands out.
    let h = h.replacen("<p>In one line:", "<p class=\"finding\">In one line:", 1);
    Ok(h + "</body></html>\n")
}
