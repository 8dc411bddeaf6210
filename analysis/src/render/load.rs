//! The load on the other CPUs (`--load`) as a table: each instance's progress before and over
//! the window, and its CPU's busy share, for the terminal and for report.md.

use std::fmt::Write;

use crate::analysis::summary::Summary;

const HEAD: [&str; 9] = [
    "run", "load", "CPU", "unit", "before", "window", "per s", "CPU busy", "running",
];

fn count(v: Option<u64>) -> String {
    v.map_or("n/a".into(), |n| n.to_string())
}

/// The rows of every loaded run, `None` when no run asked for a load.
fn rows(runs: &[&Summary]) -> Option<Vec<Vec<String>>> {
    let mut rows = Vec::new();
    for s in runs {
        let Some(l) = &s.load else { continue };
        if l.instances.is_empty() {
            rows.push(vec![
                s.label.clone(),
                l.asked.clone(),
                "others".into(),
                "not counted".into(),
                "n/a".into(),
                "n/a".into(),
                "n/a".into(),
                "n/a".into(),
                "n/a".into(),
            ]);
        }
        for i in &l.instances {
            rows.push(vec![
                s.label.clone(),
                i.load.clone(),
                i.cpu.to_string(),
                i.unit.clone(),
                count(i.before),
                count(i.during),
                i.during_per_s.map_or("n/a".into(), |r| format!("{r:.1}")),
                format!("{:.0} %", i.busy_share * 100.0),
                if i.running { "yes" } else { "no" }.into(),
            ]);
        }
    }
    (!rows.is_empty()).then_some(rows)
}

/// What the table counts, said once above it.
const NOTE: &str = "one instance per CPU besides the measured one, pinned there at normal priority, started and seen working before the window; `window` counts from just before it opened to just after it closed; bare metal's load is the firmware's interference, which counts nothing";

/// Each loaded run's problems: a load that did not run through the window.
fn problems(runs: &[&Summary]) -> Vec<String> {
    let mut out = Vec::new();
    for s in runs {
        for p in s.load.iter().flat_map(|l| &l.problems) {
            out.push(format!("{}: {p}", s.label));
        }
    }
    out
}

/// The terminal's table (empty when no run was loaded).
pub fn table(runs: &[&Summary]) -> String {
    let Some(rows) = rows(runs) else {
        return String::new();
    };
    let mut w: Vec<usize> = HEAD.iter().map(|h| h.len()).collect();
    for r in &rows {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(c.chars().count());
        }
    }
    let line = |cells: &[String]| -> String {
        let mut l = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i < 4 {
                let _ = write!(l, "{c:<width$}  ", width = w[i]);
            } else {
                let _ = write!(l, "{c:>width$}  ", width = w[i]);
            }
        }
        l.trim_end().to_string() + "\n"
    };
    let mut out = format!("\nload on the other CPUs ({NOTE}):\n");
    out += &line(&HEAD.map(String::from));
    for r in &rows {
        out += &line(r);
    }
    for p in problems(runs) {
        out += &format!("load problem: {p}\n");
    }
    out
}

/// report.md's section (nothing when no run was loaded).
pub fn section(md: &mut String, runs: &[&Summary]) {
    let Some(rows) = rows(runs) else {
        return;
    };
    *md += "## Load on the other CPUs\n\n";
    let _ = writeln!(md, "{}.\n", capitalise(NOTE));
    let _ = writeln!(md, "| {} |", HEAD.join(" | "));
    let align: String = (0..HEAD.len())
        .map(|i| if i < 4 { "---|" } else { "---:|" })
        .collect();
    let _ = writeln!(md, "|{align}");
    for r in rows {
        let _ = writeln!(md, "| {} |", r.join(" | "));
    }
    md.push('\n');
    for p in problems(runs) {
        let _ = writeln!(md, "**Load problem**: {p}\n");
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}
