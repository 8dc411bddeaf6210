//! Commands the boot core hands to parked cores: one slot per core (on its own cache line) and a
//! sequence number, then a WAKE SGI.

use core::sync::atomic::{AtomicU32, Ordering};

use tickscope_core::checked::nth;
use tickscope_core::config::cores_in;
use tickscope_cpu::cores::{self, Line};
use tickscope_cpu::{MAX_CORES, gic, sgi};

/// Commands the boot core gives to parked cores.
#[derive(Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum Command {
    /// Nothing to do.
    Idle = 0,
    /// Run the measurement (measured cores).
    Measure = 1,
    /// Load memory and caches until told to stop.
    Interfere = 2,
    /// Trigger the configured fault.
    Fault = 3,
    /// Stop interfering.
    Stop = 4,
}

/// Each core's current command and a sequence number bumped for every new one (per core, each
/// on its own cache line, so commands for different cores never share or overwrite).
static COMMAND: [Line<AtomicU32>; MAX_CORES] =
    [const { Line(AtomicU32::new(Command::Idle as u32)) }; MAX_CORES];
pub static COMMAND_SEQ: [Line<AtomicU32>; MAX_CORES] =
    [const { Line(AtomicU32::new(0)) }; MAX_CORES];

/// Publishes a command to the cores in `targets` and wakes them.
pub fn command(cmd: Command, targets: u64) {
    for core in cores_in(targets) {
        let core = core as usize;
        nth(&COMMAND, core).0.store(cmd as u32, Ordering::Relaxed);
        nth(&COMMAND_SEQ, core).0.fetch_add(1, Ordering::Release);
        gic::send_sgi(sgi::WAKE, core);
    }
}

/// This core's current command, for cores that poll while working (interference).
pub fn current_command() -> Command {
    match COMMAND[cores::index()].0.load(Ordering::Acquire) {
        1 => Command::Measure,
        2 => Command::Interfere,
        3 => Command::Fault,
        4 => Command::Stop,
        _ => Command::Idle,
    }
}
