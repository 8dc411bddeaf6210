//! The PMU cycle counter (PMCCNTR_EL0): a second clock for interrupt latency. Under QEMU it
//! counts virtual nanoseconds (1 GHz), which under `-icount shift=0` are instructions.

use core::sync::atomic::{AtomicBool, Ordering};

use aarch64_cpu::registers::{ELR_EL1, ELR_EL2, ID_AA64DFR0_EL1, Readable, Writeable};

use crate::regs::sysreg;

sysreg!(
    read_pmcr,
    write_pmcr,
    "pmcr_el0",
    "PMU control (E = bit 0, C reset = bit 2, N = 15:11)"
);
sysreg!(
    read_pmcntenset,
    write_pmcntenset,
    "pmcntenset_el0",
    "counter enables (C = bit 31)"
);
sysreg!(
    read_pmccfiltr,
    write_pmccfiltr,
    "pmccfiltr_el0",
    "cycle counter filter (NSH = bit 27)"
);
sysreg!(read_pmccntr, write_pmccntr, "pmccntr_el0", "cycle counter");

const PMCR_E: u64 = 1 << 0;
const PMCR_LC: u64 = 1 << 6;
const PMCNTEN_C: u64 = 1 << 31;
/// Count cycles at EL2 too (without it, the counter stops while we run at EL2).
const PMCCFILTR_NSH: u64 = 1 << 27;

/// Whether this core implements a PMU (ID_AA64DFR0_EL1.PMUVer is neither 0 nor 0xF).
pub fn present() -> bool {
    !matches!(ID_AA64DFR0_EL1.read(ID_AA64DFR0_EL1::PMUVer), 0 | 0xf)
}

/// Number of event counters (PMCR_EL0.N), 0 without a PMU.
pub fn event_counters() -> u64 {
    if present() {
        (read_pmcr() >> 11) & 0x1f
    } else {
        0
    }
}

/// Set while [`usable`] tries the PMU; an exception meanwhile is that try failing.
static PROBING: AtomicBool = AtomicBool::new(false);
/// The try trapped (a hypervisor owns the PMU).
static TRAPPED: AtomicBool = AtomicBool::new(false);

/// Whether the PMU is there and ours: ID_AA64DFR0_EL1.PMUVer, then a trial read of PMCCNTR_EL0.
/// Under a hypervisor that traps the PMU (MDCR_EL2.TPM) the read is an exception: the vectors
/// pass it to [`probe_fault`], which skips the read, and the answer is no.
pub fn usable() -> bool {
    if !present() {
        return false;
    }
    PROBING.store(true, Ordering::SeqCst);
    core::hint::black_box(read_pmccntr());
    PROBING.store(false, Ordering::SeqCst);
    !TRAPPED.load(Ordering::SeqCst)
}

/// Called by the vectors for a synchronous exception: when it is [`usable`]'s trial read
/// trapping, notes it, steps over the read and returns true (the exception is handled).
pub fn probe_fault() -> bool {
    if !PROBING.load(Ordering::SeqCst) {
        return false;
    }
    TRAPPED.store(true, Ordering::SeqCst);
    // The exception returns to the instruction after the read (4 bytes: AArch64).
    if crate::regs::current_el() >= 2 {
        ELR_EL2.set(ELR_EL2.get() + 4);
    } else {
        ELR_EL1.set(ELR_EL1.get() + 4);
    }
    true
}

/// Starts the 64-bit cycle counter at EL1 and EL2. Returns false without a PMU (or with one a
/// hypervisor traps: see [`usable`]).
pub fn start_cycle_counter() -> bool {
    if !usable() {
        return false;
    }
    // SAFETY: the PMU exists (checked above) and its registers are accessible at EL1 and EL2
    // (EL2 does not trap them: see `el`); counting cycles changes nothing else.
    unsafe {
        write_pmccfiltr(PMCCFILTR_NSH);
        write_pmcr(read_pmcr() | PMCR_E | PMCR_LC);
        write_pmcntenset(PMCNTEN_C);
    }
    true
}

/// Reads the cycle counter.
#[inline(always)]
pub fn cycles() -> u64 {
    read_pmccntr()
}
