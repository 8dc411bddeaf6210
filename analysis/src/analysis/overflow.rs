//! A long run's records beyond the ones kept per core: attributed as they are closed (a bare-metal
//! checkpoint, or the Linux probe's `Covered`, comes after every record before it) into running
//! totals, with each cause's entry and exit bounds learnt as they go (the smallest stretch seen so
//! far, the kept records' included). Every event is counted and classified while memory holds
//! one closing interval's records, not the run's.

use std::collections::BTreeMap;

use tickscope_core::wire::msg::{CauseKind, IrqSpan, TraceKind, TraceRecord};

use super::attribute::{self, Causes, Interval};
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
    /// Interrupt records still needed by them or by later events (bare metal).
    irqs: Vec<IrqSpan>,
    /// Kernel trace records still needed (Linux), from a point where no handler is open.
    trace: Vec<TraceRecord>,
    /// How far events have been closed: an event starting before it came late (its records
    /// may be gone; it is still counted and split against what is held).
    closed: u64,
    /// Events that came after their time was closed.
    pub late: u64,
    /// Handler entries counted so far (those before `counted_to`), by name index: (traced,
    /// inside an event), for the attribution's coverage.
    pub entries: BTreeMap<u16, (u64, u64)>,
    /// How far handler entries have been counted.
    counted_to: u64,
    /// Interrupt handler runs (entry to exit) counted so far that expired no timer, by name
    /// index: the tick's, apart from the ones that woke the probe (known by name at the end).
    pub quiet_irqs: BTreeMap<u16, u64>,
    /// The handler run open where counting stopped: its name and whether it expired a timer.
    open_irq: Option<(u16, bool)>,
    /// What each cause's edges showed in the kept records and in the later ones closed so far
    /// (ticks); `None` until the kept records are all in.
    edges: Option<BTreeMap<(String, CauseKind), attribute::EdgeSeen>>,
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
            trace: Vec::new(),
            closed: 0,
            late: 0,
            entries: BTreeMap::new(),
            counted_to: 0,
            quiet_irqs: BTreeMap::new(),
            open_irq: None,
            edges: None,
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
        self.edges.is_some()
    }

    /// Learns what each cause's edges showed in the kept `events` and the `intervals` their
    /// records gave (cause ids in `causes`), for the records beyond them.
    pub fn learn_bounds(&mut self, events: &[(u64, u64)], intervals: &[Interval], causes: &Causes) {
        let mut spans = events.to_vec();
        spans.sort_unstable();
        let splits = attribute::join(&spans, intervals);
        let seen = attribute::edges_seen(&splits, causes.len());
        self.edges = Some(
            seen.into_iter()
                .enumerate()
                .map(|(id, e)| {
                    let (name, kind) = causes.get(id);
                    ((name.to_string(), kind), e)
                })
                .collect(),
        );
    }

    fn room(&mut self) -> bool {
        self.records += 1;
        if self.held() >= HELD {
            self.dropped += 1;
            return false;
        }
        self.peak = self.peak.max(self.held() + 1);
        true
    }

    /// An event beyond the kept ones.
    pub fn event(&mut self, start: u64, len: u64) {
        if !self.room() {
            return;
        }
        if start < self.closed {
            self.late += 1;
        }
        if self.events.last().is_some_and(|&(s, _)| s > start) {
            let at = self.events.partition_point(|&(s, _)| s <= start);
            self.events.insert(at, (start, len));
        } else {
            self.events.push((start, len));
        }
    }

    /// A kernel trace record beyond the kept ones.
    pub fn trace(&mut self, r: TraceRecord) {
        if self.room() {
            self.trace.push(r);
        }
    }

    /// An interrupt record beyond the kept ones.
    pub fn irq(&mut self, s: IrqSpan) {
        if self.room() {
            self.irqs.push(s);
        }
    }

    /// Attributes the events that end by `until` (everything before it has arrived) into the
    /// totals and lets go of them and of the interrupt or trace records no later event can need.
    pub fn close(&mut self, until: u64, how: &Split<'_>) {
        self.trace.sort_by_key(|r| r.at);
        for (name, (traced, inside)) in self.entries_before(until, how.window_end) {
            let e = self.entries.entry(name).or_default();
            e.0 += traced;
            e.1 += inside;
        }
        self.count_quiet_irqs(until, how.window_end);
        self.counted_to = self.counted_to.max(until);
        let n = self.events.partition_point(|&(s, l)| s + l <= until);
        let chunk: Vec<(u64, u64)> = self.events.drain(..n).collect();
        let t = self.attribute(&chunk, how);
        self.totals.merge(&t);
        self.closed = self.closed.max(until);
        let needed_from = self.events.first().map_or(until, |e| e.0.min(until));
        if until == u64::MAX {
            // The end: nothing later can need a record.
            self.irqs.clear();
            self.trace.clear();
            return;
        }
        self.irqs.retain(|s| irq_end(s) > needed_from);
        self.release_trace(needed_from);
    }

    /// Lets go of the trace records before `needed_from`, up to the last point before it where
    /// no handler is open (so what is held starts in a known context); the switch that set that
    /// context stays, as the first record held.
    fn release_trace(&mut self, needed_from: u64) {
        let mut open: Vec<TraceKind> = Vec::new();
        let (mut cut, mut switch, mut switch_at_cut) = (0, None, None);
        for (i, r) in self.trace.iter().enumerate() {
            if open.is_empty() {
                (cut, switch_at_cut) = (i, switch);
            }
            if r.at >= needed_from {
                break;
            }
            match r.kind {
                TraceKind::IrqEntry | TraceKind::SoftirqEntry | TraceKind::IpiEntry => {
                    open.push(r.kind)
                }
                TraceKind::IrqExit | TraceKind::SoftirqExit | TraceKind::IpiExit => {
                    let opener = attribute::opener(r.kind);
                    if let Some(p) = open.iter().rposition(|&k| k == opener) {
                        open.truncate(p);
                    }
                }
                TraceKind::Switch => {
                    open.clear();
                    switch = Some(i);
                }
                TraceKind::TimerExpire | TraceKind::Wakeup => {}
            }
        }
        if open.is_empty() && self.trace.last().is_some_and(|r| r.at < needed_from) {
            (cut, switch_at_cut) = (self.trace.len(), switch);
        }
        let keep = switch_at_cut.filter(|&i| i < cut).map(|i| self.trace[i]);
        self.trace.drain(..cut);
        if let Some(s) = keep {
            self.trace.insert(0, s);
        }
    }

    /// The handler entries (interrupts, IPIs) held from where counting stopped up to `until`
    /// and the window's end, by name index: (traced, inside a held event). The trace must be
    /// in time order.
    pub fn entries_before(&self, until: u64, window_end: u64) -> BTreeMap<u16, (u64, u64)> {
        let mut by: BTreeMap<u16, (u64, u64)> = BTreeMap::new();
        let end = until.min(window_end.saturating_add(1));
        for r in &self.trace {
            if r.at < self.counted_to || r.at < self.from {
                continue;
            }
            if r.at >= end {
                break;
            }
            if !matches!(r.kind, TraceKind::IrqEntry | TraceKind::IpiEntry) {
                continue;
            }
            let i = self.events.partition_point(|&(s, _)| s <= r.at);
            let inside = i > 0 && r.at <= self.events[i - 1].0 + self.events[i - 1].1;
            let e = by.entry(r.name).or_default();
            e.0 += 1;
            e.1 += inside as u64;
        }
        by
    }

    /// Counts the interrupt handler runs held from where counting stopped up to `until` and the
    /// window's end that expired no timer (the trace in time order), as the kept trace's are
    /// counted (`summary::traced_timer_irqs`).
    fn count_quiet_irqs(&mut self, until: u64, window_end: u64) {
        let end = until.min(window_end.saturating_add(1));
        let from = self.counted_to.max(self.from);
        let (lo, hi) = (
            self.trace.partition_point(|r| r.at < from),
            self.trace.partition_point(|r| r.at < end),
        );
        for r in &self.trace[lo..hi.max(lo)] {
            match (r.kind, &mut self.open_irq) {
                (TraceKind::IrqEntry, open) => *open = Some((r.name, false)),
                (TraceKind::TimerExpire, Some((_, woke))) => *woke = true,
                (TraceKind::IrqExit, Some((name, woke))) if *name == r.name => {
                    if !*woke {
                        *self.quiet_irqs.entry(r.name).or_default() += 1;
                    }
                    self.open_irq = None;
                }
                _ => {}
            }
        }
    }

    /// Puts the held trace in time order (records of a reading can come before the last one's
    /// hrtimer expiries).
    pub fn sort_trace(&mut self) {
        self.trace.sort_by_key(|r| r.at);
    }

    /// The totals of the events not yet closed (a run cut short after its last close).
    pub fn pending(&self, how: &Split<'_>) -> Totals {
        let mut o = self.clone();
        o.trace.sort_by_key(|r| r.at);
        o.attribute(&self.events, how)
    }

    /// The intervals of the held records: the trace's (Linux) or the interrupt records'.
    fn intervals(&self, how: &Split<'_>, causes: &mut Causes) -> Vec<Interval> {
        if self.trace.is_empty() {
            attribute::from_irqs(&self.irqs, causes)
        } else {
            attribute::from_trace(&self.trace, how.names, how.probe, causes)
        }
    }

    /// The totals of `events` (in time order), split against the held records in slices of
    /// [`SLICE`], so a large chunk (a run without checkpoints) never holds its splits at once.
    fn attribute(&mut self, events: &[(u64, u64)], how: &Split<'_>) -> Totals {
        let mut totals = Totals::default();
        if events.is_empty() {
            return totals;
        }
        let mut causes = Causes::default();
        let intervals = self.intervals(how, &mut causes);
        let mut first = 0;
        for slice in events.chunks(SLICE) {
            // Intervals that end before this slice cannot reach it (nor any later one).
            first += intervals[first..].partition_point(|iv| iv.end <= slice[0].0);
            let mut splits = attribute::join(slice, &intervals[first..]);
            let bounds = self.learn_edges(&splits, &causes, how.threshold);
            attribute::apply_edges(&mut splits, &bounds);
            totals.add(&splits, &causes, how.threshold, how.threshold_ns, how.hz);
        }
        totals
    }

    /// Each cause's (entry, exit) bounds for `splits` (by cause id in `causes`): the smallest
    /// stretches seen so far, these splits' included.
    fn learn_edges(
        &mut self,
        splits: &[attribute::Split],
        causes: &Causes,
        threshold: u64,
    ) -> Vec<(u64, u64)> {
        let edges = self.edges.get_or_insert_with(BTreeMap::new);
        attribute::edges_seen(splits, causes.len())
            .iter()
            .enumerate()
            .map(|(id, more)| {
                let (name, kind) = causes.get(id);
                let e = edges.entry((name.to_string(), kind)).or_default();
                e.learn(more);
                e.bounds(threshold)
            })
            .collect()
    }

    /// Records held now.
    pub fn held(&self) -> usize {
        self.events.len() + self.irqs.len() + self.trace.len()
    }
}

/// How a core's records are split: its names and thresholds.
pub struct Split<'a> {
    /// A trace record's name index to its cause.
    pub names: &'a dyn Fn(u16) -> (String, CauseKind),
    /// The probe's own thread's name index.
    pub probe: u16,
    /// The event threshold, ticks.
    pub threshold: u64,
    /// The event threshold, ns.
    pub threshold_ns: u64,
    /// Counter ticks per second.
    pub hz: u64,
    /// The window's end, ticks (handler entries after it are not counted).
    pub window_end: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(i: u16) -> (String, CauseKind) {
        match i {
            0 => ("tickscope-probe:1".into(), CauseKind::Thread),
            1 => ("arch_timer".into(), CauseKind::Irq),
            _ => ("kworker/1:1".into(), CauseKind::Thread),
        }
    }

    fn rec(at: u64, kind: TraceKind, name: u16) -> TraceRecord {
        TraceRecord { at, kind, name }
    }

    /// A 1 GHz clock, a 62-tick threshold, the probe as name 0.
    fn how() -> Split<'static> {
        Split {
            names: &names,
            probe: 0,
            threshold: 62,
            threshold_ns: 1_000,
            hz: 1_000_000_000,
            window_end: u64::MAX,
        }
    }

    /// A late event (it was still being measured when its time was closed) is split against the
    /// records it needs: the close kept the trace from the last point no handler was open.
    #[test]
    fn a_close_inside_a_handler_keeps_the_handler_for_an_event_that_comes_late() {
        let how = how();
        let mut o = Overflow::new(0);
        o.learn_bounds(&[], &[], &Causes::default());
        o.trace(rec(100, TraceKind::Switch, 2));
        o.trace(rec(600, TraceKind::Switch, 0));
        o.trace(rec(1_000, TraceKind::IrqEntry, 1));
        o.close(3_000, &how);
        o.trace(rec(5_000, TraceKind::IrqExit, 1));
        o.event(995, 4_010);
        assert_eq!(o.late, 1);
        o.close(u64::MAX, &how);
        let irq = o.totals.causes[&("arch_timer".to_string(), CauseKind::Irq)];
        assert_eq!((irq.episodes, irq.total_ns), (1, 4_000), "{:?}", o.totals);
        assert_eq!(o.totals.os_ns, 4_000);
    }

    /// What a close lets go of: records before the last point no handler was open, except the
    /// switch that set the context from there (a thread's run cut in two stays that thread's).
    #[test]
    fn a_close_inside_a_thread_s_run_keeps_its_switch() {
        let how = how();
        let mut o = Overflow::new(0);
        o.learn_bounds(&[], &[], &Causes::default());
        o.trace(rec(100, TraceKind::IrqEntry, 1));
        o.trace(rec(200, TraceKind::IrqExit, 1));
        o.trace(rec(1_000, TraceKind::Switch, 2));
        o.close(3_000, &how);
        assert_eq!(o.held(), 1, "the kworker's switch");
        o.trace(rec(5_000, TraceKind::Switch, 0));
        o.event(990, 4_020);
        o.close(u64::MAX, &how);
        let k = o.totals.causes[&("kworker/1:1".to_string(), CauseKind::Thread)];
        assert_eq!((k.episodes, k.total_ns), (1, 4_000), "{:?}", o.totals);
    }

    /// A cause the kept records saw too rarely to bound its untraced entry and exit learns them
    /// from the later records: ten ticks whose handlers start 5 ticks into the event and end 5
    /// before its end are charged whole once eight have been seen (900 ns without). A bound is
    /// the smallest stretch seen so far: later 2-tick entries lower the kept records' 5, so a
    /// later 5-tick entry is charged 2 (as the whole run kept at once would be).
    #[test]
    fn a_cause_rare_among_the_kept_records_learns_its_edges_from_the_later_ones() {
        let how = how();
        let ticks = |o: &mut Overflow, from: u64| {
            for i in 0..10 {
                let at = from + i * 10_000;
                o.trace(rec(at + 5, TraceKind::IrqEntry, 1));
                o.trace(rec(at + 95, TraceKind::IrqExit, 1));
                o.event(at, 100);
            }
        };
        let mut o = Overflow::new(0);
        o.learn_bounds(&[], &[], &Causes::default());
        ticks(&mut o, 0);
        o.close(u64::MAX, &how);
        let irq = o.totals.causes[&("arch_timer".to_string(), CauseKind::Irq)];
        assert_eq!((irq.episodes, irq.total_ns), (10, 1_000), "{:?}", o.totals);
        // The kept records bound both sides at 5 ticks (seen 8 times); the later ones' 2-tick
        // entries lower the entry bound to 2: five events are charged 97 ns, five 100 ns.
        let mut o = Overflow::new(0);
        let mut kept = Causes::default();
        let mut trace = Vec::new();
        let mut events = Vec::new();
        for i in 0..8u64 {
            let at = 1_000_000 + i * 10_000;
            trace.push(rec(at + 5, TraceKind::IrqEntry, 1));
            trace.push(rec(at + 95, TraceKind::IrqExit, 1));
            events.push((at, 100));
        }
        let intervals = attribute::from_trace(&trace, &names, 0, &mut kept);
        o.learn_bounds(&events, &intervals, &kept);
        for i in 0..10u64 {
            let at = 2_000_000 + i * 10_000;
            let entry = if i % 2 == 0 { 2 } else { 5 };
            o.trace(rec(at + entry, TraceKind::IrqEntry, 1));
            o.trace(rec(at + 95, TraceKind::IrqExit, 1));
            o.event(at, 100);
        }
        o.close(u64::MAX, &how);
        let irq = o.totals.causes[&("arch_timer".to_string(), CauseKind::Irq)];
        assert_eq!((irq.episodes, irq.total_ns), (10, 985), "{:?}", o.totals);
    }
}
