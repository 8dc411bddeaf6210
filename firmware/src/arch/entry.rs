//! The first instructions: the boot core's `_start` and the secondaries' PSCI entry point.
//! Only what must be assembly: a stack, zeroed BSS, then Rust (`smp::primary_entry` / `secondary_entry`).

use core::arch::global_asm;

use crate::smp::BootRecord;

/// Offset of `stack_top` in [`BootRecord`], shared with the assembly below.
pub const RECORD_STACK_TOP: usize = core::mem::offset_of!(BootRecord, stack_top);
const _: () = assert!(
    RECORD_STACK_TOP == 0,
    "secondary_start loads the stack from offset 0"
);

global_asm!(
    r#"
    // Enable FP/SIMD before any Rust runs (the compiler may use NEON registers anywhere):
    // at EL2, CPTR_EL2 = RES1 bits only (TFP = 0); at EL1 and EL2, CPACR_EL1.FPEN = 0b11.
    .macro enable_fp
    mrs     x9, CurrentEL
    lsr     x9, x9, #2
    cmp     x9, #2
    b.lo    10f
    mov     x10, #0x33ff
    msr     cptr_el2, x10
10: mov     x10, #(3 << 20)
    msr     cpacr_el1, x10
    isb
    .endm

    .section .text.boot, "ax"
    .global _start
_start:
    // Boot core, entered at EL1 or EL2 with the MMU off. x0 may hold a DTB address (unused).
    enable_fp
    // Stack: the top of core 0's stack (stacks grow down from __stacks_start + stack_size).
    adrp    x1, __stacks_start
    add     x1, x1, :lo12:__stacks_start
    ldr     x2, ={stack_size}
    add     x1, x1, x2
    mov     sp, x1
    // Zero BSS, 16 bytes at a time (the linker script aligns both ends to 16).
    adrp    x3, __bss_start
    add     x3, x3, :lo12:__bss_start
    adrp    x4, __bss_end
    add     x4, x4, :lo12:__bss_end
1:  cmp     x3, x4
    b.hs    2f
    stp     xzr, xzr, [x3], #16
    b       1b
2:  // Frame pointer chain ends here; call Rust, which never returns.
    mov     x29, xzr
    mov     x30, xzr
    bl      {primary}
3:  wfi
    b       3b

    .global _secondary_start
_secondary_start:
    // A secondary core started by PSCI CPU_ON, MMU off. x0 = context_id = &BootRecord of this
    // core, cleaned to the point of coherency by the boot core, so it is read correctly uncached.
    enable_fp
    ldr     x1, [x0, #{stack_top}]
    mov     sp, x1
    mov     x29, xzr
    mov     x30, xzr
    bl      {secondary}
4:  wfi
    b       4b
    "#,
    stack_size = const crate::board::STACK_SIZE,
    stack_top = const RECORD_STACK_TOP,
    primary = sym crate::smp::primary_entry,
    secondary = sym crate::smp::secondary_entry,
);

unsafe extern "C" {
    /// The secondaries' entry point (above), passed to PSCI CPU_ON.
    pub fn _secondary_start();
    /// Start of the per-core stacks (linker script).
    pub static __stacks_start: u8;
}
