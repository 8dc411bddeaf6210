//! Interrupt dispatch on every core: the measurement timer and the injected tick are claimed by
//! the measured core's state; our SGIs are claimed; anything else is reported as a fault.

use crate::arch::gic;
use crate::run::{SGI_DONE, SGI_WAKE, measure};

/// Called from the vector with the counter (and cycle counter) already read.
#[inline(always)]
pub fn on_irq(now: u64, cycles: u64) {
    let acked = gic::ack();
    let intid = acked.id;
    if intid == gic::SPURIOUS {
        measure::count_spurious();
        return;
    }
    if !measure::on_irq(intid, now, cycles) && intid != SGI_WAKE && intid != SGI_DONE {
        crate::fault::unclaimed_irq(intid);
    }
    gic::eoi(acked);
}
