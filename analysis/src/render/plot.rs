//! Plots with `plotters`, as PNG and SVG, drawn from runs held in memory:
//! - `ccdf`: events per second whose OS part (solid) or hardware/emulator part (faint) is above
//!   each duration, one curve pair per run: the tail the user came for, with the noise that is
//!   not the OS's kept apart; peers run in the same VM (oslat, cyclictest) dashed, whole events;
//! - `causes`: noise time per second by cause, one stacked bar per run;
//! - `timeline`: each event over the window, coloured by its largest cause, one panel per run;
//! - `histogram`: the distribution of all values (latencies or loop gaps) as steps;
//! - `latency_1us`: the same values in OSADL's form (linear 1 µs bins, log counts, the worst case
//!   marked), with its data in `latency_1us.json`;
//! - `maxima`: the largest event per interval of the window, over time (its data: `maxima`).
//!
//! The font is embedded (DejaVu Sans), so no system font is needed.

use std::collections::BTreeMap;
use std::sync::Once;

use anyhow::{Result, anyhow};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::FontStyle;
use tickscope_core::hist::{Histogram, bucket_range};

use super::artifact::{Artifact, Files};
use super::band;
use super::legend::{self, Entry, Mark};
use super::maxima;
use crate::analysis::summary::{CoreSplits, Summary, hw_cause_name};

/// Pixel size of every plot.
pub const SIZE: (u32, u32) = (1200, 700);

static FONT: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");
static REGISTER: Once = Once::new();

pub(crate) fn register_font() {
    REGISTER.call_once(|| {
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, FONT);
        let _ = plotters::style::register_font("sans-serif", FontStyle::Bold, FONT);
    });
}

/// One run as the plots need it.
pub struct View<'a> {
    /// The run's figures (label, mode, emulation, counter, window).
    pub summary: &'a Summary,
    /// All values (latencies or loop gaps), ns, merged over cores.
    pub values: Histogram,
    /// Events split into causes, per core.
    pub splits: &'a [CoreSplits],
    /// The peers' tails (`--peers`): per tool, (duration ns, its samples per second at least
    /// that long), drawn dashed beside the run's own curves.
    pub peers: Vec<(String, Vec<(f64, f64)>)>,
}

impl View<'_> {
    fn label(&self) -> String {
        format!("{} ({})", self.summary.label, self.summary.emulation)
    }

    fn hz(&self) -> f64 {
        self.summary.counter_hz.max(1) as f64
    }

    fn ns(&self, ticks: u64) -> f64 {
        ticks as f64 * 1e9 / self.hz()
    }

    /// Window summed over cores, seconds (rates are per core).
    fn core_seconds(&self) -> f64 {
        (self.summary.duration_s * self.summary.cores.len().max(1) as f64).max(1e-9)
    }

    fn attributed(&self) -> bool {
        self.summary.attributed.os_noise.is_some()
    }

    /// (OS episodes, hardware stretches) of every event, ns, each with how many it stands for:
    /// the kept splits one by one, or a core's whole histograms when it kept only some.
    fn parts(&self) -> (Parts, Parts) {
        let mut os = Vec::new();
        let mut hw = Vec::new();
        for c in self.splits {
            if let Some(w) = &c.whole {
                os.extend(weighted(&w.os));
                hw.extend(weighted(&w.hw));
                continue;
            }
            for s in &c.splits {
                os.extend(s.episodes(c.threshold).iter().map(|e| (self.ns(e.os), 1)));
                hw.extend(s.hw_runs().iter().map(|&r| (self.ns(r), 1)));
            }
        }
        (os, hw)
    }

    /// Every whole event, ns (a run without attribution), as [`View::parts`] gives parts.
    fn whole_events(&self) -> Parts {
        let mut all = Vec::new();
        for c in self.splits {
            match &c.whole {
                Some(w) => all.extend(weighted(&w.events)),
                None => all.extend(c.splits.iter().map(|s| (self.ns(s.len), 1))),
            }
        }
        all
    }
}

/// Values, each with how many it stands for.
type Parts = Vec<(f64, u64)>;

/// A histogram's values: each bucket's midpoint (within 0.4 %, inside the recorded range) with
/// its count, and the values past its range at its maximum.
fn weighted(h: &Histogram) -> impl Iterator<Item = (f64, u64)> + '_ {
    let (lo, hi) = (h.min().unwrap_or(0), h.max().unwrap_or(0));
    h.buckets()
        .map(move |(i, n)| {
            let (start, w) = bucket_range(i);
            ((start + (w - 1) / 2).clamp(lo, hi) as f64, n)
        })
        .chain((h.overflow() > 0).then(|| (hi as f64, h.overflow())))
}

const COLORS: [RGBColor; 8] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(120, 70, 20),
    RGBColor(160, 30, 60),
];
const HW_GREY: RGBColor = RGBColor(150, 150, 150);

fn err<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow!("{e:?}")
}

/// Points a tail curve keeps at most (twice this): beyond, it is thinned to the first and last
/// point of each of this many equal steps of log duration, which the plot's width cannot tell
/// apart, so its size does not grow with the run's events.
const CURVE_CELLS: usize = 2000;

/// A step curve thinned to [`CURVE_CELLS`] cells of log duration (first and last point of each).
fn thinned(pts: Vec<(f64, f64)>) -> Vec<(f64, f64)> {
    if pts.len() <= 2 * CURVE_CELLS {
        return pts;
    }
    let (lo, hi) = pts.iter().fold((f64::MAX, f64::MIN), |(lo, hi), p| {
        let x = p.0.max(1e-9).ln();
        (lo.min(x), hi.max(x))
    });
    let width = ((hi - lo) / CURVE_CELLS as f64).max(1e-12);
    let cell = |p: &(f64, f64)| ((p.0.max(1e-9).ln() - lo) / width) as usize;
    let mut out: Vec<(f64, f64)> = Vec::with_capacity(2 * CURVE_CELLS + 2);
    for (i, p) in pts.iter().enumerate() {
        let first = i == 0 || cell(&pts[i - 1]) != cell(p);
        let last = i + 1 == pts.len() || cell(&pts[i + 1]) != cell(p);
        if first || last {
            out.push(*p);
        }
    }
    out
}

/// (duration, events per second at least that long): a step curve.
pub fn rate_above(parts: &[(f64, u64)], seconds: f64) -> Vec<(f64, f64)> {
    let mut v = parts.to_vec();
    v.sort_by(|a, b| b.0.partial_cmp(&a.0).unwrap_or(std::cmp::Ordering::Equal));
    let mut pts = Vec::with_capacity(v.len() * 2);
    let mut above = 0u64;
    for (x, n) in v {
        if above > 0 {
            pts.push((x, above as f64 / seconds));
        }
        above += n;
        pts.push((x, above as f64 / seconds));
    }
    thinned(pts)
}

type Curve = Vec<(f64, f64)>;
/// A chart with both axes logarithmic.
type LogChart<'a, DB> = ChartContext<'a, DB, Cartesian2d<LogCoord<f64>, LogCoord<f64>>>;

fn draw_ccdf<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    runs: &[View],
    title: &str,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(err)?;
    let curves: Vec<(Curve, Curve)> = runs.iter().map(ccdf_curves).collect();
    let peer_pts = runs
        .iter()
        .flat_map(|r| r.peers.iter().flat_map(|(_, c)| c.iter()));
    let pts = curves
        .iter()
        .flat_map(|(a, b)| a.iter().chain(b))
        .chain(peer_pts);
    let (x_range, y_range) = log_ranges(pts);
    // The legend goes below the plot, never over its curves (a tail curve can pass anywhere).
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 24))
        .margin(20)
        .margin_bottom(20 + legend_height(runs))
        .x_label_area_size(50)
        .y_label_area_size(80)
        .build_cartesian_2d(x_range.log_scale(), y_range.log_scale())
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("event part at least this long (log)")
        .y_desc("events per second (log)")
        .x_label_formatter(&|v| fmt_ns(*v))
        .y_label_formatter(&|v| fmt_rate(*v))
        .label_style(("sans-serif", 16))
        .draw()
        .map_err(err)?;
    let mut entries = Vec::new();
    for (i, (r, (os, hw))) in runs.iter().zip(&curves).enumerate() {
        entries.extend(draw_ccdf_run(
            &mut chart,
            COLORS[i % COLORS.len()],
            r,
            os,
            hw,
        )?);
    }
    legend_below(root, &chart.plotting_area().strip_coord_spec(), &entries)
}

/// Height added below the tail plot for its legend, px: room for every curve a run can have
/// (OS noise, or all events, when it had events; hardware noise when attributed; each peer).
fn legend_height(runs: &[View]) -> u32 {
    let rows: usize = runs
        .iter()
        .map(|r| {
            usize::from(r.summary.events > 0) * (1 + usize::from(r.attributed())) + r.peers.len()
        })
        .sum();
    rows as u32 * legend::ROW as u32 + 16
}

/// Height added below a plot with one legend entry per run (histogram, OSADL, maxima), px.
fn run_legend_height(runs: &[View]) -> u32 {
    runs.len() as u32 * legend::ROW as u32 + 16
}

/// Draws `entries` below the chart's plotting area (under its x axis's labels and description)
/// and writes the plot out.
fn legend_below<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    plot: &DrawingArea<DB, Shift>,
    entries: &[Entry],
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let ((x, y), (_, h)) = (plot.get_base_pixel(), plot.dim_in_pixel());
    legend::draw(root, (x, y + h as i32 + 60), entries)?;
    root.present().map_err(err)?;
    Ok(())
}

/// A run's line in a legend.
fn run_entry(text: String, color: RGBColor) -> Entry {
    Entry {
        text,
        style: color.stroke_width(3),
        mark: Mark::Line,
    }
}

/// A run's OS-noise and hardware-noise tail curves (all events, when the run is not attributed).
fn ccdf_curves(r: &View) -> (Curve, Curve) {
    let secs = r.core_seconds();
    if r.attributed() {
        let (os, hw) = r.parts();
        (rate_above(&os, secs), rate_above(&hw, secs))
    } else {
        (rate_above(&r.whole_events(), secs), vec![])
    }
}

/// Axis ranges around the points, with room on both sides (defaults when there are none).
fn log_ranges<'p>(
    pts: impl Iterator<Item = &'p (f64, f64)>,
) -> (std::ops::Range<f64>, std::ops::Range<f64>) {
    let (mut xmin, mut xmax, mut ymin, mut ymax) = (f64::MAX, 10.0f64, f64::MAX, 1.0f64);
    for &(x, y) in pts {
        xmin = xmin.min(x);
        xmax = xmax.max(x);
        ymin = ymin.min(y);
        ymax = ymax.max(y);
    }
    if xmin == f64::MAX {
        xmin = 100.0;
        ymin = 0.1;
    }
    (
        (xmin.max(1.0) / 1.5)..(xmax * 1.5),
        (ymin.min(1.0) / 2.0)..(ymax * 2.0),
    )
}

/// One run's curves: OS noise solid, its peers dashed, hardware/emulator noise faint.
fn draw_ccdf_run<DB: DrawingBackend>(
    chart: &mut LogChart<'_, DB>,
    color: RGBColor,
    r: &View,
    os: &Curve,
    hw: &Curve,
) -> Result<Vec<Entry>>
where
    DB::ErrorType: 'static,
{
    let name = if r.attributed() {
        format!("{}: OS noise", r.label())
    } else {
        format!("{}: all events (no attribution)", r.label())
    };
    let mut entries = Vec::new();
    if !os.is_empty() {
        let style = color.stroke_width(3);
        chart
            .draw_series(LineSeries::new(os.clone(), style))
            .map_err(err)?;
        entries.push(Entry {
            text: name,
            style,
            mark: Mark::Line,
        });
    }
    for (k, (tool, curve)) in r.peers.iter().enumerate() {
        // Same colour as the run, dashed; a second peer with shorter dashes.
        let style = color.stroke_width(2);
        let dash = if k == 0 { 10 } else { 4 };
        chart
            .draw_series(DashedLineSeries::new(curve.clone(), dash, 5, style))
            .map_err(err)?;
        entries.push(Entry {
            text: format!(
                "{}: {tool} (same VM, after the probe; all samples)",
                r.label()
            ),
            style,
            mark: Mark::Dash(dash as i32),
        });
    }
    if !hw.is_empty() {
        let style = color.mix(0.35).stroke_width(2);
        chart
            .draw_series(LineSeries::new(hw.clone(), style))
            .map_err(err)?;
        entries.push(Entry {
            text: format!(
                "{}: {} noise",
                r.label(),
                hw_cause_name(r.summary.emulation)
            ),
            style,
            mark: Mark::Line,
        });
    }
    Ok(entries)
}

/// Stable colour of a cause name; hardware/emulator noise is grey.
fn cause_color(name: &str, palette: &BTreeMap<String, RGBColor>) -> RGBColor {
    palette.get(name).copied().unwrap_or(HW_GREY)
}

/// Colours for the causes of these runs, most time first (at most 7 named, the rest "other").
fn palette(runs: &[View]) -> (BTreeMap<String, RGBColor>, Vec<String>) {
    let mut total: BTreeMap<String, u64> = BTreeMap::new();
    for r in runs {
        for c in r
            .summary
            .attributed
            .causes
            .iter()
            .filter(|c| c.kind != "hw")
        {
            *total.entry(c.name.clone()).or_insert(0) += c.total_ns;
        }
    }
    let mut names: Vec<(String, u64)> = total.into_iter().collect();
    names.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut p = BTreeMap::new();
    let mut order = Vec::new();
    for (i, (n, _)) in names.iter().enumerate().take(COLORS.len() - 1) {
        p.insert(n.clone(), COLORS[i]);
        order.push(n.clone());
    }
    if names.len() >= COLORS.len() {
        p.insert("other".into(), COLORS[COLORS.len() - 1]);
        order.push("other".into());
    }
    (p, order)
}

fn named<'b>(name: &'b str, p: &BTreeMap<String, RGBColor>) -> &'b str {
    if p.contains_key(name) { name } else { "other" }
}

fn draw_causes<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    runs: &[View],
    title: &str,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(err)?;
    let (pal, order) = palette(runs);
    let bars: Vec<Vec<Segment>> = runs.iter().map(|r| cause_bar(r, &pal, &order)).collect();
    let ymax = bars
        .iter()
        .map(|b| b.iter().map(|s| s.1).sum::<f64>())
        .fold(1.0, f64::max)
        * 1.15;
    let n = runs.len().max(1) as f64;
    // The legend goes beside the bars, never over them.
    let entries = cause_entries(&bars);
    let legend_w = legend::size(root, &entries)?.0;
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 24))
        .margin(20)
        .margin_right(36 + legend_w)
        .x_label_area_size(50)
        .y_label_area_size(90)
        .build_cartesian_2d(0.0..n, 0.0..ymax)
        .map_err(err)?;
    let labels: Vec<String> = runs.iter().map(|r| r.label()).collect();
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(runs.len().max(1) * 2 + 1)
        .x_label_formatter(&|x| {
            let i = (*x - 0.5).round();
            if (x - 0.5 - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < labels.len() {
                labels[i as usize].clone()
            } else {
                String::new()
            }
        })
        .y_desc("noise time per second of window")
        .y_label_formatter(&|v| format!("{}/s", fmt_ns(*v)))
        .label_style(("sans-serif", 16))
        .draw()
        .map_err(err)?;
    for (i, segs) in bars.iter().enumerate() {
        let mut y = 0.0;
        for (_, ns, color) in segs.iter().filter(|s| s.1 > 0.0) {
            let rect = Rectangle::new(
                [(i as f64 + 0.2, y), (i as f64 + 0.8, y + ns)],
                color.filled(),
            );
            y += ns;
            chart.draw_series(std::iter::once(rect)).map_err(err)?;
        }
    }
    let plot = chart.plotting_area();
    let ((x, y), (w, _)) = (plot.get_base_pixel(), plot.dim_in_pixel());
    legend::draw(root, (x + w as i32 + 16, y), &entries)?;
    root.present().map_err(err)?;
    Ok(())
}

/// The causes that have time in some bar, in the order they first appear (bottom up, run by run).
fn cause_entries(bars: &[Vec<Segment>]) -> Vec<Entry> {
    let mut entries: Vec<Entry> = Vec::new();
    for (name, _, color) in bars.iter().flatten().filter(|s| s.1 > 0.0) {
        if !entries.iter().any(|e| &e.text == name) {
            entries.push(Entry {
                text: name.clone(),
                style: color.filled(),
                mark: Mark::Box,
            });
        }
    }
    entries
}

/// One stacked segment: a cause, its noise time per second, its colour.
type Segment = (String, f64, RGBColor);

/// A run's bar: OS causes in palette order, then the hardware/emulator share.
fn cause_bar(r: &View, pal: &BTreeMap<String, RGBColor>, order: &[String]) -> Vec<Segment> {
    let secs = r.core_seconds();
    let mut by: BTreeMap<String, f64> = BTreeMap::new();
    let mut hw = 0.0;
    for c in &r.summary.attributed.causes {
        if c.kind == "hw" {
            hw += c.total_ns as f64 / secs;
        } else {
            *by.entry(named(&c.name, pal).to_string()).or_insert(0.0) += c.total_ns as f64 / secs;
        }
    }
    let mut v: Vec<Segment> = order
        .iter()
        .filter_map(|n| by.get(n).map(|&ns| (n.clone(), ns, cause_color(n, pal))))
        .collect();
    v.push((hw_cause_name(r.summary.emulation).into(), hw, HW_GREY));
    v
}

fn draw_timeline<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    runs: &[View],
    title: &str,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(err)?;
    let (pal, _) = palette(runs);
    let root = root.titled(title, ("sans-serif", 24)).map_err(err)?;
    let panels = root.split_evenly((runs.len().max(1), 1));
    let dots: Vec<Vec<Dot>> = runs.iter().map(|r| timeline_points(r, &pal)).collect();
    let legends: Vec<Vec<Entry>> = dots.iter().map(|d| timeline_legend(d, &pal)).collect();
    // Each panel's legend beside its dots; the panels keep one width, so their time axes align.
    let mut legend_w = 0;
    for entries in legends.iter().filter(|e| !e.is_empty()) {
        legend_w = legend_w.max(legend::size(&root, entries)?.0 + 16);
    }
    for (((r, area), pts), entries) in runs.iter().zip(panels.iter()).zip(&dots).zip(&legends) {
        draw_timeline_panel(area, r, pts, (entries, legend_w))?;
    }
    root.present().map_err(err)?;
    Ok(())
}

/// The colour of a timeline dot's key.
fn dot_color(key: &str, pal: &BTreeMap<String, RGBColor>) -> RGBColor {
    if key == "unattributed" {
        BLACK
    } else {
        cause_color(key, pal)
    }
}

/// A panel's legend: its dots' keys, sorted.
fn timeline_legend(pts: &[Dot], pal: &BTreeMap<String, RGBColor>) -> Vec<Entry> {
    let keys: std::collections::BTreeSet<&str> = pts.iter().map(|p| p.2.as_str()).collect();
    keys.into_iter()
        .map(|k| Entry {
            text: k.to_string(),
            style: dot_color(k, pal).filled(),
            mark: Mark::Dot,
        })
        .collect()
}

/// A timeline point: seconds into the window, the event in µs, its colour key (largest cause).
type Dot = (f64, f64, String);

/// Dot cells across a timeline panel: a dot per occupied cell and colour is the picture at the
/// plot's resolution (cells about a dot's size), so the plot's size is bounded by its cells, not
/// by the run's events. (1200 × 100 a decade made a 90 s TCG run's 1 M events 15 MB of SVG;
/// 500 × 25 keeps a panel's densest decade to 12,500 dots a colour.)
const TIMELINE_COLUMNS: f64 = 500.0;
/// Dot cells per decade of event length.
const TIMELINE_ROWS_PER_DECADE: f64 = 25.0;

/// Every event of a run as a dot, keyed by its largest cause (or the hardware/emulator share
/// when that is larger; `unattributed` when the run is not attributed): one dot per occupied
/// cell of [`TIMELINE_COLUMNS`] × [`TIMELINE_ROWS_PER_DECADE`] and key.
fn timeline_points(r: &View, pal: &BTreeMap<String, RGBColor>) -> Vec<Dot> {
    let mut pts: Vec<Dot> = Vec::new();
    let mut cells: BTreeMap<String, std::collections::HashSet<(i64, i64)>> = BTreeMap::new();
    let hw_name = hw_cause_name(r.summary.emulation);
    let window = r.summary.duration_s.max(1e-9);
    for c in r.splits {
        for s in &c.splits {
            let t = (s.start.saturating_sub(c.window_start)) as f64 / r.hz();
            let key = match s.causes().first() {
                Some(&(id, ticks)) if ticks >= s.hw() => named(c.causes.get(id).0, pal),
                _ if r.attributed() => hw_name,
                _ => "unattributed",
            };
            let us = r.ns(s.len) / 1e3;
            let cell = (
                (t / window * TIMELINE_COLUMNS) as i64,
                (us.max(1e-9).log10() * TIMELINE_ROWS_PER_DECADE).floor() as i64,
            );
            let new = match cells.get_mut(key) {
                Some(seen) => seen.insert(cell),
                None => {
                    cells.insert(key.to_string(), [cell].into());
                    true
                }
            };
            if new {
                pts.push((t, us, key.to_string()));
            }
        }
    }
    pts
}

/// A timeline panel's caption: the run, and when a core kept only some of its events (a long
/// run), which part the dots are.
fn timeline_caption(r: &View) -> String {
    let (mut kept, mut all, mut to) = (0u64, 0u64, 0.0f64);
    for c in r.splits {
        kept += c.splits.len() as u64;
        let Some(w) = &c.whole else {
            all += c.splits.len() as u64;
            continue;
        };
        all += w.events.count();
        if let Some(s) = c.splits.last() {
            to = to.max((s.start.saturating_sub(c.window_start)) as f64 / r.hz());
        }
    }
    if r.splits.iter().all(|c| c.whole.is_none()) {
        return r.label();
    }
    format!(
        "{}: the first {kept} of {all} events (to {to:.1} s)",
        r.label()
    )
}

/// One run's panel: its dots by colour key, or a note when it had no events.
fn draw_timeline_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    r: &View,
    pts: &[Dot],
    (entries, legend_w): (&[Entry], u32),
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let tmax = r.summary.duration_s.max(0.01) * 1.02;
    let dmax = pts.iter().map(|p| p.1).fold(1.0, f64::max) * 2.0;
    let dmin = pts
        .iter()
        .map(|p| p.1)
        .fold(f64::MAX, f64::min)
        .clamp(0.01, dmax / 10.0)
        / 2.0;
    let mut chart = ChartBuilder::on(area)
        .caption(timeline_caption(r), ("sans-serif", 18))
        .margin(10)
        .margin_right(10 + legend_w)
        .x_label_area_size(35)
        .y_label_area_size(70)
        .build_cartesian_2d(0.0..tmax, (dmin..dmax).log_scale())
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("time since the window opened (s)")
        .y_desc("event (µs)")
        .label_style(("sans-serif", 14))
        .draw()
        .map_err(err)?;
    for e in entries {
        chart
            .draw_series(
                pts.iter()
                    .filter(|p| p.2 == e.text)
                    .map(|p| Circle::new((p.0, p.1), 2, e.style.color.filled())),
            )
            .map_err(err)?;
    }
    if pts.is_empty() {
        chart
            .draw_series(std::iter::once(Text::new(
                "no events above the threshold",
                (tmax * 0.4, (dmin * dmax).sqrt()),
                ("sans-serif", 18),
            )))
            .map_err(err)?;
        return Ok(());
    }
    let plot = chart.plotting_area();
    let ((x, y), (w, _)) = (plot.get_base_pixel(), plot.dim_in_pixel());
    let (ax, ay) = area.get_base_pixel();
    legend::draw(area, (x - ax + w as i32 + 16, y - ay), entries)
}

/// Where the histogram's outlines start and end on its log axis.
const HISTOGRAM_FLOOR: f64 = 0.5;

/// Bars as steps: each run of neighbouring occupied buckets is one outline rising from the floor
/// and falling back to it; nothing is drawn across empty buckets.
fn outlines(values: &Histogram) -> Vec<Curve> {
    let floor = HISTOGRAM_FLOOR;
    let mut outlines: Vec<Curve> = Vec::new();
    let mut prev: Option<usize> = None;
    for (i, n) in values.buckets() {
        let (lo, w) = bucket_range(i);
        let (x0, x1) = ((lo as f64).max(1.0), ((lo + w) as f64).max(1.0));
        if prev != Some(i.wrapping_sub(1)) || outlines.is_empty() {
            if let Some(o) = outlines.last_mut()
                && let Some(&(x, _)) = o.last()
            {
                o.push((x, floor));
            }
            outlines.push(vec![(x0, floor)]);
        }
        if let Some(o) = outlines.last_mut() {
            o.push((x0, n as f64));
            o.push((x1, n as f64));
        }
        prev = Some(i);
    }
    if let Some(o) = outlines.last_mut()
        && let Some(&(x, _)) = o.last()
    {
        o.push((x, floor));
    }
    outlines
}

fn draw_histogram<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    runs: &[View],
    title: &str,
    unit_label: &str,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(err)?;
    let floor = HISTOGRAM_FLOOR;
    let data: Vec<Vec<Curve>> = runs.iter().map(|r| outlines(&r.values)).collect();
    let data_flat: Vec<Vec<(f64, f64)>> = data.iter().map(|o| o.concat()).collect();
    let xmax = data_flat.iter().flatten().map(|p| p.0).fold(10.0, f64::max) * 1.5;
    let xmin = data_flat
        .iter()
        .flatten()
        .map(|p| p.0)
        .fold(f64::MAX, f64::min)
        .clamp(1.0, xmax / 10.0)
        / 1.5;
    let ymax = data_flat.iter().flatten().map(|p| p.1).fold(10.0, f64::max) * 3.0;
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 24))
        .margin(20)
        .margin_bottom(20 + run_legend_height(runs))
        .x_label_area_size(50)
        .y_label_area_size(80)
        .build_cartesian_2d((xmin..xmax).log_scale(), (floor..ymax).log_scale())
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc(unit_label)
        .y_desc("samples per bucket (log)")
        .x_label_formatter(&|v| fmt_ns(*v))
        .y_label_formatter(&|v| format!("{v:.0e}"))
        .label_style(("sans-serif", 16))
        .draw()
        .map_err(err)?;
    // Later runs first, thinner: the first run (usually bare metal) is drawn last, on top.
    for (i, outlines) in data.iter().enumerate().rev() {
        let color = COLORS[i % COLORS.len()];
        let width = 2 + (runs.len() - 1 - i) as u32;
        for o in outlines {
            chart
                .draw_series(LineSeries::new(o.clone(), color.stroke_width(width)))
                .map_err(err)?;
        }
    }
    let entries: Vec<Entry> = runs
        .iter()
        .zip(&data)
        .enumerate()
        .filter(|(_, (_, o))| !o.is_empty())
        .map(|(i, (r, _))| run_entry(r.label(), COLORS[i % COLORS.len()]))
        .collect();
    legend_below(root, &chart.plotting_area().strip_coord_spec(), &entries)
}

/// Which plot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Events per second above each duration, OS and hw apart.
    Ccdf,
    /// Noise time per second by cause.
    Causes,
    /// Events over time, coloured by cause.
    Timeline,
    /// Value histogram.
    Histogram,
    /// The same values in OSADL's form: linear 1 µs bins, log counts, the worst case marked.
    Osadl,
    /// The largest event per interval of the window, over time.
    Maxima,
}

impl Kind {
    /// Every plot, in report order.
    pub const ALL: [Kind; 6] = [
        Kind::Ccdf,
        Kind::Causes,
        Kind::Timeline,
        Kind::Histogram,
        Kind::Osadl,
        Kind::Maxima,
    ];

    /// File stem.
    pub fn stem(self) -> &'static str {
        match self {
            Kind::Ccdf => "ccdf",
            Kind::Causes => "causes",
            Kind::Timeline => "timeline",
            Kind::Histogram => "histogram",
            Kind::Osadl => "latency_1us",
            Kind::Maxima => "maxima",
        }
    }

    /// Title.
    pub fn title(self) -> &'static str {
        match self {
            Kind::Ccdf => {
                "Tail: events per second above each duration (OS noise solid, hw/emulator faint)"
            }
            Kind::Causes => "Noise time per second by cause",
            Kind::Timeline => "Events over the window, coloured by their largest cause",
            Kind::Histogram => "Histogram of every sample",
            Kind::Osadl => {
                "Every sample in 1 µs bins (OSADL's form: linear bins, log counts, worst case marked)"
            }
            Kind::Maxima => "The largest event in each interval of the window",
        }
    }
}

/// What the histogram's x axis is, per mode.
pub fn unit_label(mode: tickscope_core::Mode) -> &'static str {
    match mode {
        tickscope_core::Mode::Timer => "wake-up latency (ns, log)",
        _ => "counter-loop gap (ns, log)",
    }
}

/// The durations at which `ccdf.json` gives each curve's rate: a 1-2-5 grid from 100 ns to 1 s.
pub fn ccdf_grid() -> Vec<f64> {
    let mut v = Vec::new();
    let mut decade = 100.0;
    while decade < 2e9 {
        for m in [1.0, 2.0, 5.0] {
            if decade * m <= 1e9 {
                v.push(decade * m);
            }
        }
        decade *= 10.0;
    }
    v
}

/// The data of the `ccdf` plot, for scripts and tests: per run, events per second whose OS part
/// (and hardware part) is at least each duration of [`ccdf_grid`].
pub fn ccdf_json(runs: &[View]) -> serde_json::Value {
    let grid = ccdf_grid();
    let rate = |parts: &[(f64, u64)], secs: f64| -> Vec<f64> {
        grid.iter()
            .map(|&x| {
                let n: u64 = parts.iter().filter(|p| p.0 >= x).map(|p| p.1).sum();
                crate::analysis::summary::round6(n as f64 / secs)
            })
            .collect()
    };
    let runs: Vec<serde_json::Value> = runs
        .iter()
        .map(|r| {
            let secs = r.core_seconds();
            let (os, hw) = r.parts();
            serde_json::json!({
                "label": r.summary.label,
                "emulation": r.summary.emulation,
                "attributed": r.attributed(),
                "os_events_per_s": rate(&os, secs),
                "hw_events_per_s": rate(&hw, secs),
            })
        })
        .collect();
    serde_json::json!({ "duration_ns": grid, "runs": runs })
}

/// What the command line chose for the plots.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PlotOptions {
    /// The maxima plot's interval in seconds (`--interval`); `None`: from the longest window
    /// ([`maxima::interval_s`]).
    pub interval_s: Option<f64>,
}

impl PlotOptions {
    /// The maxima interval for `runs`.
    fn interval_s(&self, runs: &[View]) -> f64 {
        self.interval_s
            .unwrap_or_else(|| maxima::interval_s(longest_window_s(runs)))
    }
}

/// The longest window among `runs`, in seconds.
fn longest_window_s(runs: &[View]) -> f64 {
    runs.iter()
        .map(|r| r.summary.duration_s)
        .fold(0.0, f64::max)
}

/// Draws one plot as `<stem>.png` and `.svg` (and the data of the CCDF, the 1 µs histogram and
/// the maxima as `ccdf.json`, `latency_1us.json` and `maxima.json`), put into `files` as made.
pub fn draw(kind: Kind, runs: &[View], opts: &PlotOptions, files: &mut dyn Files) -> Result<()> {
    if let Some(data) = data(kind, runs, opts) {
        let mut text = serde_json::to_string_pretty(&data)?;
        text.push('\n');
        files.put(Artifact::new(format!("{}.json", kind.stem()), text))?;
    }
    register_font();
    let mode = runs
        .first()
        .map(|r| r.summary.mode)
        .unwrap_or(tickscope_core::Mode::Noise);
    let labels = (kind.title(), unit_label(mode));
    let size = match kind {
        Kind::Timeline => (
            SIZE.0,
            (SIZE.1 / 2).max(300) * runs.len().max(1) as u32 + 60,
        ),
        Kind::Ccdf => (SIZE.0, SIZE.1 + legend_height(runs)),
        Kind::Histogram | Kind::Osadl | Kind::Maxima => (SIZE.0, SIZE.1 + run_legend_height(runs)),
        _ => SIZE,
    };
    let png = band::png(size, |root| draw_on(root, kind, runs, labels, opts))?;
    files.put(Artifact::new(format!("{}.png", kind.stem()), png))?;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        draw_on(&root, kind, runs, labels, opts)?;
        root.present()?;
    }
    files.put(Artifact::new(format!("{}.svg", kind.stem()), svg))
}

/// The data behind a plot, for the plots that publish theirs.
fn data(kind: Kind, runs: &[View], opts: &PlotOptions) -> Option<serde_json::Value> {
    match kind {
        Kind::Ccdf => Some(ccdf_json(runs)),
        Kind::Osadl => Some(osadl_json(runs)),
        Kind::Maxima => Some(maxima::maxima_json(
            &runs
                .iter()
                .map(|r| (r.summary, r.splits))
                .collect::<Vec<_>>(),
            opts.interval_s(runs),
        )),
        _ => None,
    }
}

fn draw_on<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    kind: Kind,
    runs: &[View],
    (title, unit): (&str, &str),
    opts: &PlotOptions,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    match kind {
        Kind::Ccdf => draw_ccdf(root, runs, title),
        Kind::Causes => draw_causes(root, runs, title),
        Kind::Timeline => draw_timeline(root, runs, title),
        Kind::Histogram => draw_histogram(root, runs, title, unit),
        Kind::Osadl => draw_osadl(root, runs, title, unit),
        Kind::Maxima => draw_maxima(root, runs, title, opts.interval_s(runs)),
    }
}

/// A run's values in 1 µs bins (bin `k` holds `[k, k + 1)` µs), as OSADL's latency plots bin
/// them. Each bucket of the log-linear histogram goes to the bin of its midpoint: exact to the
/// histogram's 0.4 %, and to its own bucket width above 128 µs, where buckets outgrow 1 µs.
pub fn microsecond_bins(values: &Histogram) -> BTreeMap<u64, u64> {
    let mut bins = BTreeMap::new();
    for (i, n) in values.buckets() {
        let (lo, w) = bucket_range(i);
        *bins.entry((lo + w / 2) / 1000).or_insert(0) += n;
    }
    bins
}

/// The data of the `latency_1us` plot, for scripts and tests: per run, its occupied 1 µs bins
/// (`[µs, samples]`) and its worst case in µs.
pub fn osadl_json(runs: &[View]) -> serde_json::Value {
    let runs: Vec<serde_json::Value> = runs
        .iter()
        .map(|r| {
            let bins: Vec<[u64; 2]> = microsecond_bins(&r.values)
                .into_iter()
                .map(|(us, n)| [us, n])
                .collect();
            serde_json::json!({
                "label": r.summary.label,
                "samples": r.values.count(),
                "bins": bins,
                "max_us": r.values.max().map(|m| m as f64 / 1e3),
            })
        })
        .collect();
    serde_json::json!({ "bin_us": 1, "runs": runs })
}

fn draw_osadl<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    runs: &[View],
    title: &str,
    unit_label: &str,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(err)?;
    let bins: Vec<BTreeMap<u64, u64>> = runs.iter().map(|r| microsecond_bins(&r.values)).collect();
    let worst: Vec<f64> = runs
        .iter()
        .map(|r| r.values.max().unwrap_or(0) as f64 / 1e3)
        .collect();
    let xmax = worst.iter().copied().fold(1.0, f64::max) * 1.1 + 1.0;
    let ymax = bins
        .iter()
        .flat_map(|b| b.values())
        .copied()
        .max()
        .unwrap_or(1) as f64
        * 3.0;
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 24))
        .margin(20)
        .x_label_area_size(50)
        .y_label_area_size(80)
        .margin_bottom(20 + run_legend_height(runs))
        .build_cartesian_2d(0.0..xmax, (HISTOGRAM_FLOOR..ymax).log_scale())
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc(unit_label.replace("(ns, log)", "(µs, 1 µs bins)"))
        .y_desc("samples per bin (log)")
        .y_label_formatter(&|v| format!("{v:.0e}"))
        .label_style(("sans-serif", 16))
        .draw()
        .map_err(err)?;
    for (i, b) in bins.iter().enumerate().rev() {
        let color = COLORS[i % COLORS.len()];
        let steps: Curve = b
            .iter()
            .flat_map(|(&us, &n)| {
                let (x0, x1, y) = (us as f64, us as f64 + 1.0, n as f64);
                [
                    (x0, HISTOGRAM_FLOOR),
                    (x0, y),
                    (x1, y),
                    (x1, HISTOGRAM_FLOOR),
                ]
            })
            .collect();
        chart
            .draw_series(LineSeries::new(steps, color.stroke_width(2)))
            .map_err(err)?;
        // The worst case, marked as OSADL marks it: a line at the maximum.
        let mark = vec![(worst[i], HISTOGRAM_FLOOR), (worst[i], ymax)];
        chart
            .draw_series(DashedLineSeries::new(mark, 6, 4, color.stroke_width(1)))
            .map_err(err)?;
    }
    let entries: Vec<Entry> = runs
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let text = format!("{}: worst {}", r.label(), fmt_ns(worst[i] * 1e3));
            run_entry(text, COLORS[i % COLORS.len()])
        })
        .collect();
    legend_below(root, &chart.plotting_area().strip_coord_spec(), &entries)
}

/// The maxima plot's y range: around the largest maximum and the lowest threshold.
fn maxima_range(runs: &[View], series: &[Vec<Option<f64>>]) -> (f64, f64) {
    let ymax = series
        .iter()
        .flatten()
        .flatten()
        .copied()
        .fold(1_000.0, f64::max)
        * 2.0;
    let ymin = runs
        .iter()
        .map(|r| r.summary.threshold_ns as f64)
        .fold(f64::MAX, f64::min)
        .clamp(1.0, ymax / 10.0)
        / 2.0;
    (ymin, ymax)
}

/// Each run's maxima over time (points joined by lines), its threshold dashed.
fn draw_maxima<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    runs: &[View],
    title: &str,
    interval: f64,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(err)?;
    let window = longest_window_s(runs);
    let series: Vec<Vec<Option<f64>>> = runs
        .iter()
        .map(|r| maxima::maxima(r.summary, r.splits, interval))
        .collect();
    let (ymin, ymax) = maxima_range(runs, &series);
    let mut chart = ChartBuilder::on(root)
        .caption(
            format!("{title} ({} s intervals)", interval),
            ("sans-serif", 24),
        )
        .margin(20)
        .x_label_area_size(50)
        .y_label_area_size(80)
        .margin_bottom(20 + run_legend_height(runs))
        .build_cartesian_2d(0.0..window.max(interval) * 1.02, (ymin..ymax).log_scale())
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("time since the window opened (s)")
        .y_desc("largest event in the interval (log)")
        .y_label_formatter(&|v| fmt_ns(*v))
        .label_style(("sans-serif", 16))
        .draw()
        .map_err(err)?;
    let mut entries = Vec::new();
    for (i, (r, m)) in runs.iter().zip(&series).enumerate() {
        let color = COLORS[i % COLORS.len()];
        let pts: Vec<(f64, f64)> = m
            .iter()
            .enumerate()
            .filter_map(|(k, v)| v.map(|ns| ((k as f64 + 0.5) * interval, ns)))
            .collect();
        chart
            .draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))
            .map_err(err)?;
        let text = format!(
            "{} ({} of {} intervals with an event)",
            r.summary.label,
            pts.len(),
            m.len()
        );
        entries.push(run_entry(text, color));
        chart
            .draw_series(pts.iter().map(|&p| Circle::new(p, 3, color.filled())))
            .map_err(err)?;
        let t = r.summary.threshold_ns as f64;
        chart
            .draw_series(DashedLineSeries::new(
                vec![(0.0, t), (window, t)],
                6,
                4,
                color.mix(0.4).stroke_width(1),
            ))
            .map_err(err)?;
    }
    legend_below(root, &chart.plotting_area().strip_coord_spec(), &entries)
}

/// `850ns`, `12µs`, `3.4ms` for axis labels.
pub fn fmt_ns(v: f64) -> String {
    if v >= 1e9 {
        format!("{:.3}s", v / 1e9)
    } else if v >= 1e6 {
        format!("{}ms", trim(v / 1e6))
    } else if v >= 1e3 {
        format!("{}µs", trim(v / 1e3))
    } else {
        format!("{}ns", trim(v))
    }
}

fn fmt_rate(v: f64) -> String {
    if v >= 1.0 {
        format!("{}/s", trim(v))
    } else {
        format!("{v:.0e}/s")
    }
}

fn trim(v: f64) -> String {
    let s = format!("{v:.1}");
    s.strip_suffix(".0").map(str::to_string).unwrap_or(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tail_of_a_million_events_keeps_a_bounded_curve_through_the_same_steps() {
        let parts: Vec<f64> = (0..1_000_000u64)
            .map(|i| 100.0 + (i % 50_000) as f64)
            .collect();
        let full = {
            let mut v = parts.clone();
            v.sort_by(|a, b| b.partial_cmp(a).unwrap());
            v
        };
        let weighted: Parts = parts.iter().map(|&x| (x, 1)).collect();
        let p = rate_above(&weighted, 10.0);
        assert!(p.len() <= 2 * CURVE_CELLS, "{}", p.len());
        // The ends are kept exactly: the longest event and the total rate.
        assert_eq!(p.first(), Some(&(full[0], 0.1)));
        assert_eq!(p.last(), Some(&(100.0, 100_000.0)));
        // Every kept point lies on the full curve: its rate is the count at least that long.
        for &(x, y) in p.iter().step_by(97) {
            let at_least = full.iter().filter(|&&v| v >= x).count() as f64 / 10.0;
            let above = full.iter().filter(|&&v| v > x).count() as f64 / 10.0;
            assert!((above..=at_least).contains(&y), "({x}, {y})");
        }
    }

    #[test]
    fn rate_above_counts_events_at_least_each_long() {
        // Four events over 2 s: 2/s are >= 30, 1.5/s >= 20 ...
        let p = rate_above(&[(10.0, 1), (30.0, 1), (20.0, 1), (30.0, 1)], 2.0);
        let steps = vec![
            (30.0, 0.5),
            (30.0, 0.5),
            (30.0, 1.0),
            (20.0, 1.0),
            (20.0, 1.5),
            (10.0, 1.5),
            (10.0, 2.0),
        ];
        assert_eq!(p, steps);
        // A value standing for several (a histogram's bucket) counts as that many.
        let p = rate_above(&[(10.0, 1), (30.0, 2), (20.0, 1)], 2.0);
        assert_eq!(p, steps[2..]);
    }

    #[test]
    fn a_histogram_gives_its_counts_at_values_within_its_error() {
        let mut h = Histogram::new();
        for v in [5u64, 5, 1_000, 1_003, 250_000] {
            h.record(v);
        }
        let w: Parts = weighted(&h).collect();
        assert_eq!(w.iter().map(|p| p.1).sum::<u64>(), 5);
        assert_eq!(w[0], (5.0, 2));
        // 1,000 and 1,003 share a bucket 4 wide; 250,000 is alone and clamped to the maximum.
        assert_eq!(w[1].1, 2);
        assert!((w[1].0 - 1_001.5).abs() <= 1_001.5 / 256.0, "{w:?}");
        assert_eq!(w[2], (250_000.0, 1));
    }
}
