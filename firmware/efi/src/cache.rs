//! Data-cache maintenance by address: what the loader must do so that code running with the MMU
//! off sees what it wrote with the caches on.

use core::arch::asm;

/// The smallest data-cache line in bytes (CTR_EL0.DminLine, log2 of words).
fn dcache_line() -> u64 {
    let ctr: u64;
    // SAFETY: CTR_EL0 is readable at EL1 and EL2 and has no side effects.
    unsafe { asm!("mrs {}, ctr_el0", out(reg) ctr, options(nomem, nostack)) };
    4 << ((ctr >> 16) & 0xf)
}

/// Cleans and invalidates [start, start + len) to the point of coherency, then waits for it.
pub fn clean_to_poc(start: u64, len: u64) {
    let line = dcache_line();
    let mut at = start & !(line - 1);
    while at < start + len {
        // SAFETY: `dc civac` on mapped memory (UEFI identity-maps all RAM) writes dirty data back
        // and drops the line; memory contents are unchanged.
        unsafe { asm!("dc civac, {}", in(reg) at, options(nostack)) };
        at += line;
    }
    // SAFETY: a barrier only.
    unsafe { asm!("dsb sy", options(nostack)) };
}
