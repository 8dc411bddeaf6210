//! The terminal table: the headline fits 120 columns on the committed comparison (bare metal,
//! generic, tickless) and keeps its first causes; `--wide` keeps every column report.md has.

use tickscope_analysis::analysis::summary::Summary;
use tickscope_analysis::render::{self, TERMINAL_COLUMNS, columns::fit_causes};

const EXAMPLE: &str = include_str!("../../results/examples/qemu-icount-compare/compare.json");

/// Through `serde_json::Value`, as the host reads summaries (defmt-decoder turns on serde_json's
/// `arbitrary_precision`, with which numbers in flattened structs do not parse from text).
fn runs() -> Vec<Summary> {
    let v: serde_json::Value = serde_json::from_str(EXAMPLE).unwrap();
    serde_json::from_value(v).expect("the committed example reads")
}

fn header(table: &str) -> Vec<String> {
    let first = table.lines().next().unwrap();
    // Headers are separated by two spaces or more; single spaces are inside a header.
    first
        .split("  ")
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .map(String::from)
        .collect()
}

#[test]
fn the_headline_fits_120_columns_and_keeps_the_tick() {
    let runs = runs();
    let refs: Vec<&Summary> = runs.iter().collect();
    let t = render::table(&refs, false);
    for line in t.lines() {
        assert!(
            line.chars().count() <= TERMINAL_COLUMNS,
            "{} wide:\n{t}",
            line.len()
        );
    }
    assert_eq!(
        header(&t),
        [
            "run",
            "emul",
            "OS ev/s",
            "OS ns/s",
            "top OS causes",
            "HW ev/s",
            "HW ns/s",
            "tmr irq/s",
            "tick",
            "tick OS",
            "lost"
        ]
    );
    let generic = t.lines().find(|l| l.starts_with("generic")).expect(&t);
    assert!(generic.contains("arch_timer 250/s"), "{generic}");
    assert_eq!(t.lines().count(), 1 + runs.len());
}

#[test]
fn wide_keeps_every_column() {
    let runs = runs();
    let refs: Vec<&Summary> = runs.iter().collect();
    let t = render::table(&refs, true);
    let h = header(&t);
    for col in [
        "attrib", "OS max", "HW max", "CPU %", "events", "ev max", "blind", "loop ns",
    ] {
        assert!(h.iter().any(|c| c == col), "no {col} in {h:?}");
    }
    assert!(t.lines().next().unwrap().len() > TERMINAL_COLUMNS, "{t}");
}

#[test]
fn causes_give_way_whole_and_say_how_many_went() {
    let cell = "arch_timer 250/s, RCU 1.6/s, TIMER 0.2/s";
    assert_eq!(fit_causes(cell, 60), cell);
    assert_eq!(fit_causes(cell, 30), "arch_timer 250/s, RCU 1.6/s +1");
    assert_eq!(fit_causes(cell, 20), "arch_timer 250/s +2");
    assert_eq!(fit_causes(cell, 15), "arch_timer +2");
    assert_eq!(fit_causes(cell, 8), "+3 causes");
}
