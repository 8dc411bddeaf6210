//! The machine a run happens on: the QEMU machine we launch ([`MachineSpec`], identical for the
//! bare-metal and Linux runs of one comparison) and the facts every run records ([`Facts`]).

use anyhow::Result;
use serde::Serialize;
use tickscope_core::board::BoardDesc;

pub use tickscope_analysis::facts::{Emulation, Facts, KernelFacts, SnapshotFacts, SystemFacts};

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
