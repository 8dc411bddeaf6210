//! tickscope's analysis, pure: bytes in, figures and documents out. It decodes a capture
//! (`decode`), attributes every event to its cause (`analysis`), decides the run's record and
//! status (`record`), reads and writes rt-tests' and rteval's formats (`rttests`, `rteval`), and
//! renders tables, plots and reports as named files in memory (`render`).
//!
//! No process, network or file-system code lives here (a test in `tests/pure.rs` reads the
//! sources to keep it so): the `tickscope` host crate runs QEMU, talks to boards and machines,
//! and writes what this crate returns.
#![forbid(unsafe_code)]

pub mod analysis;
pub mod capture;
pub mod cpulist;
pub mod decode;
pub mod facts;
pub mod record;
pub mod render;
pub mod rteval;
pub mod rttests;
pub mod timer_block;

/// Exit statuses a run record decides (also in README "Exit codes").
pub mod status {
    pub use tickscope_core::exit::*;
}
