//! One column model for every table: the terminal table, report.md and summary.csv are drawn
//! from the same list of columns, so a figure cannot appear in one and be missing in another.
//! Tables lead with OS noise and show hardware/emulator noise beside it.

use std::fmt::Write as _;

use tickscope_core::Mode;
use tickscope_core::hist::Quantiles;

use crate::analysis::summary::{Attributed, NoiseClass, Summary};

/// One row: a run, or one core of a run.
pub struct Row<'a> {
    /// Run label.
    pub label: &'a str,
    /// `all`, or the core.
    pub core: Option<u16>,
    /// The run.
    pub run: &'a Summary,
    /// Samples of the row.
    pub samples: u64,
    /// Lost records.
    pub lost: u64,
    /// Events.
    pub events: u64,
    /// Latency or gap quantiles.
    pub latency: &'a Quantiles,
    /// Event quantiles.
    pub event: &'a Quantiles,
    /// Attribution.
    pub attributed: &'a Attributed,
}

impl<'a> Row<'a> {
    /// The run's own row.
    pub fn run(s: &'a Summary) -> Row<'a> {
        Row {
            label: &s.label,
            core: None,
            run: s,
            samples: s.samples,
            lost: s.lost,
            events: s.events,
            latency: &s.latency_ns,
            event: &s.event_ns,
            attributed: &s.attributed,
        }
    }

    /// One row per core.
    pub fn cores(s: &'a Summary) -> Vec<Row<'a>> {
        s.cores
            .iter()
            .map(|c| Row {
                label: &s.label,
                core: Some(c.core),
                run: s,
                samples: c.samples,
                lost: c.lost,
                events: c.events,
                latency: &c.latency_ns,
                event: &c.event_ns,
                attributed: &c.attributed,
            })
            .collect()
    }
}

/// A cell's value.
pub enum Cell {
    /// Text.
    Text(String),
    /// A count.
    Int(u64),
    /// A rate or percentage, with decimals.
    Num(f64, usize),
    /// Nanoseconds (shown as ns/µs/ms, written as ns in CSV).
    Ns(u64),
    /// Not applicable or unknown.
    None,
}

impl Cell {
    fn human(&self) -> String {
        match self {
            Cell::Text(t) => t.clone(),
            Cell::Int(n) => n.to_string(),
            Cell::Num(v, d) => format!("{v:.*}", d),
            Cell::Ns(v) => crate::render::plot::fmt_ns(*v as f64),
            Cell::None => "-".into(),
        }
    }

    fn raw(&self) -> String {
        match self {
            Cell::Text(t) => {
                if t.contains([',', '"']) {
                    format!("\"{}\"", t.replace('"', "\"\""))
                } else {
                    t.clone()
                }
            }
            Cell::Int(n) => n.to_string(),
            Cell::Num(v, _) => v.to_string(),
            Cell::Ns(v) => v.to_string(),
            Cell::None => String::new(),
        }
    }
}

/// A column: headers (terminal, long for markdown and CSV) and how to read it off a row.
#[derive(Clone, Copy)]
pub struct Column {
    /// Short header for the terminal.
    pub short: &'static str,
    /// Long header (report.md; CSV uses it in snake case).
    pub long: &'static str,
    /// CSV name.
    pub csv: &'static str,
    /// The value.
    pub get: fn(&Row) -> Cell,
}

fn class(r: &Row, os: bool) -> Option<NoiseClass> {
    if os {
        r.attributed.os_noise
    } else {
        r.attributed.hw_noise
    }
}

fn top_causes(r: &Row) -> Cell {
    let top: Vec<String> = r
        .attributed
        .causes
        .iter()
        .filter(|c| c.kind != "hw" && c.events > 0)
        .take(3)
        .map(|c| {
            if c.events_per_s >= 10.0 {
                format!("{} {:.0}/s", c.name, c.events_per_s)
            } else {
                format!("{} {:.1}/s", c.name, c.events_per_s)
            }
        })
        .collect();
    if r.attributed.os_noise.is_none() {
        Cell::None
    } else if top.is_empty() {
        Cell::Text("none".into())
    } else {
        Cell::Text(top.join(", "))
    }
}

const fn col(
    short: &'static str,
    long: &'static str,
    csv: &'static str,
    get: fn(&Row) -> Cell,
) -> Column {
    Column {
        short,
        long,
        csv,
        get,
    }
}

fn os_cell(r: &Row, f: fn(&NoiseClass) -> Cell) -> Cell {
    class(r, true).as_ref().map(f).unwrap_or(Cell::None)
}

fn hw_cell(r: &Row, f: fn(&NoiseClass) -> Cell) -> Cell {
    class(r, false).as_ref().map(f).unwrap_or(Cell::None)
}

fn opt_ns(v: Option<u64>) -> Cell {
    v.map(Cell::Ns).unwrap_or(Cell::None)
}

fn opt_num(v: Option<f64>, decimals: usize) -> Cell {
    v.map(|v| Cell::Num(v, decimals)).unwrap_or(Cell::None)
}

/// The causes column's short header.
const CAUSES: &str = "top OS causes";

/// Which run a row is.
const IDENTITY: [Column; 4] = [
    col("run", "run", "label", |r| Cell::Text(r.label.to_string())),
    col("mode", "mode", "mode", |r| {
        Cell::Text(r.run.mode.name().into())
    }),
    col("emul", "emulation", "emulation", |r| {
        Cell::Text(r.run.emulation.name().into())
    }),
    col("attrib", "attribution", "attribution", |r| {
        Cell::Text(r.attributed.attribution.clone())
    }),
];

/// The OS's noise, then the hardware's (or the emulator's), then the tick.
const NOISE: [Column; 11] = [
    col("OS ev/s", "OS noise events/s", "os_events_per_s", |r| {
        os_cell(r, |c| Cell::Num(c.events_per_s, 1))
    }),
    col("OS ns/s", "OS noise per second", "os_noise_ns_per_s", |r| {
        os_cell(r, |c| Cell::Ns(c.noise_ns_per_s.round() as u64))
    }),
    col("OS max", "OS noise max single", "os_event_max_ns", |r| {
        os_cell(r, |c| Cell::Ns(c.event_ns.max))
    }),
    col(CAUSES, "top OS causes", "top_causes", top_causes),
    col(
        "HW ev/s",
        "hw/emulator noise events/s",
        "hw_events_per_s",
        |r| hw_cell(r, |c| Cell::Num(c.events_per_s, 1)),
    ),
    col(
        "HW ns/s",
        "hw/emulator noise per second",
        "hw_noise_ns_per_s",
        |r| hw_cell(r, |c| Cell::Ns(c.noise_ns_per_s.round() as u64)),
    ),
    col(
        "HW max",
        "hw/emulator noise max single",
        "hw_event_max_ns",
        |r| hw_cell(r, |c| Cell::Ns(c.event_ns.max)),
    ),
    col("tmr irq/s", "timer irqs/s", "timer_irqs_per_s", |r| {
        opt_num(r.run.timer_irqs_per_s, 1)
    }),
    col("tick", "tick cost", "tick_cost_ns", |r| {
        opt_ns(r.run.tick_cost_ns)
    }),
    col("tick OS", "tick cost, OS part", "tick_os_ns", |r| {
        opt_ns(r.run.tick_os_ns)
    }),
    col("CPU %", "CPU available %", "cpu_available_pct", |r| {
        opt_num(r.attributed.cpu_available_pct, 3)
    }),
];

/// What the measurement itself counted.
const TOTALS: [Column; 4] = [
    col("events", "events", "events", |r| Cell::Int(r.events)),
    col("ev max", "largest event", "event_max_ns", |r| {
        if r.events > 0 {
            Cell::Ns(r.event.max)
        } else {
            Cell::None
        }
    }),
    col("lost", "lost", "lost", |r| Cell::Int(r.lost)),
    col("blind", "probe blind time", "blind_ns", |r| {
        Cell::Ns(r.attributed.blind_ns)
    }),
];

const CORE: Column = col("core", "core", "core", |r| {
    Cell::Text(
        r.core
            .map(|c| c.to_string())
            .unwrap_or_else(|| "all".into()),
    )
});

const LOOP: Column = col(
    "loop ns",
    "the loop's own ns per iteration",
    "loop_ns",
    |r| opt_num(r.run.loop_ns, 3),
);

const LATENCY: [Column; 4] = [
    col("p50", "latency p50", "latency_p50_ns", |r| {
        latency(r, |q| q.p50)
    }),
    col("p99", "latency p99", "latency_p99_ns", |r| {
        latency(r, |q| q.p99)
    }),
    col("p99.99", "latency p99.99", "latency_p9999_ns", |r| {
        latency(r, |q| q.p9999)
    }),
    col("max", "latency max", "latency_max_ns", |r| {
        latency(r, |q| q.max)
    }),
];

/// The columns for runs of these modes (latency percentiles only where they carry information:
/// timer mode; noise mode shows the loop's resolution instead of one-tick gap percentiles), with
/// a `core` column when the rows are per core.
pub fn columns(runs: &[&Summary], per_core: bool) -> Vec<Column> {
    let timer = runs.iter().any(|s| s.mode == Mode::Timer);
    let noise = runs.iter().any(|s| s.mode == Mode::Noise);
    let mut c = Vec::new();
    c.extend(IDENTITY.iter().take(1).cloned());
    if per_core {
        c.push(CORE);
    }
    c.extend(IDENTITY.iter().skip(1).cloned());
    c.extend(NOISE);
    c.extend(TOTALS);
    if noise {
        c.push(LOOP);
    }
    if timer {
        c.extend(LATENCY);
    }
    c
}

/// The headline: what a terminal shows by default, within 120 columns for the usual runs. Which
/// run and how its figures were made; OS noise (rate, time per second, causes), hardware or
/// emulator noise (rate, time per second), the tick (rate, cost, OS part), what was lost; timer
/// mode adds p99 and max latency. `--wide`, report.md and summary.csv have every column.
pub fn headline(runs: &[&Summary]) -> Vec<Column> {
    let timer = runs.iter().any(|s| s.mode == Mode::Timer);
    let mut c = vec![IDENTITY[0], IDENTITY[2]];
    c.extend([NOISE[0], NOISE[1], NOISE[3], NOISE[4], NOISE[5]]);
    c.extend([NOISE[7], NOISE[8], NOISE[9], TOTALS[2]]);
    if timer {
        c.extend([LATENCY[1], LATENCY[3]]);
    }
    c
}

/// Every other column, after the run's name: what the headline leaves out (attribution, the
/// largest single events, CPU available, totals, the loop, the latency percentiles), so the
/// report can show all of them in two tables that fit a page.
pub fn details(runs: &[&Summary]) -> Vec<Column> {
    let headline: Vec<&str> = headline(runs).iter().map(|c| c.short).collect();
    let mut c = vec![IDENTITY[0]];
    c.extend(
        columns(runs, false)
            .into_iter()
            .filter(|c| !headline.contains(&c.short)),
    );
    c
}

fn latency(r: &Row, f: fn(&Quantiles) -> u64) -> Cell {
    if r.run.mode == Mode::Timer {
        Cell::Ns(f(r.latency))
    } else {
        Cell::None
    }
}

/// The terminal table, every column as wide as its widest cell.
pub fn terminal(cols: &[Column], rows: &[Row]) -> String {
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| cols.iter().map(|c| (c.get)(r).human()).collect())
        .collect();
    lay_out(cols, &cells)
}

/// The terminal table within `limit` columns where it can be: the causes column gives up its
/// last causes (`+N` says how many went, the wide table and report.md keep them all).
pub fn terminal_within(cols: &[Column], rows: &[Row], limit: usize) -> String {
    let mut cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| cols.iter().map(|c| (c.get)(r).human()).collect())
        .collect();
    let total = widths(cols, &cells).iter().sum::<usize>() + 2 * cols.len().saturating_sub(1);
    if let Some(i) = cols.iter().position(|c| c.short == CAUSES)
        && total > limit
    {
        let widest = widths(cols, &cells)[i];
        let room = widest.saturating_sub(total - limit).max(CAUSES.len());
        for row in &mut cells {
            row[i] = fit_causes(&row[i], room);
        }
    }
    lay_out(cols, &cells)
}

/// A causes cell (`a 250/s, b 1.6/s, c 0.2/s`) in at most `room` characters: whole causes, then
/// `+N` for the N left out; where not even one fits, the first one's name without its rate.
pub fn fit_causes(cell: &str, room: usize) -> String {
    if cell.chars().count() <= room {
        return cell.to_string();
    }
    let causes: Vec<&str> = cell.split(", ").collect();
    for keep in (1..causes.len()).rev() {
        let text = format!("{} +{}", causes[..keep].join(", "), causes.len() - keep);
        if text.chars().count() <= room {
            return text;
        }
    }
    let first = causes[0]
        .rsplit_once(' ')
        .map_or(causes[0], |(name, _)| name);
    let named = match causes.len() {
        1 => first.to_string(),
        n => format!("{first} +{}", n - 1),
    };
    if named.chars().count() <= room {
        return named;
    }
    format!("+{} causes", causes.len())
}

/// Each column's width: its widest cell or header.
fn widths(cols: &[Column], cells: &[Vec<String>]) -> Vec<usize> {
    cols.iter()
        .enumerate()
        .map(|(i, c)| {
            cells
                .iter()
                .map(|r| r[i].chars().count())
                .chain([c.short.chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect()
}

/// Header and rows, text left-aligned, figures right-aligned, two spaces between columns.
fn lay_out(cols: &[Column], cells: &[Vec<String>]) -> String {
    let widths = widths(cols, cells);
    let mut s = String::new();
    let line = |s: &mut String, vals: Vec<&str>| {
        for (i, v) in vals.iter().enumerate() {
            let pad = widths[i].saturating_sub(v.chars().count());
            if matches!(
                cols[i].short,
                "run" | "core" | "mode" | "emul" | "attrib" | CAUSES
            ) {
                let _ = write!(s, "{v}{}", " ".repeat(pad));
            } else {
                let _ = write!(s, "{}{v}", " ".repeat(pad));
            }
            s.push_str(if i + 1 < vals.len() { "  " } else { "\n" });
        }
    };
    line(&mut s, cols.iter().map(|c| c.short).collect());
    for r in cells {
        line(&mut s, r.iter().map(String::as_str).collect());
    }
    s
}

/// The markdown table.
pub fn markdown(cols: &[Column], rows: &[Row]) -> String {
    let mut s = String::from("|");
    for c in cols {
        let _ = write!(s, " {} |", c.long);
    }
    s.push_str("\n|");
    for (i, _) in cols.iter().enumerate() {
        let text = matches!(
            cols[i].short,
            "run" | "core" | "mode" | "emul" | "attrib" | "top OS causes"
        );
        s.push_str(if text { "---|" } else { "---:|" });
    }
    s.push('\n');
    for r in rows {
        s.push('|');
        for c in cols {
            let _ = write!(s, " {} |", (c.get)(r).human().replace('|', "/"));
        }
        s.push('\n');
    }
    s
}

/// CSV (raw numbers, ns).
pub fn csv(cols: &[Column], rows: &[Row]) -> String {
    let mut s = cols.iter().map(|c| c.csv).collect::<Vec<_>>().join(",");
    s.push('\n');
    for r in rows {
        s.push_str(
            &cols
                .iter()
                .map(|c| (c.get)(r).raw())
                .collect::<Vec<_>>()
                .join(","),
        );
        s.push('\n');
    }
    s
}
