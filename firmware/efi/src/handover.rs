//! The last steps out of UEFI: the MMU and caches off at the EL the loader runs at, and a jump to
//! the firmware's entry with that EL kept (EL2 stays EL2). The only assembly of the loader.

use core::arch::{asm, global_asm};

use crate::cache;

global_asm!(
    r#"
    .section .text.handover, "ax"
    .global tickscope_efi_handover
    .global tickscope_efi_handover_end
    .balign 64
// x0 = the firmware's entry. Never returns; uses no stack (memory is uncached from the moment
// the MMU goes off, and the stack's lines were never cleaned).
tickscope_efi_handover:
    mov     x19, x0
    msr     daifset, #0xf           // all exceptions masked (UEFI leaves them so; be sure)
    mrs     x9, CurrentEL
    cmp     x9, #(2 << 2)
    b.eq    1f
    mrs     x10, sctlr_el1
    bic     x10, x10, #(1 << 0)     // M: MMU off
    bic     x10, x10, #(1 << 2)     // C: data caches off
    bic     x10, x10, #(1 << 12)    // I: instruction cache off
    msr     sctlr_el1, x10
    isb
    b       2f
1:  mrs     x10, sctlr_el2
    bic     x10, x10, #(1 << 0)
    bic     x10, x10, #(1 << 2)
    bic     x10, x10, #(1 << 12)
    msr     sctlr_el2, x10
    isb
2:  ic      iallu                   // no stale instructions of the image's addresses
    dsb     nsh
    isb
    mov     x0, xzr                 // no device tree (the firmware's board file has the facts)
    mov     x1, xzr
    mov     x2, xzr
    mov     x3, xzr
    br      x19
tickscope_efi_handover_end:
    "#
);

unsafe extern "C" {
    fn tickscope_efi_handover(entry: u64) -> !;
    static tickscope_efi_handover_end: u8;
}

/// The current exception level (1 or 2 under UEFI).
pub fn current_el() -> u8 {
    let el: u64;
    // SAFETY: CurrentEL is readable at EL1 and above and has no side effects.
    unsafe { asm!("mrs {}, CurrentEL", out(reg) el, options(nomem, nostack)) };
    ((el >> 2) & 3) as u8
}

/// Cleans the hand-over code itself to the point of coherency: after the MMU goes off, its
/// remaining instructions are fetched from memory, not from the cache UEFI loaded them through.
pub fn clean_self() {
    let start = tickscope_efi_handover as *const () as u64;
    // Only the symbol's address is taken (no read), which needs no `unsafe`.
    let end = &raw const tickscope_efi_handover_end as u64;
    cache::clean_to_poc(start, end - start);
}

/// Jumps to `entry` with the MMU and caches off at the current EL.
///
/// # Safety
/// The image at `entry` must be clean to the point of coherency and expect the MMU off, and
/// boot services must be gone (UEFI's memory and vectors are abandoned).
pub unsafe fn start(entry: u64) -> ! {
    // SAFETY: per this function's contract.
    unsafe { tickscope_efi_handover(entry) }
}

/// Parks this core for good (after a panic).
pub fn halt() -> ! {
    loop {
        // SAFETY: waiting for an interrupt has no other effect.
        unsafe { asm!("wfi", options(nomem, nostack)) };
    }
}
