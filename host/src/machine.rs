//! The machine a run happens on: the QEMU machine we launch ([`MachineSpec`], identical for the
//! bare-metal and Linux runs of one comparison) and the facts every run records ([`Facts`]).

use anyhow::Result;
use serde::{Deserialize, Serialize};
use tickscope_core::board::BoardDesc;

use crate::{fail, status};

/// The emulated machine, identical for bare-metal and Linux runs of one comparison.
#[derive(Debug, Clone, Serialize)]
pub struct MachineSpec {
    /// Board description name (must have a `[qemu]` section).
    pub board: String,
    /// `-M` machine type.
    pub machine: String,
    /// EL the guest is entered at: 2 adds `virtualization=on`.
    pub entry_el: u8,
    /// GIC version (2 or 3).
    pub gic: u8,
    /// Cores.
    pub smp: u16,
    /// `-cpu` model.
    pub cpu: String,
    /// Deterministic `-icount shift=0,align=off,sleep=off`.
    pub icount: bool,
    /// RAM in MiB.
    pub memory_mib: u32,
    /// How the image starts: QEMU's direct kernel load, or UEFI firmware starting a loader.
    pub boot: BootMethod,
}

/// How a bare-metal image is started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum BootMethod {
    /// QEMU loads the ELF and enters it with the MMU off (`-kernel`), as U-Boot's `go` would.
    #[default]
    Direct,
    /// UEFI firmware (EDK2 for QEMU `virt`) starts `tickscope-efi` from a FAT drive as
    /// `EFI/BOOT/BOOTAA64.EFI`; the loader places the image and leaves UEFI, as on a server.
    Uefi,
}

impl BootMethod {
    /// `direct` or `uefi`, as run.json records it.
    pub fn name(self) -> &'static str {
        match self {
            BootMethod::Direct => "direct",
            BootMethod::Uefi => "uefi",
        }
    }
}

/// The icount setting: one instruction per virtual nanosecond, no sleeping, no host alignment.
pub const ICOUNT: &str = "shift=0,align=off,sleep=off";

impl MachineSpec {
    /// A spec for `board` (which must be emulated by QEMU).
    pub fn new(
        board: &BoardDesc,
        entry_el: u8,
        gic: u8,
        smp: u16,
        cpu: Option<&str>,
        icount: bool,
    ) -> Result<Self> {
        let q = board.qemu.as_ref().ok_or_else(|| {
            fail(
                status::CONFIG,
                format!(
                    "board {} is not emulated by QEMU; use `tickscope capture` with the real board",
                    board.name
                ),
            )
        })?;
        if !matches!(entry_el, 1 | 2) {
            return Err(fail(
                status::CONFIG,
                format!("--el must be 1 or 2, not {entry_el}"),
            ));
        }
        if !matches!(gic, 2 | 3) {
            return Err(fail(
                status::CONFIG,
                format!("--gic must be 2 or 3, not {gic}"),
            ));
        }
        if gic == 2 && smp > 8 {
            return Err(fail(
                status::CONFIG,
                format!("GICv2 supports at most 8 cores (--smp {smp}); use --gic 3"),
            ));
        }
        let max = board.mpidrs().len();
        if smp == 0 || smp as usize > max {
            return Err(fail(
                status::CONFIG,
                format!("--smp must be 1..={max} for board {}", board.name),
            ));
        }
        Ok(MachineSpec {
            board: board.name.clone(),
            machine: q.machine.clone(),
            entry_el,
            gic,
            smp,
            cpu: cpu.unwrap_or(&q.cpu).to_string(),
            icount,
            memory_mib: q.memory_mib,
            boot: BootMethod::Direct,
        })
    }

    /// The same machine started another way.
    pub fn with_boot(mut self, boot: BootMethod) -> Self {
        self.boot = boot;
        self
    }

    /// `icount` or `tcg`: the label every figure produced on this machine carries.
    pub fn emulation(&self) -> Emulation {
        if self.icount {
            Emulation::Icount
        } else {
            Emulation::Tcg
        }
    }

    /// The `-M` argument.
    pub fn machine_arg(&self) -> String {
        let mut m = format!("{},gic-version={}", self.machine, self.gic);
        if self.entry_el == 2 {
            m.push_str(",virtualization=on");
        }
        m
    }

    /// Machine arguments (no kernel, no I/O).
    pub fn args(&self) -> Vec<String> {
        let mut a = vec![
            "-M".into(),
            self.machine_arg(),
            "-cpu".into(),
            self.cpu.clone(),
            "-smp".into(),
            self.smp.to_string(),
            "-m".into(),
            format!("{}M", self.memory_mib),
            "-nodefaults".into(),
            "-display".into(),
            "none".into(),
        ];
        if self.icount {
            a.push("-icount".into());
            a.push(ICOUNT.into());
            // Nothing of the host may reach the guest, or its runs are not repeatable: QEMU
            // otherwise puts host-random KASLR and RNG seeds in virt's device tree and gives the
            // RTC the host's wall clock.
            a.extend(DETERMINISTIC.iter().map(|s| s.to_string()));
        }
        a
    }
}

/// The QEMU options that keep an icount run independent of the host: a fixed seed for the
/// guest-visible randomness (device-tree `kaslr-seed` and `rng-seed`) and an RTC that starts at a
/// fixed date and follows virtual time.
pub const DETERMINISTIC: [&str; 4] = ["-seed", "1", "-rtc", "base=2026-01-01T00:00:00,clock=vm"];

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
