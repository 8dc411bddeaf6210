//! AArch64 mechanics: entry, exception levels, vectors, MMU, caches, timers, GIC, PSCI, PMU, NEON.
//! Nothing here knows what is being measured; `run/` uses these to do it.

pub mod el;
pub mod entry;
pub mod gic;
pub mod mmu;
pub mod neon;
pub mod pmu;
pub mod psci;
pub mod timer;
pub mod vectors;

use aarch64_cpu::registers::{CurrentEL, DAIF, Readable, Writeable};

/// Defines `read_<name>()` / `write_<name>(v)` for a system register aarch64-cpu does not cover.
macro_rules! sysreg {
    ($read:ident, $write:ident, $reg:literal, $doc:literal) => {
        #[doc = concat!("Reads ", $reg, ": ", $doc)]
        #[inline(always)]
        #[allow(dead_code)]
        pub fn $read() -> u64 {
            let v: u64;
            // Callers only use it at an exception level where it is accessible (see call sites).
            // SAFETY: reading this register has no side effects.
            unsafe { core::arch::asm!(concat!("mrs {}, ", $reg), out(reg) v, options(nomem, nostack, preserves_flags)) };
            v
        }
        #[doc = concat!("Writes ", $reg, ": ", $doc)]
        #[inline(always)]
        #[allow(dead_code)]
        pub fn $write(v: u64) {
            // At an exception level where the register is accessible (see the call sites).
            // SAFETY: callers write values documented at the call site.
            unsafe { core::arch::asm!(concat!("msr ", $reg, ", {}"), in(reg) v, options(nostack, preserves_flags)) };
        }
    };
}
pub(crate) use sysreg;

sysreg!(
    read_tpidr_el0,
    write_tpidr_el0,
    "tpidr_el0",
    "holds this core's logical index"
);
sysreg!(
    read_vpidr_el2,
    write_vpidr_el2,
    "vpidr_el2",
    "MIDR value EL1 reads"
);
sysreg!(
    read_hstr_el2,
    write_hstr_el2,
    "hstr_el2",
    "AArch32 CP15 traps (zero: none)"
);
sysreg!(
    read_sctlr_el1_raw,
    write_sctlr_el1_raw,
    "sctlr_el1",
    "EL1 system control"
);

/// The exception level the core runs at (1, 2 or 3).
#[inline(always)]
pub fn current_el() -> u8 {
    CurrentEL.read(CurrentEL::EL) as u8
}

/// Masks IRQs and returns the previous DAIF value.
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

/// Waits for an interrupt (pending interrupts wake the core even while masked).
#[inline(always)]
pub fn wfi() {
    aarch64_cpu::asm::wfi();
}
