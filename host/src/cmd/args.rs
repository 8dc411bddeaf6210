//! Option groups shared by subcommands: the emulated machine and the measurement settings.

use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, ValueEnum};
use tickscope_core::config::{
    Config, Drain, InjectTick, Mode, Reduce, TimerChoice, Transport, parse_core_list,
};
use tickscope_core::units::parse_duration;

use crate::qemu::MachineSpec;
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
    /// virtual nanosecond; figures repeat exactly. Without it, timing is host noise (`tcg`).
    #[arg(long)]
    pub icount: bool,
    /// Give up on the guest after this many seconds (default: from the run length).
    #[arg(long)]
    pub timeout: Option<u64>,
}

impl MachineArgs {
    /// The machine spec, validated.
    pub fn spec(&self) -> Result<MachineSpec> {
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
        MachineSpec::new(
            &board,
            entry,
            self.gic,
            self.smp,
            self.cpu.as_deref(),
            self.icount,
        )
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

/// Transports on the command line.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportArg {
    /// ARM semihosting (QEMU).
    Semihosting,
    /// The PL011 UART.
    Uart,
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

/// What to measure.
#[derive(Args, Debug, Clone)]
pub struct MeasureArgs {
    /// Measurement mode.
    #[arg(long, value_enum, default_value = "noise")]
    pub mode: ModeArg,
    /// Measured core(s), e.g. `3` or `2,3` (default: the last core). Core 0 does the I/O.
    #[arg(long)]
    pub core: Option<String>,
    /// Measurement window (`2s`, `500ms`).
    #[arg(long, default_value = "1s", value_parser = duration)]
    pub duration: u64,
    /// Timer period in `timer` mode (`1ms`, `100us`).
    #[arg(long, default_value = "1ms", value_parser = duration)]
    pub period: u64,
    /// Event threshold: gaps (noise) or latencies (timer) above it are events.
    #[arg(long, default_value = "1us", value_parser = duration)]
    pub threshold: u64,
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

/// Parses a duration with units for clap.
pub fn duration(s: &str) -> Result<u64, String> {
    parse_duration(s).map_err(|e| format!("`{s}`: {e}"))
}

fn inject(s: &str) -> Result<InjectTick, String> {
    InjectTick::parse(s).map_err(|e| format!("`{s}`: {e}"))
}

impl MeasureArgs {
    /// The firmware configuration for these settings on `machine`.
    pub fn config(&self, machine: &MachineArgs) -> Result<Config> {
        let cores = match &self.core {
            Some(c) => {
                parse_core_list(c).map_err(|e| fail(status::CONFIG, format!("--core {c}: {e}")))?
            }
            None => 0,
        };
        Ok(Config {
            mode: match self.mode {
                ModeArg::Timer => Mode::Timer,
                ModeArg::Noise => Mode::Noise,
            },
            el: machine.el,
            smp: machine.smp,
            gic: machine.gic,
            cores,
            duration_ns: self.duration,
            period_ns: self.period,
            threshold_ns: self.threshold,
            inject: self.inject_tick,
            timer: match self.timer {
                TimerArg::Auto => TimerChoice::Auto,
                TimerArg::Virt => TimerChoice::Virtual,
                TimerArg::Phys => TimerChoice::Physical,
                TimerArg::Hyp => TimerChoice::Hyp,
            },
            transport: match self.transport {
                TransportArg::Semihosting => Transport::Semihosting,
                TransportArg::Uart => Transport::Uart,
            },
            fault: Default::default(),
            interference: self.interference,
            drain: match self.drain {
                DrainArg::Auto => Drain::Auto,
                DrainArg::Live => Drain::Live,
                DrainArg::After => Drain::After,
            },
            reduce: match self.reduce {
                ReduceArg::Auto => Reduce::Auto,
                ReduceArg::Raw => Reduce::Raw,
                ReduceArg::Histogram => Reduce::Histogram,
            },
            baud: self.baud,
            icount: machine.icount,
        })
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
    /// Accept lost frames or samples (exit 0 anyway, still reported).
    #[arg(long)]
    pub allow_loss: bool,
}
