//! A core's interrupt service for a measurement window: the measurement timer (every genuine
//! wake-up a sample), the injected tick (busy for its duration), and a record of every interrupt
//! taken in the window. The run layer sets it up and collects it with interrupts masked
//! ([`with`]); the interrupt path ([`crate::irq`]) drives it. The decisions (ghost, early, on
//! time, late) are `tickscope_core::irq`'s, tested on the host.

use core::cell::{RefCell, RefMut};
use core::sync::atomic::{AtomicBool, Ordering};

use percore::{ExceptionFree, ExceptionLock, PerCore, exception_free};
use tickscope_core::irq::{Delivery, IrqRec, PeriodicTimer, SampleRec};
use tickscope_core::probe::{self, HandlerClock, Schedule};
use tickscope_core::ring::Producer;
use tickscope_core::wire::msg::IrqKind;

use crate::cores::{self, Cores, Line};
use crate::timer::{self, Timer};
use crate::{MAX_CORES, gic, pmu};

/// Counts a core's service kept for its window's status report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Measurement-timer wake-ups taken.
    pub samples: u64,
    /// Measurement deadlines skipped by late wake-ups.
    pub overruns: u64,
    /// Injected-tick interrupts taken.
    pub ticks: u64,
    /// Spurious acknowledges (INTID 1023).
    pub spurious: u64,
    /// Timer interrupts delivered without the timer condition (either timer).
    pub ghosts: u64,
    /// Timer interrupts taken before their deadline (either timer).
    pub early: u64,
}

/// What the measurement made of an interrupt.
#[derive(Clone, Copy)]
pub struct Claim {
    /// What it was.
    pub kind: IrqKind,
    /// Vector timestamp minus deadline, for a timer whose deadline is known.
    pub late: Option<u64>,
}

const GHOST: Claim = Claim {
    kind: IrqKind::Ghost,
    late: None,
};

/// A timer the service drives, or none. Not an `Option<(Timer, _)>`: that would encode "none"
/// in `Timer`'s niche (a non-zero byte) and put 64 copies of the idle service into the loaded
/// image instead of BSS; tag 0 is `Off`.
#[repr(u8)]
enum Armed {
    Off = 0,
    On(Timer, PeriodicTimer) = 1,
}

impl Armed {
    fn take(&mut self) -> Option<(Timer, PeriodicTimer)> {
        match core::mem::replace(self, Armed::Off) {
            Armed::On(t, p) => Some((t, p)),
            Armed::Off => None,
        }
    }

    fn intid(&self) -> Option<u32> {
        match self {
            Armed::On(t, _) => Some(t.intid()),
            Armed::Off => None,
        }
    }
}

/// One core's service.
pub struct Service {
    meas: Armed,
    samples: Option<Producer<'static, 'static, SampleRec>>,
    tick: Armed,
    tick_busy: u64,
    irqs: Option<Producer<'static, 'static, IrqRec>>,
    /// Cycle-counter calibration: cycles = counter × ratio (16.16) + offset.
    cal: Option<(u64, u64)>,
    spurious: u64,
    /// The running handler's own timeline (stolen time), restarted at every interrupt.
    clock: HandlerClock,
    /// Steps above this many ticks inside a handler are stolen time (the event threshold).
    steal_threshold: u64,
}

impl Service {
    /// No window: all zero, so the 64 per-core copies live in BSS, not in the loaded image
    /// (the thresholds are set by `begin_window` before anything is recorded).
    const IDLE: Service = Service {
        meas: Armed::Off,
        samples: None,
        tick: Armed::Off,
        tick_busy: 0,
        irqs: None,
        cal: None,
        spurious: 0,
        clock: HandlerClock::start(0, 0),
        steal_threshold: 0,
    };

    /// Starts a window: records every interrupt into `irqs`; time a handler loses above
    /// `steal_threshold` ticks is stolen, not its own; `cal` relates cycles to the counter.
    pub fn begin_window(
        &mut self,
        irqs: Option<Producer<'static, 'static, IrqRec>>,
        steal_threshold: u64,
        cal: Option<(u64, u64)>,
    ) {
        *self = Service::IDLE;
        self.irqs = irqs;
        self.steal_threshold = steal_threshold.max(1);
        self.cal = cal;
        FINISHED[cores::index()].0.store(false, Ordering::Relaxed);
    }

    /// Arms the measurement timer: every genuine wake-up becomes a sample in `samples`; the
    /// window's last deadline sets [`finished`].
    pub fn measure(
        &mut self,
        timer: Timer,
        sched: Schedule,
        samples: Option<Producer<'static, 'static, SampleRec>>,
    ) {
        let p = PeriodicTimer::new(sched, offset_of(timer));
        self.samples = samples;
        gic::set_private(timer.intid(), true);
        timer.arm(p.first_cval());
        self.meas = Armed::On(timer, p);
    }

    /// Arms the injected tick: a timer whose handler keeps the core busy for `busy` ticks of its
    /// own execution.
    pub fn inject(&mut self, timer: Timer, sched: Schedule, busy: u64) {
        let p = PeriodicTimer::new(sched, offset_of(timer));
        self.tick_busy = busy;
        gic::set_private(timer.intid(), true);
        timer.arm(p.first_cval());
        self.tick = Armed::On(timer, p);
    }

    /// The counts so far (for a checkpoint).
    pub fn outcome(&self) -> Outcome {
        let mut o = Outcome {
            spurious: self.spurious,
            ..Outcome::default()
        };
        if let Armed::On(_, p) = &self.meas {
            o.samples = p.sched.fired;
            o.overruns = p.sched.overruns;
            o.ghosts += p.ghosts;
            o.early += p.early;
        }
        if let Armed::On(_, p) = &self.tick {
            o.ticks = p.sched.fired;
            o.ghosts += p.ghosts;
            o.early += p.early;
        }
        o
    }

    /// Ends the window: timers off, their interrupts disabled, rings released.
    pub fn end_window(&mut self) -> Outcome {
        let o = self.outcome();
        if let Some((t, _)) = self.meas.take() {
            t.disable();
            gic::set_private(t.intid(), false);
        }
        if let Some((t, _)) = self.tick.take() {
            t.disable();
            gic::set_private(t.intid(), false);
        }
        self.samples = None;
        self.irqs = None;
        o
    }

    /// Every interrupt, first thing: the handler's own timeline starts at the vector.
    #[inline(always)]
    pub(crate) fn begin(&mut self, entry: u64) {
        self.clock = HandlerClock::start(entry, self.steal_threshold);
    }

    /// The measurement's interrupts; `None` for any other.
    #[inline(always)]
    pub(crate) fn claim(&mut self, intid: u32, entry: u64, cycles: u64) -> Option<Claim> {
        if self.meas.intid() == Some(intid) {
            return Some(self.on_timer(entry, cycles));
        }
        if self.tick.intid() == Some(intid) {
            return Some(self.on_tick(entry));
        }
        None
    }

    #[inline(always)]
    fn on_timer(&mut self, entry: u64, cycles: u64) -> Claim {
        // The handler body starts here: from the vector to here is the entry cost.
        let body = if self.cal.is_some() { pmu::cycles() } else { 0 };
        let Armed::On(t, p) = &mut self.meas else {
            return GHOST;
        };
        let Some(latency) = p.on_interrupt(t, entry).latency() else {
            return GHOST;
        };
        let deadline = entry - latency;
        let (lat_cycles, entry_cycles) = match self.cal {
            Some((q16, offset)) => {
                let due = (((deadline as u128 * q16 as u128) >> 16) as u64).wrapping_add(offset);
                // A cycle count before the calibrated deadline cannot be a latency: invalid.
                (
                    narrow(cycles.checked_sub(due)),
                    narrow(body.checked_sub(cycles)),
                )
            }
            None => (u32::MAX, u32::MAX),
        };
        if let Some(s) = self.samples.as_mut() {
            s.push(SampleRec {
                at: deadline,
                ticks: latency,
                cycles: lat_cycles,
                entry: entry_cycles,
            });
        }
        if p.finished() {
            FINISHED[cores::index()].0.store(true, Ordering::Release);
        }
        Claim {
            kind: IrqKind::Timer,
            late: Some(latency),
        }
    }

    #[inline(always)]
    fn on_tick(&mut self, entry: u64) -> Claim {
        let Armed::On(t, p) = &mut self.tick else {
            return GHOST;
        };
        match p.on_interrupt(t, entry) {
            Delivery::OnTime { latency, .. } | Delivery::Late { latency, .. } => {
                // The synthetic kernel tick: busy for its duration of its own execution (time
                // the core is taken away meanwhile is stolen, not the tick's work).
                probe::busy_for(timer::now, &mut self.clock, self.tick_busy);
                Claim {
                    kind: IrqKind::Tick,
                    late: Some(latency),
                }
            }
            Delivery::Ghost | Delivery::Early { .. } => GHOST,
        }
    }

    /// Counts a spurious acknowledge.
    #[inline(always)]
    pub(crate) fn count_spurious(&mut self) {
        self.spurious += 1;
    }

    /// Records an interrupt taken in the window (all but the measurement timer's own wake-ups,
    /// which are the samples). The counter read here is the handler's end.
    #[inline(always)]
    pub(crate) fn record(&mut self, intid: u32, claim: Option<Claim>, entry: u64) {
        let Some(p) = self.irqs.as_mut() else {
            return;
        };
        let claim = claim.unwrap_or(Claim {
            kind: if intid < 16 {
                IrqKind::Sgi
            } else {
                IrqKind::Other
            },
            late: None,
        });
        if claim.kind == IrqKind::Timer {
            return;
        }
        let exit = timer::now();
        self.clock.step(exit);
        p.push(IrqRec {
            entry,
            span: exit - entry,
            late: claim.late,
            stolen: self.clock.stolen(),
            intid: intid as u16,
            kind: claim.kind,
        });
    }
}

/// A cycle figure for a 32-bit wire field: `u32::MAX` marks "invalid" (none, or too large).
fn narrow(v: Option<u64>) -> u32 {
    v.filter(|&c| c < u32::MAX as u64)
        .map_or(u32::MAX, |c| c as u32)
}

/// The counter offset a timer's compare values need (its counter minus the virtual counter).
fn offset_of(t: Timer) -> u64 {
    if t.is_physical() {
        timer::virtual_offset()
    } else {
        0
    }
}

type Slot = ExceptionLock<RefCell<Service>>;

/// Every core's service; a core only ever touches its own (percore's index is TPIDR_EL0).
pub(crate) static SERVICE: PerCore<[Slot; MAX_CORES], Cores> =
    PerCore::new([const { ExceptionLock::new(RefCell::new(Service::IDLE)) }; MAX_CORES]);

/// The measurement timer's last deadline fired, per core.
static FINISHED: [Line<AtomicBool>; MAX_CORES] =
    [const { Line(AtomicBool::new(false)) }; MAX_CORES];

/// Runs `f` on this core's service with interrupts masked (setup and collection).
pub fn with<T>(f: impl FnOnce(&mut Service) -> T) -> T {
    exception_free(|token| f(&mut mine(token)))
}

/// This core's service, while exceptions are masked. The interrupt handler and [`with`] never
/// nest; if they did, this panics with a fixed message (`RefCell::borrow_mut` formats its own,
/// and formatting would pull `core::fmt` into the image).
pub(crate) fn mine(token: ExceptionFree<'_>) -> RefMut<'_, Service> {
    match SERVICE.get().borrow(token).try_borrow_mut() {
        Ok(service) => service,
        Err(_) => panic!("this core's timer service is borrowed twice"),
    }
}

/// Whether this core's measurement timer has fired its window's last deadline.
pub fn finished() -> bool {
    FINISHED[cores::index()].0.load(Ordering::Acquire)
}
