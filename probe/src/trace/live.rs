//! The trace read while the window runs: the writer thread, off the measured CPU, reads what
//! the kernel committed so far, so a long run needs neither a buffer for its whole window nor
//! the host a whole window's records before it can attribute them.

use tickscope_core::wire::msg::{CauseKind, TraceRecord};

use super::Reader;

/// A reader with the clock the records are converted to.
pub struct LiveTrace {
    /// The instance's reader.
    pub reader: Reader,
    /// (run clock, CLOCK_MONOTONIC) as the window was set up: the conversion's first pair.
    pub first: (u64, u64),
    /// The run's clock.
    pub now: fn() -> u64,
    /// Its ticks per second.
    pub hz: u64,
    /// Whether it was read during the window.
    pub streamed: bool,
}

/// One reading: the names added since the last, and the records in the run's clock.
pub struct Round {
    /// Index of the first new name, and the new names.
    pub names: (usize, Vec<(CauseKind, String)>),
    /// Records, in time order.
    pub records: Vec<TraceRecord>,
    /// The run clock when the reading began: every record before it has been read.
    pub at: u64,
}

impl LiveTrace {
    /// A live trace starting now.
    pub fn new(reader: Reader, now: fn() -> u64, hz: u64) -> LiveTrace {
        LiveTrace {
            reader,
            first: crate::clock_pair(now),
            now,
            hz,
            streamed: false,
        }
    }

    /// Reads what the kernel committed so far, converted through the first pair and one taken
    /// now (`pairs` overrides both: a trace read once after the window uses the window's own).
    pub fn round(&mut self, pairs: Option<[(u64, u64); 2]>) -> Round {
        let now = crate::clock_pair(self.now);
        self.streamed |= pairs.is_none();
        let [a, b] = pairs.unwrap_or([self.first, now]);
        let records = self
            .reader
            .read()
            .into_iter()
            .map(|(ts, kind, name)| TraceRecord {
                at: crate::to_counter(ts, a, b),
                kind,
                name,
            })
            .collect();
        Round {
            names: self.reader.new_names(),
            records,
            at: now.0,
        }
    }

    /// How far the run's records are all in after a round at `at`, the last event drained
    /// having ended at `last_end`: an event not yet drained starts after that; with none for a
    /// second, the records up to a second ago are taken as in (an event still being measured
    /// then, which ends later, is counted as late by the host).
    pub fn covered(&self, at: u64, last_end: u64) -> u64 {
        last_end.max(at.saturating_sub(self.hz)).min(at)
    }
}
