//! Exception levels: configuring EL2 either to host the measurement itself (interrupts routed to
//! EL2) or to hand the core to EL1 untrapped, and the one-way drop from EL2 to EL1.

use aarch64_cpu::registers::{
    CNTHCTL_EL2, CNTVOFF_EL2, CPTR_EL2, ELR_EL2, HCR_EL2, MDCR_EL2, MIDR_EL1, MPIDR_EL1,
    ReadWriteable, Readable, SP_EL1, SPSR_EL2, VBAR_EL1, VBAR_EL2, VMPIDR_EL2, VTTBR_EL2,
    Writeable,
};

use crate::regs::{write_hstr_el2, write_vpidr_el2};
use crate::{LAYOUT, cores, gic, mmu, pmu};

/// HCR_EL2 as the entry code writes it first at EL2: EL1 is AArch64, E2H = 0 (the non-VHE
/// layout every other EL2 register here assumes; a loader may have left VHE on), nothing routed.
pub const HCR_EL2_AT_ENTRY: u64 = HCR_EL2::RW::EL1IsAarch64.value;

/// CPTR_EL2 with no traps: the RES1 bits of the non-VHE layout (13:12, 9:0), TFP = 0.
pub const CPTR_EL2_NO_TRAPS: u64 = 0x33ff;

/// Settings common to both uses of EL2: no traps of FP/SIMD, timers, counters, PMU or
/// AArch32 coprocessors; EL1 sees the real MIDR/MPIDR; the virtual counter equals the physical.
fn el2_common() {
    CPTR_EL2.set(CPTR_EL2_NO_TRAPS);
    // EL1 may use the physical counter and timer (CNTPCT/CNTP_*) without trapping.
    CNTHCTL_EL2.write(CNTHCTL_EL2::EL1PCTEN::SET + CNTHCTL_EL2::EL1PCEN::SET);
    CNTVOFF_EL2.set(0);
    // PMU: no traps, all event counters usable by EL1 (HPMN = PMCR_EL0.N).
    MDCR_EL2.write(MDCR_EL2::HPMN.val(pmu::event_counters()));
    // SAFETY: at EL2 (callers); zero traps no AArch32 CP15 access, and EL1 reading the real
    // MIDR is what the measurement reports.
    unsafe {
        write_hstr_el2(0);
        write_vpidr_el2(MIDR_EL1.get());
    }
    VTTBR_EL2.set(0);
    VMPIDR_EL2.set(MPIDR_EL1.get());
}

/// Configures EL2 to run the measurement at EL2: physical IRQs, FIQs and SErrors are taken to
/// EL2 (otherwise they would target EL1 and never be taken while we run at EL2).
pub fn stay_at_el2() {
    el2_common();
    HCR_EL2.write(
        HCR_EL2::RW::EL1IsAarch64 + HCR_EL2::IMO::SET + HCR_EL2::FMO::SET + HCR_EL2::AMO::SET,
    );
}

/// Drops from EL2 to EL1 with the EL1 regime's MMU on and continues at `next(arg)` on the same
/// thread stack (SP_EL0), with this core's exception stack as SP_EL1.
///
/// With `trap_pmu`, EL1's PMU accesses trap to EL2 (MDCR_EL2.TPM), as under a hypervisor that
/// keeps the PMU: the test of the firmware's PMU detection.
///
/// # Safety
/// Must be called at EL2 with `vbar` pointing at the vector table.
#[unsafe(link_section = ".text.before_vectors.drop_to_el1")]
pub unsafe fn drop_to_el1(vbar: u64, next: extern "C" fn(u64) -> !, arg: u64, trap_pmu: bool) -> ! {
    el2_common();
    if trap_pmu {
        MDCR_EL2.modify(MDCR_EL2::TPM::SET);
    }
    // EL1 is AArch64; no interrupts routed to EL2, nothing trapped.
    HCR_EL2.write(HCR_EL2::RW::EL1IsAarch64);
    gic::allow_el1_sysregs();
    // SAFETY: at EL2; the layout maps the image and every stack in the EL1 tables too.
    unsafe { mmu::enable_el1_regime() };
    VBAR_EL1.set(vbar);
    // A trap to EL2 from here on (a loader's leftover, an errant HVC) is reported by our vectors,
    // not taken by the loader's (or a silent hang).
    VBAR_EL2.set(vbar);
    // Return to EL1t (thread code on SP_EL0, which this code already runs on and EL1 shares)
    // with D, A, I, F masked; EL1's exceptions get this core's exception stack.
    SPSR_EL2.write(
        SPSR_EL2::D::Masked
            + SPSR_EL2::A::Masked
            + SPSR_EL2::I::Masked
            + SPSR_EL2::F::Masked
            + SPSR_EL2::M::EL1t,
    );
    ELR_EL2.set(next as usize as u64);
    SP_EL1.set(LAYOUT.exception_stack_top(cores::index() as u64));
    // ELR/SPSR/SP_EL1 describe a valid EL1 context: identity-mapped code, this core's stacks.
    // SAFETY: x0 carries the argument; eret leaves this context for good (noreturn).
    unsafe { core::arch::asm!("isb", "eret", in("x0") arg, options(noreturn)) }
}
