//! Loud faults: any unexpected exception, SError, unclaimed interrupt or panic, on any core,
//! stops the other cores, prints class, ESR, ELR, FAR, SPSR, core and EL (and which stack a
//! fault address hit), sends a `Fault` frame and ends the run with a non-zero status. Also the
//! deliberate faults (`fault=` setting) that prove it.

use core::panic::PanicInfo;

use aarch64_cpu::registers::{
    ELR_EL1, ELR_EL2, ESR_EL1, ESR_EL2, FAR_EL1, FAR_EL2, Readable, SPSR_EL1, SPSR_EL2,
};
use tickscope_core::config::FaultKind;
use tickscope_core::exception::{VectorSlot, esr_class};
use tickscope_core::exit;
use tickscope_core::layout::Place;
use tickscope_core::text::Line;
use tickscope_core::wire::msg::{FaultReport, PanicReport};
use tickscope_core::wire::out::Out;
use tickscope_cpu::frame::Frame;
use tickscope_cpu::regs::current_el;
use tickscope_cpu::sgi;
use tickscope_cpu::{LAYOUT, cores, gic, regs, stop, timer};

use crate::io::{self, Emergency, Emit};
use crate::shutdown;

/// An address no board maps (level-0 translation fault on the 48-bit map).
const UNMAPPED: u64 = 0x7000_0000_0000;
/// The SGI raised (and never claimed) by `fault=unclaimed-irq`.
pub const UNCLAIMED_SGI: u32 = 15;
const _: () =
    assert!(UNCLAIMED_SGI != sgi::WAKE && UNCLAIMED_SGI != sgi::DONE && UNCLAIMED_SGI != sgi::STOP);

fn syndrome() -> (u64, u64, u64, u64) {
    if current_el() >= 2 {
        (ESR_EL2.get(), ELR_EL2.get(), FAR_EL2.get(), SPSR_EL2.get())
    } else {
        (ESR_EL1.get(), ELR_EL1.get(), FAR_EL1.get(), SPSR_EL1.get())
    }
}

/// Makes this core the one that reports: a second fault (another core's, or one inside this
/// report) stops quietly instead. Then stops every other core (100 ms at most).
fn take_over() -> u64 {
    regs::irq_save();
    if !stop::claim_report() {
        stop::halt_here();
    }
    stop::stop_others(timer::frequency() / 10)
}

fn report(report: FaultReport, what: &str) -> ! {
    let not_stopped = take_over();
    io::emergency(&mut |emit| {
        let mut l = Line::new();
        l.s("tickscope: FAULT on core ")
            .u(report.core.into())
            .s(" at EL")
            .u(report.el.into())
            .s(": ")
            .s(what)
            .s(" via vector VBAR+")
            // The slot's offset; its name (`synchronous (current EL, SP_EL0)`, ...) is the
            // host's, from the `Fault` frame: the image keeps no name table.
            .x(report.slot as u64 * 0x80);
        emit(Emergency::Text(l.as_str()));
        let mut l = Line::new();
        if report.intid != u32::MAX {
            l.s("tickscope:   INTID ")
                .u(report.intid.into())
                .s(" (no handler claims it)");
        } else {
            // The class and fault-status names are the host's (`tickscope_core::exception`):
            // the image keeps numbers only.
            l.s("tickscope:   class ")
                .hex(esr_class(report.esr).into(), 2)
                .s("  ESR ")
                .hex(report.esr, 16);
        }
        emit(Emergency::Text(l.as_str()));
        let mut l = Line::new();
        l.s("tickscope:   ELR ")
            .hex(report.elr, 16)
            .s("  FAR ")
            .hex(report.far, 16)
            .s("  SPSR ")
            .hex(report.spsr, 16);
        emit(Emergency::Text(l.as_str()));
        let mut l = Line::new();
        match LAYOUT.place(report.far) {
            Place::Guard(core) => l
                .s("tickscope:   stack overflow on core ")
                .u(core as u64)
                .s(": FAR is in the guard page below its stack, ELR the faulting instruction"),
            Place::ExceptionGuard(core) => l
                .s("tickscope:   exception-stack overflow on core ")
                .u(core as u64)
                .s(": FAR is in the guard page below it"),
            _ => &mut l,
        };
        if !l.is_empty() {
            emit(Emergency::Text(l.as_str()));
        }
        not_confirmed(emit, not_stopped);
        emit(Emergency::Frame(Out::Fault(&report)));
        emit(Emergency::Frame(Out::End(&shutdown::trailer(exit::FAULT))));
        aborted(emit, exit::FAULT);
    });
    shutdown::halt(exit::FAULT)
}

/// The line naming the cores that did not confirm they stopped, if any did not.
fn not_confirmed(emit: &mut Emit<'_>, not_stopped: u64) {
    if not_stopped != 0 {
        let mut l = Line::new();
        l.s("tickscope:   cores ")
            .x(not_stopped)
            .s(" did not confirm they stopped");
        emit(Emergency::Text(l.as_str()));
    }
}

/// The last line of a report.
fn aborted(emit: &mut Emit<'_>, status: u8) {
    let mut l = Line::new();
    // The status's name is the host's (`tickscope_core::exit::name`): the image budget.
    l.s("tickscope: run aborted, status ").u(status.into());
    emit(Emergency::Text(l.as_str()));
}

/// Any exception that is not an IRQ we expect.
pub fn on_exception(entry: usize, _frame: &mut Frame) -> ! {
    let (esr, elr, far, spsr) = syndrome();
    let slot = VectorSlot::from_index(entry).unwrap_or(VectorSlot::SyncSp0);
    let fault = FaultReport {
        core: cores::index() as u16,
        el: current_el(),
        slot,
        esr,
        elr,
        far,
        spsr,
        intid: u32::MAX,
    };
    report(fault, "unexpected exception")
}

/// An interrupt nobody registered: reported with its ID, never silently acknowledged.
pub fn unclaimed_irq(intid: u32) -> ! {
    let (esr, elr, far, spsr) = syndrome();
    let fault = FaultReport {
        core: cores::index() as u16,
        el: current_el(),
        // Interrupts are unmasked only in thread code, which runs on SP_EL0.
        slot: VectorSlot::IrqSp0,
        esr,
        elr,
        far,
        spsr,
        intid,
    };
    report(fault, "unclaimed interrupt")
}

/// The boot core's MPIDR is not in the board's table: nothing can run (reported on core 0's
/// stack before any other state exists).
pub fn unknown_core(mpidr: u64) -> ! {
    io::emergency(&mut |emit| {
        let mut l = Line::new();
        l.s("tickscope: FAULT: this core's MPIDR ")
            .x(mpidr)
            .s(" is not in the board description's cpus.mpidr_ranges");
        emit(Emergency::Text(l.as_str()))
    });
    shutdown::halt(exit::FAULT)
}

/// The panic handler's work. Needs no boot state: a panic during early boot prints and halts.
///
/// The message is kept when it is a plain string (`panic!("...")`); the image has no panic that
/// formats one (`tickscope image` refuses `core::fmt`: indexing, `expect` and `RefCell` borrows
/// go through fixed messages, see `tickscope_core::checked`). Should one appear, it is not
/// rendered, and the file and line name the check.
pub fn on_panic(info: &PanicInfo) -> ! {
    let not_stopped = take_over();
    let core = cores::index() as u16;
    let mut message = heapless::String::<160>::new();
    let text = info
        .message()
        .as_str()
        .unwrap_or("(a formatted message; see the file and line)");
    let mut n = text.len().min(160);
    while !text.is_char_boundary(n) {
        n -= 1;
    }
    let _ = message.push_str(text.get(..n).unwrap_or(""));
    let (file, line) = info
        .location()
        .map(|l| (l.file(), l.line()))
        .unwrap_or(("?", 0));
    let mut file_s = heapless::String::<64>::new();
    // Keep the end of long paths: that is the informative part.
    let tail = file.len().saturating_sub(64);
    let _ = file_s.push_str(file.get(tail..).unwrap_or(file));
    let rep = PanicReport {
        core,
        file: file_s,
        line,
        message: message.clone(),
    };
    io::emergency(&mut |emit| {
        let mut l = Line::new();
        l.s("tickscope: PANIC on core ")
            .u(core.into())
            .s(" at EL")
            .u(current_el().into())
            .s(" (")
            .s(file)
            .s(":")
            .u(line.into())
            .s("): ")
            .s(&message);
        emit(Emergency::Text(l.as_str()));
        not_confirmed(emit, not_stopped);
        emit(Emergency::Frame(Out::Panic(&rep.clone())));
        emit(Emergency::Frame(Out::End(&shutdown::trailer(exit::PANIC))));
        aborted(emit, exit::PANIC);
    });
    shutdown::halt(exit::PANIC)
}

/// Calls itself with a 256-byte frame until the thread stack runs into its guard page: the store
/// that touches the guard faults, and the report comes from the core's exception stack.
#[inline(never)]
#[allow(unconditional_recursion)]
fn recurse(depth: u64) -> u64 {
    let mut frame = [depth; 32];
    core::hint::black_box(&mut frame);
    recurse(depth + 1).wrapping_add(frame[31])
}

/// Triggers a fault on purpose (on the calling core).
pub fn trigger(kind: FaultKind) {
    match kind {
        // PmuTrap is a setting of the EL2 drop (see `boot::enter_el`), nothing to trigger.
        FaultKind::None | FaultKind::PmuTrap => {}
        FaultKind::Undef => {
            // The exception handler reports it and ends the run: execution never continues.
            // SAFETY: deliberately executes a permanently undefined instruction.
            unsafe { core::arch::asm!("udf #0x7ac", options(nostack)) }
        }
        FaultKind::DataAbort => {
            // The translation fault is reported by the exception handler, which ends the run.
            // SAFETY: a deliberate load from an unmapped address.
            let v = unsafe { core::ptr::read_volatile(UNMAPPED as *const u64) };
            core::hint::black_box(v);
        }
        FaultKind::Panic => panic!("deliberate panic requested with fault=panic"),
        FaultKind::StackOverflow => {
            core::hint::black_box(recurse(0));
        }
        FaultKind::Hvc => {
            // The trap goes to EL2, whose vectors report it and end the run.
            // SAFETY: a deliberate hypervisor call; nothing at EL2 serves it.
            unsafe { core::arch::asm!("hvc #0x7ac", options(nostack)) }
        }
        FaultKind::UnclaimedIrq => {
            gic::set_private(UNCLAIMED_SGI, true);
            gic::send_sgi(UNCLAIMED_SGI, cores::index());
            regs::irq_enable();
            // The SGI arrives within a few cycles; the handler ends the run.
            loop {
                regs::wfi();
            }
        }
    }
}
