//! The boot core's side of a measurement: rings and a hand-off for each measured core, the
//! window's bounds, the commands that start it, waiting (draining live, or asleep in WFI under
//! `-icount`), then shipping every core's results.

use core::sync::atomic::Ordering;

use tickscope_core::checked::nth;
use tickscope_core::config::{Config, Mode, cores_in};
use tickscope_core::exit;
use tickscope_core::probe::{self, Threshold};
use tickscope_core::refusal::Refusal;
use tickscope_core::units::ns_to_ticks;
use tickscope_core::wire::msg::Window;
use tickscope_core::wire::out::Out;
use tickscope_cpu::timer::{self, Timer};
use tickscope_cpu::{cores, gic, irq, regs};

use super::commands::{Command, command};
use super::ship;
use super::slots::{
    DONE, EMPTY_STATUS, END_AT, GAPS, HANDOFF, Handoff, IRQ_RINGS, IRQ_STORE, MAX_MEASURED,
    SAMPLE_RINGS, SAMPLE_STORE, SHIPPERS, START_AT, ShipperSlot,
};
use crate::io;

/// The cores measured at once, in slot order.
type Measured = heapless::Vec<usize, MAX_MEASURED>;

/// Runs the measurement window and ships the results. Returns the run status.
pub fn run(cfg: &Config, cores_online: usize) -> u8 {
    let hz = timer::frequency();
    let me = cores::index();
    // The default measured core is the last one that is not this (the boot) core.
    let mut effective = *cfg;
    effective.boot_core.get_or_insert(me as u16);
    let measured = effective.measured_cores(cores_online as u16);
    let threshold_ticks = cfg.threshold_ns * hz / 1_000_000_000;
    let list = match measured_list(cfg, measured, threshold_ticks) {
        Ok(list) => list,
        Err(status) => return status,
    };
    let interferers = if cfg.interference {
        (0..cores_online as u64).fold(0u64, |m, c| m | 1 << c) & !measured & !(1 << me)
    } else {
        0
    };
    hand_off(cfg, &list, threshold_ticks);
    let (start, end) = open_window(cfg, hz, &list, threshold_ticks);
    if interferers != 0 {
        command(Command::Interfere, interferers);
    }
    command(Command::Measure, measured);
    let timed_out = wait(cfg.drains_live(), &list, hz, start, end);
    if interferers != 0 {
        command(Command::Stop, interferers);
    }
    ship_results(cfg, &list);
    if timed_out { exit::TIMEOUT } else { exit::OK }
}

/// The measured cores as a list, or the configuration status when there are more than the
/// slots or the threshold does not fit the loop-gap table (both sent as a refusal).
fn measured_list(cfg: &Config, measured: u64, threshold_ticks: u64) -> Result<Measured, u8> {
    let mut list = Measured::new();
    for core in cores_in(measured) {
        if list.push(core as usize).is_err() {
            crate::shutdown::report_refusal(Refusal::TooManyMeasured {
                max: MAX_MEASURED as u16,
            });
            return Err(exit::CONFIG);
        }
    }
    if cfg.mode == Mode::Noise && Threshold::new(threshold_ticks).is_none() {
        crate::shutdown::report_refusal(Refusal::GapTableTooShort {
            threshold_ns: cfg.threshold_ns,
            ticks: threshold_ticks,
            max_ticks: probe::GAP_SLOTS as u64 - 1,
        });
        return Err(exit::CONFIG);
    }
    Ok(list)
}

/// Gives each measured core its slot: the producers of its rings and its threshold in a
/// hand-off, the consumers in a shipper.
fn hand_off(cfg: &Config, list: &Measured, threshold_ticks: u64) {
    for (slot, &core) in list.iter().enumerate() {
        let samples = nth(&SAMPLE_RINGS, slot).split(&nth(&SAMPLE_STORE, slot).0);
        let irqs = nth(&IRQ_RINGS, slot).split(&nth(&IRQ_STORE, slot).0);
        let (Some((sp, sc)), Some((ip, ic))) = (samples, irqs) else {
            panic!("rings are split once per boot")
        };
        *nth(&HANDOFF, core).lock() = Handoff {
            slot,
            samples: Some(sp),
            irqs: Some(ip),
            threshold_ticks,
            status: EMPTY_STATUS,
        };
        nth(&DONE, core).0.store(false, Ordering::Relaxed);
        *nth(&SHIPPERS, slot).lock() =
            ShipperSlot::Ready(ship::Shipper::new(core, slot, cfg, sc, ic));
    }
}

/// Sets the window 1 ms from now, so every measured core is waiting for it, and announces it
/// per core. Returns its bounds.
fn open_window(cfg: &Config, hz: u64, list: &Measured, threshold_ticks: u64) -> (u64, u64) {
    let start = timer::now() + hz / 1000;
    let end = start + ns_to_ticks(cfg.duration_ns, hz);
    START_AT.store(start, Ordering::Relaxed);
    END_AT.store(end, Ordering::Relaxed);
    for slot in 0..list.len() {
        if let Some(s) = nth(&SHIPPERS, slot).lock().get() {
            s.set_window(start);
            io::send(Out::Window(&Window {
                core: s.core() as u16,
                start,
                end,
                threshold: threshold_ticks,
            }));
        }
    }
    defmt::info!(
        "window: {=u64} ticks from {=u64}, {=usize} measured core(s)",
        end - start,
        start,
        list.len()
    );
    (start, end)
}

/// Waits for the measured cores, draining their rings (`live`) or asleep in WFI; gives up a
/// generous time after the window should have closed. Returns whether it gave up.
fn wait(live: bool, list: &Measured, hz: u64, start: u64, end: u64) -> bool {
    let timeout_at = end + 2 * hz + (end - start) / 2;
    if !live {
        // Park in WFI so this core executes nothing during the window (see Drain::After).
        Timer::Virtual.arm(timeout_at);
        gic::set_private(Timer::Virtual.intid(), true);
    }
    let mut timed_out = false;
    while !list
        .iter()
        .all(|&c| nth(&DONE, c).0.load(Ordering::Acquire))
    {
        if live {
            for slot in 0..list.len() {
                if let Some(s) = nth(&SHIPPERS, slot).lock().get() {
                    s.drain();
                }
            }
            if timer::now() > timeout_at {
                timed_out = true;
                break;
            }
        } else {
            regs::wfi();
            if irq::drain_masked(Timer::Virtual.intid()) {
                timed_out = true;
                break;
            }
        }
    }
    if !live {
        Timer::Virtual.disable();
        gic::set_private(Timer::Virtual.intid(), false);
    }
    timed_out
}

/// Ships every core's results (a core that did not finish is said on the console).
fn ship_results(cfg: &Config, list: &Measured) {
    for (slot, &core) in list.iter().enumerate() {
        if !nth(&DONE, core).0.load(Ordering::Acquire) {
            // Under -icount a core that did not finish may hold its shipper: leave both alone.
            io::print(|l| {
                l.s("tickscope: measured core ")
                    .u(core as u64)
                    .s(" did not finish its window")
            });
            continue;
        }
        let mut shipper = nth(&SHIPPERS, slot).lock();
        let Some(s) = shipper.get() else { continue };
        let h = nth(&HANDOFF, core).lock();
        let gaps = nth(&GAPS, h.slot).lock();
        s.finish(&h.status, (cfg.mode == Mode::Noise).then_some(&*gaps));
    }
}
