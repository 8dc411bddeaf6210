//! Attribution totals: what a run of split events adds up to, per class (OS, hardware) and per
//! cause, in ns; merged over chunks of a long run and over cores.

use std::collections::BTreeMap;

use tickscope_core::hist::Histogram;
use tickscope_core::units::ticks_to_ns;
use tickscope_core::wire::msg::CauseKind;

use super::attribute::{Causes, Episode, Split};

/// One cause's share: the episodes it ran in, its time in them, its longest.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CauseTotals {
    /// Episodes it ran in.
    pub episodes: u64,
    /// Its net time in them, ns.
    pub total_ns: u64,
    /// Its largest net time in one, ns.
    pub max_ns: u64,
}

impl CauseTotals {
    /// One more episode of `ns`.
    pub fn add(&mut self, ns: u64) {
        self.episodes += 1;
        self.total_ns += ns;
        self.max_ns = self.max_ns.max(ns);
    }

    fn merge(&mut self, o: &CauseTotals) {
        self.episodes += o.episodes;
        self.total_ns += o.total_ns;
        self.max_ns = self.max_ns.max(o.max_ns);
    }
}

/// The episodes an interrupt ran in, ns: their extent (what the loop lost) and OS time. The
/// tick's cost comes from these when a core kept only some of its events.
#[derive(Debug, Default, Clone)]
pub struct IrqEpisodes {
    /// Each episode's extent.
    pub extent: Histogram,
    /// Each episode's OS time (at most its extent).
    pub os: Histogram,
}

/// The totals of some split events.
#[derive(Debug, Default, Clone)]
pub struct Totals {
    /// OS episodes' OS time, ns.
    pub os: Histogram,
    /// Hardware stretches at or above the threshold, ns.
    pub hw: Histogram,
    /// OS time inside events, ns.
    pub os_ns: u64,
    /// Hardware time inside events (all of it, stretches below the threshold too), ns.
    pub hw_ns: u64,
    /// Time in events, ns.
    pub event_ns: u64,
    /// Each cause's episodes, by (name, kind).
    pub causes: BTreeMap<(String, CauseKind), CauseTotals>,
    /// Events added.
    pub events: u64,
    /// Per interrupt cause (by name), the episodes it ran in.
    pub irq_episodes: BTreeMap<String, Box<IrqEpisodes>>,
}

impl Totals {
    /// Adds `splits` (their cause ids in `causes`): `threshold` in ticks separates episodes,
    /// `threshold_ns` counts a hardware stretch as an event.
    pub fn add(
        &mut self,
        splits: &[Split],
        causes: &Causes,
        threshold: u64,
        threshold_ns: u64,
        hz: u64,
    ) {
        for sp in splits {
            let len_ns = ticks_to_ns(sp.len, hz);
            let os_ns = ticks_to_ns(sp.os(), hz).min(len_ns);
            self.events += 1;
            self.event_ns += len_ns;
            self.os_ns += os_ns;
            self.hw_ns += len_ns - os_ns;
            for ep in sp.episodes(threshold) {
                self.os.record(ticks_to_ns(ep.os, hz));
                self.add_irq_episode(&ep, causes, hz);
                for &(id, ticks) in &ep.causes {
                    let (name, kind) = causes.get(id);
                    self.causes
                        .entry((name.to_string(), kind))
                        .or_default()
                        .add(ticks_to_ns(ticks, hz));
                }
            }
            for run in sp.hw_runs() {
                let ns = ticks_to_ns(run, hz);
                if ns >= threshold_ns {
                    self.hw.record(ns);
                }
            }
        }
    }

    /// An episode's extent and OS time, to each interrupt cause that ran in it.
    fn add_irq_episode(&mut self, ep: &Episode, causes: &Causes, hz: u64) {
        let extent = ticks_to_ns(ep.extent, hz);
        let os = ticks_to_ns(ep.os, hz).min(extent);
        for &(id, _) in &ep.causes {
            let (name, kind) = causes.get(id);
            if kind == CauseKind::Irq {
                let e = self.irq_episodes.entry(name.to_string()).or_default();
                e.extent.record(extent);
                e.os.record(os);
            }
        }
    }

    /// Adds another's totals.
    pub fn merge(&mut self, o: &Totals) {
        self.os.merge(&o.os);
        self.hw.merge(&o.hw);
        self.os_ns += o.os_ns;
        self.hw_ns += o.hw_ns;
        self.event_ns += o.event_ns;
        self.events += o.events;
        for (k, v) in &o.causes {
            self.causes.entry(k.clone()).or_default().merge(v);
        }
        for (k, v) in &o.irq_episodes {
            let e = self.irq_episodes.entry(k.clone()).or_default();
            e.extent.merge(&v.extent);
            e.os.merge(&v.os);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cause_s_totals_count_episodes_and_keep_the_longest() {
        let mut a = CauseTotals::default();
        a.add(300);
        a.add(100);
        let mut b = CauseTotals::default();
        b.add(500);
        a.merge(&b);
        assert_eq!((a.episodes, a.total_ns, a.max_ns), (3, 900, 500));
    }
}
