//! The MMU's register values (the translation tables themselves are built at build time from the
//! board file, see `tickscope_core::pagetable`, and written by the entry code, which also does
//! the only cache maintenance: by the line size of CTR_EL0) and turning on the EL1&0 regime from
//! EL2 before dropping to EL1.
//!
//! Why not the `aarch64-paging` crate: it builds tables at run time with an allocator; ours are
//! fixed at build time and written before any Rust runs, so the MMU is on from the first Rust
//! instruction. The register values are computed with aarch64-cpu's bitfields.

use aarch64_cpu::asm::barrier;
use aarch64_cpu::registers::{
    ID_AA64MMFR0_EL1, MAIR_EL1, Readable, SCTLR_EL1, SCTLR_EL2, TCR_EL1, TCR_EL2, TTBR0_EL1,
    Writeable,
};
use tickscope_core::layout::Regime;
use tickscope_core::layout::mair_index;

use crate::LAYOUT;

/// MAIR: attribute 0 Device-nGnRE, attribute 1 normal write-back read/write-allocate (the
/// indices the page-table builder uses).
pub const MAIR: u64 = MAIR_EL1::Attr0_Device::nonGathering_nonReordering_EarlyWriteAck.value
    | MAIR_EL1::Attr1_Normal_Outer::WriteBack_NonTransient_ReadWriteAlloc.value
    | MAIR_EL1::Attr1_Normal_Inner::WriteBack_NonTransient_ReadWriteAlloc.value;
const _: () = assert!(mair_index::DEVICE == 0 && mair_index::NORMAL == 1);

/// TCR_EL1 without IPS (filled from PARange at run time): 48-bit VA in TTBR0, 4 KiB granule,
/// inner-shareable write-back walks, no TTBR1 walks.
pub const TCR_EL1_VALUE: u64 = TCR_EL1::T0SZ.val(16).value
    | TCR_EL1::TG0::KiB_4.value
    | TCR_EL1::SH0::Inner.value
    | TCR_EL1::ORGN0::WriteBack_ReadAlloc_WriteAlloc_Cacheable.value
    | TCR_EL1::IRGN0::WriteBack_ReadAlloc_WriteAlloc_Cacheable.value
    | TCR_EL1::EPD1::DisableTTBR1Walks.value;

/// TCR_EL2 (non-VHE) without PS: as TCR_EL1, plus its RES1 bits 31 and 23.
pub const TCR_EL2_VALUE: u64 = TCR_EL2::T0SZ.val(16).value
    | TCR_EL2::TG0::KiB_4.value
    | TCR_EL2::SH0::Inner.value
    | TCR_EL2::ORGN0::WriteBack_ReadAlloc_WriteAlloc_Cacheable.value
    | TCR_EL2::IRGN0::WriteBack_ReadAlloc_WriteAlloc_Cacheable.value
    | (1 << 31)
    | (1 << 23);

/// SCTLR_EL1 bits that are RES1 in Armv8.0 (11, 20, 22, 23, 28, 29): MMU and caches off,
/// little-endian, as the entry code leaves it.
pub const SCTLR_EL1_OFF: u64 =
    (1 << 11) | (1 << 20) | (1 << 22) | (1 << 23) | (1 << 28) | (1 << 29);
/// SCTLR_EL1 with the MMU, both caches and stack alignment checks on.
pub const SCTLR_EL1_ON: u64 = SCTLR_EL1_OFF
    | SCTLR_EL1::M::Enable.value
    | SCTLR_EL1::C::Cacheable.value
    | SCTLR_EL1::I::Cacheable.value
    | SCTLR_EL1::SA::Enable.value;

/// SCTLR_EL2 (non-VHE) bits that are RES1 in Armv8.0 (4, 5, 11, 16, 18, 22, 23, 28, 29).
pub const SCTLR_EL2_OFF: u64 = (1 << 4)
    | (1 << 5)
    | (1 << 11)
    | (1 << 16)
    | (1 << 18)
    | (1 << 22)
    | (1 << 23)
    | (1 << 28)
    | (1 << 29);
/// SCTLR_EL2 with the MMU, both caches and stack alignment checks on.
pub const SCTLR_EL2_ON: u64 = SCTLR_EL2_OFF
    | SCTLR_EL2::M::Enable.value
    | SCTLR_EL2::C::Cacheable.value
    | SCTLR_EL2::I::Cacheable.value
    | SCTLR_EL2::SA::Enable.value;

/// Physical address size code (PARange, at most 48 bits), as TCR.PS/IPS want it.
fn pa_size() -> u64 {
    ID_AA64MMFR0_EL1.read(ID_AA64MMFR0_EL1::PARange).min(5)
}

/// Programs and turns on the EL1&0 regime (from EL2, before dropping to EL1): the tables the
/// entry code wrote for it, the same attributes, caches on.
///
/// # Safety
/// Must run at EL2 (EL1 registers are then not in use); the code and stack that continue at EL1
/// must be mapped in the EL1 tables (the layout maps the image and every stack in both).
pub unsafe fn enable_el1_regime() {
    MAIR_EL1.set(MAIR);
    TCR_EL1.set(TCR_EL1_VALUE | (pa_size() << 32));
    TTBR0_EL1.set_baddr(LAYOUT.root(Regime::El1));
    barrier::isb(barrier::SY);
    // SAFETY: invalidating EL1&0 TLB entries only drops cached translations.
    unsafe { core::arch::asm!("tlbi vmalle1", "dsb nsh", "isb", options(nostack)) };
    SCTLR_EL1.set(SCTLR_EL1_ON);
    barrier::isb(barrier::SY);
}
