//! Streaming statistics over decoded messages: per core, every value (latency or loop gap) and
//! every event above the threshold, with worst-N and per-second counts; plus the boot facts
//! (cores online, NEON) and the injected ticks needed to attribute noise events to them.
//!
//! Memory stays bounded whatever the number of samples: histograms are fixed-size, and the
//! event timeline and tick lists keep at most [`MAX_TIMELINE`] entries per core (counted beyond).

use std::collections::BTreeMap;

use tickscope_core::hist::Histogram;
use tickscope_core::stats::{Accumulator, WorstEvent};
use tickscope_core::units::ticks_to_ns;
use tickscope_core::wire::Message;
use tickscope_core::wire::msg::{
    CAUSE_TIMER, CoreOnline, CoreStatus, FaultReport, InterruptCounts, LinuxInfo, PanicReport,
    PsciFailure, RunHeader, TickRecord, Trailer, Window,
};

use crate::decode::Sink;

/// Events and ticks kept per core for timelines and tick attribution.
pub const MAX_TIMELINE: usize = 200_000;

/// What one measured core produced.
#[derive(Debug, Clone)]
pub struct CoreData {
    /// Core index.
    pub core: u16,
    /// Window (counter ticks).
    pub window: Option<Window>,
    /// Values and events, in nanoseconds.
    pub acc: Box<Accumulator>,
    /// Timer-mode latency in PMU cycles (when available).
    pub cycles: Box<Histogram>,
    /// Events as (start ns since window, duration ns, cause), first [`MAX_TIMELINE`].
    pub timeline: Vec<(u64, u64, u8)>,
    /// Events the producer attributed to a timer interrupt on the measured CPU (Linux).
    pub timer_events: Vec<u64>,
    /// Injected ticks as the handler saw them, first [`MAX_TIMELINE`].
    pub ticks: Vec<TickRecord>,
    /// End status.
    pub status: Option<CoreStatus>,
    /// Raw samples received (timer wake-ups or noise events).
    pub records: u64,
    /// Events or ticks beyond the kept timeline.
    pub timeline_dropped: u64,
    /// The device shipped reductions instead of raw samples.
    pub reduced: bool,
}

impl CoreData {
    fn new(core: u16, threshold_ns: u64) -> Self {
        CoreData {
            core,
            window: None,
            acc: Box::new(Accumulator::new(threshold_ns)),
            cycles: Box::new(Histogram::new()),
            timeline: Vec::new(),
            timer_events: Vec::new(),
            ticks: Vec::new(),
            status: None,
            records: 0,
            timeline_dropped: 0,
            reduced: false,
        }
    }

    /// Window length in seconds (0 when unknown).
    pub fn window_s(&self, hz: u64) -> f64 {
        match (self.window, self.status) {
            (Some(w), _) => (w.end - w.start) as f64 / hz.max(1) as f64,
            (None, Some(s)) => {
                (s.window_end.saturating_sub(s.window_start)) as f64 / hz.max(1) as f64
            }
            _ => 0.0,
        }
    }
}

/// Everything a run's messages say.
#[derive(Debug, Default)]
pub struct Analysis {
    /// Run header.
    pub header: Option<RunHeader>,
    /// Cores that reported online.
    pub online: BTreeMap<u16, CoreOnline>,
    /// NEON results per core.
    pub neon: BTreeMap<u16, u64>,
    /// Failed CPU_ON calls.
    pub psci_failures: Vec<PsciFailure>,
    /// Measured cores.
    pub cores: BTreeMap<u16, CoreData>,
    /// Linux interrupt attribution.
    pub interrupts: Vec<InterruptCounts>,
    /// Linux isolation facts.
    pub linux: Option<LinuxInfo>,
    /// Faults.
    pub faults: Vec<FaultReport>,
    /// Panics.
    pub panics: Vec<PanicReport>,
    /// Trailer.
    pub trailer: Option<Trailer>,
    /// Messages received before a header (unusable: no clock).
    pub headless: u64,
}

impl Analysis {
    /// Counter frequency from the header (1 GHz if unknown, as ns clocks are).
    pub fn hz(&self) -> u64 {
        self.header
            .as_ref()
            .map(|h| h.counter_hz)
            .filter(|&h| h > 0)
            .unwrap_or(1_000_000_000)
    }

    /// Event threshold in ns (from the header's configuration).
    pub fn threshold_ns(&self) -> u64 {
        self.header
            .as_ref()
            .map(|h| h.config.threshold_ns)
            .unwrap_or(1_000)
    }

    fn core(&mut self, core: u16) -> &mut CoreData {
        let thr = self.threshold_ns();
        self.cores
            .entry(core)
            .or_insert_with(|| CoreData::new(core, thr))
    }

    /// Whether every online core's NEON result matches the scalar reference.
    pub fn neon_ok(&self) -> bool {
        let want = tickscope_core::wire::msg::neon_reference();
        !self.neon.is_empty() && self.neon.values().all(|&v| v == want)
    }
}

impl Sink for Analysis {
    fn message(&mut self, _seq: u32, msg: &Message) {
        let hz = self.hz();
        match msg {
            Message::Header(h) => {
                self.header = Some(h.clone());
            }
            Message::CoreOnline(c) => {
                self.online.insert(c.core, *c);
            }
            Message::Neon(n) => {
                self.neon.insert(n.core, n.value);
            }
            Message::PsciFailure(p) => self.psci_failures.push(*p),
            Message::Window(w) => {
                self.core(w.core).window = Some(*w);
            }
            Message::TimerSamples(b) => {
                let c = self.core(b.core);
                let start = c.window.map(|w| w.start).unwrap_or(0);
                for s in &b.items {
                    let lat = ticks_to_ns(s.latency as u64, hz);
                    let at = ticks_to_ns(s.deadline.saturating_sub(start), hz);
                    c.acc.record(lat, at, b.core);
                    if s.cycles != u32::MAX {
                        c.cycles.record(s.cycles as u64);
                    }
                    c.records += 1;
                    if lat > c.acc.threshold_ns {
                        if c.timeline.len() < MAX_TIMELINE {
                            c.timeline.push((at, lat, 0));
                        } else {
                            c.timeline_dropped += 1;
                        }
                    }
                }
            }
            Message::NoiseEvents(b) => {
                let c = self.core(b.core);
                let start = c.window.map(|w| w.start).unwrap_or(0);
                for e in &b.items {
                    let dur = ticks_to_ns(e.duration as u64, hz);
                    let at = ticks_to_ns(e.start.saturating_sub(start), hz);
                    c.acc.record(dur, at, b.core);
                    // A gap the device counted as an event is one even if rounding put its
                    // nanosecond value on the threshold.
                    if dur <= c.acc.threshold_ns {
                        c.acc.record_event_only(dur, at, b.core);
                    }
                    c.records += 1;
                    if e.cause == CAUSE_TIMER && c.timer_events.len() < MAX_TIMELINE {
                        c.timer_events.push(dur);
                    }
                    if c.timeline.len() < MAX_TIMELINE {
                        c.timeline.push((at, dur, e.cause));
                    } else {
                        c.timeline_dropped += 1;
                    }
                }
            }
            Message::Ticks(b) => {
                let c = self.core(b.core);
                for t in &b.items {
                    if c.ticks.len() < MAX_TIMELINE {
                        c.ticks.push(*t);
                    } else {
                        c.timeline_dropped += 1;
                    }
                }
            }
            Message::Gaps(g) => {
                let c = self.core(g.core);
                for &(ticks, n) in &g.counts {
                    c.acc.record_quiet(ticks_to_ns(ticks as u64, hz), n);
                }
            }
            Message::Histogram(part) => {
                let c = self.core(part.core);
                c.reduced = true;
                let h = if part.events {
                    &mut c.acc.events
                } else {
                    &mut c.acc.values
                };
                for &(i, n) in &part.buckets {
                    h.add_bucket(i as usize, n);
                }
                if let Some((min, max, sum, overflow)) = part.last {
                    h.set_exact(min, max, sum as u128, overflow);
                }
            }
            Message::Reduced(r) => {
                let c = self.core(r.core);
                c.reduced = true;
                for w in &r.worst {
                    c.acc.worst.offer(WorstEvent {
                        value: w.value,
                        at: w.at,
                        core: w.core,
                    });
                }
                for (i, &n) in r.per_second.iter().enumerate() {
                    if n > 0 {
                        c.acc.per_second.add_n(r.first_second as u64 + i as u64, n);
                    }
                }
            }
            Message::CoreStatus(s) => {
                self.core(s.core).status = Some(*s);
            }
            Message::Interrupts(i) => self.interrupts.push(i.clone()),
            Message::Linux(l) => self.linux = Some(l.clone()),
            Message::Log(_) => {}
            Message::Fault(f) => self.faults.push(*f),
            Message::Panic(p) => self.panics.push(p.clone()),
            Message::End(t) => self.trailer = Some(*t),
        }
        if self.header.is_none() && !matches!(msg, Message::Header(_)) {
            self.headless += 1;
        }
    }
}

/// Median of a list (upper median), `None` when empty.
pub fn median(v: &mut [u64]) -> Option<u64> {
    if v.is_empty() {
        return None;
    }
    v.sort_unstable();
    Some(v[v.len() / 2])
}

/// Attributes noise events to injected ticks: an event coincides with a tick when it contains
/// the tick handler's first counter read. Returns (event durations, overheads) in ns, where the
/// overhead is the event minus the handler's own busy time (entry + exit cost).
pub fn tick_events(c: &CoreData, hz: u64) -> (Vec<u64>, Vec<u64>, Vec<u64>) {
    let start = c.window.map(|w| w.start).unwrap_or(0);
    let mut events: Vec<(u64, u64)> = c.timeline.iter().map(|e| (e.0, e.1)).collect();
    events.sort_unstable();
    let mut durations = Vec::new();
    let mut overheads = Vec::new();
    let mut entries = Vec::new();
    let mut i = 0;
    for t in &c.ticks {
        let entry_ns = ticks_to_ns((t.deadline + t.entry as u64).saturating_sub(start), hz);
        let busy_ns = ticks_to_ns((t.leave - t.entry) as u64, hz);
        entries.push(ticks_to_ns(t.entry as u64, hz));
        while i < events.len() && events[i].0 + events[i].1 < entry_ns {
            i += 1;
        }
        if let Some(&(s, d)) = events.get(i)
            && s <= entry_ns
            && entry_ns <= s + d
        {
            durations.push(d);
            overheads.push(d.saturating_sub(busy_ns));
        }
    }
    (durations, overheads, entries)
}
