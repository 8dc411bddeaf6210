//! Ending a run: the trailer frame and a status line (after a `Refused` frame when the run was
//! refused), then QEMU's exit with the status (semihosting) or, on a board, a last message and
//! PSCI SYSTEM_OFF. Knows nothing of faults:
//! the fault path writes its own trailer through the emergency route, then calls [`halt`].

use core::sync::atomic::{AtomicU8, Ordering};

use tickscope_core::refusal::Refusal;
use tickscope_core::wire::msg::Trailer;
use tickscope_core::wire::out::Out;
use tickscope_cpu::{BOARD, cores, psci, regs, timer};

use crate::io;

/// The EL the image was entered at (picks the PSCI conduit); 0 until the boot core records it.
static BOOT_EL: AtomicU8 = AtomicU8::new(0);

/// Records the EL the image was entered at.
pub fn set_boot_el(el: u8) {
    BOOT_EL.store(el, Ordering::Relaxed);
}

/// The EL the image was entered at (the current EL before the boot core recorded it).
pub fn boot_el() -> u8 {
    match BOOT_EL.load(Ordering::Relaxed) {
        0 => regs::current_el(),
        el => el,
    }
}

/// The trailer every run ends with.
pub fn trailer(status: u8) -> Trailer {
    Trailer {
        status,
        cores_online: cores::online() as u16,
        at: timer::now(),
    }
}

/// Ends a run that cannot go on: the reason as a `Refused` frame, which the host words (the
/// image carries no text for it), and a console line that says where to read it.
pub fn refuse(status: u8, refusal: Refusal) -> ! {
    report_refusal(refusal);
    finish(status)
}

/// Sends a refusal and says on the console where to read it.
pub fn report_refusal(refusal: Refusal) {
    io::send(Out::Refused(&refusal));
    io::print(|l| {
        l.s("tickscope: run refused; the capture's Refused frame says why (tickscope decode)")
    });
}

/// Sends the trailer, prints the status and ends the run.
pub fn finish(status: u8) -> ! {
    regs::irq_save();
    io::send(Out::End(&trailer(status)));
    io::print(|l| {
        // The status's name is the host's (`tickscope_core::exit::name`): the image budget.
        l.s("tickscope: run finished, status ").u(status.into())
    });
    halt(status)
}

/// Ends the run with `status`: QEMU exits with it; a board prints it and powers off.
pub fn halt(status: u8) -> ! {
    regs::irq_save();
    if BOARD.semihosting {
        io::semihost::exit(status)
    }
    io::emergency(&mut |emit| {
        let mut l = tickscope_core::text::Line::new();
        l.s("tickscope: HALTED (status ")
            .u(status.into())
            .s("); reset the board to run again");
        emit(io::Emergency::Text(l.as_str()))
    });
    psci::system_off(BOARD.conduit(boot_el()));
    loop {
        regs::wfi();
    }
}
