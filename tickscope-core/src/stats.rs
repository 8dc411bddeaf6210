//! Streaming statistics for one core and one metric: the value histogram, the events above the
//! threshold (their histogram, the worst N with timestamps, per-second counts). Fixed memory.
//!
//! The host builds these from raw samples; the firmware builds the same thing on the housekeeping
//! core when the link is too slow for raw samples, and ships it instead.

use serde::{Deserialize, Serialize};

use crate::hist::{Histogram, Quantiles};

/// Worst events kept per core and metric.
pub const WORST_N: usize = 16;
/// Seconds of per-second event counts kept (matches the longest accepted run).
pub const MAX_SECONDS: usize = 3600;

/// One event: its size (latency or gap, ns), when it started (ns since the window opened), where.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WorstEvent {
    /// Size of the event in nanoseconds.
    pub value: u64,
    /// Start, in nanoseconds since the measurement window opened.
    pub at: u64,
    /// Core it happened on.
    pub core: u16,
}

/// The N largest events, ties broken in favour of the earliest.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WorstN<const N: usize> {
    items: heapless::Vec<WorstEvent, N>,
}

impl<const N: usize> WorstN<N> {
    /// Empty.
    pub const fn new() -> Self {
        WorstN {
            items: heapless::Vec::new(),
        }
    }

    /// Offers an event; it is kept if it is among the N largest seen.
    pub fn offer(&mut self, ev: WorstEvent) {
        if self.items.push(ev).is_ok() {
            return;
        }
        // Replace the smallest (latest among equals) if the new one is strictly larger. (No
        // indexing or `expect` here or in `sorted`: their panic messages would pull `core::fmt`
        // into the firmware.)
        let smallest = self
            .items
            .iter_mut()
            .min_by(|a, b| a.value.cmp(&b.value).then(b.at.cmp(&a.at)));
        if let Some(smallest) = smallest
            && ev.value > smallest.value
        {
            *smallest = ev;
        }
    }

    /// The kept events, largest first (earliest first among equals). Insertion sort: N is
    /// small, and it keeps the firmware free of the general sort's code.
    pub fn sorted(&self) -> heapless::Vec<WorstEvent, N> {
        let mut v = self.items.clone();
        let key = |e: &WorstEvent| (core::cmp::Reverse(e.value), e.at, e.core);
        for i in 1..v.len() {
            // Sink item i through the sorted prefix, one neighbouring pair at a time.
            for j in (1..=i).rev() {
                match v.get_mut(j - 1..=j) {
                    Some([a, b]) if key(a) > key(b) => core::mem::swap(a, b),
                    _ => break,
                }
            }
        }
        v
    }

    /// Merges another list.
    pub fn merge(&mut self, other: &WorstN<N>) {
        for ev in other.items.iter() {
            self.offer(*ev);
        }
    }
}

/// Events per second of the window: second `i` counts events that started in `[i s, i+1 s)`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PerSecond {
    counts: heapless::Vec<u32, MAX_SECONDS>,
    beyond: u64,
}

impl PerSecond {
    /// Empty.
    pub const fn new() -> Self {
        PerSecond {
            counts: heapless::Vec::new(),
            beyond: 0,
        }
    }

    /// Counts an event starting `at_ns` after the window opened.
    pub fn add(&mut self, at_ns: u64) {
        self.add_n(at_ns / 1_000_000_000, 1);
    }

    /// Adds `n` events to second `sec`.
    pub fn add_n(&mut self, sec: u64, n: u32) {
        let sec = sec as usize;
        if sec >= MAX_SECONDS {
            self.beyond += n as u64;
            return;
        }
        while self.counts.len() <= sec {
            // Cannot fail: sec < MAX_SECONDS = capacity.
            let _ = self.counts.push(0);
        }
        if let Some(count) = self.counts.get_mut(sec) {
            *count = count.saturating_add(n);
        }
    }

    /// Counts per second (seconds after the last event are not listed).
    pub fn counts(&self) -> &[u32] {
        &self.counts
    }

    /// Events past the last tracked second.
    pub fn beyond(&self) -> u64 {
        self.beyond
    }

    /// Adds another set of counts.
    pub fn merge(&mut self, other: &PerSecond) {
        for (sec, &n) in other.counts.iter().enumerate() {
            if n > 0 {
                self.add_n(sec as u64, n);
            }
        }
        self.beyond += other.beyond;
    }
}

/// Statistics of one metric on one core: every value, and the events above a threshold.
#[derive(Debug, Clone)]
pub struct Accumulator {
    /// All values (latencies, loop gaps).
    pub values: Histogram,
    /// Values above the threshold (event sizes).
    pub events: Histogram,
    /// Largest events with timestamps.
    pub worst: WorstN<WORST_N>,
    /// Events per second of the window.
    pub per_second: PerSecond,
    /// Event threshold in nanoseconds (strictly greater is an event).
    pub threshold_ns: u64,
}

impl Accumulator {
    /// Empty, with the given event threshold.
    pub const fn new(threshold_ns: u64) -> Self {
        Accumulator {
            values: Histogram::new(),
            events: Histogram::new(),
            worst: WorstN::new(),
            per_second: PerSecond::new(),
            threshold_ns,
        }
    }

    /// Empties the accumulator in place and sets its threshold (no large temporary: the
    /// firmware keeps accumulators in statics and has small stacks).
    pub fn reset(&mut self, threshold_ns: u64) {
        self.values.clear();
        self.events.clear();
        self.worst = WorstN::new();
        self.per_second = PerSecond::new();
        self.threshold_ns = threshold_ns;
    }

    /// Records one value observed `at_ns` after the window opened on `core`.
    #[inline]
    pub fn record(&mut self, value_ns: u64, at_ns: u64, core: u16) {
        self.values.record(value_ns);
        if value_ns > self.threshold_ns {
            self.record_event_only(value_ns, at_ns, core);
        }
    }

    /// Records an event without adding it to the value histogram.
    pub fn record_event_only(&mut self, value_ns: u64, at_ns: u64, core: u16) {
        self.events.record(value_ns);
        self.worst.offer(WorstEvent {
            value: value_ns,
            at: at_ns,
            core,
        });
        self.per_second.add(at_ns);
    }

    /// Records `n` values below the threshold that carry no timestamp (bulk loop-gap counts).
    pub fn record_quiet(&mut self, value_ns: u64, n: u64) {
        self.values.record_n(value_ns, n);
    }

    /// Merges another accumulator (same threshold assumed).
    pub fn merge(&mut self, other: &Accumulator) {
        self.values.merge(&other.values);
        self.events.merge(&other.events);
        self.worst.merge(&other.worst);
        self.per_second.merge(&other.per_second);
    }

    /// Number of events above the threshold.
    pub fn event_count(&self) -> u64 {
        self.events.count()
    }

    /// Quantiles of all values.
    pub fn value_quantiles(&self) -> Quantiles {
        self.values.quantiles()
    }

    /// Quantiles of the events.
    pub fn event_quantiles(&self) -> Quantiles {
        self.events.quantiles()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn periodic_disturbance_shows_as_a_rate() {
        // A 250 Hz, 10 us disturbance over 2 s, with quiet 50 ns gaps in between.
        let mut acc = Accumulator::new(1_000);
        for i in 0..500u64 {
            acc.record_quiet(50, 1000);
            acc.record(10_000, 4_000_000 * (i + 1) - 1, 3);
        }
        assert_eq!(acc.event_count(), 500);
        assert_eq!(acc.per_second.counts(), &[250, 250]);
        assert_eq!(acc.event_quantiles().p50, 10_000);
        assert_eq!(acc.value_quantiles().p50, 50);
        assert_eq!(acc.worst.sorted().len(), WORST_N);
        assert_eq!(
            acc.worst.sorted()[0].at,
            3_999_999,
            "ties keep the earliest"
        );
    }

    proptest! {
        #[test]
        fn worst_n_matches_sorting(vals in prop::collection::vec((0u64..1000, 0u64..1_000_000), 0..200)) {
            let mut w = WorstN::<WORST_N>::new();
            for (i, &(v, at)) in vals.iter().enumerate() {
                w.offer(WorstEvent { value: v, at: at * 1000 + i as u64, core: 0 });
            }
            let mut all: Vec<_> = vals.iter().enumerate()
                .map(|(i, &(v, at))| (v, at * 1000 + i as u64)).collect();
            all.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
            let got: Vec<_> = w.sorted().iter().map(|e| e.value).collect();
            let want: Vec<_> = all.iter().take(WORST_N).map(|e| e.0).collect();
            prop_assert_eq!(got, want);
        }

        #[test]
        fn per_second_counts_are_exact(ats in prop::collection::vec(0u64..10_000_000_000, 0..500)) {
            let mut ps = PerSecond::new();
            for &at in &ats { ps.add(at); }
            let total: u64 = ps.counts().iter().map(|&c| c as u64).sum();
            prop_assert_eq!(total, ats.len() as u64);
            for (sec, &c) in ps.counts().iter().enumerate() {
                let want = ats.iter().filter(|&&a| a / 1_000_000_000 == sec as u64).count();
                prop_assert_eq!(c as usize, want);
            }
        }
    }
}
