//! A measured core's window: sets up its interrupt service (measurement timer, injected tick,
//! interrupt records), runs `timer` mode (asleep between wake-ups) or `noise` mode (the shared
//! counter loop of `tickscope_core::probe`), then hands its status back and tells the boot core.

use core::sync::atomic::Ordering;

use tickscope_core::checked::nth;
use tickscope_core::config::{Config, Mode, TimerChoice};
use tickscope_core::probe::{self, Schedule, Threshold};
use tickscope_core::units::ns_to_ticks;
use tickscope_core::wire::Message;
use tickscope_core::wire::msg::{CoreStatus, CycleCalibration};
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

/// Ships a checkpoint: the samples so far when this core holds its shipper (under `-icount`),
/// then the status so far, which covers exactly them.
fn checkpoint(shipper: &mut Option<MutexGuard<'_, ShipperSlot>>, status: CoreStatus) {
    if let Some(s) = shipper.as_mut().and_then(|g| g.get()) {
        s.flush();
    }
    io::send(&Message::Checkpoint(status));
}

/// Runs this core's window (interrupts masked on entry and on return).
pub fn run(core: usize) {
    let cfg = boot::config();
    let el = regs::current_el();
    let hz = timer::frequency();
    let mut h = nth(&HANDOFF, core).lock();
    let start = START_AT.load(Ordering::Relaxed);
    let end = END_AT.load(Ordering::Relaxed);
    let mut samples = h.samples.take();
    let cal = calibrate::cycles_per_tick();
    if let Some(c) = cal {
        io::send(&Message::Calibration(CycleCalibration {
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
        let meas = timer_of(timer_choice(cfg, el));
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
            // of the tick's duration: a known answer. (Fired together, the GIC would hand out
            // the lower INTID first and the tick would delay nothing.)
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
    });

    let every = match cfg.checkpoint_ns {
        0 => u64::MAX,
        ns => ns_to_ticks(ns, hz),
    };
    let mut next_checkpoint = start.saturating_add(every);
    let slot = h.slot;
    // Nothing drains during the window under -icount: this core ships its own samples at its
    // checkpoints, holding its shipper until the window is over.
    let mut shipper =
        (!cfg.drains_live() && cfg.checkpoint_ns != 0).then(|| nth(&SHIPPERS, slot).lock());
    let status = |o: Outcome, iterations: u64, blind: u64, upto: u64| CoreStatus {
        core: core as u16,
        samples: if cfg.mode == Mode::Timer {
            o.samples
        } else {
            iterations
        },
        lost: slots::lost(slot),
        window_start: start,
        window_end: upto,
        ticks: o.ticks,
        foreign_irqs: o.spurious,
        overruns: o.overruns,
        blind,
        ghosts: o.ghosts,
        early: o.early,
    };
    let mut iterations = 0;
    let mut blind = 0;
    match cfg.mode {
        Mode::Timer => {
            // A checkpoint runs after a wake-up, with interrupts enabled: the next wake-up
            // preempts it as it would preempt WFI.
            regs::irq_enable();
            while !service::finished() {
                regs::wfi();
                let now = timer::now();
                if now >= next_checkpoint {
                    let o = service::with(|s| s.outcome());
                    checkpoint(&mut shipper, status(o, 0, 0, now));
                    next_checkpoint = now.saturating_add(every);
                }
            }
        }
        Mode::Noise => {
            regs::irq_enable();
            let Some(threshold) = Threshold::new(h.threshold_ticks) else {
                panic!("the threshold was validated by the boot core")
            };
            let mut gaps = nth(&GAPS, h.slot).lock();
            gaps.fill(0);
            timer::spin_until(start);
            // The window in stretches between checkpoints. A checkpoint's time is the probe's
            // own: blind (reported), never a gap, and the next stretch starts after it.
            let mut from = start;
            let mut events = 0;
            loop {
                let stretch = noise::window(
                    from,
                    next_checkpoint.min(end),
                    threshold,
                    &mut gaps,
                    &mut samples,
                );
                events += stretch.events;
                blind += stretch.blind;
                if stretch.last >= end {
                    iterations = stretch.iterations - stretch.events + events;
                    break;
                }
                let n = events + probe::counted(&gaps, threshold);
                let o = service::with(|s| s.outcome());
                checkpoint(&mut shipper, status(o, n, blind, stretch.last));
                from = timer::now();
                blind += from - stretch.last;
                next_checkpoint = stretch.last.saturating_add(every);
            }
        }
        Mode::Boot => {}
    }
    regs::irq_save();
    let window_end = timer::now();
    let o = service::with(|s| s.end_window());
    h.status = status(o, iterations, blind, window_end);
    drop(shipper);
    drop(h);
    nth(&DONE, core).0.store(true, Ordering::Release);
    gic::send_sgi(sgi::DONE, cores::boot_core());
}
