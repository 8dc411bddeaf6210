//! The first instructions of every core: a known EL state, the MMU and caches on, a stack, then
//! Rust. The only code that runs with the MMU off; it writes nothing but the translation tables
//! (between two invalidations) and reads nothing but the image, which the loader cleaned to the
//! point of coherency (Linux's arm64 boot protocol). So no Rust ever sees memory through two
//! different cacheability views.
//!
//! Boot core (`_start`): EL reset, tables, MMU on, BSS zeroed, its stacks, `tickscope_primary_entry`.
//! Secondaries (`_secondary_start`, PSCI CPU_ON): EL reset, MMU on, stacks, `tickscope_secondary_entry`.
//! Every core's code runs on SP_EL0 (its thread stack), its exceptions on SP_ELx.

use core::arch::global_asm;

use tickscope_board::{LAYOUT, MPIDR_RANGES, PAGE_TABLE_RUNS};
use tickscope_core::board::MPIDR_AFFINITY_MASK;
use tickscope_core::layout::{Regime, desc_bit, run_field};

use crate::mmu;

const _: () = assert!(
    run_field::DEST == 0
        && run_field::VALUE == 8
        && run_field::COUNT == 16
        && run_field::REPS == 20
        && run_field::PERIOD == 24
        && run_field::STEP_SHIFT == 28
        && run_field::SIZE == 32,
    "the table writer below reads a run as two double words and two pairs of words"
);

global_asm!(
    r#"
    // A 64-bit constant without a literal pool (loads from the image are fine with the MMU
    // off, but four moves need no alignment argument).
    .macro movq reg, val
    movz    \reg, #((\val) & 0xffff)
    movk    \reg, #(((\val) >> 16) & 0xffff), lsl #16
    movk    \reg, #(((\val) >> 32) & 0xffff), lsl #32
    movk    \reg, #(((\val) >> 48) & 0xffff), lsl #48
    .endm

    .section .text.boot, "ax"
    .global _start
_start:
    // Boot core, entered at EL1 or EL2 with the MMU off. x0 may hold a DTB address (unused).
    bl      __tickscope_el_reset
    bl      __tickscope_tables_write
    bl      __tickscope_mmu_on
    // Zero BSS, now through the cache, 16 bytes at a time (the linker script aligns both ends).
    adrp    x9, __bss_start
    add     x9, x9, :lo12:__bss_start
    adrp    x10, __bss_end
    add     x10, x10, :lo12:__bss_end
1:  cmp     x9, x10
    b.hs    2f
    stp     xzr, xzr, [x9], #16
    b       1b
2:  bl      __tickscope_core_stack
    // x0 = this core's index. The frame-pointer chain ends here; Rust never returns.
    mov     x29, xzr
    mov     x30, xzr
    bl      tickscope_primary_entry
3:  wfi
    b       3b

    .global _secondary_start
_secondary_start:
    // A core started by PSCI CPU_ON, MMU off; x0 = CPU_ON's context, kept in x19.
    mov     x19, x0
    bl      __tickscope_el_reset
    bl      __tickscope_mmu_on
    bl      __tickscope_core_stack
    mov     x1, x19
    mov     x29, xzr
    mov     x30, xzr
    bl      tickscope_secondary_entry
4:  wfi
    b       4b

// A known state at the entry EL, whatever the loader left: at EL2 the non-VHE layout (HCR_EL2
// with E2H = 0 and EL1 in AArch64, written before any other EL2 register, as Linux's init_el2
// does), then MMU and caches off at the entry EL, and FP/SIMD untrapped (the compiler may use
// NEON registers anywhere). Uses x9, x10 only; no stack.
__tickscope_el_reset:
    mrs     x9, CurrentEL
    cmp     x9, #(2 << 2)
    b.ne    1f
    movq    x10, {hcr_el2}
    msr     hcr_el2, x10
    isb
    movq    x10, {sctlr_el2_off}
    msr     sctlr_el2, x10
    isb
    // CPTR_EL2: RES1 bits of the non-VHE layout only (TFP = 0: FP/SIMD not trapped to EL2).
    movq    x10, {cptr_el2}
    msr     cptr_el2, x10
    // CNTVOFF_EL2 resets to an unknown value and a loader may leave one: zero it before the
    // first counter read (CNTVCT_EL0, every timestamp's clock, equals CNTPCT from here on).
    msr     cntvoff_el2, xzr
    b       2f
1:  movq    x10, {sctlr_el1_off}
    msr     sctlr_el1, x10
    isb
2:  mov     x10, #(3 << 20)         // CPACR_EL1.FPEN = 0b11
    msr     cpacr_el1, x10
    isb
    ret

// Writes both regimes' translation tables from the board's runs (see tickscope_core::layout::Run)
// with the MMU off: invalidate the table lines (a loader's dirty line must not be written back
// over them later), zero them, write the runs (EL2 copy as given, EL1 copy derived as
// Run::for_el1 does), then invalidate again (lines fetched meanwhile would hide what we wrote),
// as Linux's __create_page_tables does. Line size from CTR_EL0. Uses x0-x17; no stack.
__tickscope_tables_write:
    mov     x16, x30
    movq    x11, {tables_base}
    movq    x12, {tables_end}
    bl      __tickscope_inval_tables
    mov     x13, x11
1:  stp     xzr, xzr, [x13], #16
    cmp     x13, x12
    b.lo    1b
    adrp    x14, {runs}
    add     x14, x14, :lo12:{runs}
    mov     x15, #{nruns}
    movq    x17, {el1_offset}
2:  cbz     x15, 9f
    ldp     x0, x1, [x14, #0]       // dest, value
    ldp     w2, w4, [x14, #16]      // count, reps
    ldp     w5, w3, [x14, #24]      // period, log2 step
    mov     x6, #1
    lsl     x3, x6, x3              // step
    // x6 = the EL1 regime's first value: a table descriptor (output inside the tables) moves to
    // the EL1 copy; a leaf drops AP[1], becomes UXN, and PXN where EL2 had XN.
    and     x6, x1, #{output}
    cmp     x6, x11
    b.lo    3f
    cmp     x6, x12
    b.hs    3f
    add     x6, x1, x17
    b       5f
3:  bic     x6, x1, #{ap1}
    tst     x1, #{xn}
    b.eq    4f
    orr     x6, x6, #{pxn}
4:  orr     x6, x6, #{xn}
5:  mov     x7, xzr                 // group g
6:  cmp     x7, x4
    b.hs    8f
    mul     x8, x7, x5              // g * period
    add     x9, x0, x8, lsl #3      // its first descriptor's address
    madd    x10, x8, x3, x1         // its first EL2 value
    madd    x13, x8, x3, x6         // its first EL1 value
    mov     x8, x2
7:  str     x10, [x9]
    str     x13, [x9, x17]
    add     x10, x10, x3
    add     x13, x13, x3
    add     x9, x9, #8
    subs    x8, x8, #1
    b.ne    7b
    add     x7, x7, #1
    b       6b
8:  add     x14, x14, #{run_size}
    sub     x15, x15, #1
    b       2b
9:  dmb     sy
    bl      __tickscope_inval_tables
    mov     x30, x16
    ret

// dc ivac over [x11, x12) by the smallest D-cache line (CTR_EL0.DminLine); uses x9, x10, x13.
__tickscope_inval_tables:
    mrs     x9, ctr_el0
    ubfx    x9, x9, #16, #4
    mov     x10, #4
    lsl     x9, x10, x9
    mov     x13, x11
1:  dc      ivac, x13
    add     x13, x13, x9
    cmp     x13, x12
    b.lo    1b
    dsb     sy
    ret

// MMU and caches on at the entry EL with that regime's tables. The physical address size
// (TCR.PS/IPS) comes from ID_AA64MMFR0_EL1.PARange, at most 48 bits. Uses x9-x11; no stack.
__tickscope_mmu_on:
    mrs     x10, id_aa64mmfr0_el1
    and     x10, x10, #0xf
    mov     x11, #5
    cmp     x10, x11
    csel    x10, x10, x11, lo
    // Stale instruction-cache entries must not survive into the cached view.
    ic      iallu
    dsb     nsh
    isb
    mrs     x9, CurrentEL
    movq    x11, {mair}
    cmp     x9, #(2 << 2)
    b.ne    1f
    msr     mair_el2, x11
    movq    x11, {tcr_el2}
    bfi     x11, x10, #16, #3       // TCR_EL2.PS
    msr     tcr_el2, x11
    movq    x11, {ttbr_el2}
    msr     ttbr0_el2, x11
    isb
    tlbi    alle2
    dsb     nsh
    isb
    movq    x11, {sctlr_el2_on}
    msr     sctlr_el2, x11
    isb
    ret
1:  msr     mair_el1, x11
    movq    x11, {tcr_el1}
    bfi     x11, x10, #32, #3       // TCR_EL1.IPS
    msr     tcr_el1, x11
    movq    x11, {ttbr_el1}
    msr     ttbr0_el1, x11
    isb
    tlbi    vmalle1
    dsb     nsh
    isb
    movq    x11, {sctlr_el1_on}
    msr     sctlr_el1, x11
    isb
    ret

// This core's index from its MPIDR through the board's ranges (each walks Aff0; indices count
// on from one range to the next): TPIDR_EL0 = x0 = index; SP_ELx = the top of its exception
// stack (the top of its slot), then SPSel = 0 and SP_EL0 = the top of its thread stack: from here
// on code runs on SP_EL0 and every exception on the intact SP_ELx, so a thread-stack overflow
// faults into its guard page and is reported from a stack that still works. An MPIDR in no range
// (only the boot core can meet one) is reported on core 0's stack (no other core runs yet).
// Uses x9-x15.
__tickscope_core_stack:
    mrs     x9, mpidr_el1
    movq    x10, {affinity}
    and     x9, x9, x10
    adrp    x10, {ranges}
    add     x10, x10, :lo12:{ranges}
    mov     x15, #{nranges}
    mov     x12, xzr                // index of the range's first core
1:  cbz     x15, 9f
    ldp     x13, x14, [x10], #16    // first, last
    cmp     x9, x13
    b.lo    3f
    cmp     x9, x14
    b.hi    3f
    sub     x11, x9, x13
    add     x11, x11, x12
    b       2f
3:  sub     x14, x14, x13
    add     x12, x12, x14
    add     x12, x12, #1
    sub     x15, x15, #1
    b       1b
2:  msr     tpidr_el0, x11
    movq    x12, {stride}
    movq    x14, {stacks_base}
    add     x13, x11, #1
    madd    x14, x13, x12, x14      // stacks_base + (index + 1) * stride: the top of its slot
    mov     sp, x14                 // SP_ELx: the exception stack
    movq    x13, {thread_below}
    sub     x14, x14, x13           // the thread stack's top: below the exception stack's guard
    msr     spsel, #0
    mov     sp, x14                 // SP_EL0
    mov     x0, x11
    ret
9:  msr     tpidr_el0, xzr
    movq    x14, {stack0}
    mov     sp, x14
    mov     x0, x9
    mov     x29, xzr
    mov     x30, xzr
    b       tickscope_unknown_core
    "#,
    hcr_el2 = const crate::el::HCR_EL2_AT_ENTRY,
    sctlr_el2_off = const mmu::SCTLR_EL2_OFF,
    sctlr_el1_off = const mmu::SCTLR_EL1_OFF,
    cptr_el2 = const crate::el::CPTR_EL2_NO_TRAPS,
    tables_base = const LAYOUT.tables_base,
    tables_end = const LAYOUT.tables_end(),
    el1_offset = const LAYOUT.root(Regime::El1) - LAYOUT.root(Regime::El2),
    runs = sym PAGE_TABLE_RUNS,
    nruns = const PAGE_TABLE_RUNS.len(),
    run_size = const run_field::SIZE,
    output = const desc_bit::OUTPUT,
    ap1 = const desc_bit::AP1,
    xn = const desc_bit::XN,
    pxn = const desc_bit::PXN,
    mair = const mmu::MAIR,
    tcr_el2 = const mmu::TCR_EL2_VALUE,
    tcr_el1 = const mmu::TCR_EL1_VALUE,
    ttbr_el2 = const LAYOUT.root(Regime::El2),
    ttbr_el1 = const LAYOUT.root(Regime::El1),
    sctlr_el2_on = const mmu::SCTLR_EL2_ON,
    sctlr_el1_on = const mmu::SCTLR_EL1_ON,
    affinity = const MPIDR_AFFINITY_MASK,
    ranges = sym MPIDR_RANGES,
    nranges = const MPIDR_RANGES.len(),
    stride = const LAYOUT.stack_stride(),
    thread_below = const LAYOUT.exception_stack_top(0) - LAYOUT.stack_top(0),
    stacks_base = const LAYOUT.stacks_base,
    stack0 = const LAYOUT.stack_top(0),
);

unsafe extern "C" {
    /// The secondaries' entry point (above), passed to PSCI CPU_ON.
    pub fn _secondary_start();
}

/// Address of the secondaries' entry point, for PSCI CPU_ON.
pub fn secondary_entry_point() -> u64 {
    _secondary_start as *const () as u64
}
