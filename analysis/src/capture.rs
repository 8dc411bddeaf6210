//! What a guest run returns ([`Capture`]): the wire bytes, the console, how the guest ended and
//! the machine's facts. The host's runners make it; the record is decided from it.

use std::path::PathBuf;
use std::time::Duration;

use crate::facts::Facts;

/// How the guest's run ended, as the runner saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// The guest ended by itself with this status (QEMU's exit code: semihosting exit or
    /// power-off).
    Exited(u8),
    /// It did not finish within the wall-clock limit and was killed.
    Hung {
        /// The limit, seconds.
        after_s: u64,
    },
    /// The emulator died (a signal, or an exit status it never uses for the guest).
    Crashed {
        /// What happened.
        what: String,
    },
    /// tickscope was interrupted (SIGINT/SIGTERM) and stopped the guest.
    Interrupted {
        /// The signal.
        signal: i32,
    },
    /// The input ended (a file, a closed port) or the capture stopped for a reason other
    /// than the guest's end.
    Stopped {
        /// Why.
        why: String,
    },
}

/// Checks a runner asks the pipeline to make on the decoded run.
#[derive(Debug, Clone, Default)]
pub struct Expect {
    /// A tickless kernel must list this CPU in `/sys/devices/system/cpu/nohz_full`.
    pub nohz_full_cpu: Option<usize>,
    /// The guest's status is in the wire trailer (Linux probe), not in QEMU's exit code.
    pub status_in_trailer: bool,
    /// The load the run asked for on the other CPUs (`--load`, as the user wrote it; bare metal:
    /// `interference`), which the probe's progress counts must show ran through the window.
    pub load: Option<String>,
}

/// A capture too long to hold in memory, left in a file the runner wrote (a long run's).
#[derive(Debug, Clone)]
pub struct Spill {
    /// The file: the wire bytes as received; the run directory takes it as capture.bin.
    pub path: PathBuf,
    /// Its length, bytes.
    pub len: u64,
}

/// What a guest run produced.
#[derive(Debug, Clone)]
pub struct Capture {
    /// The wire bytes, as received (capture.bin), unless they are in `spill`.
    pub bytes: Vec<u8>,
    /// The wire bytes in a file instead (a long run's): read as a stream, never whole.
    pub spill: Option<Spill>,
    /// Console text outside the wire (semihosting stdout); text found between frames is
    /// added when decoding.
    pub console: String,
    /// What the emulator wrote on stderr.
    pub emulator_log: Vec<u8>,
    /// How it ended.
    pub end: End,
    /// The machine.
    pub facts: Facts,
    /// The firmware ELF, whose defmt table decodes log frames.
    pub elf: Option<PathBuf>,
    /// The configuration as given to the guest (`key=value` tokens, or the probe's arguments).
    pub config: String,
    /// Wall time of the run.
    pub wall: Duration,
    /// Seconds of it the guest spent booting before the measurement (Linux), when known.
    pub boot_s: Option<f64>,
    /// Further files for the run directory (the initramfs, so the QEMU command replays).
    pub keep: Vec<(String, Vec<u8>)>,
    /// Checks to make once decoded.
    pub expect: Expect,
}

impl Capture {
    /// Bytes captured, in memory or in the spill file.
    pub fn len(&self) -> u64 {
        self.bytes.len() as u64 + self.spill.as_ref().map_or(0, |s| s.len)
    }

    /// Nothing was captured.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
