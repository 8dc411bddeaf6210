//! System registers aarch64-cpu does not name, the exception mask, and the exception level.
//! Reads are safe; writes are `unsafe fn` whose callers state why the value is sound.

use aarch64_cpu::registers::{CurrentEL, DAIF, Readable, Writeable};

/// Defines `read_<name>()` and `unsafe write_<name>(v)` for a system register.
macro_rules! sysreg {
    ($read:ident, $write:ident, $reg:literal, $doc:literal) => {
        #[doc = concat!("Reads ", $reg, ": ", $doc)]
        #[inline(always)]
        #[allow(dead_code)]
        pub fn $read() -> u64 {
            let v: u64;
            // SAFETY: reading this register has no side effects; callers only use it at an
            // exception level where it is accessible.
            unsafe { core::arch::asm!(concat!("mrs {}, ", $reg), out(reg) v, options(nomem, nostack, preserves_flags)) };
            v
        }
        #[doc = concat!("Writes ", $reg, ": ", $doc)]
        ///
        /// # Safety
        /// The register must be accessible at the current exception level, and the value must be
        /// one the rest of the firmware expects (see the caller).
        #[inline(always)]
        #[allow(dead_code)]
        pub unsafe fn $write(v: u64) {
            // SAFETY: the caller's contract.
            unsafe { core::arch::asm!(concat!("msr ", $reg, ", {}"), in(reg) v, options(nostack, preserves_flags)) };
        }
    };
}
pub(crate) use sysreg;

sysreg!(
    read_vpidr_el2,
    write_vpidr_el2,
    "vpidr_el2",
    "the MIDR value EL1 reads"
);
sysreg!(
    read_hstr_el2,
    write_hstr_el2,
    "hstr_el2",
    "AArch32 CP15 traps (zero: none)"
);

/// The exception level the core runs at (1, 2 or 3).
#[inline(always)]
pub fn current_el() -> u8 {
    CurrentEL.read(CurrentEL::EL) as u8
}

/// Masks IRQs, FIQs, SErrors and debug exceptions; returns the previous DAIF value.
#[inline(always)]
pub fn irq_save() -> u64 {
    let daif = DAIF.get();
    DAIF.write(DAIF::I::Masked + DAIF::F::Masked + DAIF::A::Masked + DAIF::D::Masked);
    daif
}

/// Restores DAIF saved by [`irq_save`].
#[inline(always)]
pub fn irq_restore(daif: u64) {
    DAIF.set(daif);
}

/// Unmasks IRQs (and SErrors, so they are reported).
#[inline(always)]
pub fn irq_enable() {
    DAIF.write(DAIF::I::Unmasked + DAIF::A::Unmasked + DAIF::F::Masked + DAIF::D::Masked);
}

/// Waits for an interrupt (a pending interrupt wakes the core even while masked).
#[inline(always)]
pub fn wfi() {
    aarch64_cpu::asm::wfi();
}

/// Executes `n % 32` NOPs (and a fixed four instructions): a computed branch into a run of 32.
/// Shifts a polling loop's phase by single instructions (the calibration sweeps it).
#[inline(never)]
pub fn nops(n: u64) {
    // SAFETY: the branch stays inside this block: its target is the end of the NOP run minus
    // 4 × (n % 32) bytes, inside the run. Only the two named registers change; no memory, stack
    // or flags are touched (no BTI: the image's pages are not guarded).
    unsafe {
        core::arch::asm!(
            "and {n}, {n}, #31",        // at most 32 NOPs
            "adr {t}, 2f",              // the end of the run
            "sub {t}, {t}, {n}, lsl #2", // back n instructions
            "br {t}",
            ".rept 32",
            "nop",
            ".endr",
            "2:",
            n = inout(reg) n => _,
            t = out(reg) _,
            options(nomem, nostack, preserves_flags),
        );
    }
}
