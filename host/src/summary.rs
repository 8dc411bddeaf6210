//! The figures of a run, computed once from an [`Analysis`] and written everywhere
//! (summary.json, `--json`, terminal tables, reports, baselines): one definition of each number.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use tickscope_core::hist::{Histogram, Quantiles};
use tickscope_core::stats::{Accumulator, WorstEvent};
use tickscope_core::wire::msg::Source;

use crate::analysis::{Analysis, median, tick_events};

/// Per-core figures.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CoreSummary {
    /// Core index.
    pub core: u16,
    /// Samples (timer wake-ups, or noise-loop iterations).
    pub samples: u64,
    /// Records lost (ring full on the device).
    pub lost: u64,
    /// Events above the threshold.
    pub events: u64,
    /// Events per second of window.
    pub events_per_s: f64,
    /// Latency (timer) or loop gap (noise), ns.
    pub latency_ns: Quantiles,
    /// Event sizes, ns.
    pub event_ns: Quantiles,
    /// Latency in PMU cycles (timer mode, when available).
    pub latency_cycles: Option<Quantiles>,
    /// Events per second of the window.
    pub per_second: Vec<u32>,
    /// Largest events.
    pub worst: Vec<WorstEvent>,
    /// Injected ticks taken.
    pub ticks: u64,
    /// Timer wake-ups more than a period late.
    pub overruns: u64,
    /// Spurious interrupts.
    pub spurious_irqs: u64,
    /// Raw samples replaced by device-side histograms.
    pub reduced: bool,
}

/// The injected tick, as configured and as measured.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TickSummary {
    /// Configured rate.
    pub hz: u32,
    /// Configured handler duration, ns.
    pub duration_ns: u64,
    /// Ticks taken.
    pub taken: u64,
    /// Noise events coinciding with a tick.
    pub matched_events: u64,
    /// Median wake-up latency of the tick handler (deadline to its first counter read), ns.
    pub entry_ns: Option<u64>,
}

/// A run's figures.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Summary {
    /// Run label (`bare-metal`, `generic`, `tickless`, ...).
    pub label: String,
    /// `firmware` or `linux`.
    pub source: String,
    /// `timer`, `noise` or `boot`.
    pub mode: String,
    /// `icount`, `tcg` or `hardware`.
    pub emulation: String,
    /// Board or machine.
    pub board: String,
    /// Exception level of the measurement (0 = Linux user space).
    pub el: u8,
    /// GIC version.
    pub gic: u8,
    /// Counter frequency.
    pub counter_hz: u64,
    /// Measurement window, seconds (longest of the measured cores).
    pub duration_s: f64,
    /// Event threshold, ns.
    pub threshold_ns: u64,
    /// Measured cores.
    pub measured_cores: Vec<u16>,
    /// Samples over all measured cores.
    pub samples: u64,
    /// Records lost on the device over all measured cores.
    pub lost: u64,
    /// Events over all measured cores.
    pub events: u64,
    /// Events per second (per core, averaged over measured cores).
    pub events_per_s: f64,
    /// Latency (timer) or loop gap (noise), ns, all measured cores merged.
    pub latency_ns: Quantiles,
    /// Event sizes, ns.
    pub event_ns: Quantiles,
    /// Latency in PMU cycles (timer mode on the firmware).
    pub latency_cycles: Option<Quantiles>,
    /// Cost of one tick: median duration of the noise events coinciding with timer interrupts
    /// (injected ticks on bare metal; on Linux, all events, which are the tick's when the rate
    /// matches `timer_irqs_per_s`).
    pub tick_cost_ns: Option<u64>,
    /// Noise events per second that coincide with a timer interrupt on the measured CPU
    /// (injected ticks on bare metal; the kernel tick on Linux, from the arch_timer count).
    pub tick_events_per_s: Option<f64>,
    /// Interrupt entry + exit cost beyond the handler's busy time (median), ns.
    pub irq_overhead_ns: Option<u64>,
    /// Injected tick.
    pub inject: Option<TickSummary>,
    /// Timer interrupts per second on the measured CPU (Linux, from /proc/interrupts).
    pub timer_irqs_per_s: Option<f64>,
    /// Interrupts per second on the measured CPU by source (Linux).
    pub interrupts_per_s: BTreeMap<String, f64>,
    /// Per-core figures.
    pub cores: Vec<CoreSummary>,
    /// Frames lost on the link (corrupt + dropped).
    pub frames_lost: u64,
}

fn quantiles_or_none(h: &Histogram) -> Option<Quantiles> {
    (h.count() > 0).then(|| h.quantiles())
}

/// Computes the figures of a run.
pub fn summarize(a: &Analysis, label: &str, emulation: &str, frames_lost: u64) -> Summary {
    let hz = a.hz();
    let h = a.header.as_ref();
    let cfg = h.map(|h| h.config).unwrap_or_default();
    let mut merged = Accumulator::new(a.threshold_ns());
    let mut cycles = Histogram::new();
    let mut cores = Vec::new();
    let mut tick_durations = Vec::new();
    let mut overheads = Vec::new();
    let mut entries = Vec::new();
    let mut duration_s: f64 = 0.0;
    let mut ticks_taken = 0;
    for c in a.cores.values() {
        merged.merge(&c.acc);
        cycles.merge(&c.cycles);
        let window = c.window_s(hz);
        duration_s = duration_s.max(window);
        let status = c.status.unwrap_or_default();
        let (d, o, e) = tick_events(c, hz);
        tick_durations.extend(d);
        overheads.extend(o);
        entries.extend(e);
        ticks_taken += status.ticks;
        let events = c.acc.event_count();
        cores.push(CoreSummary {
            core: c.core,
            samples: status.samples.max(c.acc.values.count()),
            lost: status.lost,
            events,
            events_per_s: if window > 0.0 {
                events as f64 / window
            } else {
                0.0
            },
            latency_ns: c.acc.value_quantiles(),
            event_ns: c.acc.event_quantiles(),
            latency_cycles: quantiles_or_none(&c.cycles),
            per_second: c.acc.per_second.counts().to_vec(),
            worst: c.acc.worst.sorted().to_vec(),
            ticks: status.ticks,
            overruns: status.overruns,
            spurious_irqs: status.foreign_irqs,
            reduced: c.reduced,
        });
    }
    let n_cores = cores.len().max(1) as f64;
    let events = merged.event_count();
    let events_per_s = if duration_s > 0.0 {
        cores.iter().map(|c| c.events_per_s).sum::<f64>() / n_cores
    } else {
        0.0
    };
    let source = match h.map(|h| h.source) {
        Some(Source::LinuxProbe) => "linux",
        _ => "firmware",
    };
    let mut interrupts_per_s = BTreeMap::new();
    let mut timer_irqs_per_s = None;
    for i in &a.interrupts {
        let secs = i.interval_ns as f64 / 1e9;
        if secs <= 0.0 {
            continue;
        }
        let mut timer = 0.0;
        for (name, n) in &i.sources {
            let rate = *n as f64 / secs;
            *interrupts_per_s.entry(name.to_string()).or_insert(0.0) +=
                rate / a.interrupts.len() as f64;
            if name.contains("arch_timer") || name.starts_with("LOC") {
                timer += rate;
            }
        }
        *timer_irqs_per_s.get_or_insert(0.0) += timer / a.interrupts.len() as f64;
    }
    if source == "firmware" && duration_s > 0.0 && cfg.mode != tickscope_core::Mode::Boot {
        // Bare metal: the only timer interrupts on a measured core are the measurement's own
        // (timer mode) and the injected tick.
        timer_irqs_per_s = Some(ticks_taken as f64 / duration_s / n_cores);
    }
    // Bare metal: events matched to the injected ticks' records. Linux: events during which
    // the measured CPU's arch_timer count moved (the probe checks it at every event).
    let mut linux_ticks: Vec<u64> = a
        .cores
        .values()
        .flat_map(|c| c.timer_events.iter().copied())
        .collect();
    let linux_tick_count = linux_ticks.len();
    let (tick_cost_ns, tick_events) = if source == "linux" {
        (median(&mut linux_ticks), linux_tick_count)
    } else {
        (median(&mut tick_durations), tick_durations.len())
    };
    let tick_events_per_s = (duration_s > 0.0
        && (source == "linux" || cfg.mode == tickscope_core::Mode::Noise))
        .then(|| round6(tick_events as f64 / duration_s / n_cores));
    Summary {
        label: label.to_string(),
        source: source.into(),
        mode: cfg.mode.name().into(),
        emulation: emulation.into(),
        board: h.map(|h| h.board.to_string()).unwrap_or_default(),
        el: h.map(|h| h.el).unwrap_or(0),
        gic: h.map(|h| h.gic).unwrap_or(0),
        counter_hz: hz,
        duration_s: round6(duration_s),
        threshold_ns: cfg.threshold_ns,
        measured_cores: a.cores.keys().copied().collect(),
        samples: cores.iter().map(|c| c.samples).sum(),
        lost: cores.iter().map(|c| c.lost).sum(),
        events,
        events_per_s: round6(events_per_s),
        latency_ns: merged.value_quantiles(),
        event_ns: merged.event_quantiles(),
        latency_cycles: quantiles_or_none(&cycles),
        tick_cost_ns,
        tick_events_per_s,
        irq_overhead_ns: median(&mut overheads),
        inject: cfg.inject.map(|t| TickSummary {
            hz: t.hz,
            duration_ns: t.duration_ns,
            taken: ticks_taken,
            matched_events: tick_durations.len() as u64,
            entry_ns: median(&mut entries),
        }),
        timer_irqs_per_s: timer_irqs_per_s.map(round6),
        interrupts_per_s: interrupts_per_s
            .into_iter()
            .map(|(k, v)| (k, round6(v)))
            .collect(),
        cores: cores
            .into_iter()
            .map(|mut c| {
                c.events_per_s = round6(c.events_per_s);
                c
            })
            .collect(),
        frames_lost,
    }
}

/// Rounds to 6 decimals so JSON output is stable and readable.
pub fn round6(v: f64) -> f64 {
    (v * 1e6).round() / 1e6
}
