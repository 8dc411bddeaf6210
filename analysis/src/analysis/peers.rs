//! The peers' figures (`--peers`): oslat and cyclictest as the probe ran them after its window
//! on the same CPU, read from their JSON output, set beside the probe's with the measured CPU's
//! timer interrupt rate over each one's own run; and where they disagree beyond what their loops
//! explain, a note that says so.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use tickscope_core::wire::msg::{InterruptCounts, PeerTool};

use super::{Analysis, PeerData, round6};
use crate::rttests::{self, RtRun};

/// One peer's figures.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PeerSummary {
    /// What it measures, in one line.
    pub measures: String,
    /// Its maximum, ns (its own exact figure, whole microseconds).
    pub max_ns: Option<u64>,
    /// 99th percentile of its histogram, ns (the floor of the microsecond bucket).
    pub p99_ns: Option<u64>,
    /// Its samples at or above the run's threshold per second (its histogram, whole
    /// microseconds: a threshold of 1 us counts buckets 1 us and up).
    pub events_per_s: Option<f64>,
    /// The threshold `events_per_s` uses, ns (the probe's, rounded up to whole microseconds).
    pub threshold_ns: u64,
    /// Timer interrupts the measured CPU took per second while it ran the peer
    /// (`/proc/interrupts` before and after the peer's run; for oslat over the part of it the
    /// CPU was not idle by `/proc/stat`: an idle CPU's tick stops on any kernel, so its start-up
    /// and exit would dilute the rate). cyclictest's own wake-ups are among them (its wake-ups
    /// and the kernel's tick share interrupts, so they cannot be told apart by count).
    pub timer_irqs_per_s: Option<f64>,
    /// Samples: cyclictest's wake-ups, oslat's loop iterations.
    pub samples: u64,
    /// Its run time, seconds.
    pub duration_s: Option<f64>,
    /// CPU it measured.
    pub cpu: Option<u32>,
    /// Its exit status (negative: a signal).
    pub status: Option<i32>,
    /// How it was called.
    pub command: String,
    /// rt-tests version it reports.
    pub version: Option<String>,
    /// Why there are no figures, when there are none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

fn measures(tool: PeerTool) -> &'static str {
    match tool {
        PeerTool::Oslat => {
            "oslat: gaps between reads of the counter in a busy loop (as our noise mode), 1 us buckets; its printed values are bucket upper edges (here floors: oslat's max less 1 us), its counter MHz an integer"
        }
        PeerTool::Cyclictest => {
            "cyclictest: wake-up latency of a clock_nanosleep loop (as our timer mode), 1 us buckets (floors); timer_irqs_per_s includes its own wake-ups"
        }
    }
}

/// Timer interrupts per second in a `/proc/interrupts` delta (`arch_timer`, or x86's `LOC`),
/// over `busy_ns` when known, else the whole interval.
pub fn timer_rate(i: &InterruptCounts, busy_ns: u64, tick: &super::tick::Tick) -> Option<f64> {
    let ns = if busy_ns > 0 { busy_ns } else { i.interval_ns };
    (ns > 0).then(|| {
        let n: u64 = i
            .sources
            .iter()
            .filter(|(name, _)| tick.is_local_timer(name))
            .map(|(_, n)| n)
            .sum();
        n as f64 * 1e9 / ns as f64
    })
}

/// The figures of one rt-tests run (its first thread), `threshold_ns` for events.
pub fn figures(run: &RtRun, threshold_ns: u64) -> PeerSummary {
    let t = run.threads.first();
    let threshold_us = threshold_ns.div_ceil(1000).max(1);
    let duration_s = run.duration_s.or_else(|| {
        // cyclictest: its wake-ups times its interval.
        let t = t?;
        Some(t.cycles as f64 * run.interval_us? as f64 / 1e6)
    });
    PeerSummary {
        measures: measures(run.tool).into(),
        max_ns: t.map(|t| t.max_us * 1000),
        p99_ns: t.and_then(|t| t.quantile_us(99, 100)).map(|us| us * 1000),
        events_per_s: t
            .and_then(|t| t.at_or_above(threshold_us))
            .zip(duration_s.filter(|d| *d > 0.0))
            .map(|(n, d)| round6(n as f64 / d)),
        threshold_ns: threshold_us * 1000,
        timer_irqs_per_s: None,
        samples: t.map(|t| t.cycles).unwrap_or(0),
        duration_s,
        cpu: t.and_then(|t| t.cpu),
        status: None,
        command: run.cmdline.clone().unwrap_or_default(),
        version: run.version.clone(),
        problem: None,
    }
}

fn one(tool: PeerTool, d: &PeerData, threshold_ns: u64, tick: &super::tick::Tick) -> PeerSummary {
    let parsed = if d.json.is_empty() {
        Err(anyhow::anyhow!(
            "{} wrote no JSON file; it printed: {}",
            tool.name(),
            String::from_utf8_lossy(&d.text).trim()
        ))
    } else {
        rttests::parse_json(&String::from_utf8_lossy(&d.json), Some(tool))
    };
    let mut s = match parsed {
        Ok(run) => figures(&run, threshold_ns),
        Err(e) => PeerSummary {
            measures: measures(tool).into(),
            max_ns: None,
            p99_ns: None,
            events_per_s: None,
            threshold_ns,
            timer_irqs_per_s: None,
            samples: 0,
            duration_s: None,
            cpu: None,
            status: None,
            command: String::new(),
            version: None,
            problem: Some(e.to_string()),
        },
    };
    if let Some(r) = &d.run {
        s.status = Some(r.status);
        if s.command.is_empty() {
            s.command = r.command.to_string();
        }
        s.timer_irqs_per_s = timer_rate(
            &r.interrupts,
            // cyclictest sleeps between wake-ups: its CPU idles by design, so its whole run.
            if tool == PeerTool::Oslat {
                r.busy_ns
            } else {
                0
            },
            tick,
        )
        .map(round6);
        if r.status != 0 && s.problem.is_none() {
            s.problem = Some(format!("{} exited with status {}", tool.name(), r.status));
        }
    } else if s.problem.is_none() {
        s.problem = Some(format!("{}'s run did not finish", tool.name()));
    }
    s
}

/// Every peer's figures, by tool name.
pub fn summarize(a: &Analysis) -> BTreeMap<String, PeerSummary> {
    let threshold = a.threshold_ns();
    let tick = a.tick();
    a.peers
        .iter()
        .map(|(tool, d)| (tool.name().to_string(), one(*tool, d, threshold, &tick)))
        .collect()
}

/// When a peer and the probe disagree beyond what their loops explain, in one place with the
/// reasons. They make the same kind of measurement (oslat with noise mode, cyclictest with timer
/// mode) on the same CPU, seconds apart. Their loops differ by less than a microsecond per
/// iteration and their histograms by a microsecond of resolution (oslat's counter frequency is a
/// whole number of MHz: under 2 % off). So a tick rate that differs, or a maximum more than twice
/// the other and 10 us apart, is not the loops' doing.
pub mod agree {
    /// Timer interrupts/s two windows may differ by without the tick having changed: a few
    /// interrupts of slack for windows a second or two long (their edges cut a tick or two)
    /// plus 20 % for kernels that batch or defer timer work between two windows.
    pub const TIMER_RATE_SLACK: f64 = 5.0;
    /// See [`TIMER_RATE_SLACK`].
    pub const TIMER_RATE_SHARE: f64 = 0.2;
    /// Two maxima are apart when the larger is more than this times the smaller...
    pub const MAX_RATIO: u64 = 2;
    /// ...and more than this apart (ns): the loops differ by under 1 us per iteration, so a
    /// 10 us gap is noise met in one window and not in the other, not how the loops measure.
    pub const MAX_GAP_NS: u64 = 10_000;
}

/// Where the probe and its peers disagree beyond what their loops explain (the bounds:
/// [`agree`]).
pub fn disagreements(
    mode: tickscope_core::Mode,
    probe_max_ns: Option<u64>,
    probe_timer_irqs_per_s: Option<f64>,
    peers: &BTreeMap<String, PeerSummary>,
) -> Vec<String> {
    let mut out = Vec::new();
    for (name, p) in peers {
        // cyclictest's count holds its own wake-ups: only oslat's is the kernel's alone.
        if name == "oslat"
            && let (Some(a), Some(b)) = (probe_timer_irqs_per_s, p.timer_irqs_per_s)
        {
            let (lo, hi) = (a.min(b), a.max(b));
            if hi - lo > agree::TIMER_RATE_SLACK + agree::TIMER_RATE_SHARE * hi {
                out.push(format!(
                    "{name} ran with {b:.1} timer interrupts/s on the CPU, the probe with {a:.1}: the kernel's tick was not the same in the two windows"
                ));
            }
        }
        let same_kind = matches!(
            (name.as_str(), mode),
            ("oslat", tickscope_core::Mode::Noise) | ("cyclictest", tickscope_core::Mode::Timer)
        );
        if same_kind && let (Some(a), Some(b)) = (probe_max_ns, p.max_ns) {
            let (lo, hi) = (a.min(b), a.max(b));
            if hi > agree::MAX_RATIO * lo && hi - lo > agree::MAX_GAP_NS {
                out.push(format!(
                    "{name}'s maximum is {:.1} us, the probe's {:.1} us: more apart than their loops explain (under 1 us per iteration); different windows met different noise",
                    b as f64 / 1e3,
                    a as f64 / 1e3
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(max_ns: u64, rate: f64) -> PeerSummary {
        PeerSummary {
            measures: String::new(),
            max_ns: Some(max_ns),
            p99_ns: None,
            events_per_s: None,
            threshold_ns: 1000,
            timer_irqs_per_s: Some(rate),
            samples: 1,
            duration_s: Some(2.0),
            cpu: Some(3),
            status: Some(0),
            command: String::new(),
            version: None,
            problem: None,
        }
    }

    #[test]
    fn agreement_within_the_loops_is_quiet_and_a_tick_change_is_named() {
        let mut m = BTreeMap::new();
        m.insert("oslat".to_string(), peer(41_000, 250.0));
        assert!(
            disagreements(tickscope_core::Mode::Noise, Some(28_000), Some(250.1), &m).is_empty()
        );
        let d = disagreements(tickscope_core::Mode::Noise, Some(28_000), Some(0.2), &m);
        assert_eq!(d.len(), 1, "{d:?}");
        assert!(d[0].contains("tick"));
        let d = disagreements(tickscope_core::Mode::Noise, Some(3_000), Some(250.0), &m);
        assert!(d[0].contains("maximum"), "{d:?}");
        // cyclictest against a noise-mode probe: different measurements, maxima not compared;
        // its timer count holds its own wake-ups, so no tick comparison either.
        let mut m = BTreeMap::new();
        m.insert("cyclictest".to_string(), peer(41_000, 1250.0));
        assert!(
            disagreements(tickscope_core::Mode::Noise, Some(3_000), Some(250.0), &m).is_empty()
        );
        let d = disagreements(tickscope_core::Mode::Timer, Some(3_000), Some(250.0), &m);
        assert_eq!(d.len(), 1, "{d:?}");
    }

    #[test]
    fn timer_rate_counts_arch_timer_over_the_interval() {
        let mut sources = heapless::Vec::new();
        let _ = sources.push(("arch_timer".try_into().unwrap(), 500));
        let _ = sources.push(("IPI0 Rescheduling interrupts".try_into().unwrap(), 7));
        let i = InterruptCounts {
            core: 3,
            interval_ns: 2_000_000_000,
            sources,
        };
        let tick = super::super::tick::Tick::default();
        assert_eq!(timer_rate(&i, 0, &tick), Some(250.0));
        assert_eq!(timer_rate(&i, 1_000_000_000, &tick), Some(500.0));
    }
}
