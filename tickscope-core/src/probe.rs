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

/// Gaps counted in `gaps` (the iterations that were not events). Only slots up to the threshold
/// can hold counts, so only those are summed (a checkpoint sums them while the loop is blind).
pub fn counted(gaps: &GapTable, threshold: Threshold) -> u64 {
    gaps.iter().take(threshold.0 as usize + 1).sum()
}

/// What a run of [`noise_loop`] did besides its events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LoopStats {
    /// Loop iterations (gaps measured, events included): this run's events plus every gap in
    /// the table (a table shared by several runs counts theirs too).
    pub iterations: u64,
    /// Events this run found.
    pub events: u64,
    /// The counter value the loop ended on (its first read at or past `end`): where a next run
    /// starts, so the time between two runs is its first gap.
    pub last: u64,
    /// Ticks spent after events (in `on_event` and re-reading the counter) during which the
    /// loop measured nothing: the probe's own blind time.
    pub blind: u64,
}

/// Reads the counter in a tight loop from the window's `start` until it reaches `end`. Every gap
/// between two consecutive reads above `threshold` is an event, reported as `(start, gap)`
/// (start = the read before the gap); every other gap is counted in `gaps`. The first gap runs
/// from `start` itself, so time the core lost before its loop began (taken away, or in a handler,
/// once the window was open) is an event like any other, not a blind spot.
///
/// The hot path is: read, subtract, compare, increment the table slot, compare with `end`
/// (about 10 instructions on AArch64; `tickscope bench` measures it). After an event the counter
/// is read again, so the time `on_event` takes (recording, attributing) is not charged to the
/// next gap: it is a blind spot of the measurement, not noise, and it is counted in
/// [`LoopStats::blind`] (from the read that ended the gap to the read that starts the next).
#[inline(always)]
pub fn noise_loop<R, E>(
    read: R,
    start: u64,
    end: u64,
    threshold: Threshold,
    gaps: &mut GapTable,
    on_event: E,
) -> LoopStats
where
    R: Fn() -> u64,
    E: FnMut(u64, u64),
{
    noise_loop_with::<R, E, false>(read, start, end, threshold, gaps, on_event)
}

/// Blind spots [`noise_loop_watching`] records as events after one event, at most.
pub const MAX_CHAINED: u32 = 4;

/// [`noise_loop`] that also watches its own blind spots: when the time from the read that ended
/// a gap to the read after recording it exceeds the threshold, something took the CPU while the
/// event was being recorded, and that stretch is an event of its own (and so on, at most
/// [`MAX_CHAINED`] times: after that the spot is blind time whatever its length, so a recording
/// slower than the threshold cannot make events forever). Without it
/// an interrupt taken right after the read that ends a gap is invisible; QEMU's plain TCG does
/// exactly that (it delivers an interrupt at the first block boundary after the vCPU resumes,
/// and a counter read ends a block), so two ticks in three fell into blind spots. The Linux
/// probe uses it; the firmware's loop, whose exact icount figures are published, does not.
#[inline(always)]
pub fn noise_loop_watching<R, E>(
    read: R,
    start: u64,
    end: u64,
    threshold: Threshold,
    gaps: &mut GapTable,
    on_event: E,
) -> LoopStats
where
    R: Fn() -> u64,
    E: FnMut(u64, u64),
{
    noise_loop_with::<R, E, true>(read, start, end, threshold, gaps, on_event)
}

#[inline(always)]
fn noise_loop_with<R, E, const WATCH_BLIND: bool>(
    read: R,
    start: u64,
    end: u64,
    threshold: Threshold,
    gaps: &mut GapTable,
    mut on_event: E,
) -> LoopStats
where
    R: Fn() -> u64,
    E: FnMut(u64, u64),
{
    let thr = threshold.0;
    let mut prev = start;
    let mut events = 0u64;
    let mut blind = 0u64;
    let last = loop {
        let now = read();
        let gap = now.wrapping_sub(prev);
        if gap > thr {
            events += 1;
            on_event(prev, gap);
            if now >= end {
                break now;
            }
            prev = read();
            let mut spot = prev.wrapping_sub(now);
            if WATCH_BLIND {
                let mut at = now;
                let mut chained = 0;
                while spot > thr && chained < MAX_CHAINED {
                    events += 1;
                    chained += 1;
                    on_event(at, spot);
                    at = prev;
                    prev = read();
                    spot = prev.wrapping_sub(at);
                }
            }
            blind += spot;
            continue;
        }
        // SAFETY: gap <= thr < GAP_SLOTS (Threshold's invariant), so the index is in bounds.
        unsafe { *gaps.get_unchecked_mut(gap as usize) += 1 };
        prev = now;
        if now >= end {
            break now;
        }
    };
    LoopStats {
        iterations: events + counted(gaps, threshold),
        events,
        blind,
        last,
    }
}

/// The time an interrupt handler's core spent not running it: consecutive counter reads inside
/// a handler are close together (a few instructions apart), so a step above the threshold means
/// the core was taken away (another vCPU's slice under QEMU's round-robin `-icount`, firmware or
/// a hypervisor on a board). That time is stolen, not the handler's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HandlerClock {
    last: u64,
    stolen: u64,
    threshold: u64,
}

impl HandlerClock {
    /// A clock for a handler entered at `entry`; steps above `threshold` ticks are stolen.
    pub const fn start(entry: u64, threshold: u64) -> Self {
        HandlerClock {
            last: entry,
            stolen: 0,
            threshold,
        }
    }

    /// Notes a counter read inside the handler.
    #[inline(always)]
    pub fn step(&mut self, now: u64) {
        let d = now.wrapping_sub(self.last);
        if d > self.threshold {
            self.stolen += d;
        }
        self.last = now;
    }

    /// Stolen ticks so far.
    pub fn stolen(&self) -> u64 {
        self.stolen
    }
}

/// Keeps the core busy for `own` ticks of its own execution from the clock's last read (time
/// stolen meanwhile does not count), as a handler that has that much work to do would. Returns
/// the last counter value read.
#[inline(always)]
pub fn busy_for<R: Fn() -> u64>(read: R, clock: &mut HandlerClock, own: u64) -> u64 {
    let from = clock.last;
    let stolen_before = clock.stolen;
    loop {
        let now = read();
        clock.step(now);
        if now.wrapping_sub(from) >= own + (clock.stolen - stolen_before) {
            return now;
        }
    }
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
    /// Deadlines that passed before this wake-up was taken (skipped, counted as overruns).
    pub missed: u64,
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

    /// The timer fired and the handler read the counter as `now`, at or after the deadline
    /// (callers tell an early delivery apart first, see `irq::PeriodicTimer`): nothing here
    /// clamps a negative latency to zero.
    #[inline]
    pub fn fire(&mut self, now: u64) -> Wakeup {
        let deadline = self.next;
        debug_assert!(now >= deadline, "fire() before the deadline");
        debug_assert!(deadline < self.end, "fire() after the window");
        let latency = now.wrapping_sub(deadline);
        let mut next = deadline + self.period;
        let mut missed = 0;
        if next <= now {
            let passed = latency / self.period;
            next = deadline + (passed + 1) * self.period;
            // Only deadlines inside the window count as missed: one past its end never existed.
            // (`deadline` is inside the window: `fire` is only called while it is not empty.)
            let in_window = (self.end - 1 - deadline) / self.period;
            missed = passed.min(in_window);
            self.overruns += missed;
        }
        self.next = next;
        self.fired += 1;
        Wakeup {
            deadline,
            latency,
            next: (next < self.end).then_some(next),
            missed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_deadline_of_the_window_is_a_wakeup_or_an_overrun_never_more() {
        // Deadlines 110, 120, ..., 190 (9 of them) in a window ending at 200.
        for late in [0u64, 5, 25, 95, 400] {
            let mut s = Schedule::new(100, 10, 200);
            while !s.is_empty() {
                let d = s.deadline();
                s.fire(d + late);
            }
            assert_eq!(s.fired + s.overruns, 9, "{late} ticks late: {s:?}");
        }
    }
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
        let stats = noise_loop(
            fake_counter(1, 1000, 625),
            0,
            1_000_000,
            thr,
            &mut gaps,
            |s, g| events.push((s, g)),
        );
        let iters = stats.iterations;
        // After each event the loop reads once more (1 tick on this counter) before it measures
        // again; the window ended on a quiet iteration, so every event has its re-read.
        assert_eq!(
            stats.blind,
            events.len() as u64,
            "one tick of blind time per event"
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
    fn an_interrupt_right_after_a_gap_is_an_event_when_watched_and_blind_otherwise() {
        // 1 tick per read; a 500-tick gap at read 10; at read 11 (the re-read after recording
        // it, as QEMU's TCG delivers an interrupt right after the read that ends a gap) 300
        // ticks more; at read 12 (the re-read after recording that) 200 ticks more; reads 14 to
        // 20 take 100 ticks each (a recording slower than the threshold).
        let run = |watch: bool| {
            let now = Cell::new(0u64);
            let reads = Cell::new(0u64);
            let read = || {
                reads.set(reads.get() + 1);
                now.set(
                    now.get()
                        + match reads.get() {
                            10 => 500,
                            11 => 300,
                            12 => 200,
                            14..=20 => 100,
                            _ => 1,
                        },
                );
                now.get()
            };
            let mut gaps = Box::new([0u64; GAP_SLOTS]);
            let mut events = Vec::new();
            let thr = Threshold::new(62).unwrap();
            let stats = if watch {
                noise_loop_watching(read, 0, 2000, thr, &mut gaps, |s, g| events.push((s, g)))
            } else {
                noise_loop(read, 0, 2000, thr, &mut gaps, |s, g| events.push((s, g)))
            };
            (events, stats.blind, stats.events)
        };
        // Watched: the 300 and 200 ticks are events of their own, adjacent to the gap's.
        let (events, blind, n) = run(true);
        assert_eq!(events[..3], [(9, 500), (509, 300), (809, 200)]);
        // The slow reads: an event at read 14, 4 chained to it, the 5th blind (100 ticks), then
        // read 20's gap an event again; the quiet re-reads after each chain 1 tick each.
        assert_eq!(
            events[3..],
            [
                (1010, 100),
                (1110, 100),
                (1210, 100),
                (1310, 100),
                (1410, 100),
                (1610, 100)
            ]
        );
        assert_eq!(blind, 1 + 100 + 1);
        assert_eq!(n, 9);
        // Not watched (the firmware's loop, unchanged): the 300 ticks are blind.
        let (events, blind, _) = run(false);
        assert_eq!(events[..2], [(9, 500), (809, 200)]);
        assert_eq!(blind, 300 + 1 + 100 * 3 + 1);
    }

    #[test]
    fn a_handler_taken_away_keeps_its_own_time_and_counts_the_rest_as_stolen() {
        // 1 tick per read; at read 5 the core is away for 1000 ticks.
        let now = Cell::new(100u64);
        let reads = Cell::new(0u64);
        let read = || {
            reads.set(reads.get() + 1);
            now.set(now.get() + if reads.get() == 5 { 1000 } else { 1 });
            now.get()
        };
        let mut c = HandlerClock::start(100, 62);
        let end = busy_for(read, &mut c, 50);
        assert_eq!(c.stolen(), 1000);
        assert_eq!(
            end,
            100 + 50 + 1000,
            "50 ticks of its own, plus the 1000 taken away"
        );
        // After the busy time, the handler is taken away once more (e.g. when it rearms a timer).
        c.step(end + 300);
        assert_eq!(c.stolen(), 1300);
        c.step(end + 310);
        assert_eq!(c.stolen(), 1300, "10 ticks of its own code are not stolen");
    }

    #[test]
    fn time_lost_before_the_loop_starts_is_the_first_event() {
        // The loop's first read comes 500 ticks after the window opened.
        let mut gaps = Box::new([0u64; GAP_SLOTS]);
        let mut events = Vec::new();
        let counter = fake_counter(1, 0, 0);
        let read = || counter() + 499;
        noise_loop(
            read,
            0,
            600,
            Threshold::new(62).unwrap(),
            &mut gaps,
            |s, g| events.push((s, g)),
        );
        assert_eq!(events.first(), Some(&(0, 500)));
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
