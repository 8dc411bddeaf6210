//! A measured core's timer-interrupt decisions, free of hardware: what a delivery of a periodic
//! timer's interrupt was (ghost, early, on time, late) and what to program next; and the records
//! the firmware's interrupt path pushes into its rings. The firmware instantiates
//! [`PeriodicTimer`] with its timer registers; the tests here use a fake.

use crate::probe::Schedule;
use crate::wire::msg::IrqKind;

/// The registers of one generic timer, as the decision logic sees them.
pub trait TimerRegs {
    /// CTL.ISTATUS: the timer's condition (counter ≥ compare value) is met.
    fn condition_met(&self) -> bool;
    /// The timer's own counter now (CNTVCT for the virtual timer, CNTPCT for the others).
    fn counter(&self) -> u64;
    /// Programs a new absolute compare value (in the timer's own counter) and keeps it enabled.
    fn rearm(&mut self, cval: u64);
    /// Turns the timer off (its interrupt line drops).
    fn disable(&mut self);
}

/// What one interrupt of a periodic timer was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// CTL.ISTATUS was clear: the interrupt arrived with no timer condition (a stale or spurious
    /// delivery). Counted, never a latency; the timer keeps its deadline.
    Ghost,
    /// The condition was met but the vector ran before the deadline by our counter: the compare
    /// value did not match the deadline (a wrong counter offset). Counted, never a latency; the
    /// offset is measured again from the timer's counter and the deadline programmed with it,
    /// so the compare value lies ahead of the timer's counter (the same compare value again
    /// would keep the condition met: an interrupt storm).
    Early {
        /// Counter ticks before the deadline.
        by: u64,
    },
    /// Taken after its deadline, before the next one.
    OnTime {
        /// The deadline that fired.
        deadline: u64,
        /// Vector timestamp minus deadline.
        latency: u64,
    },
    /// Taken so late that later deadlines passed too (they are skipped and counted as overruns).
    Late {
        /// The deadline that fired.
        deadline: u64,
        /// Vector timestamp minus deadline.
        latency: u64,
        /// Deadlines skipped.
        missed: u64,
    },
}

impl Delivery {
    /// The latency of a genuine wake-up.
    pub fn latency(self) -> Option<u64> {
        match self {
            Delivery::OnTime { latency, .. } | Delivery::Late { latency, .. } => Some(latency),
            Delivery::Ghost | Delivery::Early { .. } => None,
        }
    }
}

/// A periodic timer over a window: the schedule of deadlines (in the measurement counter) and the
/// offset of the timer's own counter (CNTPCT - CNTVCT for a physical timer, 0 for the virtual).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeriodicTimer {
    /// Deadlines and the counts of what fired.
    pub sched: Schedule,
    offset: u64,
    /// Ghost deliveries.
    pub ghosts: u64,
    /// Early deliveries.
    pub early: u64,
}

impl PeriodicTimer {
    /// A timer whose counter reads `offset` more than the measurement counter.
    pub const fn new(sched: Schedule, offset: u64) -> Self {
        PeriodicTimer {
            sched,
            offset,
            ghosts: 0,
            early: 0,
        }
    }

    /// The compare value to program first.
    pub fn first_cval(&self) -> u64 {
        self.sched.deadline().wrapping_add(self.offset)
    }

    /// Decides what an interrupt taken with the vector timestamp `entry` was, and reprograms the
    /// timer: the next deadline, or off when the window is over.
    pub fn on_interrupt<R: TimerRegs>(&mut self, regs: &mut R, entry: u64) -> Delivery {
        if !regs.condition_met() {
            self.ghosts += 1;
            return Delivery::Ghost;
        }
        let deadline = self.sched.deadline();
        if entry < deadline {
            self.early += 1;
            // Read after `entry`, so the offset errs towards a late timer, never an early one.
            self.offset = regs.counter().wrapping_sub(entry);
            regs.rearm(deadline.wrapping_add(self.offset));
            return Delivery::Early {
                by: deadline - entry,
            };
        }
        let w = self.sched.fire(entry);
        match w.next {
            Some(next) => regs.rearm(next.wrapping_add(self.offset)),
            None => regs.disable(),
        }
        if w.missed == 0 {
            Delivery::OnTime {
                deadline,
                latency: w.latency,
            }
        } else {
            Delivery::Late {
                deadline,
                latency: w.latency,
                missed: w.missed,
            }
        }
    }

    /// Whether the window's last deadline has fired.
    pub fn finished(&self) -> bool {
        self.sched.is_empty()
    }
}

/// A sample-ring record: a timer sample (deadline, latency, cycles, entry cycles) or a noise
/// event (start, gap, 0, 0). Latency and gap are kept whole here; the wire format's 32-bit
/// fields clamp (and say so) when the shipper converts them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct SampleRec {
    /// Deadline or start (counter).
    pub at: u64,
    /// Latency or gap (counter ticks).
    pub ticks: u64,
    /// Cycle latency, `u32::MAX` when not measured or invalid.
    pub cycles: u32,
    /// Entry cycles (vector to handler body), `u32::MAX` when not measured.
    pub entry: u32,
}

/// An interrupt-ring record: one interrupt taken in the window (see `wire::msg::IrqSpan`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct IrqRec {
    /// Counter at the vector.
    pub entry: u64,
    /// Counter at the handler's end minus `entry`.
    pub span: u64,
    /// `entry - deadline` of a timer whose deadline is known, else `None`.
    pub late: Option<u64>,
    /// Ticks of the span the core was taken away from the handler.
    pub stolen: u64,
    /// INTID.
    pub intid: u16,
    /// What it was.
    pub kind: IrqKind,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A timer register file: the condition follows a counter the test sets.
    struct Fake {
        counter: u64,
        cval: u64,
        enabled: bool,
        /// Force ISTATUS clear (a delivery with no condition).
        ghost: bool,
        writes: Vec<u64>,
    }

    impl TimerRegs for Fake {
        fn condition_met(&self) -> bool {
            self.enabled && !self.ghost && self.counter >= self.cval
        }
        fn counter(&self) -> u64 {
            self.counter
        }
        fn rearm(&mut self, cval: u64) {
            self.cval = cval;
            self.writes.push(cval);
        }
        fn disable(&mut self) {
            self.enabled = false;
        }
    }

    fn setup(offset: u64) -> (PeriodicTimer, Fake) {
        // Deadlines every 100 ticks from 1100 to before 1500 (1100, 1200, 1300, 1400).
        let t = PeriodicTimer::new(Schedule::new(1000, 100, 1500), offset);
        let fake = Fake {
            counter: 0,
            cval: t.first_cval(),
            enabled: true,
            ghost: false,
            writes: vec![],
        };
        (t, fake)
    }

    #[test]
    fn on_time_reports_latency_and_programs_the_next_deadline() {
        let (mut t, mut hw) = setup(0);
        hw.counter = 1103;
        assert_eq!(
            t.on_interrupt(&mut hw, 1103),
            Delivery::OnTime {
                deadline: 1100,
                latency: 3
            }
        );
        assert_eq!(hw.cval, 1200);
        assert_eq!(
            (t.sched.fired, t.sched.overruns, t.ghosts, t.early),
            (1, 0, 0, 0)
        );
    }

    #[test]
    fn late_skips_missed_deadlines_and_counts_them() {
        let (mut t, mut hw) = setup(0);
        hw.counter = 1350;
        assert_eq!(
            t.on_interrupt(&mut hw, 1350),
            Delivery::Late {
                deadline: 1100,
                latency: 250,
                missed: 2
            }
        );
        assert_eq!(hw.cval, 1400, "1200 and 1300 are gone");
        assert_eq!(t.sched.overruns, 2);
    }

    #[test]
    fn ghost_delivery_is_counted_and_leaves_the_timer_alone() {
        let (mut t, mut hw) = setup(0);
        hw.counter = 1150;
        hw.ghost = true;
        assert_eq!(t.on_interrupt(&mut hw, 1150), Delivery::Ghost);
        assert_eq!(Delivery::Ghost.latency(), None);
        assert!(hw.writes.is_empty(), "the deadline stays programmed");
        assert_eq!((t.ghosts, t.sched.fired), (1, 0));
        // Before the deadline with no condition is a ghost too, not an early wake-up.
        hw.counter = 1050;
        assert_eq!(t.on_interrupt(&mut hw, 1050), Delivery::Ghost);
    }

    #[test]
    fn early_delivery_is_counted_never_a_zero_latency_and_never_a_storm() {
        // The timer's counter runs 40 ticks ahead of ours but the offset says 0: it fires early.
        let (mut t, mut hw) = setup(0);
        hw.counter = 1100;
        let d = t.on_interrupt(&mut hw, 1060);
        assert_eq!(d, Delivery::Early { by: 40 });
        assert_eq!(d.latency(), None);
        assert_eq!((t.early, t.sched.fired), (1, 0));
        // The deadline is programmed in the timer's counter with the offset measured again:
        // ahead of that counter, so the condition drops (re-arming 1100 would keep it met).
        assert_eq!(hw.writes, vec![1140]);
        assert!(!hw.condition_met(), "no second interrupt at once");
        // From then on every deadline fires on time, in both counters.
        hw.counter = 1141;
        assert_eq!(
            t.on_interrupt(&mut hw, 1101),
            Delivery::OnTime {
                deadline: 1100,
                latency: 1
            }
        );
        assert_eq!(hw.cval, 1240);
        assert_eq!(t.early, 1);
    }

    #[test]
    fn physical_offset_applies_to_every_compare_value_and_the_last_disables() {
        let (mut t, mut hw) = setup(5_000);
        assert_eq!(hw.cval, 6_100);
        for (i, at) in [1101u64, 1202, 1300, 1401].into_iter().enumerate() {
            hw.counter = at + 5_000;
            assert!(
                t.on_interrupt(&mut hw, at).latency().is_some(),
                "wake-up {i}"
            );
        }
        assert_eq!(hw.writes, vec![6_200, 6_300, 6_400]);
        assert!(!hw.enabled, "the window is over");
        assert!(t.finished());
        assert_eq!(t.sched.fired, 4);
    }
}
