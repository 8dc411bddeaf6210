//! The exception vector table (16 entries, used at EL1 and EL2 alike) and its Rust dispatcher.
//! IRQs go to [`crate::irq`] with the counter read first; everything else to the firmware's fault
//! report (the `tickscope_exception` hook).

use aarch64_cpu::registers::{VBAR_EL1, VBAR_EL2, Writeable};
use core::arch::global_asm;

use crate::frame::Frame;
use crate::regs::current_el;

/// Bytes the entry code pushes: x0-x18, x29, x30 (168), FPCR and FPSR (16), the two entry
/// timestamps (16), padding to 208, then all of q0-q31 (512). Every SIMD register is saved: the
/// Rust handler may use any of them, and AAPCS64 keeps only the low halves of v8-v15 for the
/// caller, so the interrupted code's upper halves must be saved here.
pub const FRAME_SIZE: usize = 720;
/// Offset of the two entry timestamps (CNTVCT, PMCCNTR) in the frame.
pub const FRAME_TIMESTAMPS: usize = 184;
/// Offset of q0 in the frame.
const FRAME_Q: usize = 208;
const _: () = assert!(
    FRAME_SIZE.is_multiple_of(16) && FRAME_Q.is_multiple_of(16) && FRAME_Q + 32 * 16 == FRAME_SIZE,
    "the stack must stay 16-byte aligned and the frame must hold q0-q31"
);
const _: () = assert!(
    core::mem::offset_of!(Frame, counter) == FRAME_TIMESTAMPS
        && core::mem::offset_of!(Frame, cycles) == FRAME_TIMESTAMPS + 8,
    "Frame must match the layout the entry code writes"
);

/// Whether the vector reads PMCCNTR_EL0 (every supported board has a PMU: its board file names
/// the PMU interrupt; reading PMCCNTR on a core without one would be undefined).
const READ_CYCLES: bool = crate::BOARD.pmu_ppi != 0;

/// `mrs x1, pmccntr_el0`: every entry's fourth instruction when the board has a PMU.
const CYCLE_READ: u32 = 0xd53b_9d01;
/// `mov x1, xzr`: what [`without_cycles`] writes over it.
const NO_CYCLE_READ: u32 = 0xaa1f_03e1;
/// Where the cycle read sits in an entry (after `sub`, `stp` and the counter read).
const CYCLE_READ_OFFSET: usize = 12;
/// Bytes per entry.
const ENTRY_BYTES: usize = 0x80;

global_asm!(
    r#"
    // One vector entry. The timestamps come first: room for the frame (1), two scratch
    // registers saved (2), the counter (3) and the cycle counter (4) read before anything else
    // is saved, so an interrupt's latency is measured to the vector, not to our register saves.
    // Instruction 4 is rewritten to `mov x1, xzr` when the PMU is absent or trapped
    // (`without_cycles`): one table serves both cases.
    .macro ventry idx, cycles
    .balign 0x80
    sub     sp, sp, #{frame}
    stp     x0, x1, [sp, #0]
    mrs     x0, cntvct_el0
    .if \cycles
    mrs     x1, pmccntr_el0
    .else
    mov     x1, xzr
    .endif
    stp     x0, x1, [sp, #{ts}]
    mov     x0, #\idx
    b       __tickscope_vector_common
    .endm

    // The 16 entries: current EL with SP_EL0 (thread code: the ones we expect), current EL with
    // SP_ELx (an exception inside a handler), lower EL in AArch64, lower EL in AArch32; each
    // synchronous, IRQ, FIQ, SError.
    .macro vtable cycles
    .irp idx, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
    ventry \idx, \cycles
    .endr
    .endm

    .section .text.vectors, "ax"
    .global __tickscope_vectors
    .balign 0x800
__tickscope_vectors:
    vtable {cycles}

    // The common path goes before the table, into the room its 2 KiB alignment leaves after
    // the entry code and the noise loop (the linker script checks that it fits).
    .section .text.hot.vector_common, "ax"
    .balign 4
__tickscope_vector_common:
    // Save the rest of the caller-saved state; the Rust handler preserves x19-x28 and d8-d15,
    // every SIMD register is saved whole (see FRAME_SIZE).
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
    add     x2, sp, #{q}
    stp     q0, q1, [x2, #0]
    stp     q2, q3, [x2, #32]
    stp     q4, q5, [x2, #64]
    stp     q6, q7, [x2, #96]
    stp     q8, q9, [x2, #128]
    stp     q10, q11, [x2, #160]
    stp     q12, q13, [x2, #192]
    stp     q14, q15, [x2, #224]
    stp     q16, q17, [x2, #256]
    stp     q18, q19, [x2, #288]
    stp     q20, q21, [x2, #320]
    stp     q22, q23, [x2, #352]
    stp     q24, q25, [x2, #384]
    stp     q26, q27, [x2, #416]
    stp     q28, q29, [x2, #448]
    stp     q30, q31, [x2, #480]
    // handle_exception(entry number, frame)
    mov     x1, sp
    bl      {handler}
    // Restore in reverse and return to the interrupted code.
    add     x2, sp, #{q}
    ldp     q30, q31, [x2, #480]
    ldp     q28, q29, [x2, #448]
    ldp     q26, q27, [x2, #416]
    ldp     q24, q25, [x2, #384]
    ldp     q22, q23, [x2, #352]
    ldp     q20, q21, [x2, #320]
    ldp     q18, q19, [x2, #288]
    ldp     q16, q17, [x2, #256]
    ldp     q14, q15, [x2, #224]
    ldp     q12, q13, [x2, #192]
    ldp     q10, q11, [x2, #160]
    ldp     q8, q9, [x2, #128]
    ldp     q6, q7, [x2, #96]
    ldp     q4, q5, [x2, #64]
    ldp     q2, q3, [x2, #32]
    ldp     q0, q1, [x2, #0]
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
    ts = const FRAME_TIMESTAMPS,
    q = const FRAME_Q,
    cycles = const READ_CYCLES as u8,
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

/// Rewrites every entry's cycle read to `mov x1, xzr` (the PMU is absent or trapped: the read
/// would trap on every exception) and installs the table on this core. The boot core calls it
/// before starting the others, so no other core runs the entries while they change; this core
/// runs it with interrupts masked. The image is mapped writable and executable (see
/// `tickscope_core::pagetable`): each word is written, cleaned to the point of unification and its
/// instruction-cache line invalidated (broadcast to the Inner Shareable domain), as the Arm ARM's
/// self-modifying-code sequence asks (B2.2.5), then one ISB.
#[inline(never)]
#[unsafe(link_section = ".text.before_vectors.without_cycles")]
pub fn without_cycles() {
    let daif = crate::regs::irq_save();
    // A loop, not 16 copies: this crate builds at opt-level 3, which would unroll a once-per-boot
    // path into the size-budgeted image (`black_box` hides the trip count).
    for entry in 0..core::hint::black_box(16) {
        let at = (base() as usize + entry * ENTRY_BYTES + CYCLE_READ_OFFSET) as *mut u32;
        // SAFETY: `at` is an instruction of the vector table, inside the image, which is mapped
        // normal, writable and executable; no other core runs yet and this core's interrupts are
        // masked, so nothing executes the entry while it changes. The cache maintenance is the
        // architected sequence after writing an instruction.
        unsafe {
            match at.read_volatile() {
                CYCLE_READ => at.write_volatile(NO_CYCLE_READ),
                NO_CYCLE_READ => {}
                _ => panic!("a vector entry holds no cycle read at its fourth instruction"),
            }
            core::arch::asm!(
                "dc cvau, {at}", // the new word reaches the point of unification
                "dsb ish",       // before the instruction cache forgets the old one
                "ic ivau, {at}",
                "dsb ish",       // the invalidation completes everywhere
                at = in(reg) at,
                options(nostack, preserves_flags),
            );
        }
    }
    aarch64_cpu::asm::barrier::isb(aarch64_cpu::asm::barrier::SY);
    crate::regs::irq_restore(daif);
    install();
}

/// Points VBAR of the current EL at the table.
#[unsafe(link_section = ".text.before_vectors.install")]
pub fn install() {
    if current_el() >= 2 {
        VBAR_EL2.set(base());
    } else {
        VBAR_EL1.set(base());
    }
}

/// Called by the entry code for every exception, with the timestamps the vector took first.
extern "C" fn handle_exception(entry: u64, frame: &mut Frame) {
    if entry == 5 || entry == 1 {
        crate::irq::on_irq(frame.counter, frame.cycles);
    } else if entry.is_multiple_of(4) && crate::pmu::probe_fault() {
        // The PMU trial read trapped: stepped over, the probe answers no.
    } else {
        // SAFETY: the hook is the firmware's fault report, defined for every image (main.rs);
        // it takes the frame as the entry code laid it out and never returns.
        unsafe { crate::hooks::tickscope_exception(entry as usize, frame) }
    }
}
