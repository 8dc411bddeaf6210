//! Guest runners: each makes a guest run (the firmware under QEMU, Linux and the probe under
//! QEMU, a board's serial port, a file) and returns what came back as a [`Capture`]: the wire
//! bytes, the console, how the guest ended and the machine's facts. Nothing here decodes,
//! analyses or writes a run directory; the pipeline does that, once, for every runner.

pub mod bare;
#[cfg(feature = "probe-rs")]
pub mod debug_probe;
pub mod file;
pub mod linux;
pub mod remote;
pub mod serial;
pub mod snapshot;

pub use tickscope_analysis::capture::{Capture, End, Expect, Spill};
