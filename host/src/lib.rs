//! tickscope: builds and boots the bare-metal firmware under QEMU (or talks to a board), boots
//! Linux generic and tickless with the same probe, decodes the wire format, attributes every
//! event to its cause, computes statistics, plots tail latency, and gates CI on regressions.
//!
//! Data flows one way: `guest` runners (bare metal, Linux, serial port, file) return a capture
//! and the machine's facts; `pipeline` decodes (`decode`) and analyses it once (`analysis`),
//! makes the run record with its status (`record`), and writes the run directory (`rundir`);
//! `render` draws tables, plots and reports from records in memory. `cli` is the command line.
//! Decoding, analysis, the record and rendering are the pure `tickscope-analysis` crate (no
//! process, network or file-system code); this crate runs guests and writes files.
#![forbid(unsafe_code)]

pub mod apt;
pub mod baseline;
pub mod bench;
pub mod bench_gate;
pub mod cli;
pub mod compare;
pub mod decode;
pub mod deps;
pub mod doctor;
pub mod efi;
pub mod files;
pub mod firmware;
pub mod gdb;
pub mod guest;
pub mod interrupt;
pub mod kernel;
pub mod libs;
pub mod live;
pub mod load;
pub mod machine;
pub mod overlay;
pub mod pipeline;
pub mod progress;
pub mod qemu;
pub mod rundir;
pub mod telnet;
pub mod toolchain;
pub mod workspace;

// The pure analysis (decode, attribution, the run record, rendering, rt-tests' and rteval's
// formats) is its own crate; its modules keep their names here.
pub use tickscope_analysis::{analysis, record, render, rteval, rttests};

/// Exit statuses of every subcommand (also in README "Exit codes").
pub use tickscope_analysis::status;

/// An error with the exit status it should produce.
#[derive(Debug)]
pub struct Fail {
    /// Exit status.
    pub status: u8,
    /// What happened and what to do.
    pub message: String,
}

impl std::fmt::Display for Fail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Fail {}

/// Builds an error that exits with `status`.
pub fn fail(status: u8, message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Fail {
        status,
        message: message.into(),
    })
}
