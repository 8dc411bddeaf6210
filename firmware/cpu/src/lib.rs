//! The firmware's cpu/arch layer: AArch64 entry with the MMU on before any Rust, exception
//! vectors and the interrupt path, GIC, generic timers and the measured core's timer service,
//! PSCI, PMU, NEON, core identity and per-core state. Nothing here knows what a run reports.
//!
//! It is its own crate for two reasons. It cannot import the firmware above it (the compiler
//! enforces the layering): the firmware supplies its handlers through the hooks in [`hooks`].
//! And it holds the interrupt path, so it is built for speed (opt-level 3, no machine outliner:
//! see the workspace `Cargo.toml`) while the rest of the firmware is built for size.
#![no_std]
#![deny(clippy::undocumented_unsafe_blocks)]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

pub mod cores;
pub mod el;
pub mod entry;
pub mod frame;
pub mod gic;
pub mod hooks;
pub mod irq;
pub mod lock;
pub mod mmu;
pub mod neon;
pub mod noise;
pub mod pmu;
pub mod psci;
pub mod regs;
pub mod service;
pub mod sgi;
pub mod stop;
pub mod timer;
pub mod vectors;

pub use tickscope_board::{BOARD, LAYOUT, MAX_CORES};
