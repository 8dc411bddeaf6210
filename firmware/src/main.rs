//! tickscope firmware: boots at EL1 or EL2 on every core of the board it was built for, then
//! measures timer-interrupt latency or counter-gap noise on isolated cores and ships the results.
//!
//! Layout: `arch/` is AArch64 mechanics (entry, vectors, MMU, timers, GIC, PSCI), `board` the
//! compiled-in board description, `io/` the output paths (semihosting, PL011, wire frames,
//! defmt), `smp` core bring-up, `run/` the orchestration and the measured cores' work. The
//! measurement logic itself lives in `tickscope_core::probe`, shared with the Linux probe.
#![no_std]
#![no_main]
#![deny(clippy::undocumented_unsafe_blocks)]
#![deny(unsafe_op_in_unsafe_fn)]

mod arch;
mod board;
mod fault;
mod io;
mod percore;
mod run;
mod smp;

use core::panic::PanicInfo;

#[panic_handler]
fn panic(info: &PanicInfo) -> ! {
    fault::on_panic(info)
}
