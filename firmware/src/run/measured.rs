//! A measured core's window: sets up its interrupt service (measurement timer, injected tick,
//! interrupt records), runs `timer` mode (asleep between wake-ups) or `noise` mode (the shared
//! counter loop of `tickscope_core::probe`), then hands its status back and tells the boot core.

use core::sync::atomic::Ordering;

use tickscope_core::checked::nth;
use tickscope_core::config::{Config, Mode, TimerChoice};
use tickscope_core::irq::SampleRec;
use tickscope_core::probe::{self, Schedule, Threshold};
use tickscope_core::ring::Producer;
use tickscope_core::units::ns_to_ticks;
use tickscope_core::wire::msg::{CoreStatus, CycleCalibration};
use tickscope_core::wire::out::Out;
use tickscope_cpu::service::Outcome;
use tickscope_cpu::sgi;
use tickscope_cpu::timer::{self, Timer};
use tickscope_cpu::{cores, gic, noise, regs, service};

use super::calibrate;
use super::slots::{self, DONE, END_AT, GAPS, HANDOFF, SHIPPERS, START_AT, ShipperSlot};
use crate::boot;
use crate::io;
use tickscope_cpu::lock::MutexGuard;

/// The timer `timer` mode uses at `el`.
pub fn timer_choice(cfg: &Config, el: u8) -> TimerChoice {
    match cfg.timer {
        TimerChoice::Auto if el >= 2 => TimerChoice::Hyp,
        TimerChoice::Auto => TimerChoice::Virtual,
        t => t,
    }
}

fn timer_of(choice: TimerChoice) -> Timer {
    match choice {
        TimerChoice::Hyp => Timer::Hyp,
        TimerChoice::Physical => Timer::Physical,
        _ => Timer::Virtual,
    }
}

/// A measured core's window as it runs: its bounds, how often it ships a checkpoint, and (under
/// `-icount`) the shipper it holds to ship its own samples.
struct Window<'a> {
    core: usize,
    slot: usize,
    mode: Mode,
    start: u64,
    end: u64,
    every: u64,
    shipper: Option<MutexGuard<'a, ShipperSlot>>,
}

impl Window<'_> {
    /// The status so far: `iterations` are noise mode's samples, `blind` its checkpoint time.
    fn status(&self, o: Outcome, iterations: u64, blind: u64, upto: u64) -> CoreStatus {
        CoreStatus {
            core: self.core as u16,
            samples: if self.mode == Mode::Timer {
                o.samples
            } else {
                iterations
            },
            lost: slots::lost(self.slot),
            window_start: self.start,
            window_end: upto,
            ticks: o.ticks,
            foreign_irqs: o.spurious,
            overruns: o.overruns,
            blind,
            ghosts: o.ghosts,
            early: o.early,
        }
    }

    /// Ships a checkpoint: the samples so far when this core holds its shipper (under
    /// `-icount`), then the status so far, which covers exactly them.
    fn checkpoint(&mut self, status: CoreStatus) {
        if let Some(s) = self.shipper.as_mut().and_then(|g| g.get()) {
            s.flush();
        }
        io::send(Out::Checkpoint(&status));
    }
}

/// Runs this core's window (interrupts masked on entry and on return).
pub fn run(core: usize) {
    let cfg = boot::config();
    let hz = timer::frequency();
    let mut h = nth(&HANDOFF, core).lock();
    let (start, end) = (
        START_AT.load(Ordering::Relaxed),
        END_AT.load(Ordering::Relaxed),
    );
    let mut samples = h.samples.take();
    let cal = calibrate::cycles_per_tick();
    if let Some(c) = cal {
        io::send(Out::Calibration(&CycleCalibration {
            core: core as u16,
            ratio_q16: c.q16,
            offset: c.offset,
            uncertainty: c.uncertainty,
        }));
    }
    service::with(|s| {
        s.begin_window(
            h.irqs.take(),
            h.threshold_ticks,
            cal.map(|c| (c.q16, c.offset)),
        );
        arm_timers(s, cfg, hz, start, end, &mut samples);
    });
    let slot = h.slot;
    // Nothing drains during the window under -icount: this core ships its own samples at its
    // checkpoints, holding its shipper until the window is over.
    let mut w = Window {
        core,
        slot,
        mode: cfg.mode,
        start,
        end,
        every: match cfg.checkpoint_ns {
            0 => u64::MAX,
            ns => ns_to_ticks(ns, hz),
        },
        shipper: (!cfg.drains_live() && cfg.checkpoint_ns != 0)
            .then(|| nth(&SHIPPERS, slot).lock()),
    };
    let (iterations, blind) = match cfg.mode {
        Mode::Timer => timer_window(&mut w),
        Mode::Noise => noise_window(&mut w, h.threshold_ticks, &mut samples),
        Mode::Boot => (0, 0),
    };
    regs::irq_save();
    let window_end = timer::now();
    let o = service::with(|s| s.end_window());
    h.status = w.status(o, iterations, blind, window_end);
    drop(w);
    drop(h);
    nth(&DONE, core).0.store(true, Ordering::Release);
    gic::send_sgi(sgi::DONE, cores::boot_core());
}

/// Arms the injected tick (if any) and, in timer mode, the measurement timer.
fn arm_timers(
    s: &mut service::Service,
    cfg: &Config,
    hz: u64,
    start: u64,
    end: u64,
    samples: &mut Option<Producer<'static, 'static, SampleRec>>,
) {
    let meas = timer_of(timer_choice(cfg, regs::current_el()));
    if let Some(tick) = cfg.inject {
        // The tick uses a timer the measurement does not: physical next to a virtual
        // measurement timer, virtual otherwise (noise mode measures no timer).
        let t = if cfg.mode == Mode::Timer && meas == Timer::Virtual {
            Timer::Physical
        } else {
            Timer::Virtual
        };
        let period = ns_to_ticks(tick.period_ns(), hz);
        // In timer mode the tick fires a tenth of its duration (at least 1 µs) before a
        // measurement deadline when the two coincide, so that wake-up is delayed by about 90 %
        // of the tick's duration: a known answer. (Fired together, the GIC would hand out the
        // lower INTID first and the tick would delay nothing.)
        let lead = (ns_to_ticks(tick.duration_ns, hz) / 10).max(ns_to_ticks(1_000, hz));
        let first = if cfg.mode == Mode::Timer {
            start - lead.min(start)
        } else {
            start
        };
        let busy = ns_to_ticks(tick.duration_ns, hz);
        s.inject(t, Schedule::new(first, period, end), busy);
    }
    if cfg.mode == Mode::Timer {
        let period = ns_to_ticks(cfg.period_ns, hz);
        s.measure(meas, Schedule::new(start, period, end), samples.take());
    }
}

/// Timer mode: asleep between wake-ups. A checkpoint runs after a wake-up, with interrupts
/// enabled: the next wake-up preempts it as it would preempt WFI.
fn timer_window(w: &mut Window) -> (u64, u64) {
    regs::irq_enable();
    let mut next_checkpoint = w.start.saturating_add(w.every);
    while !service::finished() {
        regs::wfi();
        let now = timer::now();
        if now >= next_checkpoint {
            let o = service::with(|s| s.outcome());
            w.checkpoint(w.status(o, 0, 0, now));
            next_checkpoint = now.saturating_add(w.every);
        }
    }
    (0, 0)
}

/// Noise mode: the counter loop, in stretches between checkpoints. A checkpoint's time is the
/// probe's own: blind (reported), never a gap, and the next stretch starts after it. Returns the
/// loop's iterations and the blind time.
fn noise_window(
    w: &mut Window,
    threshold_ticks: u64,
    samples: &mut Option<Producer<'static, 'static, SampleRec>>,
) -> (u64, u64) {
    regs::irq_enable();
    let Some(threshold) = Threshold::new(threshold_ticks) else {
        panic!("the threshold was validated by the boot core")
    };
    let mut gaps = nth(&GAPS, w.slot).lock();
    gaps.fill(0);
    timer::spin_until(w.start);
    let mut next_checkpoint = w.start.saturating_add(w.every);
    let (mut from, mut events, mut blind) = (w.start, 0, 0);
    loop {
        let stretch = noise::window(
            from,
            next_checkpoint.min(w.end),
            threshold,
            &mut gaps,
            samples,
        );
        events += stretch.events;
        blind += stretch.blind;
        if stretch.last >= w.end {
            return (stretch.iterations - stretch.events + events, blind);
        }
        let n = events + probe::counted(&gaps, threshold);
        let o = service::with(|s| s.outcome());
        w.checkpoint(w.status(o, n, blind, stretch.last));
        from = timer::now();
        blind += from - stretch.last;
        next_checkpoint = stretch.last.saturating_add(w.every);
    }
}
