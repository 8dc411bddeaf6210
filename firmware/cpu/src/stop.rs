//! Stopping the other cores when one faults: one SGI each, then a bounded wait until they say
//! they stopped. A stopped core masks everything and waits forever, so the faulting core reports
//! alone. Whatever a stopped core held stays held: the fault path takes no lock it could hold.

use core::sync::atomic::{AtomicBool, Ordering};

use crate::cores::{self, Line};
use crate::{MAX_CORES, gic, regs, sgi, timer};

static STOPPED: [Line<AtomicBool>; MAX_CORES] = [const { Line(AtomicBool::new(false)) }; MAX_CORES];
static HANDLING: AtomicBool = AtomicBool::new(false);

/// Whether the calling core is the first to report a fault (a later one, or a fault inside the
/// report, must not report again: it stops).
pub fn claim_report() -> bool {
    !HANDLING.swap(true, Ordering::AcqRel)
}

/// Asks every other online core to stop and waits up to `timeout` counter ticks. Returns the
/// cores (bitmask) that did not confirm: stuck with interrupts masked, or faulted themselves.
pub fn stop_others(timeout: u64) -> u64 {
    if gic::version() == 0 {
        // Before the GIC is up no other core runs.
        return 0;
    }
    let me = cores::index();
    let targets = (0..MAX_CORES).filter(|&c| c != me && cores::is_online(c));
    let mut pending = 0u64;
    for core in targets {
        gic::send_sgi(sgi::STOP, core);
        pending |= 1 << core;
    }
    let until = timer::now() + timeout;
    while pending != 0 && timer::now() < until {
        for (core, stopped) in STOPPED.iter().enumerate() {
            if pending & (1 << core) != 0 && stopped.0.load(Ordering::Acquire) {
                pending &= !(1 << core);
            }
        }
    }
    pending
}

/// The STOP SGI's handler: this core stops for good.
pub fn halt_here() -> ! {
    regs::irq_save();
    STOPPED[cores::index()].0.store(true, Ordering::Release);
    loop {
        aarch64_cpu::asm::wfe();
    }
}
