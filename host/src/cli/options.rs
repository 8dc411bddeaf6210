//! Option groups several commands share, so a flag is spelled and means the same everywhere:
//! the machine (`--board --el --gic --smp --cpu`), emulation (`--icount` / `--tcg`), what to
//! measure (`--mode --core --duration ...`), the kernel (`--kernel --kernel-version
//! --attribution`) and the output (`--out --label --json --allow-loss`).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use clap::{Args, ValueEnum};
use tickscope_core::config::{
    Config, Drain, InjectTick, Mode, Reduce, TimerChoice, Transport, cores_in, parse_core_list,
};
use tickscope_core::units::parse_duration;

use crate::guest::linux::{AttributionChoice, KernelSource};
use crate::machine::{BootMethod, MachineSpec};
use crate::pipeline::Output;
use crate::record::Policy;
use crate::{fail, status, workspace};

/// The QEMU machine: the same flags for bare metal and Linux.
#[derive(Args, Debug, Clone)]
pub struct MachineArgs {
    /// Board description (boards/<NAME>.toml).
    #[arg(long, default_value = "qemu-virt")]
    pub board: String,
    /// Exception level to run at: 1 (plain virt) or 2 (virtualization=on).
    #[arg(long, default_value_t = 1)]
    pub el: u8,
    /// Exception level QEMU enters the image at (default: --el). `--entry-el 2 --el 1` tests the
    /// firmware's drop from EL2 to EL1.
    #[arg(long)]
    pub entry_el: Option<u8>,
    /// GIC version: 2 (QEMU's default, at most 8 cores) or 3.
    #[arg(long, default_value_t = 2)]
    pub gic: u8,
    /// Number of cores.
    #[arg(long, default_value_t = 4)]
    pub smp: u16,
    /// QEMU CPU model (default: the board's, cortex-a72).
    #[arg(long)]
    pub cpu: Option<String>,
    /// Deterministic emulation (-icount shift=0,align=off,sleep=off): one instruction per
    /// virtual nanosecond; figures repeat exactly.
    #[arg(long, conflicts_with = "tcg")]
    pub icount: bool,
    /// Plain TCG emulation: virtual time follows the host clock, figures include host noise.
    #[arg(long)]
    pub tcg: bool,
    /// Give up on the guest after this many seconds (default: from the run length).
    #[arg(long)]
    pub timeout: Option<u64>,
    /// Bare metal: the core that runs the boot and the I/O. QEMU starts core 0, which hands the
    /// boot over to this one with PSCI CPU_ON and powers itself off (booting on a core other than
    /// MPIDR 0, as some boards' loaders do).
    #[arg(long)]
    pub boot_core: Option<u16>,
    /// Bare metal: how the image starts. `direct`: QEMU loads it with the MMU off (as U-Boot's
    /// `go`). `uefi`: EDK2 (Debian's qemu-efi-aarch64) starts the UEFI application `tickscope
    /// image --efi` builds from a FAT drive, which places the image and leaves UEFI, as on a
    /// server or an Enzian.
    #[arg(long, value_enum, default_value = "direct")]
    pub boot: BootMethod,
}

impl MachineArgs {
    /// The machine spec, validated; `icount_default` is the command's default emulation.
    pub fn spec(&self, icount_default: bool) -> Result<MachineSpec> {
        let board = workspace::board(&self.board)?;
        let entry = self.entry_el.unwrap_or(self.el);
        if self.el > entry {
            return Err(fail(
                status::CONFIG,
                format!(
                    "--el {} is above the entry level --entry-el {entry}: the firmware can only drop",
                    self.el
                ),
            ));
        }
        let icount = if self.icount {
            true
        } else if self.tcg {
            false
        } else {
            icount_default
        };
        Ok(MachineSpec::new(
            &board,
            entry,
            self.gic,
            self.smp,
            self.cpu.as_deref(),
            icount,
        )?
        .with_boot(self.boot))
    }

    /// The wall-clock limit.
    pub fn timeout(&self) -> Option<Duration> {
        self.timeout.map(Duration::from_secs)
    }
}

/// Measurement modes on the command line.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModeArg {
    /// Timer-interrupt wake-up latency.
    Timer,
    /// Counter-gap noise.
    Noise,
}

impl ModeArg {
    /// The core crate's mode.
    pub fn mode(self) -> Mode {
        match self {
            ModeArg::Timer => Mode::Timer,
            ModeArg::Noise => Mode::Noise,
        }
    }
}

/// Transports on the command line.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportArg {
    /// ARM semihosting (QEMU).
    Semihosting,
    /// The PL011 UART.
    Uart,
}

impl TransportArg {
    /// The core crate's transport.
    pub fn transport(self) -> Transport {
        match self {
            TransportArg::Semihosting => Transport::Semihosting,
            TransportArg::Uart => Transport::Uart,
        }
    }
}

/// Timers on the command line.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimerArg {
    /// Virtual timer at EL1, hyp timer at EL2.
    Auto,
    /// EL1 virtual timer.
    Virt,
    /// EL1 physical timer.
    Phys,
    /// EL2 physical timer.
    Hyp,
}

/// What to measure, on bare metal and Linux alike.
#[derive(Args, Debug, Clone)]
pub struct WindowArgs {
    /// Measurement mode.
    #[arg(long, value_enum, default_value = "noise")]
    pub mode: ModeArg,
    /// Measured core(s), e.g. `3` or `2,3` (default: the last core). On bare metal core 0 does
    /// the I/O; the Linux probe measures one CPU.
    #[arg(long)]
    pub core: Option<String>,
    /// Timer period in `timer` mode (`1ms`, `100us`).
    #[arg(long, default_value = "1ms", value_parser = duration)]
    pub period: u64,
    /// Event threshold: gaps (noise) or latencies (timer) above it are events.
    #[arg(long, default_value = "1us", value_parser = duration)]
    pub threshold: u64,
    /// Bare metal: how often a measured core ships its status so far (and under --icount its
    /// samples), so a run cut short (Ctrl-C, a dead QEMU, a reset board) keeps what it covered;
    /// `0` ships only at the end. Its time is the core's own, reported as blind time.
    #[arg(long, default_value = "1s", value_parser = duration_or_off)]
    pub checkpoint: u64,
}

impl WindowArgs {
    /// The measured cores as a mask (0: the default, the last core).
    pub fn cores(&self) -> Result<u64> {
        match &self.core {
            Some(c) => {
                parse_core_list(c).map_err(|e| fail(status::CONFIG, format!("--core {c}: {e}")))
            }
            None => Ok(0),
        }
    }

    /// The one measured CPU of a Linux run (default: the last of `cpus`).
    pub fn linux_cpu(&self, cpus: u16) -> Result<usize> {
        let list: Vec<u16> = cores_in(self.cores()?).collect();
        match list.as_slice() {
            [] => Ok(cpus.saturating_sub(1) as usize),
            [c] => Ok(*c as usize),
            _ => Err(fail(
                status::CONFIG,
                "the Linux probe measures one CPU at a time: give --core one CPU",
            )),
        }
    }
}

/// The firmware's own settings.
#[derive(Args, Debug, Clone)]
pub struct FirmwareArgs {
    /// Synthetic kernel tick on the measured core: `HZ:DURATION`, e.g. `250:10us`.
    #[arg(long, value_parser = inject)]
    pub inject_tick: Option<InjectTick>,
    /// Timer used by `timer` mode.
    #[arg(long, value_enum, default_value = "auto")]
    pub timer: TimerArg,
    /// Memory/cache load on the other cores during the measurement.
    #[arg(long)]
    pub interference: bool,
    /// How results leave the firmware.
    #[arg(long, value_enum, default_value = "semihosting")]
    pub transport: TransportArg,
    /// Ship histograms instead of raw samples (`auto` decides from the link speed).
    #[arg(long, value_enum, default_value = "auto")]
    pub reduce: ReduceArg,
    /// UART baud rate assumed when deciding whether to reduce.
    #[arg(long, default_value_t = 115_200)]
    pub baud: u32,
    /// When core 0 drains the rings: during the window (`live`) or after (`after`, keeps it in
    /// WFI; the default under --icount).
    #[arg(long, value_enum, default_value = "auto")]
    pub drain: DrainArg,
}

/// Reduction choices.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReduceArg {
    /// Decide from the link speed.
    Auto,
    /// Always raw samples.
    Raw,
    /// Always histograms.
    Histogram,
}

/// Drain choices.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum DrainArg {
    /// `after` under icount, `live` otherwise.
    Auto,
    /// During the window.
    Live,
    /// After the window.
    After,
}

/// Parses a duration with units for clap: the firmware's (`s`, `ms`, `us`, `ns`) and, for long
/// runs and OSADL's intervals, minutes and hours (`5m`, `20min`, `1h`, `1.5h`).
pub fn duration(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (number, scale) = if let Some(n) = t.strip_suffix('h') {
        (n, 3600)
    } else if let Some(n) = t.strip_suffix("min").or_else(|| t.strip_suffix('m')) {
        (n, 60)
    } else {
        return parse_duration(t).map_err(|e| format!("`{s}`: {e}"));
    };
    parse_duration(&format!("{number}s"))
        .map_err(|e| format!("`{s}`: {e}"))?
        .checked_mul(scale)
        .ok_or_else(|| format!("`{s}`: too long"))
}

/// A duration, or `0` / `off` for none.
pub fn duration_or_off(s: &str) -> Result<u64, String> {
    match s {
        "0" | "off" => Ok(0),
        _ => duration(s),
    }
}

fn inject(s: &str) -> Result<InjectTick, String> {
    InjectTick::parse(s).map_err(|e| format!("`{s}`: {e}"))
}

/// The firmware configuration for these settings on `machine`.
pub fn firmware_config(
    machine: &MachineArgs,
    spec: &MachineSpec,
    w: &WindowArgs,
    duration_ns: u64,
    f: &FirmwareArgs,
) -> Result<Config> {
    Ok(Config {
        mode: w.mode.mode(),
        el: machine.el,
        smp: machine.smp,
        gic: machine.gic,
        cores: w.cores()?,
        duration_ns,
        period_ns: w.period,
        threshold_ns: w.threshold,
        inject: f.inject_tick,
        timer: match f.timer {
            TimerArg::Auto => TimerChoice::Auto,
            TimerArg::Virt => TimerChoice::Virtual,
            TimerArg::Phys => TimerChoice::Physical,
            TimerArg::Hyp => TimerChoice::Hyp,
        },
        transport: f.transport.transport(),
        fault: Default::default(),
        interference: f.interference,
        drain: match f.drain {
            DrainArg::Auto => Drain::Auto,
            DrainArg::Live => Drain::Live,
            DrainArg::After => Drain::After,
        },
        reduce: match f.reduce {
            ReduceArg::Auto => Reduce::Auto,
            ReduceArg::Raw => Reduce::Raw,
            ReduceArg::Histogram => Reduce::Histogram,
        },
        baud: f.baud,
        icount: spec.icount,
        boot_core: machine.boot_core,
        checkpoint_ns: w.checkpoint,
    })
}

/// The kernel and how the probe attributes noise.
#[derive(Args, Debug, Clone)]
pub struct KernelArgs {
    /// An arm64 kernel Image (default: Debian's, fetched with apt into tickscope's cache).
    #[arg(long)]
    pub kernel: Option<PathBuf>,
    /// Pin the fetched kernel to this release, e.g. `6.1.0-56` (default: the cached one, else
    /// the archive's current).
    #[arg(long, conflicts_with = "kernel")]
    pub kernel_version: Option<String>,
    /// How the probe attributes noise to its causes.
    #[arg(long, value_enum, default_value = "auto")]
    pub attribution: AttributionChoice,
    /// Time the probe waits after boot before measuring (boot activity settles).
    #[arg(long, default_value = "1s", value_parser = duration)]
    pub settle: u64,
    /// SCHED_FIFO priority of the probe and the peers, 1..99 (default: 99 in timer mode, as
    /// cyclictest; 90 in noise mode).
    #[arg(long)]
    pub priority: Option<i32>,
    /// After the probe, run rt-tests' oslat and cyclictest (Debian's arm64 package, fetched with
    /// apt) on the same CPU for the same duration, and report them beside it.
    #[arg(long)]
    pub peers: bool,
}

impl KernelArgs {
    /// Where the kernel comes from.
    pub fn source(&self) -> KernelSource {
        match &self.kernel {
            Some(p) => KernelSource::Path(p.clone()),
            None => KernelSource::Debian {
                version: self.kernel_version.clone(),
            },
        }
    }
}

/// Output options.
#[derive(Args, Debug, Clone)]
pub struct OutArgs {
    /// Run directory (default: results/runs/<time>-<label>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Label of the run in reports.
    #[arg(long)]
    pub label: Option<String>,
    /// Print one JSON object on stdout instead of tables.
    #[arg(long)]
    pub json: bool,
    /// Print every column of the table (as report.md has them) instead of the headline
    /// columns within 120 characters.
    #[arg(long)]
    pub wide: bool,
    /// Accept lost frames or samples (exit 0 anyway, still reported).
    #[arg(long)]
    pub allow_loss: bool,
    /// Replace the run already in `--out` (without it, a directory holding a run is refused).
    #[arg(long)]
    pub force: bool,
    /// Explain each core's worst events on the terminal: their pieces in time order (what ran,
    /// of which kind, for how long, what share), as `rtla timerlat --aa` does.
    #[arg(long)]
    pub explain: bool,
}

impl OutArgs {
    /// The pipeline's output settings with `label` as the default label.
    pub fn output(&self, default_label: &str) -> Output {
        Output {
            label: self
                .label
                .clone()
                .unwrap_or_else(|| default_label.to_string()),
            out: self.out.clone(),
            policy: Policy {
                allow_loss: self.allow_loss,
                ..Policy::default()
            },
            plots: true,
            replace: self.force,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::duration;

    #[test]
    fn durations_take_minutes_and_hours_for_long_runs() {
        assert_eq!(duration("1h"), Ok(3_600_000_000_000));
        assert_eq!(duration("1.5h"), Ok(5_400_000_000_000));
        assert_eq!(duration("5m"), Ok(300_000_000_000));
        assert_eq!(duration("20min"), Ok(1_200_000_000_000));
        assert_eq!(duration("250ms"), Ok(250_000_000));
        assert_eq!(duration("2s"), Ok(2_000_000_000));
        assert!(duration("1d").unwrap_err().contains("`1d`"));
        assert!(duration("9000000000h").unwrap_err().contains("too long"));
    }
}
