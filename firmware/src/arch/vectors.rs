//! The exception vector table (16 entries, used at EL1 and EL2 alike) and its Rust dispatcher.
//! IRQs go to `run::irq::on_irq` with the counter read first; everything else is a fault report.

use core::arch::global_asm;

use aarch64_cpu::registers::{VBAR_EL1, VBAR_EL2, Writeable};

use crate::arch::{current_el, pmu, timer};

/// Bytes the entry code pushes: x0-x18, x29, x30 (168), FPCR and FPSR (16, padded to 24), then
/// from offset 192 q0-q7 and q16-q31 (the caller-saved SIMD registers, 384).
pub const FRAME_SIZE: usize = 576;
const _: () = assert!(
    FRAME_SIZE.is_multiple_of(16),
    "the stack must stay 16-byte aligned"
);

/// The saved general-purpose registers, as the entry code lays them out.
#[repr(C)]
pub struct Frame {
    /// x0..x18, then x29, x30.
    pub x: [u64; 21],
}

global_asm!(
    r#"
    // One vector entry: make room for the frame, save x0/x1, pass the entry number in x0.
    .macro ventry idx
    .balign 0x80
    sub     sp, sp, #{frame}
    stp     x0, x1, [sp, #0]
    mov     x0, #\idx
    b       __tickscope_vector_common
    .endm

    .section .text.vectors, "ax"
    .global __tickscope_vectors
    .balign 0x800
__tickscope_vectors:
    ventry 0     // current EL, SP_EL0: synchronous
    ventry 1     //                     IRQ
    ventry 2     //                     FIQ
    ventry 3     //                     SError
    ventry 4     // current EL, SP_ELx: synchronous
    ventry 5     //                     IRQ  (the one we expect)
    ventry 6     //                     FIQ
    ventry 7     //                     SError
    ventry 8     // lower EL, AArch64:  synchronous
    ventry 9     //                     IRQ
    ventry 10    //                     FIQ
    ventry 11    //                     SError
    ventry 12    // lower EL, AArch32:  synchronous
    ventry 13    //                     IRQ
    ventry 14    //                     FIQ
    ventry 15    //                     SError

__tickscope_vector_common:
    // Save the rest of the caller-saved state; the Rust handler preserves the callee-saved.
    stp     x2, x3, [sp, #16]
    stp     x4, x5, [sp, #32]
    stp     x6, x7, [sp, #48]
    stp     x8, x9, [sp, #64]
    stp     x10, x11, [sp, #80]
    stp     x12, x13, [sp, #96]
    stp     x14, x15, [sp, #112]
    stp     x16, x17, [sp, #128]
    stp     x18, x29, [sp, #144]
    str     x30, [sp, #160]
    mrs     x2, fpcr
    mrs     x3, fpsr
    stp     x2, x3, [sp, #168]
    stp     q0, q1, [sp, #192]
    stp     q2, q3, [sp, #224]
    stp     q4, q5, [sp, #256]
    stp     q6, q7, [sp, #288]
    stp     q16, q17, [sp, #320]
    stp     q18, q19, [sp, #352]
    stp     q20, q21, [sp, #384]
    stp     q22, q23, [sp, #416]
    stp     q24, q25, [sp, #448]
    stp     q26, q27, [sp, #480]
    stp     q28, q29, [sp, #512]
    stp     q30, q31, [sp, #544]
    // handle_exception(entry number, frame)
    mov     x1, sp
    bl      {handler}
    // Restore in reverse and return to the interrupted code.
    ldp     q30, q31, [sp, #544]
    ldp     q28, q29, [sp, #512]
    ldp     q26, q27, [sp, #480]
    ldp     q24, q25, [sp, #448]
    ldp     q22, q23, [sp, #416]
    ldp     q20, q21, [sp, #384]
    ldp     q18, q19, [sp, #352]
    ldp     q16, q17, [sp, #320]
    ldp     q6, q7, [sp, #288]
    ldp     q4, q5, [sp, #256]
    ldp     q2, q3, [sp, #224]
    ldp     q0, q1, [sp, #192]
    ldp     x2, x3, [sp, #168]
    msr     fpcr, x2
    msr     fpsr, x3
    ldr     x30, [sp, #160]
    ldp     x18, x29, [sp, #144]
    ldp     x16, x17, [sp, #128]
    ldp     x14, x15, [sp, #112]
    ldp     x12, x13, [sp, #96]
    ldp     x10, x11, [sp, #80]
    ldp     x8, x9, [sp, #64]
    ldp     x6, x7, [sp, #48]
    ldp     x4, x5, [sp, #32]
    ldp     x2, x3, [sp, #16]
    ldp     x0, x1, [sp, #0]
    add     sp, sp, #{frame}
    eret
    "#,
    frame = const FRAME_SIZE,
    handler = sym handle_exception,
);

unsafe extern "C" {
    static __tickscope_vectors: u8;
}

/// Address of the vector table.
pub fn base() -> u64 {
    // Only the address of the linker-placed table is taken (no read).
    core::ptr::addr_of!(__tickscope_vectors) as u64
}

/// Points VBAR of the current EL at the table.
pub fn install() {
    if current_el() >= 2 {
        VBAR_EL2.set(base());
    } else {
        VBAR_EL1.set(base());
    }
}

/// Called by the entry code for every exception. IRQs read the counter (and cycle counter)
/// before anything else: that is the wake-up timestamp.
extern "C" fn handle_exception(entry: u64, frame: &mut Frame) {
    if entry == 5 || entry == 1 {
        let now = timer::now();
        let cycles = if crate::run::pmu_enabled() {
            pmu::cycles()
        } else {
            0
        };
        crate::run::irq::on_irq(now, cycles);
    } else {
        crate::fault::on_exception(entry as usize, frame)
    }
}
