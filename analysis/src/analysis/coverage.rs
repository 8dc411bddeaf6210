//! Attribution coverage: for each interrupt source of a measured Linux CPU, how many the kernel
//! counted over the window (`/proc/interrupts`), how many the trace holds, and how many of those
//! fell inside a noise event. A figure built from the trace says this next to it, so a trace
//! that misses ticks, or ticks mapped outside the events they caused, cannot pass unnoticed.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use tickscope_core::wire::msg::{CauseKind, InterruptCounts, TraceKind};

use super::CoreData;
use super::tick::{Tick, row_names_cause};

/// Timer coverage below this is a problem (the run says why, and fails).
pub const MIN_TIMER_COVERAGE: f64 = 0.99;

/// One interrupt source over the measured CPUs' windows.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct SourceCoverage {
    /// As `/proc/interrupts` names it (`arch_timer`, `LOC Local timer interrupts`, ...).
    pub name: String,
    /// Counted by the kernel on the measured CPU(s) over the window.
    pub counted: u64,
    /// Entries of its handler in the trace within the window; `None`: no tracepoint sees this
    /// source (x86's TLB shootdowns, NMIs, machine checks).
    pub traced: Option<u64>,
    /// Of those, the entries inside a noise event (noise mode).
    pub in_events: Option<u64>,
}

/// What the attribution was built from, against what the kernel counted.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct Coverage {
    /// In noise mode, handler entries inside events ÷ interrupts counted, over the sources a
    /// tracepoint sees; in timer mode, entries traced ÷ counted.
    pub overall: Option<f64>,
    /// The same for the local timer alone (`arch_timer`, x86's `LOC`).
    pub timer: Option<f64>,
    /// The row that is the local timer ([`super::tick::Tick`]: the timer line found by its INTID,
    /// else a known name), when one was counted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timer_source: Option<String>,
    /// Per source, most counted first.
    pub sources: Vec<SourceCoverage>,
}

/// `/proc/interrupts` rows no tracepoint sees (x86's short names).
fn untraced_row(row: &str) -> bool {
    let short = row.split_whitespace().next().unwrap_or("");
    [
        "TLB", "NMI", "MCE", "MCP", "PMI", "HYP", "HRE", "HVS", "PIN", "NPI", "PIW", "MIS",
    ]
    .contains(&short)
}

/// Handler entries of one core's trace within its window: (cause name, at).
fn entries(c: &CoreData) -> Vec<(String, u64)> {
    let Some((start, end)) = c.window_ticks() else {
        return Vec::new();
    };
    c.trace
        .iter()
        .filter(|r| r.at >= start && r.at <= end)
        .filter(|r| matches!(r.kind, TraceKind::IrqEntry | TraceKind::IpiEntry))
        .filter_map(|r| {
            let (kind, name) = c.names.get(&r.name)?;
            matches!(kind, CauseKind::Irq | CauseKind::Ipi).then(|| (name.clone(), r.at))
        })
        .collect()
}

/// Whether `at` falls inside one of `events` (sorted `(start, end)` in ticks).
fn inside(events: &[(u64, u64)], at: u64) -> bool {
    let i = events.partition_point(|&(s, _)| s <= at);
    i > 0 && at <= events[i - 1].1
}

/// Per source name: (traced, in events).
fn traced_by_name(c: &CoreData) -> BTreeMap<String, (u64, u64)> {
    let mut events: Vec<(u64, u64)> = c
        .events
        .iter()
        .map(|e| (e.start, e.start + e.len))
        .collect();
    events.sort_unstable();
    let mut by = BTreeMap::new();
    for (name, at) in entries(c) {
        let e: &mut (u64, u64) = by.entry(name).or_default();
        e.0 += 1;
        e.1 += inside(&events, at) as u64;
    }
    add_overflow_entries(c, &mut by);
    by
}

/// A long run's handler entries beyond the kept records: those its closes counted, and those
/// still held (a run cut short).
fn add_overflow_entries(c: &CoreData, by: &mut BTreeMap<String, (u64, u64)>) {
    let Some(o) = c.overflow.as_deref() else {
        return;
    };
    let end = c.window_ticks().map_or(u64::MAX, |w| w.1);
    let mut held = o.clone();
    held.sort_trace();
    let pending = held.entries_before(u64::MAX, end);
    for (idx, (traced, inside)) in o.entries.iter().chain(pending.iter()) {
        let Some((kind, name)) = c.names.get(idx) else {
            continue;
        };
        if matches!(kind, CauseKind::Irq | CauseKind::Ipi) {
            let e = by.entry(name.clone()).or_default();
            e.0 += traced;
            e.1 += inside;
        }
    }
}

/// The coverage of traced cores against their interrupt counts; `None` without a trace or
/// without counts. `noise`: events are loop gaps (timer mode reports traced ÷ counted).
pub fn coverage(
    cores: &[&CoreData],
    counts: &[InterruptCounts],
    noise: bool,
    tick: &Tick,
) -> Option<Coverage> {
    let mut rows: BTreeMap<String, SourceCoverage> = BTreeMap::new();
    let mut any = false;
    for c in cores {
        let Some(counted) = counts.iter().find(|i| i.core == c.core) else {
            continue;
        };
        if c.attribution.as_ref().map(|a| a.method)
            != Some(tickscope_core::wire::msg::Method::Tracefs)
        {
            continue;
        }
        any = true;
        let traced = traced_by_name(c);
        for (row, n) in &counted.sources {
            let row = row.as_str();
            let matched: Vec<&(u64, u64)> = traced
                .iter()
                .filter(|(cause, _)| row_names_cause(row, cause))
                .map(|(_, v)| v)
                .collect();
            let entry = rows
                .entry(row.to_string())
                .or_insert_with(|| SourceCoverage {
                    name: row.to_string(),
                    counted: 0,
                    traced: (!untraced_row(row) || !matched.is_empty()).then_some(0),
                    in_events: None,
                });
            entry.counted += n;
            if let Some(t) = entry.traced.as_mut() {
                *t += matched.iter().map(|v| v.0).sum::<u64>();
            }
            if noise && entry.traced.is_some() {
                *entry.in_events.get_or_insert(0) += matched.iter().map(|v| v.1).sum::<u64>();
            }
        }
    }
    if !any {
        return None;
    }
    let mut sources: Vec<SourceCoverage> = rows.into_values().collect();
    sources.sort_by(|a, b| b.counted.cmp(&a.counted).then(a.name.cmp(&b.name)));
    let ratio = |pick: &dyn Fn(&SourceCoverage) -> bool| {
        let (mut got, mut counted) = (0u64, 0u64);
        for s in sources.iter().filter(|s| pick(s) && s.traced.is_some()) {
            got += if noise {
                s.in_events.unwrap_or(0)
            } else {
                s.traced.unwrap_or(0)
            };
            counted += s.counted;
        }
        (counted > 0).then(|| super::round6(got as f64 / counted as f64))
    };
    Some(Coverage {
        overall: ratio(&|_| true),
        timer: ratio(&|s| tick.is_local_timer(&s.name)),
        timer_source: sources
            .iter()
            .find(|s| tick.is_local_timer(&s.name))
            .map(|s| s.name.clone()),
        sources,
    })
}

/// The problem line for a timer coverage below [`MIN_TIMER_COVERAGE`], with the likely reason.
pub fn timer_problem(c: &Coverage, emulation: crate::facts::Emulation) -> Option<String> {
    let t = c.timer?;
    if t >= MIN_TIMER_COVERAGE {
        return None;
    }
    let timer = c
        .sources
        .iter()
        .find(|s| Some(&s.name) == c.timer_source.as_ref())?;
    let traced = timer.traced.unwrap_or(0);
    let why = if traced * 100 < timer.counted * 99 {
        "the trace holds fewer timer interrupts than the kernel counted: the ring buffer overflowed, or the tracepoint missed some"
    } else if emulation == crate::facts::Emulation::Tcg {
        "the trace holds them, but they fall outside the loop's events: under plain TCG an interrupt is taken right after the counter read that ends a gap, and some came while the loop was recording (beyond its chained limit) or shipping a checkpoint"
    } else {
        "the trace holds them, but they fall outside the loop's events: they came while the loop was recording events or shipping a checkpoint, or the trace clock and the loop's counter disagree"
    };
    Some(format!(
        "attribution covers {:.1} % of the timer's interrupts ({} counted, {} traced, {} inside events): {why}",
        t * 100.0,
        timer.counted,
        traced,
        timer.in_events.map_or("n/a".to_string(), |n| n.to_string()),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::Event;
    use heapless::String as HString;
    use tickscope_core::wire::msg::{Attribution, Method, TraceRecord, Window};

    fn core(trace: &[(u64, TraceKind, u16)], events: &[(u64, u64)]) -> CoreData {
        let mut c = CoreData::new(1, 1000, crate::analysis::MAX_RECORDS);
        c.window = Some(Window {
            core: 1,
            start: 0,
            end: 10_000,
            threshold: 16,
        });
        c.attribution = Some(Attribution {
            core: 1,
            method: Method::Tracefs,
            probe: 0,
            lost: 0,
            detail: HString::new(),
            clock: [(0, 0); 2],
        });
        c.names.insert(1, (CauseKind::Irq, "arch_timer".into()));
        c.names
            .insert(2, (CauseKind::Ipi, "Rescheduling interrupts".into()));
        c.trace = trace
            .iter()
            .map(|&(at, kind, name)| TraceRecord { at, kind, name })
            .collect();
        c.events = events
            .iter()
            .map(|&(start, len)| Event {
                start,
                len,
                counters: 0,
            })
            .collect();
        c
    }

    fn counts(rows: &[(&str, u64)]) -> InterruptCounts {
        let mut sources = heapless::Vec::new();
        for (n, c) in rows {
            let _ = sources.push((HString::try_from(*n).unwrap(), *c));
        }
        InterruptCounts {
            core: 1,
            interval_ns: 1_000_000_000,
            sources,
        }
    }

    #[test]
    fn counts_traces_and_events_meet_by_name() {
        use TraceKind::*;
        // Four ticks counted, three traced, two of them inside events; one IPI, in an event.
        let c = core(
            &[
                (100, IrqEntry, 1),
                (110, IrqExit, 1),
                (500, IrqEntry, 1),
                (900, IrqEntry, 1),
                (905, IpiEntry, 2),
                (20_000, IrqEntry, 1),
            ],
            &[(90, 30), (880, 40)],
        );
        let k = counts(&[
            ("arch_timer", 4),
            ("IPI0 Rescheduling interrupts", 1),
            ("TLB TLB shootdowns", 3),
        ]);
        let cov = coverage(&[&c], &[k], true, &Tick::default()).unwrap();
        let timer = &cov.sources[0];
        assert_eq!(
            (
                timer.name.as_str(),
                timer.counted,
                timer.traced,
                timer.in_events
            ),
            ("arch_timer", 4, Some(3), Some(2))
        );
        let tlb = cov
            .sources
            .iter()
            .find(|s| s.name.starts_with("TLB"))
            .unwrap();
        assert_eq!((tlb.traced, tlb.in_events), (None, None));
        assert_eq!(cov.timer, Some(0.5));
        // (2 + 1) inside events of (4 + 1) counted where a tracepoint sees the source.
        assert_eq!(cov.overall, Some(0.6));
        let p = timer_problem(&cov, crate::facts::Emulation::Tcg).unwrap();
        assert!(
            p.contains("50.0 %") && p.contains("4 counted, 3 traced, 2 inside events"),
            "{p}"
        );
        assert!(p.contains("fewer timer interrupts"), "{p}");
        // Timer mode: traced ÷ counted.
        let k = counts(&[("arch_timer", 4)]);
        assert_eq!(
            coverage(&[&c], &[k], false, &Tick::default())
                .unwrap()
                .timer,
            Some(0.75)
        );
    }

    #[test]
    fn a_full_trace_passes_and_no_trace_is_no_figure() {
        use TraceKind::*;
        let c = core(
            &[(100, IrqEntry, 1), (500, IrqEntry, 1)],
            &[(90, 30), (480, 40)],
        );
        let cov = coverage(
            &[&c],
            &[counts(&[("arch_timer", 2)])],
            true,
            &Tick::default(),
        )
        .unwrap();
        assert_eq!(cov.timer, Some(1.0));
        assert_eq!(timer_problem(&cov, crate::facts::Emulation::Tcg), None);
        let mut untraced = c.clone();
        untraced.attribution = None;
        assert_eq!(
            coverage(
                &[&untraced],
                &[counts(&[("arch_timer", 2)])],
                true,
                &Tick::default()
            ),
            None
        );
    }
}
