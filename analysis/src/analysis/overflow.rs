//! A long bare-metal run's records beyond the ones kept per core: attributed as the core's
//! checkpoints close them (a checkpoint comes after every record it covers), with the entry and
//! exit bounds the kept records gave each cause, into running totals. Every event is counted and
//! classified while memory holds one checkpoint interval's records, not the run's.

use std::collections::BTreeMap;

use tickscope_core::wire::msg::{CauseKind, IrqSpan};

use super::attribute::{self, Causes};
use super::totals::Totals;

/// Events split at once.
const SLICE: usize = 65_536;

/// Records held at once without a checkpoint to close them; beyond, records are counted and not
/// attributed (the figures then say they are lower bounds).
pub const HELD: usize = 2_000_000;

/// One core's records beyond the kept ones.
#[derive(Debug, Clone)]
pub struct Overflow {
    /// Counter time from which the core's records come here: its first record beyond the kept
    /// ones (records from before it stay with the kept ones).
    pub from: u64,
    /// Events not yet attributed, `(start, len)` ticks, in time order.
    events: Vec<(u64, u64)>,
    /// Interrupt records still needed by them or by later events.
    irqs: Vec<IrqSpan>,
    /// The kept records' (entry, exit) bounds by cause, ticks, once learnt.
    bounds: Option<BTreeMap<(String, CauseKind), (u64, u64)>>,
    /// What the attributed events add up to.
    pub totals: Totals,
    /// Records (events and interrupt records) that came here.
    pub records: u64,
    /// The most records held at once.
    pub peak: usize,
    /// Records beyond [`HELD`] (no checkpoint closed the ones before): counted, not attributed.
    pub dropped: u64,
}

/// Where an interrupt record ends (its span, time stolen from it included), ticks.
pub fn irq_end(s: &IrqSpan) -> u64 {
    s.entry + s.span as u64
}

impl Overflow {
    /// Takes records from `at` on.
    pub fn new(at: u64) -> Overflow {
        Overflow {
            from: at,
            events: Vec::new(),
            irqs: Vec::new(),
            bounds: None,
            totals: Totals::default(),
            records: 0,
            peak: 0,
            dropped: 0,
        }
    }

    /// Whether the kept records' bounds are known (they are learnt once the kept records are
    /// all in: at the first checkpoint after the overflow began, as the interrupt records of a
    /// drain come after its events).
    pub fn has_bounds(&self) -> bool {
        self.bounds.is_some()
    }

    /// Learns each cause's (entry, exit) bounds from the kept `events` and `irqs` (threshold in
    /// ticks), for the records beyond them.
    pub fn learn_bounds(&mut self, events: &[(u64, u64)], irqs: &[IrqSpan], threshold: u64) {
        let mut causes = Causes::default();
        let intervals = attribute::from_irqs(irqs, &mut causes);
        let mut spans = events.to_vec();
        spans.sort_unstable();
        let splits = attribute::join(&spans, &intervals);
        let bounds = attribute::edge_bounds(&splits, causes.len(), threshold);
        self.bounds = Some(
            bounds
                .iter()
                .enumerate()
                .map(|(id, &b)| {
                    let (name, kind) = causes.get(id);
                    ((name.to_string(), kind), b)
                })
                .collect(),
        );
    }

    fn room(&mut self) -> bool {
        self.records += 1;
        if self.events.len() + self.irqs.len() >= HELD {
            self.dropped += 1;
            return false;
        }
        self.peak = self.peak.max(self.events.len() + self.irqs.len() + 1);
        true
    }

    /// An event beyond the kept ones.
    pub fn event(&mut self, start: u64, len: u64) {
        if self.room() {
            self.events.push((start, len));
        }
    }

    /// An interrupt record beyond the kept ones.
    pub fn irq(&mut self, s: IrqSpan) {
        if self.room() {
            self.irqs.push(s);
        }
    }

    /// Attributes the events that end by `until` (everything before it has arrived) into the
    /// totals and lets go of them and of the interrupt records no later event can need.
    pub fn close(&mut self, until: u64, threshold: u64, threshold_ns: u64, hz: u64) {
        let n = self.events.partition_point(|&(s, l)| s + l <= until);
        let chunk: Vec<(u64, u64)> = self.events.drain(..n).collect();
        let t = self.attribute(&chunk, threshold, threshold_ns, hz);
        self.totals.merge(&t);
        let needed_from = self.events.first().map_or(until, |e| e.0.min(until));
        self.irqs.retain(|s| irq_end(s) > needed_from);
    }

    /// The totals of the events not yet closed (a run cut short after its last checkpoint).
    pub fn pending(&self, threshold: u64, threshold_ns: u64, hz: u64) -> Totals {
        self.attribute(&self.events, threshold, threshold_ns, hz)
    }

    /// The totals of `events` (in time order), split against the held interrupt records in
    /// slices of [`SLICE`], so a large chunk (a run without checkpoints) never holds its splits
    /// at once.
    fn attribute(
        &self,
        events: &[(u64, u64)],
        threshold: u64,
        threshold_ns: u64,
        hz: u64,
    ) -> Totals {
        let mut totals = Totals::default();
        if events.is_empty() {
            return totals;
        }
        let mut causes = Causes::default();
        let intervals = attribute::from_irqs(&self.irqs, &mut causes);
        let bounds: Vec<(u64, u64)> = (0..causes.len())
            .map(|id| {
                let (name, kind) = causes.get(id);
                self.bounds
                    .as_ref()
                    .and_then(|b| b.get(&(name.to_string(), kind)))
                    .copied()
                    .unwrap_or((0, 0))
            })
            .collect();
        let mut first = 0;
        for slice in events.chunks(SLICE) {
            // Intervals that end before this slice cannot reach it (nor any later one).
            first += intervals[first..].partition_point(|iv| iv.end <= slice[0].0);
            let mut splits = attribute::join(slice, &intervals[first..]);
            attribute::apply_edges(&mut splits, &bounds);
            totals.add(&splits, &causes, threshold, threshold_ns, hz);
        }
        totals
    }

    /// Records held now.
    pub fn held(&self) -> usize {
        self.events.len() + self.irqs.len()
    }
}
