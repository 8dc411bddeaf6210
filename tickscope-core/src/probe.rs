//! The measurement loops themselves, shared by the firmware and the Linux probe so both measure
//! with literally the same code: the counter-gap noise loop and the periodic-deadline schedule.
//!
//! Both are generic over how the counter is read (CNTVCT_EL0, the TSC, `clock_gettime`), which
//! the caller inlines; nothing here touches hardware, so it is tested on the host with fake clocks.

/// Loop gaps up to `GAP_SLOTS - 1` ticks are counted exactly in the gap table; the event
/// threshold must be below this (see [`Threshold::new`]).
pub const GAP_SLOTS: usize = 16384;

/// An event threshold in counter ticks, guaranteed to index the gap table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Threshold(u64);

impl Threshold {
    /// Accepts `ticks < GAP_SLOTS`.
    pub fn new(ticks: u64) -> Option<Self> {
        (ticks < GAP_SLOTS as u64).then_some(Threshold(ticks))
    }

    /// The threshold in ticks.
    pub fn ticks(self) -> u64 {
        self.0
    }
}

/// The per-iteration gap table of the noise loop: `gaps[g]` = iterations that took `g` ticks.
pub type GapTable = [u64; GAP_SLOTS];

/// Reads the counter in a tight loop until it reaches `end`. Every gap between two consecutive
/// reads above `threshold` is an event, reported as `(start, gap)` (start = the read before the
/// gap); every other gap is counted in `gaps`. Returns the number of iterations.
///
/// The hot path is: read, subtract, compare, increment the table slot, compare with `end`
/// (about 10 instructions on AArch64; `tickscope bench` measures it). After an event the counter
/// is read again, so the time `on_event` takes (recording, attributing) is not charged to the
/// next gap: it is a blind spot of the measurement, not noise.
#[inline(always)]
pub fn noise_loop<R, E>(
    read: R,
    end: u64,
    threshold: Threshold,
    gaps: &mut GapTable,
    mut on_event: E,
) -> u64
where
    R: Fn() -> u64,
    E: FnMut(u64, u64),
{
    let thr = threshold.0;
    let mut prev = read();
    let mut events = 0u64;
    loop {
        let now = read();
        let gap = now.wrapping_sub(prev);
        if gap > thr {
            events += 1;
            on_event(prev, gap);
            if now >= end {
                break;
            }
            prev = read();
            continue;
        }
        // SAFETY: gap <= thr < GAP_SLOTS (Threshold's invariant), so the index is in bounds.
        unsafe { *gaps.get_unchecked_mut(gap as usize) += 1 };
        prev = now;
        if now >= end {
            break;
        }
    }
    events + gaps.iter().sum::<u64>()
}

/// Periodic absolute deadlines over a window, as cyclictest keeps them: the next deadline is the
/// previous one plus the period, never "now plus the period", so latency does not accumulate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    next: u64,
    period: u64,
    end: u64,
    /// Wake-ups taken.
    pub fired: u64,
    /// Deadlines skipped because a wake-up came more than a period late.
    pub overruns: u64,
}

/// One wake-up, as [`Schedule::fire`] accounts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wakeup {
    /// The deadline that fired.
    pub deadline: u64,
    /// `now - deadline`.
    pub latency: u64,
    /// The next deadline to program, or `None` when the window is over.
    pub next: Option<u64>,
}

impl Schedule {
    /// Deadlines at `start + period`, `start + 2 period`, ... before `end`.
    pub fn new(start: u64, period: u64, end: u64) -> Self {
        let period = period.max(1);
        Schedule {
            next: start + period,
            period,
            end,
            fired: 0,
            overruns: 0,
        }
    }

    /// The deadline to program first (or now).
    pub fn deadline(&self) -> u64 {
        self.next
    }

    /// Whether any deadline lies inside the window.
    pub fn is_empty(&self) -> bool {
        self.next >= self.end
    }

    /// The timer fired and the handler read the counter as `now`.
    #[inline]
    pub fn fire(&mut self, now: u64) -> Wakeup {
        let deadline = self.next;
        let latency = now.saturating_sub(deadline);
        let mut next = deadline + self.period;
        if next <= now {
            let missed = (now - deadline) / self.period;
            self.overruns += missed;
            next = deadline + (missed + 1) * self.period;
        }
        self.next = next;
        self.fired += 1;
        Wakeup {
            deadline,
            latency,
            next: (next < self.end).then_some(next),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    /// A counter that advances `step` per read, plus a burst of `len` ticks every `every` reads:
    /// a known periodic disturbance.
    fn fake_counter(step: u64, every: u64, len: u64) -> impl Fn() -> u64 {
        let now = Cell::new(0u64);
        let reads = Cell::new(0u64);
        move || {
            reads.set(reads.get() + 1);
            let extra = if every > 0 && reads.get().is_multiple_of(every) {
                len
            } else {
                0
            };
            now.set(now.get() + step + extra);
            now.get()
        }
    }

    #[test]
    fn noise_loop_finds_the_injected_bursts_exactly() {
        let mut gaps = Box::new([0u64; GAP_SLOTS]);
        let mut events = Vec::new();
        // 1 tick per read, a 625-tick burst every 1000 reads; run to 1_000_000 ticks.
        let thr = Threshold::new(62).unwrap();
        let iters = noise_loop(
            fake_counter(1, 1000, 625),
            1_000_000,
            thr,
            &mut gaps,
            |s, g| events.push((s, g)),
        );
        assert!(
            events.iter().all(|&(_, g)| g == 626),
            "every burst is seen with its full length"
        );
        assert_eq!(iters, gaps.iter().sum::<u64>() + events.len() as u64);
        assert_eq!(gaps[1] as usize + events.len(), iters as usize);
        // Reads happen at step 1 plus bursts: 1e6 ticks hold about 1e6 / (1000 + 625) * 1000 reads.
        let bursts = events.len() as u64;
        assert_eq!(bursts, iters / 1000, "one event per 1000 reads");
        assert!(events.windows(2).all(|w| w[1].0 - w[0].0 == 1000 + 625));
    }

    #[test]
    fn threshold_must_fit_the_gap_table() {
        assert!(Threshold::new(GAP_SLOTS as u64 - 1).is_some());
        assert!(Threshold::new(GAP_SLOTS as u64).is_none());
    }

    #[test]
    fn schedule_keeps_absolute_deadlines_and_counts_overruns() {
        let mut s = Schedule::new(1000, 100, 1600);
        assert_eq!(s.deadline(), 1100);
        let w = s.fire(1103);
        assert_eq!((w.deadline, w.latency, w.next), (1100, 3, Some(1200)));
        // 250 late: deadlines 1300 and 1400 are missed, next is 1500.
        let w = s.fire(1450);
        assert_eq!((w.deadline, w.latency, w.next), (1200, 250, Some(1500)));
        assert_eq!(s.overruns, 2);
        let w = s.fire(1500);
        assert_eq!(w.next, None, "1600 is the end of the window");
        assert_eq!(s.fired, 3);
    }
}
