//! Interrupt dispatch on every core: the measurement timer and the injected tick are claimed by
//! the measured core's state; our SGIs are claimed; anything else is reported as a fault. Every
//! interrupt a measured core takes during its window is recorded with its own timestamps.

use crate::arch::gic;
use crate::run::{SGI_DONE, SGI_WAKE, measure};

/// Called from the vector with the counter (and cycle counter) it read first.
#[inline(always)]
pub fn on_irq(entry: u64, cycles: u64) {
    measure::begin_irq(entry);
    let acked = gic::ack();
    let intid = acked.id;
    if intid == gic::SPURIOUS {
        measure::count_spurious();
        measure::record_irq(intid, None, entry);
        return;
    }
    let claim = measure::on_irq(intid, entry, cycles);
    if claim.is_none() && intid != SGI_WAKE && intid != SGI_DONE {
        crate::fault::unclaimed_irq(intid);
    }
    gic::eoi(acked);
    measure::record_irq(intid, claim, entry);
}
