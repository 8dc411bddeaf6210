//! The facts every run records about the machine it ran on ([`Facts`]), and how its figures were
//! produced ([`Emulation`]): data the runners fill in and the record, summary and report carry.

use serde::{Deserialize, Serialize};

/// How figures were produced: the label every number carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Emulation {
    /// QEMU with `-icount`: deterministic, one instruction per virtual ns.
    Icount,
    /// Plain QEMU TCG: virtual time follows the host clock (host noise included).
    Tcg,
    /// A real machine.
    Hardware,
    /// Not known (a capture decoded on its own, without icount in its configuration).
    #[default]
    Unknown,
}

impl Emulation {
    /// `icount`, `tcg` or `hardware`.
    pub fn name(self) -> &'static str {
        match self {
            Emulation::Icount => "icount",
            Emulation::Tcg => "tcg",
            Emulation::Hardware => "hardware",
            Emulation::Unknown => "unknown",
        }
    }

    /// Whether QEMU produced the figures (icount or plain TCG): the emulator, not hardware,
    /// is what the non-OS part of an event is.
    pub fn is_emulated(self) -> bool {
        matches!(self, Emulation::Icount | Emulation::Tcg)
    }

    /// Parses the name.
    pub fn parse(s: &str) -> Option<Emulation> {
        match s {
            "icount" => Some(Emulation::Icount),
            "tcg" => Some(Emulation::Tcg),
            "hardware" => Some(Emulation::Hardware),
            "unknown" => Some(Emulation::Unknown),
            _ => None,
        }
    }
}

impl std::fmt::Display for Emulation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The kernel a Linux run booted.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct KernelFacts {
    /// `uname -r` as the probe read it (or the package's release).
    pub release: String,
    /// Debian package and version it came from (`linux-image-6.1.0-56-arm64 6.1.153-1`), when
    /// tickscope fetched it.
    pub package: Option<String>,
    /// The kernel command line.
    pub cmdline: String,
    /// `generic`, `tickless`, ... (the command line tickscope chose).
    pub mode: Option<String>,
    /// The snapshot of the booted kernel the run was restored from (QEMU runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<SnapshotFacts>,
}

/// The snapshot a Linux run was restored from (see `guest::snapshot`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct SnapshotFacts {
    /// Its cache key (sha256 of QEMU's version, the machine, kernel, command line, initramfs).
    pub key: String,
    /// Found in the cache rather than made for this run.
    pub reused: bool,
    /// Seconds making it took (boot to the snapshot point and saving), when this run made it.
    pub create_s: Option<f64>,
}

/// What a run ran on, recorded in run.json and every summary.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Facts {
    /// Board description or machine name.
    pub board: String,
    /// CPU model (QEMU `-cpu`, or `MIDR 0x...` of a board).
    pub cpu: String,
    /// EL of the measurement (0 = Linux user space).
    pub el: u8,
    /// EL the image or kernel was entered at.
    pub entry_el: u8,
    /// GIC version (of the machine, also for Linux runs).
    pub gic: u8,
    /// Cores of the machine.
    pub cores: u16,
    /// How figures were produced.
    pub emulation: Emulation,
    /// QEMU version, when emulated.
    pub qemu_version: Option<String>,
    /// The QEMU command line, replayable from the run directory.
    pub qemu_command: Option<String>,
    /// Counter frequency the measurement used (Hz; 0 when unknown).
    pub counter_hz: u64,
    /// The kernel, for Linux runs.
    pub kernel: Option<KernelFacts>,
    /// The rt-tests package the peers came from (`--peers`).
    pub peers_package: Option<String>,
    /// The packages the load's tools came from in a QEMU guest (`rt-tests 2.4-1` for hackbench,
    /// `stress-ng 0.15.06-2`); empty when none or the machine's own.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub load_packages: Vec<String>,
    /// A real machine's own account of itself (`linux --here`, `--ssh`).
    pub system: Option<SystemFacts>,
    /// How a bare-metal image was started (`uefi`: through UEFI firmware and `tickscope-efi`);
    /// absent for QEMU's direct load and for Linux.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boot: Option<String>,
}

/// What a real machine says of itself, read there before the run (`linux --here`, `--ssh`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct SystemFacts {
    /// Where: `this machine` or `ssh USER@HOST:PORT`.
    pub place: String,
    /// Its host name.
    pub hostname: String,
    /// `uname -m`.
    pub arch: String,
    /// `/proc/cpuinfo`'s model name (arm64: implementer and part).
    pub cpu_model: String,
    /// `/sys/devices/system/cpu/online`.
    pub cpus_online: String,
    /// `/sys/devices/system/cpu/nohz_full`.
    pub nohz_full: String,
    /// `/sys/devices/system/cpu/isolated`.
    pub isolated: String,
    /// The CPU measured.
    pub measured_cpu: usize,
    /// Whether it is in `isolated`.
    pub measured_cpu_isolated: bool,
    /// Whether it is in `nohz_full`.
    pub measured_cpu_nohz_full: bool,
}
