//! Core identity: every core, the boot core included, takes its logical index from its MPIDR
//! through the board's table (the entry code does the lookup and keeps the index in TPIDR_EL0);
//! and which cores are online. Per-core flags sit on their own 128-byte lines (ThunderX's line).

use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use aarch64_cpu::registers::{MPIDR_EL1, Readable, TPIDR_EL0};
use tickscope_core::board::MPIDR_AFFINITY_MASK;

use crate::MAX_CORES;

/// A value alone on a 128-byte cache line, so cores writing neighbours never share a line.
#[repr(align(128))]
pub struct Line<T>(pub T);

/// Logical index of the running core (set by the entry code before any Rust runs), below
/// [`MAX_CORES`]: per-core arrays indexed with it need no bounds check.
#[inline(always)]
pub fn index() -> usize {
    let index = TPIDR_EL0.get() as usize;
    // SAFETY: the entry code (`__tickscope_core_stack`) sets TPIDR_EL0 to the core's position in
    // the board's MPIDR ranges, which hold MAX_CORES cores (an MPIDR in none faults before Rust
    // runs), or to 0; nothing else writes it and no EL0 code runs.
    unsafe { core::hint::assert_unchecked(index < MAX_CORES) };
    index
}

/// MPIDR affinity of the running core.
pub fn mpidr() -> u64 {
    MPIDR_EL1.get() & MPIDR_AFFINITY_MASK
}

/// MPIDR affinity of logical core `core` (from the ranges the entry code searches).
pub fn mpidr_of(core: usize) -> u64 {
    let mut first_index = 0;
    for [first, last] in tickscope_board::MPIDR_RANGES {
        let len = (last - first + 1) as usize;
        if core < first_index + len {
            return first + (core - first_index) as u64;
        }
        first_index += len;
    }
    u64::MAX
}

static ONLINE: [Line<AtomicBool>; MAX_CORES] = [const { Line(AtomicBool::new(false)) }; MAX_CORES];
static EXPECTED: AtomicUsize = AtomicUsize::new(1);
static BOOT: AtomicUsize = AtomicUsize::new(0);

/// Marks the running core online (after its GIC interface and vectors are set up).
pub fn mark_online() {
    ONLINE[index()].0.store(true, Ordering::Release);
}

/// Whether `core` reported online.
pub fn is_online(core: usize) -> bool {
    tickscope_core::checked::nth(&ONLINE, core)
        .0
        .load(Ordering::Acquire)
}

/// Cores online now.
pub fn online() -> usize {
    // The bound through `black_box`: this crate is built at opt-level 3, which unrolled the loop
    // over a ThunderX's 48 cores into 836 bytes (#23's image budget). Boot-time code: no hurry.
    (0..core::hint::black_box(MAX_CORES))
        .filter(|&c| is_online(c))
        .count()
}

/// Records how many cores the run brings up and which one booted (and does the I/O).
pub fn set_plan(expected: usize, boot_core: usize) {
    EXPECTED.store(expected, Ordering::Relaxed);
    BOOT.store(boot_core, Ordering::Relaxed);
}

/// Cores the run brings online.
pub fn expected() -> usize {
    EXPECTED.load(Ordering::Relaxed)
}

/// The core that booted and does the I/O.
pub fn boot_core() -> usize {
    BOOT.load(Ordering::Relaxed)
}

/// The per-core state type of [`percore`]: the index is the entry code's TPIDR_EL0.
pub struct Cores;

// SAFETY: TPIDR_EL0 is written once per core by the entry code with the core's unique index
// (< MAX_CORES) from the board's MPIDR table, before any Rust runs, and never changed.
unsafe impl percore::Cores for Cores {
    fn core_index() -> usize {
        index()
    }
}
