//! tickscope firmware: boots at EL1 or EL2 on every core of the board it was built for, then
//! measures timer-interrupt latency or counter-gap noise on isolated cores and ships the results.
//!
//! Layers, bottom up (each imports only those below it; `host/tests/layers.rs` checks it):
//! `tickscope_board` (board data) <- `tickscope_cpu` (AArch64: entry, MMU, vectors, GIC, timers,
//! PSCI, core identity) <- `io` (console and wire frames) <- `shutdown` (ending a run) <- `fault`
//! (loud fault reports) <- `boot` (configuration, EL, bringing cores up) <- `run` (what each core
//! does, by role). This file wires the hooks the lower layers call upward through.
#![no_std]
#![no_main]
#![deny(clippy::undocumented_unsafe_blocks)]
#![deny(unsafe_op_in_unsafe_fn)]

mod boot;
mod build_info;
mod fault;
mod io;
mod run;
mod shutdown;

use core::panic::PanicInfo;

use tickscope_cpu::frame::Frame;

#[panic_handler]
fn panic(info: &PanicInfo) -> ! {
    fault::on_panic(info)
}

/// The boot core after the entry code (`tickscope_cpu::entry`).
#[unsafe(no_mangle)]
extern "C" fn tickscope_primary_entry(core: usize) -> ! {
    boot::primary(core, run::primary_main)
}

/// A core started with PSCI CPU_ON, after the entry code.
#[unsafe(no_mangle)]
extern "C" fn tickscope_secondary_entry(core: usize, context: u64) -> ! {
    boot::secondary(core, context, run::secondary_main, run::primary_main)
}

/// The entry code met an MPIDR missing from the board's table.
#[unsafe(no_mangle)]
extern "C" fn tickscope_unknown_core(mpidr: u64) -> ! {
    fault::unknown_core(mpidr)
}

/// Any exception but an IRQ (`tickscope_cpu::vectors`).
#[unsafe(no_mangle)]
fn tickscope_exception(slot: usize, frame: &mut Frame) -> ! {
    fault::on_exception(slot, frame)
}

/// An interrupt no handler claims (`tickscope_cpu::irq`).
#[unsafe(no_mangle)]
fn tickscope_unclaimed_irq(intid: u32) -> ! {
    fault::unclaimed_irq(intid)
}
