//! What the firmware above supplies to this layer: the continuations of the entry code and the
//! reports of faults. Declared here, defined (`#[unsafe(no_mangle)]`) by the firmware's `main.rs`,
//! so this crate calls upward without importing anything above it.

use crate::frame::Frame;

unsafe extern "C" {
    /// The boot core after the entry code: MMU on, BSS zero, on its own stack. Never returns.
    pub fn tickscope_primary_entry(core: usize) -> !;
    /// A core started with PSCI CPU_ON, MMU on, on its own stack; `context` is CPU_ON's.
    pub fn tickscope_secondary_entry(core: usize, context: u64) -> !;
    /// The entry code found no entry for this core's MPIDR in the board's table.
    pub fn tickscope_unknown_core(mpidr: u64) -> !;
}

unsafe extern "Rust" {
    /// Any exception but an IRQ: the firmware reports it and ends the run.
    pub fn tickscope_exception(slot: usize, frame: &mut Frame) -> !;
    /// An interrupt nobody claims: the firmware reports it and ends the run.
    pub fn tickscope_unclaimed_irq(intid: u32) -> !;
}
