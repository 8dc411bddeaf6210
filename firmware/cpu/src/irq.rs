//! The interrupt path of every core: acknowledge, let the core's measurement service claim it,
//! handle our SGIs, end it, record it. Anything unclaimed goes to the firmware's fault report.
//! Also the same dispatch for cores that wait with interrupts masked ([`drain_masked`]).

use percore::ExceptionFree;

use crate::service;
use crate::{gic, hooks, sgi, stop};

/// Called from the vector with the counter (and cycle counter) it read first.
#[inline(always)]
pub(crate) fn on_irq(entry: u64, cycles: u64) {
    // SAFETY: the exception entry masked IRQs (PSTATE.I) and nothing in this handler unmasks
    // them before it returns, so exceptions stay masked for the token's whole lifetime.
    let token = unsafe { ExceptionFree::new() };
    let mut svc = service::mine(token);
    svc.begin(entry);
    let acked = gic::ack();
    let intid = acked.id;
    if intid == gic::SPURIOUS {
        svc.count_spurious();
        svc.record(intid, None, entry);
        return;
    }
    let claim = svc.claim(intid, entry, cycles);
    if claim.is_none() {
        match intid {
            sgi::WAKE | sgi::DONE => {}
            sgi::STOP => {
                gic::eoi(acked);
                stop::halt_here()
            }
            _ => {
                drop(svc);
                // SAFETY: the firmware's fault report (main.rs); it never returns.
                unsafe { hooks::tickscope_unclaimed_irq(intid) }
            }
        }
    }
    gic::eoi(acked);
    svc.record(intid, claim, entry);
}

/// Acknowledges and ends every pending interrupt while interrupts are masked (cores parked in
/// WFI). Our SGIs and `expected` are claimed (returns whether `expected` was among them); STOP
/// stops the core; anything else is reported as unclaimed.
pub fn drain_masked(expected: u32) -> bool {
    let mut saw_expected = false;
    loop {
        let acked = gic::ack();
        match acked.id {
            gic::SPURIOUS => return saw_expected,
            sgi::WAKE | sgi::DONE => gic::eoi(acked),
            sgi::STOP => {
                gic::eoi(acked);
                stop::halt_here()
            }
            id if id == expected => {
                saw_expected = true;
                gic::eoi(acked);
            }
            // SAFETY: the firmware's fault report (main.rs); it never returns.
            id => unsafe { hooks::tickscope_unclaimed_irq(id) },
        }
    }
}
