//! The identity map: RAM as normal write-back cacheable memory, the board's MMIO regions as
//! Device-nGnRE, everything else unmapped (so stray accesses fault loudly). 48-bit VA, 4 KiB
//! granule, 1 GiB blocks at level 1 under one level-0 table, built once by the boot core.
//!
//! Why not the `aarch64-paging` crate: it builds tables with an allocator and supports remapping,
//! splitting and 4 KiB pages, none of which a fixed identity map of 1 GiB blocks needs; this is
//! ~150 lines with no allocator. The register values are computed with aarch64-cpu's bitfields.

use core::cell::UnsafeCell;

use aarch64_cpu::asm::barrier;
use aarch64_cpu::registers::{
    ID_AA64MMFR0_EL1, MAIR_EL1, MAIR_EL2, Readable, SCTLR_EL1, SCTLR_EL2, TCR_EL1, TCR_EL2,
    TTBR0_EL1, TTBR0_EL2, Writeable,
};
use tock_registers::fields::FieldValue;

use crate::board::BOARD;

const ENTRIES: usize = 512;
/// Level-1 tables available: one per distinct 512 GiB region the board maps.
const MAX_L1: usize = 6;
const GIB: u64 = 1 << 30;
const L0_SPAN: u64 = 512 * GIB;

// Descriptor bits (Arm ARM D8.3, VMSAv8-64 block and table descriptors).
const DESC_VALID: u64 = 1 << 0;
const DESC_TABLE: u64 = 1 << 1;
const ATTR_INDEX_SHIFT: u64 = 2;
const SH_INNER: u64 = 0b11 << 8;
const ACCESS_FLAG: u64 = 1 << 10;
/// PXN at EL1&0; RES0 in the EL2 regime.
const PXN: u64 = 1 << 53;
/// UXN at EL1&0; XN in the EL2 regime.
const XN: u64 = 1 << 54;

/// MAIR index of Device-nGnRE.
const MAIR_DEVICE: u64 = 0;
/// MAIR index of normal write-back read/write-allocate memory.
const MAIR_NORMAL: u64 = 1;

#[repr(C, align(4096))]
struct Tables([[u64; ENTRIES]; 1 + MAX_L1]);

struct TableCell(UnsafeCell<Tables>);

// SAFETY: the tables are written only by the boot core in `build`, before any other core is
// started and before the MMU uses them; afterwards they are only read (by table walks).
unsafe impl Sync for TableCell {}

static TABLES: TableCell = TableCell(UnsafeCell::new(Tables([[0; ENTRIES]; 1 + MAX_L1])));

/// The register values every core programs to turn its MMU on (kept in the boot records).
#[derive(Debug, Clone, Copy, Default)]
pub struct MmuRegs {
    /// TTBR0 (level-0 table address).
    pub ttbr0: u64,
    /// TCR for the EL the core will run at.
    pub tcr: u64,
    /// MAIR.
    pub mair: u64,
    /// SCTLR with M, C and I set.
    pub sctlr: u64,
}

/// Physical address bits supported by this core (ID_AA64MMFR0_EL1.PARange), capped at 48.
fn pa_range() -> (u64, u32) {
    let code = ID_AA64MMFR0_EL1.read(ID_AA64MMFR0_EL1::PARange).min(5);
    let bits = [32, 36, 40, 42, 44, 48][code as usize];
    (code, bits)
}

/// Builds the identity map for a core that will run at `el` (the EL2 regime has no PXN bit and
/// calls UXN "XN"). Regions beyond the core's physical address range are left unmapped.
///
/// # Safety
/// Must run once, on the boot core, before any MMU uses the tables.
pub unsafe fn build(el: u8) -> MmuRegs {
    // SAFETY: per the contract, nothing else reads or writes the tables now.
    let t = unsafe { &mut (*TABLES.0.get()).0 };
    let (ips, pa_bits) = pa_range();
    let limit = 1u64 << pa_bits;

    let normal = DESC_VALID | (MAIR_NORMAL << ATTR_INDEX_SHIFT) | SH_INNER | ACCESS_FLAG;
    let device_xn = if el >= 2 { XN } else { XN | PXN };
    let device = DESC_VALID | (MAIR_DEVICE << ATTR_INDEX_SHIFT) | ACCESS_FLAG | device_xn;

    let mut used_l1 = 0usize;
    let mut map = |base: u64, size: u64, attrs: u64| {
        let mut block = base & !(GIB - 1);
        while block < base + size && block < limit {
            let l0 = (block / L0_SPAN) as usize;
            if t[0][l0] & DESC_VALID == 0 {
                assert!(
                    used_l1 < MAX_L1,
                    "board maps more than {MAX_L1} x 512 GiB regions"
                );
                used_l1 += 1;
                t[0][l0] = t[used_l1].as_ptr() as u64 | DESC_TABLE | DESC_VALID;
            }
            let l1_table =
                ((t[0][l0] & 0x0000_ffff_ffff_f000) - t[0].as_ptr() as u64) as usize / 4096;
            let l1 = ((block % L0_SPAN) / GIB) as usize;
            // Device wins if a GiB holds both (QEMU's low GiB holds only devices).
            if t[l1_table][l1] & DESC_VALID == 0 || attrs == device {
                t[l1_table][l1] = block | attrs;
            }
            block += GIB;
        }
    };
    map(BOARD.ram_base, BOARD.ram_size, normal);
    for r in BOARD.mmio {
        map(r.base, r.size, device);
    }

    let mair = (MAIR_EL1::Attr0_Device::nonGathering_nonReordering_EarlyWriteAck
        + MAIR_EL1::Attr1_Normal_Outer::WriteBack_NonTransient_ReadWriteAlloc
        + MAIR_EL1::Attr1_Normal_Inner::WriteBack_NonTransient_ReadWriteAlloc)
        .value;
    let ttbr0 = t[0].as_ptr() as u64;
    if el >= 2 {
        let tcr: FieldValue<u64, TCR_EL2::Register> = TCR_EL2::T0SZ.val(16)
            + TCR_EL2::TG0::KiB_4
            + TCR_EL2::SH0::Inner
            + TCR_EL2::ORGN0::WriteBack_ReadAlloc_WriteAlloc_Cacheable
            + TCR_EL2::IRGN0::WriteBack_ReadAlloc_WriteAlloc_Cacheable
            + TCR_EL2::PS.val(ips);
        // RES1 bits 31 and 23 of TCR_EL2 (non-VHE).
        let tcr = tcr.value | (1 << 31) | (1 << 23);
        let sctlr = SCTLR_EL2_RES1
            | (SCTLR_EL2::M::Enable
                + SCTLR_EL2::C::Cacheable
                + SCTLR_EL2::I::Cacheable
                + SCTLR_EL2::SA::Enable)
                .value;
        MmuRegs {
            ttbr0,
            tcr,
            mair,
            sctlr,
        }
    } else {
        let tcr = (TCR_EL1::T0SZ.val(16)
            + TCR_EL1::TG0::KiB_4
            + TCR_EL1::SH0::Inner
            + TCR_EL1::ORGN0::WriteBack_ReadAlloc_WriteAlloc_Cacheable
            + TCR_EL1::IRGN0::WriteBack_ReadAlloc_WriteAlloc_Cacheable
            + TCR_EL1::EPD1::DisableTTBR1Walks
            + TCR_EL1::IPS.val(ips))
        .value;
        let sctlr = SCTLR_EL1_RES1
            | (SCTLR_EL1::M::Enable
                + SCTLR_EL1::C::Cacheable
                + SCTLR_EL1::I::Cacheable
                + SCTLR_EL1::SA::Enable)
                .value;
        MmuRegs {
            ttbr0,
            tcr,
            mair,
            sctlr,
        }
    }
}

/// SCTLR_EL1 bits that are RES1 in Armv8.0 (11, 20, 22, 23, 28, 29).
const SCTLR_EL1_RES1: u64 = (1 << 11) | (1 << 20) | (1 << 22) | (1 << 23) | (1 << 28) | (1 << 29);
/// SCTLR_EL2 (non-VHE) bits that are RES1 in Armv8.0 (4, 5, 11, 16, 18, 22, 23, 28, 29).
const SCTLR_EL2_RES1: u64 = (1 << 4)
    | (1 << 5)
    | (1 << 11)
    | (1 << 16)
    | (1 << 18)
    | (1 << 22)
    | (1 << 23)
    | (1 << 28)
    | (1 << 29);

/// Invalidates stale translations and turns the MMU and caches on at the current EL.
///
/// # Safety
/// `regs` must come from [`build`] for this EL; the code and stack must be identity-mapped.
pub unsafe fn enable_here(regs: &MmuRegs) {
    let el = super::current_el();
    barrier::dsb(barrier::SY);
    if el >= 2 {
        MAIR_EL2.set(regs.mair);
        TCR_EL2.set(regs.tcr);
        TTBR0_EL2.set_baddr(regs.ttbr0);
        // SAFETY: invalidating all EL2 TLB entries only drops cached translations.
        unsafe {
            core::arch::asm!(
                "tlbi alle2",
                "dsb sy",
                "ic iallu",
                "dsb sy",
                "isb",
                options(nostack)
            )
        };
        SCTLR_EL2.set(regs.sctlr);
    } else {
        // SAFETY: as above, for the EL1&0 regime.
        unsafe { program_el1(regs) };
        super::write_sctlr_el1_raw(regs.sctlr);
    }
    barrier::isb(barrier::SY);
}

/// Programs the EL1&0 translation regime (callable from EL1, or from EL2 before dropping).
///
/// # Safety
/// `regs` must come from [`build`] for EL1.
pub unsafe fn program_el1(regs: &MmuRegs) {
    MAIR_EL1.set(regs.mair);
    TCR_EL1.set(regs.tcr);
    TTBR0_EL1.set_baddr(regs.ttbr0);
    // SAFETY: invalidating EL1 TLB entries and the I-cache only drops cached state.
    unsafe {
        core::arch::asm!(
            "tlbi vmalle1",
            "dsb sy",
            "ic iallu",
            "dsb sy",
            "isb",
            options(nostack)
        )
    };
}

/// Cleans and invalidates `[addr, addr + len)` to the point of coherency, so a core with its
/// MMU (and caches) still off reads what a core with caches on wrote.
pub fn clean_to_poc(addr: usize, len: usize) {
    const LINE: usize = 64;
    let mut a = addr & !(LINE - 1);
    while a < addr + len {
        // SAFETY: `dc civac` on a mapped address only writes back and drops a cache line.
        unsafe { core::arch::asm!("dc civac, {}", in(reg) a, options(nostack)) };
        a += LINE;
    }
    barrier::dsb(barrier::SY);
}
