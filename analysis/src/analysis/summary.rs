//! The figures of a run, computed once from an [`Analysis`] and written everywhere
//! (summary.json, `--json`, terminal tables, reports, baselines): one definition of each number.
//!
//! Attribution is done here: every event is split into the time its causes ran (OS noise) and
//! the rest (hardware noise: on QEMU the emulator and the other vCPUs, on a board the hardware,
//! firmware or hypervisor), see [`super::attribute`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use tickscope_core::hist::{Histogram, Quantiles};
use tickscope_core::stats::Accumulator;
use tickscope_core::units::ticks_to_ns;
use tickscope_core::wire::msg::{CauseKind, Method, Source, TraceKind};

use super::attribute::{self, Causes, Split};
use super::totals::{IrqEpisodes, Totals};
use super::{Analysis, CoreData, median};
use crate::facts::Emulation;

/// The part of the window a partial run covers.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct Covered {
    /// Seconds of the window the kept data covers.
    pub covered_s: f64,
    /// Seconds the window was meant to last.
    pub window_s: f64,
}

/// Three figures of a distribution, ns.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Default)]
pub struct Tail {
    /// Median.
    pub p50: u64,
    /// 99th percentile.
    pub p99: u64,
    /// Largest.
    pub max: u64,
}

impl Tail {
    fn of(h: &Histogram) -> Tail {
        Tail {
            p50: h.quantile(50, 100).unwrap_or(0),
            p99: h.quantile(99, 100).unwrap_or(0),
            max: h.max().unwrap_or(0),
        }
    }
}

/// OS noise or hardware noise of a run or a core.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Default)]
pub struct NoiseClass {
    /// Events with a part of this class (OS: any cause ran in it; hw: the rest of the event
    /// reaches the threshold).
    pub events: u64,
    /// Those per second (per core).
    pub events_per_s: f64,
    /// Time of this class per second of window, summed over all events (per core). For hardware
    /// noise this includes the stretches too short to count as events (see
    /// `below_threshold_ns_per_s`).
    pub noise_ns_per_s: f64,
    /// Distribution of the per-event parts of this class over the events counted.
    pub event_ns: Tail,
    /// Hardware noise only: the part of `noise_ns_per_s` in stretches shorter than the threshold,
    /// which `events` does not count (slivers between and around OS pieces). The counted
    /// stretches' time is the difference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub below_threshold_ns_per_s: Option<f64>,
}

/// One cause of noise.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CauseSummary {
    /// `arch_timer`, `TIMER`, `kworker/3:1:42`, `injected tick (INTID 27)`, `emulator`, ...
    pub name: String,
    /// `irq`, `ipi`, `softirq`, `thread`, `nmi` or `hw`.
    pub kind: String,
    /// Events it contributed to.
    pub events: u64,
    /// Those per second (per core).
    pub events_per_s: f64,
    /// Its net time inside events, ns.
    pub total_ns: u64,
    /// Its largest net time in one event, ns.
    pub max_ns: u64,
    /// The untraced entry before and exit after it charged to it in each event it started or
    /// ended: the smallest lead and tail seen around it in this run, ns (0 for `hw`).
    pub entry_exit_ns: (u64, u64),
    /// The `hw` row only: the part of `total_ns` in stretches shorter than the threshold (its
    /// `events` count only the stretches that reach it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub below_threshold_ns: Option<u64>,
}

/// The attribution figures, present in the run summary and in each core's.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Attributed {
    /// OS noise: the net time of the causes inside events (`None` without attribution).
    pub os_noise: Option<NoiseClass>,
    /// Hardware noise: the rest of each event (`None` without attribution).
    pub hw_noise: Option<NoiseClass>,
    /// Causes, most time first; the `hw` one last.
    pub causes: Vec<CauseSummary>,
    /// Share of the window not lost to events (100 × (1 − event time / window)).
    pub cpu_available_pct: Option<f64>,
    /// `firmware`, `tracefs`, `counters` or `none`.
    pub attribution: String,
    /// What limits the attribution (lost trace records, events beyond what was kept, no raw
    /// events), empty when nothing.
    pub attribution_note: String,
    /// Time the measuring loop spent after its events recording them (not measuring), ns.
    pub blind_ns: u64,
    /// Records beyond the ones kept per core were not attributed: the OS and hardware counts,
    /// times and causes cover the kept ones only and are lower bounds (the run's own event
    /// count and latency figures are complete). Absent when everything was attributed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lower_bound: Option<LowerBound>,
}

/// How much of a run the attribution covers when it is not all of it.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Default)]
pub struct LowerBound {
    /// Records attributed.
    pub attributed: u64,
    /// Records not attributed (beyond the ones kept per core).
    pub not_attributed: u64,
}

/// A late wake-up and what kept the thread from running.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct WorstWakeup {
    /// Wake-up latency (deadline to the thread running), ns.
    pub latency_ns: u64,
    /// Of which deadline to the timer's handler, ns (`None` when no expiry was traced).
    pub irq_ns: Option<u64>,
    /// When, ns since the window opened.
    pub at_ns: u64,
    /// What ran on the CPU between the deadline and the wake-up, most time first: (cause, ns);
    /// the hardware/emulator time last.
    pub blocking: Vec<(String, u64)>,
}

/// Timer-mode latency split as rtla timerlat splits it (Linux, tracefs): deadline to the
/// timer's interrupt handler (IRQ latency) and to the thread running (thread latency).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TimerSplit {
    /// Wake-ups whose timer expiry was found in the trace.
    pub matched: u64,
    /// The wake-ups the split is computed from: the first ones kept per core (a long run's
    /// `samples` has them all).
    #[serde(default)]
    pub from_wakeups: u64,
    /// Deadline to the hrtimer expiring in the interrupt handler, ns.
    pub irq_ns: Tail,
    /// Deadline to the probe's thread running (its wake-up latency), ns.
    pub thread_ns: Tail,
    /// The worst wake-ups, with what blocked them.
    pub worst: Vec<WorstWakeup>,
}

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
    /// Largest events, each with its pieces in time order (cause, kind, ns, share; the ns add
    /// up to the event's `value`).
    pub worst: Vec<super::explain::Worst>,
    /// Injected ticks taken.
    pub ticks: u64,
    /// Timer wake-ups more than a period late.
    pub overruns: u64,
    /// Spurious interrupts.
    pub spurious_irqs: u64,
    /// Timer interrupts delivered with their condition (ISTATUS) not met (counted, not used).
    pub ghost_irqs: u64,
    /// Timer interrupts taken before their deadline (counted, not used).
    pub early_irqs: u64,
    /// Values clamped at the wire's limit.
    pub clamped: u64,
    /// Raw samples replaced by device-side histograms.
    pub reduced: bool,
    /// Timer mode on Linux with tracefs: the IRQ / thread latency split.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timer_latency: Option<TimerSplit>,
    /// Attribution of this core's events.
    #[serde(flatten)]
    pub attributed: Attributed,
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
    /// Episodes the tick ran in (one per tick taken when every tick was seen).
    pub matched_events: u64,
    /// Median wake-up latency of the tick handler (deadline to the vector's timestamp), ns.
    pub entry_ns: Option<u64>,
    /// Per measured core: the tick's deadlines in its window (periods of HZ, ±1 for the phase)
    /// and the interrupts it took. Fewer taken means deadlines fell while the core could not
    /// take them (its vCPU descheduled under icount) and coalesced into one interrupt.
    #[serde(default)]
    pub cores: Vec<TickCore>,
}

/// One core's injected ticks: set against taken.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TickCore {
    /// Core.
    pub core: u16,
    /// Deadlines in its window.
    pub deadlines: u64,
    /// Interrupts taken.
    pub taken: u64,
}

impl TickSummary {
    /// A note for each core that took fewer ticks than its deadlines (beyond the phase's one).
    pub fn missed_notes(&self) -> Vec<String> {
        self.cores
            .iter()
            .filter(|c| c.taken + 1 < c.deadlines)
            .map(|c| {
                format!(
                    "core {} took {} of the injected tick's {} deadlines: the others fell while it could not take them (its vCPU descheduled) and coalesced",
                    c.core, c.taken, c.deadlines
                )
            })
            .collect()
    }
}

/// A run's figures.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Summary {
    /// Run label (`bare-metal`, `generic`, `tickless`, ...).
    pub label: String,
    /// `firmware` or `linux`.
    #[serde(with = "source_name")]
    pub source: Source,
    /// `timer`, `noise` or `boot`.
    #[serde(with = "mode_name")]
    pub mode: tickscope_core::Mode,
    /// `icount`, `tcg` or `hardware`.
    pub emulation: crate::facts::Emulation,
    /// Board or machine.
    pub board: String,
    /// Exception level of the measurement (0 = Linux user space).
    pub el: u8,
    /// EL the bare-metal image was entered at, for images started through UEFI (which chose it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry_el: Option<u8>,
    /// How the bare-metal image was started when not by QEMU's direct load: `uefi`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boot: Option<String>,
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
    /// The window-start transient, flagged (not excluded): when the measuring loop was not yet
    /// running as the window opened (its own setup, or its core taken away), the first gap runs
    /// from the window's opening and is counted as an event; this is its length, ns (the
    /// largest over cores). `None`: every loop was running when its window opened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub late_start_ns: Option<u64>,
    /// Noise mode: the window per loop iteration (window / iterations), the time in events
    /// included: what the loop achieved, not what it costs (see `loop_ns`).
    pub loop_ns_per_iteration: Option<f64>,
    /// Noise mode: the loop's own cost per iteration, the detector's resolution: the window less
    /// the time in events, over the iterations outside them. Under icount, the loop's
    /// instruction count (to the counter's tick over the window: 10.00004 for 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loop_ns: Option<f64>,
    /// Latency in PMU cycles (timer mode on the firmware, emulated): timer deadline to the
    /// exception vector's first instructions. Not reported on hardware, where PMCCNTR stops in
    /// WFI and follows frequency scaling (see `cycles_note`).
    pub latency_cycles: Option<Quantiles>,
    /// How many cycles `latency_cycles` may be low by: the measured calibration's bracket of the
    /// counter edge (largest over the measured cores). The cycle count at a deadline is taken at
    /// the bracket's upper end, so each cycle latency is a lower bound and the true one lies
    /// between it and it plus this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_cycles_uncertainty: Option<u64>,
    /// Interrupt entry cost in PMU cycles (timer mode on the firmware): the vector's first
    /// instructions to the timer handler's body (saving registers, acknowledging, dispatching).
    pub entry_cycles: Option<Quantiles>,
    /// Why cycle latencies are absent, when they are.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub cycles_note: String,
    /// Cost of one tick: the median time the loop lost to a timer-interrupt episode (the
    /// injected tick on bare metal, the kernel's `arch_timer` on Linux): its OS time with the
    /// short hardware time around it (below the threshold), not another vCPU's slice.
    pub tick_cost_ns: Option<u64>,
    /// The OS part of those episodes (median): what the tick's handlers ran.
    pub tick_os_ns: Option<u64>,
    /// Timer-interrupt episodes per second.
    pub tick_events_per_s: Option<f64>,
    /// Median of (tick episode − the injected tick's configured busy time): interrupt entry and
    /// exit around the handler's busy loop, ns.
    pub irq_overhead_ns: Option<u64>,
    /// Injected tick.
    pub inject: Option<TickSummary>,
    /// Timer interrupts per second on the measured CPU other than the measurement's own
    /// wake-ups (bare metal: the injected tick; Linux: the kernel's timer line, below).
    pub timer_irqs_per_s: Option<f64>,
    /// The kernel's timer line the Linux probe found by its INTID (arm64): what the tick figures
    /// count. Absent where the tick is known by name (x86's `LOC`, older captures).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timer_line: Option<tickscope_core::wire::msg::TimerLine>,
    /// Interrupts per second on the measured CPU by source (Linux).
    pub interrupts_per_s: BTreeMap<String, f64>,
    /// What the attribution was built from, against what the kernel counted (Linux with a
    /// trace): per interrupt source counted, traced and inside events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attribution_coverage: Option<super::coverage::Coverage>,
    /// Attribution over all measured cores.
    #[serde(flatten)]
    pub attributed: Attributed,
    /// Per-core figures.
    pub cores: Vec<CoreSummary>,
    /// Frames lost on the link (corrupt + dropped).
    pub frames_lost: u64,
    /// Set when the run did not finish: the figures cover only this part of the window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partial: Option<Covered>,
    /// The running kernel is PREEMPT_RT, as the probe read it from the kernel (Linux runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preempt_rt: Option<bool>,
    /// The peer tools run beside the probe (`--peers`): `oslat`, `cyclictest`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub peers: BTreeMap<String, super::peers::PeerSummary>,
    /// Where the peers and the probe disagree beyond what their loops explain.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub peer_notes: Vec<String>,
    /// The load on the other CPUs through the window (`--load`), as its instances counted it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load: Option<super::load::LoadSummary>,
}

/// A core's events split into causes, with the cause table, as the plots need them.
#[derive(Debug, Clone, Default)]
pub struct CoreSplits {
    /// Core.
    pub core: u16,
    /// Window start (ticks).
    pub window_start: u64,
    /// One split per kept event, in time order.
    pub splits: Vec<Split>,
    /// Cause names.
    pub causes: Causes,
    /// Each cause's untraced entry and exit bound in ticks (see `attribute::charge_edges`).
    pub edges: Vec<(u64, u64)>,
    /// The event threshold in ticks (OS pieces closer than it form one episode).
    pub threshold: u64,
    /// Every event's parts, when the core kept only some of its events (a long run).
    pub whole: Option<Box<WholeTails>>,
    /// The largest event per slot of the window, of every event.
    pub maxima: super::slots::MaxSlots,
}

/// A core's every event as histograms (ns), the ones beyond the kept splits included: what the
/// summary's `os_noise`, `hw_noise` and `event_ns` count, so the tail plot's rates are over the
/// whole window as the table's are, not the kept events' over it.
#[derive(Debug, Clone, Default)]
pub struct WholeTails {
    /// OS episodes' OS time.
    pub os: Histogram,
    /// Hardware stretches at or above the threshold.
    pub hw: Histogram,
    /// Whole events (a run without attribution).
    pub events: Histogram,
}

impl WholeTails {
    /// The tails of core `c` whose attribution added up to `totals`, when it kept only some of
    /// its records.
    fn of(c: &CoreData, totals: &Totals) -> Option<Box<WholeTails>> {
        let beyond = c.overflow.as_ref().map_or(0, |o| o.records) + c.dropped;
        (beyond > 0).then(|| {
            Box::new(WholeTails {
                os: totals.os.clone(),
                hw: totals.hw.clone(),
                events: c.acc.events.clone(),
            })
        })
    }
}

/// The name of the hardware cause for an emulation: `emulator` under QEMU, `hardware` on boards.
pub fn hw_cause_name(emulation: Emulation) -> &'static str {
    if emulation.is_emulated() {
        "emulator"
    } else {
        "hardware"
    }
}

fn method_of(c: &CoreData, source: Source) -> Method {
    match (&c.attribution, source) {
        _ if c.reduced => Method::None,
        (Some(a), _) => a.method,
        (None, Source::Firmware) => Method::Firmware,
        (None, Source::LinuxProbe) => Method::None,
    }
}

/// Splits a core's events into causes with the method its producer announced.
pub fn split_core(c: &CoreData, source: Source) -> (Method, CoreSplits) {
    let method = method_of(c, source);
    let mut causes = Causes::default();
    let mut events: Vec<&super::Event> = c.events.iter().collect();
    events.sort_by_key(|e| e.start);
    let spans: Vec<(u64, u64)> = events.iter().map(|e| (e.start, e.len)).collect();
    let mut edges = vec![(0, 0); 0];
    let threshold = c.window.map(|w| w.threshold).unwrap_or(0);
    let splits = match method {
        // The firmware's timestamps are the vector's first instructions and the handler's last;
        // the exception entry before them and the return after are as untraced as a kernel
        // handler's: the same rule charges each cause its smallest lead and tail.
        Method::Firmware => {
            let iv = attribute::from_irqs(&c.irqs, &mut causes);
            let mut s = attribute::join(&spans, &iv);
            edges = attribute::charge_edges(&mut s, causes.len(), threshold);
            s
        }
        Method::Tracefs => {
            let mut trace = c.trace.clone();
            trace.sort_by_key(|r| r.at);
            let probe = c.attribution.as_ref().map(|a| a.probe).unwrap_or(u16::MAX);
            let iv = attribute::from_trace(&trace, &|i| c.name(i), probe, &mut causes);
            let mut s = attribute::join(&spans, &iv);
            edges = attribute::charge_edges(&mut s, causes.len(), threshold);
            s
        }
        Method::Counters => {
            let mut ids = BTreeMap::new();
            for (&i, (kind, name)) in &c.names {
                ids.insert(i as u32, causes.id(name, *kind));
            }
            let raw: Vec<(u64, u64, u64)> = events
                .iter()
                .map(|e| (e.start, e.len, e.counters))
                .collect();
            attribute::from_counters(&raw, &|b| ids.get(&b).copied())
        }
        // Without attribution the events are kept whole, with no pieces (nothing is claimed).
        Method::None => spans
            .iter()
            .map(|&(start, len)| attribute::Split {
                start,
                len,
                pieces: vec![],
            })
            .collect(),
    };
    let window_start = c.window_ticks().map(|w| w.0).unwrap_or(0);
    (
        method,
        CoreSplits {
            core: c.core,
            window_start,
            splits,
            causes,
            edges,
            threshold,
            whole: None,
            maxima: c.maxima.clone(),
        },
    )
}

/// Working totals of one core's attribution (merged over cores for the run).
#[derive(Default, Clone)]
struct Tally {
    /// What the events add up to.
    totals: Totals,
    window_s: f64,
    cores: u32,
    /// (name, kind) -> (entry, exit) bound, ns (the largest over cores).
    edges: BTreeMap<(String, CauseKind), (u64, u64)>,
    blind_ns: u64,
    methods: Vec<Method>,
    notes: Vec<String>,
    /// Records kept (attributed) and not.
    kept: u64,
    dropped: u64,
}

impl Tally {
    fn merge(&mut self, o: &Tally) {
        self.totals.merge(&o.totals);
        self.window_s += o.window_s;
        self.cores += o.cores;
        for (k, v) in &o.edges {
            let e = self.edges.entry(k.clone()).or_insert((0, 0));
            *e = (e.0.max(v.0), e.1.max(v.1));
        }
        self.blind_ns += o.blind_ns;
        self.kept += o.kept;
        self.dropped += o.dropped;
        self.methods.extend(o.methods.iter().copied());
        self.notes.extend(o.notes.iter().cloned());
    }

    /// The OS causes, largest total first (ties by name).
    fn os_causes(&self, per_s: &dyn Fn(f64) -> f64) -> Vec<CauseSummary> {
        let mut causes: Vec<CauseSummary> = self
            .totals
            .causes
            .iter()
            .map(|((name, kind), c)| CauseSummary {
                name: name.clone(),
                kind: kind.name().into(),
                events: c.episodes,
                events_per_s: per_s(c.episodes as f64),
                total_ns: c.total_ns,
                max_ns: c.max_ns,
                entry_exit_ns: self
                    .edges
                    .get(&(name.clone(), *kind))
                    .copied()
                    .unwrap_or((0, 0)),
                below_threshold_ns: None,
            })
            .collect();
        causes.sort_by(|a, b| b.total_ns.cmp(&a.total_ns).then(a.name.cmp(&b.name)));
        causes
    }

    fn figures(&self, hw_name: &str) -> Attributed {
        let method = match self.methods.first() {
            Some(m) if self.methods.iter().all(|x| x == m) => *m,
            Some(_) => Method::None,
            None => Method::None,
        };
        // Rates are per core: the window summed over cores.
        let per_s = |n: f64| {
            if self.window_s > 0.0 {
                round6(n / self.window_s)
            } else {
                0.0
            }
        };
        let mut notes = self.notes.clone();
        notes.dedup();
        if method == Method::None {
            return Attributed {
                attribution: method.name().into(),
                attribution_note: notes.join("; "),
                blind_ns: self.blind_ns,
                ..Attributed::default()
            };
        }
        let class = |h: &Histogram, ns: u64| NoiseClass {
            events: h.count(),
            events_per_s: per_s(h.count() as f64),
            noise_ns_per_s: per_s(ns as f64),
            event_ns: Tail::of(h),
            below_threshold_ns_per_s: None,
        };
        // The hardware time in stretches below the threshold: all of it less the counted ones.
        let t = &self.totals;
        let hw_below = t.hw_ns.saturating_sub(t.hw.sum() as u64);
        let mut causes = self.os_causes(&per_s);
        causes.push(CauseSummary {
            name: hw_name.into(),
            kind: CauseKind::Hw.name().into(),
            events: t.hw.count(),
            events_per_s: per_s(t.hw.count() as f64),
            total_ns: t.hw_ns,
            max_ns: t.hw.max().unwrap_or(0),
            entry_exit_ns: (0, 0),
            below_threshold_ns: Some(hw_below),
        });
        Attributed {
            os_noise: Some(class(&t.os, t.os_ns)),
            hw_noise: Some(NoiseClass {
                below_threshold_ns_per_s: Some(per_s(hw_below as f64)),
                ..class(&t.hw, t.hw_ns)
            }),
            causes,
            cpu_available_pct: (self.window_s > 0.0)
                .then(|| round6(100.0 * (1.0 - t.event_ns as f64 / 1e9 / self.window_s).max(0.0))),
            attribution: method.name().into(),
            attribution_note: notes.join("; "),
            blind_ns: self.blind_ns,
            lower_bound: (self.dropped > 0).then_some(LowerBound {
                attributed: self.kept,
                not_attributed: self.dropped,
            }),
        }
    }
}

/// Attribution totals of one core from its splits.
fn tally(
    c: &CoreData,
    method: Method,
    s: &CoreSplits,
    hz: u64,
    threshold_ns: u64,
    window_s: f64,
) -> Tally {
    let mut t = Tally {
        window_s,
        cores: 1,
        blind_ns: c
            .end_status()
            .map(|st| ticks_to_ns(st.blind, hz))
            .unwrap_or(0),
        methods: vec![method],
        kept: c.events.len() as u64
            + c.irqs.len() as u64
            + c.trace.len() as u64
            + c.overflow.as_ref().map_or(0, |o| o.records - o.dropped),
        dropped: c.dropped + c.overflow.as_ref().map_or(0, |o| o.dropped),
        ..Tally::default()
    };
    if let Some(a) = &c.attribution
        && !a.detail.is_empty()
    {
        t.notes.push(a.detail.to_string());
    }
    if let Some(a) = &c.attribution
        && a.lost > 0
    {
        t.notes.push(format!(
            "{} trace record(s) lost: events they covered may be charged to hardware",
            a.lost
        ));
    }
    if t.dropped > 0 {
        t.notes.push(format!(
            "{} record(s) beyond the {} kept per core were not attributed",
            t.dropped, c.limit
        ));
    }
    if c.reduced {
        t.notes
            .push("the device shipped histograms instead of events: nothing to attribute".into());
    }
    for (id, &(a, b)) in s.edges.iter().enumerate() {
        if a > 0 || b > 0 {
            let (name, kind) = s.causes.get(id);
            t.edges.insert(
                (name.to_string(), kind),
                (ticks_to_ns(a, hz), ticks_to_ns(b, hz)),
            );
        }
    }
    t.totals
        .add(&s.splits, &s.causes, s.threshold, threshold_ns, hz);
    add_overflow(&mut t, c, method, hz);
    t
}

/// A long run's records beyond the kept ones, attributed as they came.
fn add_overflow(t: &mut Tally, c: &CoreData, method: Method, hz: u64) {
    let Some(o) = c.overflow.as_deref() else {
        return;
    };
    if !matches!(method, Method::Firmware | Method::Tracefs) {
        // Per-event counters (or no attribution) split only the kept events: the rest are
        // counted, not attributed, and the figures say they are lower bounds.
        let beyond = o.records - o.dropped;
        t.kept = t.kept.saturating_sub(beyond);
        t.dropped += beyond;
        return;
    }
    t.totals.merge(&o.totals);
    if o.has_bounds() {
        t.totals.merge(&c.with_split(hz, |how| o.pending(how)));
    } else {
        // Cut short before anything was closed: learn the bounds now.
        let mut o = o.clone();
        c.learn_overflow_bounds(&mut o);
        t.totals.merge(&c.with_split(hz, |how| o.pending(how)));
    }
    let closer = match method {
        Method::Firmware => "as checkpoints closed them",
        _ => "as the probe's trace arrived during the window",
    };
    t.notes.push(format!(
        "{} record(s) beyond the {} kept per core were attributed {closer} (at most {} held at once), with each cause's entry and exit bounds learnt as they came; the tail plot counts every event, the worst events and the timeline show the kept ones",
        o.records - o.dropped,
        c.limit,
        o.peak
    ));
    if o.late > 0 {
        t.notes.push(format!(
            "{} event(s) arrived after their time was closed: split against the records still held",
            o.late
        ));
    }
}

/// The loop's own cost per iteration: `window_ns` (all measured cores) less the time in
/// `events`, over the iterations outside them (each event is one iteration that took its gap).
fn loop_own_ns(window_ns: f64, iterations: u64, events: &Histogram) -> Option<f64> {
    let quiet_iterations = iterations.checked_sub(events.count()).filter(|&n| n > 0)?;
    let quiet_ns = window_ns - events.sum() as f64;
    (quiet_ns > 0.0).then(|| round6(quiet_ns / quiet_iterations as f64))
}

/// The IRQ / thread split of a Linux core's wake-ups, from the probe's timer expiries in its trace.
fn timer_split(c: &CoreData, splits: &CoreSplits, hz: u64, hw_name: &str) -> Option<TimerSplit> {
    let mut expiries: Vec<u64> = c
        .trace
        .iter()
        .filter(|r| r.kind == TraceKind::TimerExpire)
        .map(|r| r.at)
        .collect();
    if expiries.is_empty() || c.wakeups.is_empty() {
        return None;
    }
    expiries.sort_unstable();
    let mut irq = Histogram::new();
    let mut thread = Histogram::new();
    let mut matched = 0;
    let mut irq_of = std::collections::HashMap::new();
    for &(deadline, latency) in &c.wakeups {
        thread.record(ticks_to_ns(latency as u64, hz));
        // The first expiry at or after the deadline, no later than the wake-up.
        let i = expiries.partition_point(|&e| e < deadline);
        if let Some(&e) = expiries.get(i)
            && e <= deadline + latency as u64
        {
            let ns = ticks_to_ns(e - deadline, hz);
            irq.record(ns);
            irq_of.insert(deadline, ns);
            matched += 1;
        }
    }
    let start = c.window_ticks().map(|w| w.0).unwrap_or(0);
    let mut worst: Vec<&attribute::Split> = splits.splits.iter().collect();
    worst.sort_by(|a, b| b.len.cmp(&a.len).then(a.start.cmp(&b.start)));
    let worst = worst
        .into_iter()
        .take(5)
        .map(|s| {
            let mut blocking: Vec<(String, u64)> = s
                .causes()
                .iter()
                .map(|&(id, t)| (splits.causes.get(id).0.to_string(), ticks_to_ns(t, hz)))
                .collect();
            if s.hw() > 0 {
                blocking.push((hw_name.to_string(), ticks_to_ns(s.hw(), hz)));
            }
            WorstWakeup {
                latency_ns: ticks_to_ns(s.len, hz),
                irq_ns: irq_of.get(&s.start).copied(),
                at_ns: ticks_to_ns(s.start.saturating_sub(start), hz),
                blocking,
            }
        })
        .collect();
    Some(TimerSplit {
        matched,
        from_wakeups: c.wakeups.len() as u64,
        irq_ns: Tail::of(&irq),
        thread_ns: Tail::of(&thread),
        worst,
    })
}

fn quantiles_or_none(h: &Histogram) -> Option<Quantiles> {
    (h.count() > 0).then(|| h.quantiles())
}

/// Arch-timer interrupts in a Linux core's trace within its window, minus those that woke the
/// probe (its own timer, in timer mode). `None` without a trace.
fn traced_timer_irqs(c: &CoreData, tick: &super::tick::Tick) -> Option<u64> {
    let a = c.attribution.as_ref()?;
    if a.method != Method::Tracefs {
        return None;
    }
    let (start, end) = c.window_ticks()?;
    let timer: Vec<u16> = c
        .names
        .iter()
        .filter(|(_, (k, n))| *k == CauseKind::Irq && tick.is_local_timer(n))
        .map(|(&i, _)| i)
        .collect();
    let mut trace = c.trace.clone();
    trace.sort_by_key(|r| r.at);
    let mut n = 0u64;
    let mut in_timer = false;
    let mut woke_probe = false;
    for r in trace.iter().filter(|r| r.at >= start && r.at <= end) {
        match r.kind {
            TraceKind::IrqEntry if timer.contains(&r.name) => {
                in_timer = true;
                woke_probe = false;
            }
            TraceKind::TimerExpire if in_timer => woke_probe = true,
            TraceKind::IrqExit if in_timer && timer.contains(&r.name) => {
                in_timer = false;
                if !woke_probe {
                    n += 1;
                }
            }
            _ => {}
        }
    }
    // The records beyond the kept ones were counted as they were closed.
    if let Some(o) = c.overflow.as_deref() {
        n += timer
            .iter()
            .map(|i| o.quiet_irqs.get(i).unwrap_or(&0))
            .sum::<u64>();
    }
    Some(n)
}

/// Computes the figures of a run.
pub fn summarize(a: &Analysis, label: &str, emulation: Emulation, frames_lost: u64) -> Summary {
    summarize_with(a, label, emulation, frames_lost).0
}

/// Computes the figures of a run and returns each core's splits (for plots) with them.
pub fn summarize_with(
    a: &Analysis,
    label: &str,
    emulation: Emulation,
    frames_lost: u64,
) -> (Summary, Vec<CoreSplits>) {
    let h = a.header.as_ref();
    let ctx = Ctx {
        hz: a.hz(),
        cfg: h.map(|h| h.config).unwrap_or_default(),
        source: h.map(|h| h.source).unwrap_or(Source::Firmware),
        threshold_ns: a.threshold_ns(),
        hw_name: hw_cause_name(emulation),
        tick: a.tick(),
    };
    let mut run = RunTotals::new(ctx.threshold_ns);
    let mut cores = Vec::new();
    let mut all_splits = Vec::new();
    for c in a.cores.values() {
        let (core, splits) = run.add_core(c, &ctx);
        cores.push(core);
        all_splits.push(splits);
    }
    let mut summary = run.summary(a, &ctx, cores, emulation);
    summary.label = label.to_string();
    summary.frames_lost = frames_lost;
    summary.partial = partial(a, &summary);
    summary.peer_notes = super::peers::disagreements(
        summary.mode,
        (summary.latency_ns.count > 0).then_some(summary.latency_ns.max),
        summary.timer_irqs_per_s,
        &summary.peers,
    );
    (summary, all_splits)
}

/// What every core's figures are computed with.
struct Ctx {
    hz: u64,
    cfg: tickscope_core::Config,
    source: Source,
    threshold_ns: u64,
    hw_name: &'static str,
    /// Which interrupt is the tick.
    tick: super::tick::Tick,
}

/// The tick's figures (see [`Summary::tick_cost_ns`]).
struct TickFigures {
    episodes: u64,
    cost_ns: Option<u64>,
    os_ns: Option<u64>,
    overhead_ns: Option<u64>,
}

/// The median as [`median`] takes it (the upper one of an even count), from a histogram.
fn upper_median(h: &Histogram) -> Option<u64> {
    let n = h.count();
    (n > 0).then(|| h.quantile(n / 2 + 1, n)).flatten()
}

/// The run's figures as the cores add to them.
struct RunTotals {
    merged: Accumulator,
    cycles: Histogram,
    entry_cycles: Histogram,
    tally: Tally,
    duration_s: f64,
    ticks_taken: u64,
    /// Extent of every episode a tick cause ran in (ns), its OS part, and the overhead beyond
    /// the injected tick's own duration.
    tick_durations: Vec<u64>,
    tick_os: Vec<u64>,
    overheads: Vec<u64>,
    /// Interrupt entry delays (ns).
    entries: Vec<u64>,
    iterations: u64,
    samples_s: f64,
    tick_cores: Vec<TickCore>,
    traced_timer: Option<u64>,
    late_start: Option<u64>,
    /// The largest calibration uncertainty of the cycle latencies.
    cycles_uncertainty: Option<u64>,
}

impl RunTotals {
    fn new(threshold_ns: u64) -> Self {
        RunTotals {
            merged: Accumulator::new(threshold_ns),
            cycles: Histogram::new(),
            entry_cycles: Histogram::new(),
            tally: Tally::default(),
            duration_s: 0.0,
            ticks_taken: 0,
            tick_durations: Vec::new(),
            tick_os: Vec::new(),
            overheads: Vec::new(),
            entries: Vec::new(),
            iterations: 0,
            samples_s: 0.0,
            tick_cores: Vec::new(),
            traced_timer: None,
            late_start: None,
            cycles_uncertainty: None,
        }
    }

    /// Adds one measured core: its summary, and the splits of its events by cause.
    fn add_core(&mut self, c: &CoreData, ctx: &Ctx) -> (CoreSummary, CoreSplits) {
        let (hz, cfg) = (ctx.hz, &ctx.cfg);
        let noise = cfg.mode == tickscope_core::Mode::Noise;
        if noise && let Some(ns) = late_start(c, hz) {
            self.late_start = Some(self.late_start.map_or(ns, |m| m.max(ns)));
        }
        self.merged.merge(&c.acc);
        self.cycles.merge(&c.cycles);
        self.entry_cycles.merge(&c.entry_cycles);
        if let Some(k) = c.calibration {
            self.cycles_uncertainty = self.cycles_uncertainty.max(Some(k.uncertainty));
        }
        let window = c.window_s(hz);
        self.duration_s = self.duration_s.max(window);
        let status = c.end_status().unwrap_or_default();
        self.ticks_taken += status.ticks;
        if let (Some(inj), Some(_)) = (cfg.inject, c.end_status()) {
            self.tick_cores.push(TickCore {
                core: c.core,
                deadlines: (window * inj.hz as f64).floor() as u64,
                taken: status.ticks,
            });
        }
        if noise {
            self.iterations += status.samples;
            self.samples_s = self.samples_s.max(c.samples_s(hz));
        }
        let (method, mut splits) = split_core(c, ctx.source);
        let t = tally(c, method, &splits, hz, ctx.threshold_ns, window);
        splits.whole = WholeTails::of(c, &t.totals);
        self.tally.merge(&t);
        self.add_tick_episodes(&splits, ctx);
        for s in c.irqs.iter().filter(|s| s.late != u32::MAX) {
            self.entries.push(ticks_to_ns(s.late as u64, hz));
        }
        if let Some(n) = traced_timer_irqs(c, &ctx.tick) {
            *self.traced_timer.get_or_insert(0) += n;
        }
        let core = core_summary(c, &splits, &t, ctx, window);
        (core, splits)
    }

    /// The tick's episodes: those a tick cause ran in. Their extent is what the loop lost to the
    /// tick (the episode with the short hardware time around it, not another vCPU's slice).
    fn add_tick_episodes(&mut self, splits: &CoreSplits, ctx: &Ctx) {
        for sp in &splits.splits {
            for ep in sp.episodes(splits.threshold) {
                let tick = ep.causes.iter().any(|&(id, _)| {
                    let (n, k) = splits.causes.get(id);
                    ctx.tick.is_tick_cause(n, k)
                });
                if !tick {
                    continue;
                }
                let extent = ticks_to_ns(ep.extent, ctx.hz);
                self.tick_durations.push(extent);
                self.tick_os.push(ticks_to_ns(ep.os, ctx.hz).min(extent));
                if let Some(inj) = ctx.cfg.inject {
                    self.overheads.push(extent.saturating_sub(inj.duration_ns));
                }
            }
        }
    }

    /// The tick's episodes, cost, OS time and overhead: from the kept splits' episodes exactly,
    /// or, when a core kept only some of its events, from every event's tick episodes as the
    /// attribution gathered them (medians within the histograms' 0.4 %).
    fn tick_figures(&mut self, a: &Analysis, ctx: &Ctx) -> TickFigures {
        if a.cores.values().all(|c| c.overflow.is_none()) {
            return TickFigures {
                episodes: self.tick_durations.len() as u64,
                cost_ns: median(&mut self.tick_durations),
                os_ns: median(&mut self.tick_os),
                overhead_ns: median(&mut self.overheads),
            };
        }
        let mut all = IrqEpisodes::default();
        for (name, e) in &self.tally.totals.irq_episodes {
            if ctx.tick.is_tick_cause(name, CauseKind::Irq) {
                all.extent.merge(&e.extent);
                all.os.merge(&e.os);
            }
        }
        let cost_ns = upper_median(&all.extent);
        TickFigures {
            episodes: all.extent.count(),
            cost_ns,
            os_ns: upper_median(&all.os),
            overhead_ns: ctx
                .cfg
                .inject
                .and_then(|inj| Some(cost_ns?.saturating_sub(inj.duration_ns))),
        }
    }

    /// The run's summary from its cores (label, frames lost, coverage and peer notes are the
    /// caller's).
    fn summary(
        mut self,
        a: &Analysis,
        ctx: &Ctx,
        cores: Vec<CoreSummary>,
        emulation: Emulation,
    ) -> Summary {
        let (h, cfg) = (a.header.as_ref(), &ctx.cfg);
        let (n_cores, duration_s) = (cores.len().max(1) as f64, self.duration_s);
        let events_per_s = match duration_s > 0.0 {
            true => cores.iter().map(|c| c.events_per_s).sum::<f64>() / n_cores,
            false => 0.0,
        };
        let samples: u64 = cores.iter().map(|c| c.samples).sum();
        let (interrupts_per_s, proc_timer) = interrupt_rates(a);
        let timer_irqs_per_s = self.timer_irqs_per_s(ctx, samples, n_cores, proc_timer);
        let ticks = self.tick_figures(a, ctx);
        let attributed = self.tally.figures(ctx.hw_name);
        let has_attribution = attributed.os_noise.is_some();
        let emulated = emulation.is_emulated();
        let window_ns = self.samples_s * n_cores * 1e9;
        let (latency_cycles, latency_cycles_uncertainty, cycles_note) =
            self.cycle_latency(emulated);
        Summary {
            label: String::new(),
            source: ctx.source,
            mode: cfg.mode,
            emulation,
            board: h.map(|h| h.board.to_string()).unwrap_or_default(),
            el: h.map(|h| h.el).unwrap_or(0),
            entry_el: None,
            boot: None,
            gic: h.map(|h| h.gic).unwrap_or(0),
            counter_hz: ctx.hz,
            duration_s: round6(duration_s),
            threshold_ns: cfg.threshold_ns,
            measured_cores: a.cores.keys().copied().collect(),
            samples,
            lost: cores.iter().map(|c| c.lost).sum(),
            events: self.merged.event_count(),
            events_per_s: round6(events_per_s),
            latency_ns: self.merged.value_quantiles(),
            event_ns: self.merged.event_quantiles(),
            late_start_ns: self.late_start,
            loop_ns_per_iteration: (self.iterations > 0 && self.samples_s > 0.0)
                .then(|| round6(window_ns / self.iterations as f64)),
            loop_ns: loop_own_ns(window_ns, self.iterations, &self.merged.events),
            latency_cycles,
            latency_cycles_uncertainty,
            entry_cycles: quantiles_or_none(&self.entry_cycles),
            cycles_note,
            tick_cost_ns: ticks.cost_ns,
            tick_os_ns: ticks.os_ns,
            tick_events_per_s: (duration_s > 0.0 && has_attribution)
                .then(|| round6(ticks.episodes as f64 / duration_s / n_cores)),
            irq_overhead_ns: ticks.overhead_ns,
            inject: self.inject_summary(cfg, ticks.episodes),
            timer_irqs_per_s: timer_irqs_per_s.map(round6),
            interrupts_per_s,
            attribution_coverage: super::coverage::coverage(
                &a.cores.values().collect::<Vec<_>>(),
                &a.interrupts,
                cfg.mode == tickscope_core::Mode::Noise,
                &a.tick(),
            ),
            timer_line: a.timer_line.clone(),
            attributed,
            cores,
            frames_lost: 0,
            partial: None,
            preempt_rt: a.kernel.as_ref().map(|k| k.preempt_rt),
            peers: super::peers::summarize(a),
            peer_notes: Vec::new(),
            load: None,
        }
    }

    /// The injected tick's figures (bare metal with `inject=`): ticks taken against the events
    /// matched to them.
    fn inject_summary(
        &mut self,
        cfg: &tickscope_core::Config,
        tick_events: u64,
    ) -> Option<TickSummary> {
        cfg.inject.map(|t| TickSummary {
            hz: t.hz,
            duration_ns: t.duration_ns,
            taken: self.ticks_taken,
            matched_events: tick_events,
            entry_ns: median(&mut self.entries),
            cores: self.tick_cores.clone(),
        })
    }

    /// Deadline-to-vector cycle latencies, their calibration's uncertainty, and why they are
    /// missing. On hardware the cycle counter stops in WFI (where a timer-mode core waits) and
    /// follows frequency scaling: a deadline-to-vector cycle count is not a latency there.
    fn cycle_latency(&self, emulated: bool) -> (Option<Quantiles>, Option<u64>, String) {
        let counted = self.cycles.count() > 0;
        if emulated {
            let uncertainty = self.cycles_uncertainty.filter(|_| counted);
            return (quantiles_or_none(&self.cycles), uncertainty, String::new());
        }
        let note = match counted {
            true => "cycle latencies not reported on hardware: PMCCNTR stops in WFI and follows frequency scaling".into(),
            false => String::new(),
        };
        (None, None, note)
    }

    /// Timer interrupts per second on a measured core, from the best source there is.
    fn timer_irqs_per_s(
        &self,
        ctx: &Ctx,
        samples: u64,
        n_cores: f64,
        proc_timer: Option<f64>,
    ) -> Option<f64> {
        let d = self.duration_s;
        if ctx.source == Source::Firmware {
            // Bare metal: the only timer interrupts on a measured core besides the
            // measurement's own wake-ups are the injected tick's.
            (d > 0.0 && ctx.cfg.mode != tickscope_core::Mode::Boot)
                .then(|| self.ticks_taken as f64 / d / n_cores)
        } else if let Some(n) = self.traced_timer {
            (d > 0.0).then(|| n as f64 / d / n_cores)
        } else if ctx.cfg.mode == tickscope_core::Mode::Timer {
            // /proc/interrupts counts the probe's own wake-ups too: take them out.
            proc_timer.map(|r| (r - samples as f64 / d.max(1e-9) / n_cores).max(0.0))
        } else {
            proc_timer
        }
    }
}

/// Noise mode: how long the loop's first gap lasted when it began at the window's opening (the
/// loop started late), in ns.
fn late_start(c: &CoreData, hz: u64) -> Option<u64> {
    let (start, _) = c.window_ticks()?;
    let first = c.events.iter().find(|e| e.start == start)?;
    Some(ticks_to_ns(first.len, hz))
}

/// One core's summary.
fn core_summary(
    c: &CoreData,
    splits: &CoreSplits,
    t: &Tally,
    ctx: &Ctx,
    window: f64,
) -> CoreSummary {
    let hz = ctx.hz;
    let status = c.end_status().unwrap_or_default();
    let events = c.acc.event_count();
    CoreSummary {
        core: c.core,
        samples: status.samples.max(c.acc.values.count()),
        lost: status.lost,
        events,
        events_per_s: if window > 0.0 {
            round6(events as f64 / window)
        } else {
            0.0
        },
        latency_ns: c.acc.value_quantiles(),
        event_ns: c.acc.event_quantiles(),
        latency_cycles: quantiles_or_none(&c.cycles),
        per_second: c.acc.per_second.counts().to_vec(),
        worst: super::explain::explain(
            &c.acc.worst.sorted(),
            &super::explain::CoreEvents {
                splits: &splits.splits,
                causes: &splits.causes,
                window_start: splits.window_start,
            },
            hz,
            ctx.hw_name,
        ),
        ticks: status.ticks,
        overruns: status.overruns,
        spurious_irqs: status.foreign_irqs,
        ghost_irqs: status.ghosts,
        early_irqs: status.early,
        clamped: c.clamped,
        reduced: c.reduced,
        timer_latency: (ctx.cfg.mode == tickscope_core::Mode::Timer)
            .then(|| timer_split(c, splits, hz, ctx.hw_name))
            .flatten(),
        attributed: t.figures(ctx.hw_name),
    }
}

/// Interrupts per second on the measured CPUs by `/proc/interrupts` row (averaged over the
/// cores that report them), and of those the local timer's.
fn interrupt_rates(a: &Analysis) -> (BTreeMap<String, f64>, Option<f64>) {
    let mut rates = BTreeMap::new();
    let mut timer_rate: Option<f64> = None;
    let tick = a.tick();
    let n = a.interrupts.len() as f64;
    for i in &a.interrupts {
        let secs = i.interval_ns as f64 / 1e9;
        if secs <= 0.0 {
            continue;
        }
        let mut timer = 0.0;
        for (name, count) in &i.sources {
            let rate = *count as f64 / secs;
            *rates.entry(name.to_string()).or_insert(0.0) += rate / n;
            if tick.is_local_timer(name) {
                timer += rate;
            }
        }
        *timer_rate.get_or_insert(0.0) += timer / n;
    }
    let rates = rates.into_iter().map(|(k, v)| (k, round6(v))).collect();
    (rates, timer_rate)
}

pub use super::round6;

/// Whether the figures cover only part of the window: no end-of-run status from the measured
/// core(s), so the window was cut short. What is covered: up to the last checkpoint, or without
/// one up to the last record.
fn partial(a: &Analysis, s: &Summary) -> Option<Covered> {
    if a.cores.is_empty() || a.cores.values().all(|c| !c.cut_short()) {
        return None;
    }
    let hz = a.hz();
    let window_s = a
        .header
        .as_ref()
        .map(|h| h.config.duration_ns as f64 / 1e9)
        .unwrap_or(s.duration_s);
    let covered_s = a
        .cores
        .values()
        .filter_map(|c| {
            if c.cut_short() && c.checkpoint.is_some() {
                return Some(c.window_s(hz));
            }
            let start = c.window?.start;
            let last = c
                .events
                .iter()
                .map(|e| e.start + e.len)
                .chain(c.irqs.iter().map(|i| i.entry))
                .max()?;
            Some((last.saturating_sub(start)) as f64 / hz as f64)
        })
        .fold(0.0, f64::max);
    Some(Covered {
        covered_s: round6(covered_s.min(window_s)),
        window_s: round6(window_s),
    })
}

/// A summary's `source`: who produced the capture.
/// A run's source in JSON by name (`firmware`, `linux`), as run.json has always had it.
pub mod source_name {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};
    use tickscope_core::wire::msg::Source;

    /// `firmware` or `linux`.
    pub fn name(source: Source) -> &'static str {
        match source {
            Source::LinuxProbe => "linux",
            Source::Firmware => "firmware",
        }
    }

    pub(super) fn serialize<S: Serializer>(source: &Source, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(name(*source))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Source, D::Error> {
        match String::deserialize(d)?.as_str() {
            "linux" => Ok(Source::LinuxProbe),
            "firmware" => Ok(Source::Firmware),
            other => Err(D::Error::custom(format!("unknown source `{other}`"))),
        }
    }
}

/// A run's mode in JSON by name (`noise`, `timer`, `boot`), as run.json has always had it.
mod mode_name {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};
    use tickscope_core::Mode;

    pub(super) fn serialize<S: Serializer>(mode: &Mode, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(mode.name())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Mode, D::Error> {
        let name = String::deserialize(d)?;
        name.parse()
            .map_err(|_| D::Error::custom(format!("unknown mode `{name}`")))
    }
}

#[cfg(test)]
mod tests {
    use tickscope_core::config::{Config, InjectTick, Mode, TimerChoice};
    use tickscope_core::wire::Message;
    use tickscope_core::wire::msg::{
        Block, CoreStatus, InterruptCounts, NoiseEvent, RunHeader, Source, Window,
    };

    use super::*;
    use crate::decode::Sink;

    #[test]
    fn source_and_mode_are_enums_written_and_read_by_name() {
        #[derive(Serialize, Deserialize, PartialEq, Debug)]
        struct W {
            #[serde(with = "super::source_name")]
            source: Source,
            #[serde(with = "super::mode_name")]
            mode: Mode,
        }
        let w = W {
            source: Source::LinuxProbe,
            mode: Mode::Timer,
        };
        let j = serde_json::to_string(&w).unwrap();
        assert_eq!(
            j, r#"{"source":"linux","mode":"timer"}"#,
            "run.json's names"
        );
        assert_eq!(serde_json::from_str::<W>(&j).unwrap(), w);
        let bad = serde_json::from_str::<W>(r#"{"source":"x","mode":"timer"}"#).unwrap_err();
        assert!(bad.to_string().contains("unknown source `x`"), "{bad}");
        let bad = serde_json::from_str::<W>(r#"{"source":"firmware","mode":"y"}"#).unwrap_err();
        assert!(bad.to_string().contains("unknown mode `y`"), "{bad}");
    }

    fn header(source: Source, cfg: Config, counter_hz: u64) -> Message {
        Message::Header(RunHeader {
            format: tickscope_core::wire::FORMAT_VERSION as u16,
            source,
            board: heapless::String::try_from("test").unwrap(),
            midr: 0,
            el: 1,
            boot_el: 1,
            gic: 2,
            counter_hz,
            reset_ticks: 0,
            config: cfg,
            boot_core: 0,
            timer: TimerChoice::default(),
            pmu: false,
            reduced: false,
            revision: heapless::String::new(),
            kernel: heapless::String::new(),
            cmdline: heapless::String::new(),
        })
    }

    fn window(core: u16, start: u64, end: u64) -> Message {
        Message::Window(Window {
            core,
            start,
            end,
            threshold: 62,
        })
    }

    fn status(core: u16, samples: u64, ticks: u64, start: u64, end: u64) -> Message {
        Message::CoreStatus(CoreStatus {
            core,
            samples,
            ticks,
            window_start: start,
            window_end: end,
            ..CoreStatus::default()
        })
    }

    fn counts(core: u16, interval_ns: u64, sources: &[(&str, u64)]) -> Message {
        let mut v = heapless::Vec::new();
        for &(name, n) in sources {
            v.push((heapless::String::try_from(name).unwrap(), n))
                .unwrap();
        }
        Message::Interrupts(InterruptCounts {
            core,
            interval_ns,
            sources: v,
        })
    }

    fn analyse(msgs: &[Message]) -> Analysis {
        let mut a = Analysis::default();
        for (i, m) in msgs.iter().enumerate() {
            a.message(i as u32, m);
        }
        a
    }

    #[test]
    fn interrupt_rates_are_per_second_of_each_count_s_own_interval_averaged_over_cpus() {
        let a = analyse(&[
            counts(
                2,
                2_000_000_000,
                &[("arch_timer", 500), ("IPI0 Rescheduling", 10)],
            ),
            counts(3, 1_000_000_000, &[("arch_timer", 250)]),
        ]);
        let (rates, timer) = interrupt_rates(&a);
        assert_eq!(rates["arch_timer"], 250.0);
        assert_eq!(rates["IPI0 Rescheduling"], 2.5);
        assert_eq!(timer, Some(250.0));
    }

    #[test]
    fn linux_timer_mode_takes_the_probe_s_own_wakeups_out_of_the_timer_count() {
        // 2 s at 1 ms: 2000 wake-ups of ours among the 2500 timer interrupts the kernel counted.
        let cfg = Config {
            mode: Mode::Timer,
            period_ns: 1_000_000,
            ..Config::default()
        };
        let a = analyse(&[
            header(Source::LinuxProbe, cfg, 1_000_000_000),
            window(3, 0, 2_000_000_000),
            counts(3, 2_000_000_000, &[("arch_timer", 2500)]),
            status(3, 2000, 0, 0, 2_000_000_000),
        ]);
        let s = summarize(&a, "t", Emulation::Icount, 0);
        assert_eq!(s.timer_irqs_per_s, Some(250.0));
        assert_eq!(s.samples, 2000);
        assert_eq!(s.duration_s, 2.0);
    }

    #[test]
    fn bare_metal_timer_interrupts_are_the_injected_ticks_per_second_of_window() {
        let cfg = Config {
            mode: Mode::Noise,
            inject: Some(InjectTick {
                hz: 250,
                duration_ns: 10_000,
            }),
            ..Config::default()
        };
        let hz = 62_500_000;
        let a = analyse(&[
            header(Source::Firmware, cfg, hz),
            window(3, 1000, 1000 + 2 * hz),
            status(3, 1_000_000, 498, 1000, 1000 + 2 * hz),
        ]);
        let s = summarize(&a, "b", Emulation::Icount, 0);
        assert_eq!(s.timer_irqs_per_s, Some(249.0));
        let t = s.inject.unwrap();
        assert_eq!((t.taken, t.cores[0].deadlines), (498, 500));
    }

    #[test]
    fn a_late_loop_start_is_the_gap_that_begins_at_the_window_s_opening() {
        let cfg = Config {
            mode: Mode::Noise,
            ..Config::default()
        };
        let hz = 62_500_000;
        let gap = |start, duration| {
            Message::NoiseEvents(Block {
                core: 3,
                items: heapless::Vec::from_slice(&[NoiseEvent {
                    start,
                    duration,
                    counters: 0,
                }])
                .unwrap(),
            })
        };
        let run = |first: u64| {
            let a = analyse(&[
                header(Source::Firmware, cfg, hz),
                window(3, 1000, 1000 + hz),
                gap(first, 625),
                status(3, 1_000_000, 0, 1000, 1000 + hz),
            ]);
            summarize(&a, "n", Emulation::Icount, 0)
        };
        // 625 ticks of 16 ns: 10 us.
        assert_eq!(run(1000).late_start_ns, Some(10_000));
        assert_eq!(run(1001).late_start_ns, None);
    }

    #[test]
    fn a_tally_with_records_left_unattributed_says_its_figures_are_lower_bounds() {
        let mut core = Tally {
            methods: vec![Method::Firmware],
            window_s: 1.0,
            kept: 2_000_000,
            dropped: 14_800_000,
            ..Tally::default()
        };
        let f = core.figures("emulator");
        assert_eq!(
            f.lower_bound,
            Some(LowerBound {
                attributed: 2_000_000,
                not_attributed: 14_800_000
            })
        );
        core.dropped = 0;
        assert_eq!(core.figures("emulator").lower_bound, None);
    }

    #[test]
    fn records_beyond_the_kept_ones_under_counters_attribution_make_the_figures_lower_bounds() {
        let mut c = CoreData::new(1, 1_000, 10);
        let mut o = super::super::overflow::Overflow::new(0);
        for i in 0..5 {
            o.event(i * 100, 50);
        }
        c.overflow = Some(Box::new(o));
        let mut t = Tally {
            methods: vec![Method::Counters],
            window_s: 1.0,
            kept: 10 + 5,
            ..Tally::default()
        };
        add_overflow(&mut t, &c, Method::Counters, 1_000_000_000);
        assert_eq!(
            t.figures("hardware").lower_bound,
            Some(LowerBound {
                attributed: 10,
                not_attributed: 5
            })
        );
    }

    #[test]
    fn the_non_os_part_is_the_emulator_s_only_under_qemu() {
        assert_eq!(hw_cause_name(Emulation::Icount), "emulator");
        assert_eq!(hw_cause_name(Emulation::Tcg), "emulator");
        assert_eq!(hw_cause_name(Emulation::Hardware), "hardware");
        assert_eq!(hw_cause_name(Emulation::Unknown), "hardware");
    }
}
