//! Run configuration: what to measure, where, and how to ship it. One struct, written by the host
//! as `key=value` tokens (QEMU semihosting command line) or as a wire frame, parsed by the firmware.
//!
//! [`Config::validate`] is the single set of rules; the host runs it before booting and the
//! firmware runs it again on what it received, so bad input is refused with the same words.

use core::fmt;
use serde::{Deserialize, Serialize};

use crate::text::Line;
use crate::units::{Ns, UnitError, parse_duration, split_at_byte};

/// Most cores a run can address (bitmask width).
pub const MAX_CORES: usize = 64;
/// Shortest measurement window accepted.
pub const MIN_DURATION_NS: u64 = 1_000_000;
/// Longest measurement window accepted (per-second statistics are kept for this long).
pub const MAX_DURATION_NS: u64 = 3_600_000_000_000;
/// Shortest timer period accepted regardless of counter resolution: below this the interrupt
/// entry/exit floor dominates and the run measures overrun, not latency.
pub const MIN_PERIOD_NS: u64 = 5_000;
/// Highest injected tick rate accepted.
pub const MAX_INJECT_HZ: u32 = 100_000;

/// What the firmware (or probe) does after boot.
#[cfg_attr(feature = "bake", derive(databake::Bake), databake(path = tickscope_core::config))]
#[derive(
    Serialize,
    Deserialize,
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    strum::IntoStaticStr,
    strum::EnumString,
    strum::VariantArray,
)]
#[strum(serialize_all = "lowercase")]
pub enum Mode {
    /// Bring up every core, check NEON, report, exit.
    #[default]
    Boot,
    /// Timer-interrupt wake-up latency (cyclictest / timerlat style).
    Timer,
    /// Counter-gap noise (oslat / osnoise style).
    Noise,
}

impl Mode {
    /// The name used on the command line and in JSON.
    pub fn name(self) -> &'static str {
        self.into()
    }
}

/// Which generic timer drives the measurement in `timer` mode.
#[cfg_attr(feature = "bake", derive(databake::Bake), databake(path = tickscope_core::config))]
#[derive(
    Serialize,
    Deserialize,
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    strum::IntoStaticStr,
    strum::EnumString,
    strum::VariantArray,
)]
pub enum TimerChoice {
    /// EL1 virtual timer at EL1, EL2 physical (hyp) timer at EL2.
    #[default]
    #[strum(serialize = "auto")]
    Auto,
    /// EL1 virtual timer (CNTV, PPI 11).
    #[strum(serialize = "virt")]
    Virtual,
    /// EL1 physical timer (CNTP, PPI 14).
    #[strum(serialize = "phys")]
    Physical,
    /// EL2 physical timer (CNTHP, PPI 10); only at EL2.
    #[strum(serialize = "hyp")]
    Hyp,
}

impl TimerChoice {
    /// The name used on the command line and in JSON.
    pub fn name(self) -> &'static str {
        self.into()
    }
}

/// How results leave the firmware.
#[derive(
    Serialize,
    Deserialize,
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    strum::IntoStaticStr,
    strum::EnumString,
    strum::VariantArray,
)]
#[cfg_attr(feature = "bake", derive(databake::Bake), databake(path = tickscope_core::config))]
#[strum(serialize_all = "lowercase")]
pub enum Transport {
    /// ARM semihosting: console on the debugger's stdout, wire frames into a host file.
    #[default]
    Semihosting,
    /// PL011 UART: console text and wire frames on the same line.
    Uart,
}

impl Transport {
    /// The name used on the command line and in JSON.
    pub fn name(self) -> &'static str {
        self.into()
    }
}

/// A fault to trigger on purpose, so tests prove the fault reports work.
#[cfg_attr(feature = "bake", derive(databake::Bake), databake(path = tickscope_core::config))]
#[derive(
    Serialize,
    Deserialize,
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    strum::IntoStaticStr,
    strum::EnumString,
    strum::VariantArray,
)]
#[strum(serialize_all = "kebab-case")]
pub enum FaultKind {
    /// No fault.
    #[default]
    None,
    /// Execute an undefined instruction.
    Undef,
    /// Load from an unmapped address.
    DataAbort,
    /// Call `panic!`.
    Panic,
    /// Raise an interrupt nobody registered a handler for (an SGI).
    UnclaimedIrq,
    /// Recurse until the thread stack runs into its guard page.
    StackOverflow,
    /// Execute HVC at EL1 after the drop from EL2: a trap to EL2 that the firmware's EL2 vectors
    /// must report (entered at EL2, running at EL1 only).
    Hvc,
    /// Not a fault: act as a hypervisor that keeps the PMU (MDCR_EL2.TPM set before the drop from
    /// EL2 to EL1), so the run must notice and go on without cycle timestamps.
    PmuTrap,
}

impl FaultKind {
    /// The name used on the command line and in JSON.
    pub fn name(self) -> &'static str {
        self.into()
    }
}

/// When the housekeeping core drains the measured cores' rings.
#[cfg_attr(feature = "bake", derive(databake::Bake), databake(path = tickscope_core::config))]
#[derive(
    Serialize,
    Deserialize,
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    strum::IntoStaticStr,
    strum::EnumString,
    strum::VariantArray,
)]
#[strum(serialize_all = "lowercase")]
pub enum Drain {
    /// `after` under icount (where another core's instructions show up as gaps on the measured
    /// one), `live` otherwise.
    #[default]
    Auto,
    /// Core 0 drains while the measurement runs.
    Live,
    /// Core 0 sleeps (WFI) during the window and drains afterwards; ring overflow counts as lost.
    After,
}

impl Drain {
    /// The name used on the command line and in JSON.
    pub fn name(self) -> &'static str {
        self.into()
    }
}

/// Raw samples, or histograms and worst-N when the link is too slow for raw samples.
#[cfg_attr(feature = "bake", derive(databake::Bake), databake(path = tickscope_core::config))]
#[derive(
    Serialize,
    Deserialize,
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    strum::IntoStaticStr,
    strum::EnumString,
    strum::VariantArray,
)]
#[strum(serialize_all = "lowercase")]
pub enum Reduce {
    /// Decide from the transport's throughput and the expected sample rate.
    #[default]
    Auto,
    /// Always ship every sample.
    Raw,
    /// Always ship histograms, worst-N and per-second counts.
    Histogram,
}

impl Reduce {
    /// The name used on the command line and in JSON.
    pub fn name(self) -> &'static str {
        self.into()
    }
}

/// A synthetic kernel tick: a timer interrupt at `hz` whose handler busies the core for
/// `duration_ns`. The known answer every measurement is validated against.
#[cfg_attr(feature = "bake", derive(databake::Bake), databake(path = tickscope_core::config))]
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct InjectTick {
    /// Interrupts per second.
    pub hz: u32,
    /// Time the handler keeps the core busy.
    pub duration_ns: u64,
}

impl InjectTick {
    /// Parses `HZ:DURATION`, e.g. `250:10us`.
    pub fn parse(text: &str) -> Result<Self, Problem> {
        let (hz, dur) = split_at_byte(text, b':').ok_or(Problem::InjectSyntax)?;
        let hz: u32 = hz.trim_ascii().parse().map_err(|_| Problem::InjectSyntax)?;
        let duration_ns = parse_duration(dur).map_err(Problem::Unit)?;
        Ok(InjectTick { hz, duration_ns })
    }

    /// Tick period in nanoseconds.
    pub fn period_ns(&self) -> u64 {
        1_000_000_000 / self.hz.max(1) as u64
    }
}

impl fmt::Display for InjectTick {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.hz, Ns(self.duration_ns))
    }
}

/// The complete run configuration.
#[cfg_attr(feature = "bake", derive(databake::Bake), databake(path = tickscope_core::config))]
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// What to do.
    pub mode: Mode,
    /// Exception level to run at: 0 = stay where we booted, 1 or 2.
    pub el: u8,
    /// Cores to bring online (0 = every core in the board description).
    pub smp: u16,
    /// Expected GIC version (0 = detect from the distributor's ID registers).
    pub gic: u8,
    /// Bitmask of measured cores (0 = the last online core).
    pub cores: u64,
    /// Measurement window.
    pub duration_ns: u64,
    /// Timer period (`timer` mode).
    pub period_ns: u64,
    /// Event threshold: gaps or latencies above it are events.
    pub threshold_ns: u64,
    /// Optional injected tick on every measured core.
    pub inject: Option<InjectTick>,
    /// Timer used by `timer` mode.
    pub timer: TimerChoice,
    /// Output path.
    pub transport: Transport,
    /// Fault to trigger on purpose.
    pub fault: FaultKind,
    /// Memory/cache load on the non-measured, non-housekeeping cores.
    pub interference: bool,
    /// Ring draining policy.
    pub drain: Drain,
    /// Whether to ship raw samples or reductions.
    pub reduce: Reduce,
    /// UART baud rate (for the throughput estimate that picks `reduce`).
    pub baud: u32,
    /// Set by the runner when QEMU runs with `-icount` (the firmware cannot detect it).
    pub icount: bool,
    /// Logical index of the core that runs the boot and the I/O; `None`: the core the loader
    /// started (core 0 under QEMU). When the loader started another one, the firmware hands the
    /// boot over with PSCI CPU_ON and powers itself off (how tests boot on a core other than
    /// MPIDR 0).
    pub boot_core: Option<u16>,
    /// How often a measured core ships its status (and, when nothing drains during the window,
    /// its samples) so a run cut short keeps what it covered; 0 = only at the end.
    pub checkpoint_ns: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            mode: Mode::Boot,
            el: 0,
            smp: 0,
            gic: 0,
            cores: 0,
            duration_ns: 1_000_000_000,
            period_ns: 1_000_000,
            threshold_ns: 1_000,
            inject: None,
            timer: TimerChoice::Auto,
            transport: Transport::Semihosting,
            fault: FaultKind::None,
            interference: false,
            drain: Drain::Auto,
            reduce: Reduce::Auto,
            baud: 115_200,
            icount: false,
            boot_core: None,
            checkpoint_ns: 1_000_000_000,
        }
    }
}

/// What is wrong with a configuration. Serialized in [`crate::refusal::Refusal`]: the firmware
/// ships it and the host words it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Problem {
    /// A token is not `key=value`.
    NotKeyValue,
    /// Unknown key.
    UnknownKey,
    /// Unknown value for an enumerated key.
    UnknownValue,
    /// A number did not parse.
    BadNumber,
    /// A duration did not parse.
    Unit(UnitError),
    /// `--inject-tick` is not `HZ:DURATION`.
    InjectSyntax,
    /// Measured core index not below the number of online cores.
    CoreOutOfRange {
        /// Requested core.
        core: u16,
        /// Cores online.
        online: u16,
    },
    /// The boot core does the I/O and cannot also be measured when other cores exist.
    Housekeeping {
        /// The boot core.
        core: u16,
    },
    /// The boot core is not one of the cores brought online.
    BootCoreOutOfRange {
        /// Requested boot core.
        core: u16,
        /// Cores online.
        online: u16,
    },
    /// Measurement window too short or too long.
    DurationOutOfRange,
    /// Timer period shorter than the counter or interrupt resolution allows.
    PeriodBelowResolution {
        /// Requested period.
        period_ns: u64,
        /// Shortest accepted period.
        min_ns: u64,
    },
    /// Threshold shorter than one counter tick.
    ThresholdBelowResolution {
        /// Requested threshold.
        threshold_ns: u64,
        /// One counter tick.
        tick_ns: u64,
    },
    /// Injected tick rate zero or too high.
    InjectRate,
    /// Injected tick handler as long as its own period.
    InjectTooLong,
    /// EL2 requested but the core booted at EL1.
    El2Unavailable,
    /// EL not 0, 1 or 2.
    BadEl,
    /// GIC version not 0, 2 or 3.
    BadGic,
    /// The hyp timer exists only at EL2.
    HypTimerAtEl1,
    /// More cores than the board or the bitmask allows.
    TooManyCores,
    /// The firmware's command line is not the binary form (`cfg=HEX`, see `config_bytes`): a
    /// text setting, another layout version, or damaged hex.
    NotBinary,
}

impl Problem {
    /// Appends what is wrong, in words. The firmware words nothing: it ships the problem in a
    /// `Refused` frame ([`crate::refusal::Refusal`]) and the host calls this.
    pub fn describe(&self, l: &mut Line) {
        if !self.describe_checks(l) {
            self.describe_syntax(l);
        }
    }

    /// Appends the words of a text-parser problem (`Config::parse`, `Config::set`).
    fn describe_syntax(&self, l: &mut Line) {
        match *self {
            Problem::NotKeyValue => l.s("expected key=value"),
            Problem::UnknownKey => l.s("unknown setting"),
            Problem::BadNumber => l.s("not a number"),
            Problem::Unit(e) => l.s(e.message()),
            Problem::InjectSyntax => l.s("expected HZ:DURATION, e.g. 250:10us"),
            _ => l,
        };
    }

    /// Appends the words of a problem the checks of a binary configuration find
    /// ([`Config::from_bytes`], [`Config::validate`]); `false` (nothing appended) for a
    /// text-parser problem.
    pub fn describe_checks(&self, l: &mut Line) -> bool {
        match *self {
            Problem::NotKeyValue
            | Problem::UnknownKey
            | Problem::BadNumber
            | Problem::Unit(_)
            | Problem::InjectSyntax => return false,
            Problem::UnknownValue => l.s("unknown value"),
            Problem::CoreOutOfRange { core, online } => l
                .s("core ")
                .u(core.into())
                .s(" does not exist: ")
                .u(online.into())
                .s(" core(s) online, valid cores are 0..")
                .u(online.saturating_sub(1).into()),
            Problem::Housekeeping { core } => l.s("core ").u(core.into()).s(
                " does the I/O and cannot be measured when other cores are online",
            ),
            Problem::BootCoreOutOfRange { core, online } => l
                .s("boot core ")
                .u(core.into())
                .s(" is not among the ")
                .u(online.into())
                .s(" core(s) brought online"),
            Problem::DurationOutOfRange => l
                .s("duration must be between ")
                .ns(MIN_DURATION_NS)
                .s(" and ")
                .ns(MAX_DURATION_NS),
            Problem::PeriodBelowResolution { period_ns, min_ns } => l
                .s("period ")
                .ns(period_ns)
                .s(" is below the resolution of this run (at least ")
                .ns(min_ns)
                .s(" needed)"),
            Problem::ThresholdBelowResolution {
                threshold_ns,
                tick_ns,
            } => l
                .s("threshold ")
                .ns(threshold_ns)
                .s(" is below one counter tick (")
                .ns(tick_ns)
                .s(")"),
            Problem::InjectRate => l
                .s("injected tick rate must be 1..=")
                .u(MAX_INJECT_HZ.into())
                .s(" Hz"),
            Problem::InjectTooLong => l.s("injected tick duration must be shorter than its period"),
            Problem::El2Unavailable => l.s(
                "EL2 requested but the core booted at EL1 (QEMU: add virtualization=on, i.e. --el 2)",
            ),
            Problem::BadEl => l.s("exception level must be 1 or 2"),
            Problem::BadGic => l.s("GIC version must be 2 or 3"),
            Problem::HypTimerAtEl1 => l.s("the hyp timer exists only at EL2"),
            Problem::TooManyCores => l.s("at most ").u(MAX_CORES as u64).s(" cores"),
            Problem::NotBinary => l.s(
                "not this firmware's configuration form (cfg=HEX, as `tickscope config` writes it)",
            ),
        };
        true
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut l = Line::new();
        self.describe(&mut l);
        f.write_str(l.as_str())
    }
}

/// A rejected configuration token: which token, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConfigError<'a> {
    /// The offending token (or setting name, for validation errors).
    pub token: &'a str,
    /// What is wrong with it.
    pub problem: Problem,
}

impl ConfigError<'_> {
    /// Appends the error in words: ``invalid configuration `TOKEN`: PROBLEM``.
    pub fn describe(&self, l: &mut Line) {
        self.problem
            .describe(l.s("invalid configuration `").s(self.token).s("`: "));
    }
}

impl fmt::Display for ConfigError<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut l = Line::new();
        self.describe(&mut l);
        f.write_str(l.as_str())
    }
}

/// Facts about the machine a configuration is checked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Platform {
    /// Cores that will be (or are) online.
    pub cores_online: u16,
    /// Counter frequency, when known (the firmware knows; the host may not before booting).
    pub counter_hz: Option<u64>,
    /// Exception level the image is entered at, when known.
    pub boot_el: Option<u8>,
}

fn parse_bool(v: &str) -> Result<bool, Problem> {
    match v {
        "on" | "true" | "1" | "yes" => Ok(true),
        "off" | "false" | "0" | "no" => Ok(false),
        _ => Err(Problem::UnknownValue),
    }
}

/// A value of an enumerated setting, by the name its `strum` derive gives it.
fn enumerated<T: core::str::FromStr>(v: &str) -> Result<T, Problem> {
    v.parse().map_err(|_| Problem::UnknownValue)
}

fn parse_u64(v: &str) -> Result<u64, Problem> {
    v.parse().map_err(|_| Problem::BadNumber)
}

/// Parses a core list `3` or `2,3,7` into a bitmask.
pub fn parse_core_list(v: &str) -> Result<u64, Problem> {
    let mut mask = 0u64;
    let mut rest = Some(v);
    while let Some(list) = rest {
        let (part, more) = match split_at_byte(list, b',') {
            Some((part, more)) => (part, Some(more)),
            None => (list, None),
        };
        let core = parse_u64(part.trim_ascii())?;
        if core as usize >= MAX_CORES {
            return Err(Problem::TooManyCores);
        }
        mask |= 1 << core;
        rest = more;
    }
    Ok(mask)
}

/// Iterates over the set bits of a core mask, lowest first.
pub fn cores_in(mask: u64) -> impl Iterator<Item = u16> {
    (0..MAX_CORES as u16).filter(move |c| mask & (1u64 << c) != 0)
}

impl Config {
    /// Parses whitespace-separated `key=value` tokens over the defaults. A leading program name
    /// (any token without `=`, as QEMU's semihosting `arg=` list starts with) is skipped.
    pub fn parse(text: &str) -> Result<Config, ConfigError<'_>> {
        let mut cfg = Config::default();
        for (i, token) in text.split_ascii_whitespace().enumerate() {
            let err = |problem| ConfigError { token, problem };
            let Some((key, value)) = split_at_byte(token, b'=') else {
                if i == 0 {
                    continue;
                }
                return Err(err(Problem::NotKeyValue));
            };
            cfg.set(key, value).map_err(err)?;
        }
        Ok(cfg)
    }

    /// Sets one setting from its textual value.
    pub fn set(&mut self, key: &str, v: &str) -> Result<(), Problem> {
        match key {
            "mode" => self.mode = enumerated(v)?,
            "el" => self.el = parse_u64(v)?.try_into().map_err(|_| Problem::BadEl)?,
            "smp" => {
                self.smp = parse_u64(v)?
                    .try_into()
                    .map_err(|_| Problem::TooManyCores)?
            }
            "gic" => self.gic = parse_u64(v)?.try_into().map_err(|_| Problem::BadGic)?,
            "cores" => self.cores = parse_core_list(v)?,
            "duration" => self.duration_ns = parse_duration(v).map_err(Problem::Unit)?,
            "period" => self.period_ns = parse_duration(v).map_err(Problem::Unit)?,
            "threshold" => self.threshold_ns = parse_duration(v).map_err(Problem::Unit)?,
            "inject" => {
                self.inject = if v == "none" {
                    None
                } else {
                    Some(InjectTick::parse(v)?)
                }
            }
            "timer" => self.timer = enumerated(v)?,
            "transport" => self.transport = enumerated(v)?,
            "fault" => self.fault = enumerated(v)?,
            "interference" => self.interference = parse_bool(v)?,
            "drain" => self.drain = enumerated(v)?,
            "reduce" => self.reduce = enumerated(v)?,
            "baud" => self.baud = parse_u64(v)?.try_into().map_err(|_| Problem::BadNumber)?,
            "icount" => self.icount = parse_bool(v)?,
            "checkpoint" => {
                self.checkpoint_ns = match v {
                    "0" | "off" => 0,
                    _ => parse_duration(v).map_err(Problem::Unit)?,
                }
            }
            "boot-core" => {
                self.boot_core = Some(
                    parse_u64(v)?
                        .try_into()
                        .map_err(|_| Problem::TooManyCores)?,
                )
            }
            _ => return Err(Problem::UnknownKey),
        }
        Ok(())
    }

    /// The measured cores for `online` cores: the configured mask, or by default the last core
    /// that is not the boot core.
    pub fn measured_cores(&self, online: u16) -> u64 {
        if self.cores != 0 {
            return self.cores;
        }
        let last = online.saturating_sub(1);
        if last == self.housekeeping() && last > 0 {
            1u64 << (last - 1)
        } else {
            1u64 << last
        }
    }

    /// The core that does the boot and the I/O (0 when the configuration leaves it to the loader:
    /// QEMU starts core 0).
    pub fn housekeeping(&self) -> u16 {
        self.boot_core.unwrap_or(0)
    }

    /// Whether the housekeeping core drains while the measurement runs.
    pub fn drains_live(&self) -> bool {
        match self.drain {
            Drain::Live => true,
            Drain::After => false,
            Drain::Auto => !self.icount,
        }
    }

    /// Checks the configuration against the machine. Returns the first problem found.
    pub fn validate(&self, platform: &Platform) -> Result<(), ConfigError<'static>> {
        self.check_machine(platform)?;
        if self.mode == Mode::Boot {
            return Ok(());
        }
        self.check_cores(platform.cores_online)?;
        self.check_timing(platform.counter_hz)
    }

    /// The exception level, GIC, timer, core count and boot core against the machine.
    fn check_machine(&self, platform: &Platform) -> Result<(), ConfigError<'static>> {
        let err = |token, problem| Err(ConfigError { token, problem });
        if self.el > 2 {
            return err("el", Problem::BadEl);
        }
        if !matches!(self.gic, 0 | 2 | 3) {
            return err("gic", Problem::BadGic);
        }
        if self.el == 2 && platform.boot_el == Some(1) {
            return err("el", Problem::El2Unavailable);
        }
        let final_el = if self.el == 0 {
            platform.boot_el
        } else {
            Some(self.el)
        };
        if self.timer == TimerChoice::Hyp && final_el == Some(1) {
            return err("timer", Problem::HypTimerAtEl1);
        }
        let online = platform.cores_online;
        if online as usize > MAX_CORES {
            return err("smp", Problem::TooManyCores);
        }
        if self.housekeeping() >= online.max(1) {
            let (core, online) = (self.housekeeping(), online);
            return err("boot-core", Problem::BootCoreOutOfRange { core, online });
        }
        Ok(())
    }

    /// Every measured core exists and is not the boot core (when it has company).
    fn check_cores(&self, online: u16) -> Result<(), ConfigError<'static>> {
        let err = |problem| {
            Err(ConfigError {
                token: "cores",
                problem,
            })
        };
        for core in cores_in(self.measured_cores(online)) {
            if core >= online {
                return err(Problem::CoreOutOfRange { core, online });
            }
            if core == self.housekeeping() && online > 1 {
                return err(Problem::Housekeeping { core });
            }
        }
        Ok(())
    }

    /// The window, timer period, threshold and injected tick against the counter's resolution.
    fn check_timing(&self, counter_hz: Option<u64>) -> Result<(), ConfigError<'static>> {
        let err = |token, problem| Err(ConfigError { token, problem });
        if !(MIN_DURATION_NS..=MAX_DURATION_NS).contains(&self.duration_ns) {
            return err("duration", Problem::DurationOutOfRange);
        }
        let tick_ns = counter_hz.map(|hz| 1_000_000_000u64.div_ceil(hz.max(1)));
        if self.mode == Mode::Timer {
            let min_ns = MIN_PERIOD_NS.max(tick_ns.unwrap_or(0) * 2);
            if self.period_ns < min_ns {
                let period_ns = self.period_ns;
                return err(
                    "period",
                    Problem::PeriodBelowResolution { period_ns, min_ns },
                );
            }
        }
        let resolution = tick_ns.unwrap_or(1);
        if self.threshold_ns == 0 || self.threshold_ns < tick_ns.unwrap_or(0) {
            return err(
                "threshold",
                Problem::ThresholdBelowResolution {
                    threshold_ns: self.threshold_ns,
                    tick_ns: resolution,
                },
            );
        }
        if let Some(tick) = self.inject {
            if tick.hz == 0 || tick.hz > MAX_INJECT_HZ {
                return err("inject", Problem::InjectRate);
            }
            if tick.duration_ns >= tick.period_ns() {
                return err("inject", Problem::InjectTooLong);
            }
        }
        Ok(())
    }
}

/// Writes the configuration as `key=value` tokens that [`Config::parse`] reads back.
impl fmt::Display for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "mode={} el={} smp={} gic={} duration={} period={} threshold={} timer={} transport={} \
             fault={} interference={} drain={} reduce={} baud={} icount={}",
            self.mode.name(),
            self.el,
            self.smp,
            self.gic,
            Ns(self.duration_ns),
            Ns(self.period_ns),
            Ns(self.threshold_ns),
            self.timer.name(),
            self.transport.name(),
            self.fault.name(),
            if self.interference { "on" } else { "off" },
            self.drain.name(),
            self.reduce.name(),
            self.baud,
            if self.icount { "on" } else { "off" },
        )?;
        if let Some(tick) = self.inject {
            write!(f, " inject={tick}")?;
        }
        if let Some(core) = self.boot_core {
            write!(f, " boot-core={core}")?;
        }
        if self.checkpoint_ns != Config::default().checkpoint_ns {
            write!(f, " checkpoint={}", Ns(self.checkpoint_ns))?;
        }
        if self.cores != 0 {
            f.write_str(" cores=")?;
            for (i, c) in cores_in(self.cores).enumerate() {
                if i > 0 {
                    f.write_str(",")?;
                }
                write!(f, "{c}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_firmware_half_describes_every_problem_but_the_text_parsers() {
        let syntax = [
            Problem::NotKeyValue,
            Problem::UnknownKey,
            Problem::BadNumber,
            Problem::InjectSyntax,
            Problem::Unit(UnitError::Empty),
        ];
        for p in syntax {
            let mut l = Line::new();
            assert!(!p.describe_checks(&mut l), "{p:?}");
            assert!(l.is_empty(), "{p:?}");
            assert!(!p.to_string().is_empty(), "{p:?}");
        }
        let checks = [
            Problem::UnknownValue,
            Problem::NotBinary,
            Problem::BadGic,
            Problem::TooManyCores,
            Problem::CoreOutOfRange { core: 9, online: 4 },
        ];
        for p in checks {
            let mut l = Line::new();
            assert!(p.describe_checks(&mut l), "{p:?}");
            assert_eq!(l.as_str(), p.to_string(), "{p:?}");
        }
    }

    fn platform(cores: u16) -> Platform {
        Platform {
            cores_online: cores,
            counter_hz: Some(62_500_000),
            boot_el: Some(2),
        }
    }

    #[test]
    fn round_trips_through_text() {
        let cfg = Config {
            mode: Mode::Noise,
            el: 2,
            smp: 8,
            gic: 3,
            cores: 0b1010_0000,
            duration_ns: 2_000_000_000,
            inject: Some(InjectTick {
                hz: 250,
                duration_ns: 10_000,
            }),
            timer: TimerChoice::Physical,
            transport: Transport::Uart,
            fault: FaultKind::DataAbort,
            interference: true,
            drain: Drain::After,
            reduce: Reduce::Histogram,
            icount: true,
            boot_core: Some(2),
            checkpoint_ns: 250_000_000,
            ..Config::default()
        };
        let text = cfg.to_string();
        assert_eq!(Config::parse(&text), Ok(cfg), "{text}");
        // QEMU passes the program name first.
        assert_eq!(Config::parse(&format!("tickscope {text}")), Ok(cfg));
    }

    #[test]
    fn rejects_unknown_mode_with_the_token() {
        let e = Config::parse("mode=jitter").unwrap_err();
        assert_eq!(e.token, "mode=jitter");
        assert_eq!(e.problem, Problem::UnknownValue);
        assert!(e.to_string().contains("mode=jitter"));
    }

    #[test]
    fn validates_cores_period_and_tick() {
        let mut cfg = Config {
            mode: Mode::Timer,
            cores: 1 << 9,
            ..Config::default()
        };
        let e = cfg.validate(&platform(4)).unwrap_err();
        assert_eq!(e.problem, Problem::CoreOutOfRange { core: 9, online: 4 });
        assert!(e.to_string().contains("core 9 does not exist"));

        cfg.cores = 1;
        assert_eq!(
            cfg.validate(&platform(4)).unwrap_err().problem,
            Problem::Housekeeping { core: 0 }
        );
        assert_eq!(
            cfg.validate(&platform(1)),
            Ok(()),
            "core 0 is fine when it is the only one"
        );

        cfg.cores = 0;
        cfg.period_ns = 100;
        assert!(matches!(
            cfg.validate(&platform(4)).unwrap_err().problem,
            Problem::PeriodBelowResolution { .. }
        ));
        cfg.period_ns = 1_000_000;
        cfg.threshold_ns = 10;
        assert!(matches!(
            cfg.validate(&platform(4)).unwrap_err().problem,
            Problem::ThresholdBelowResolution { tick_ns: 16, .. }
        ));
        cfg.threshold_ns = 1_000;
        cfg.inject = Some(InjectTick {
            hz: 1000,
            duration_ns: 1_000_000,
        });
        assert_eq!(
            cfg.validate(&platform(4)).unwrap_err().problem,
            Problem::InjectTooLong
        );
        cfg.inject = Some(InjectTick {
            hz: 250,
            duration_ns: 10_000,
        });
        assert_eq!(cfg.validate(&platform(4)), Ok(()));
        let at_el1 = Platform {
            boot_el: Some(1),
            ..platform(4)
        };
        cfg.el = 2;
        assert_eq!(
            cfg.validate(&at_el1).unwrap_err().problem,
            Problem::El2Unavailable
        );
    }

    #[test]
    fn default_measured_core_is_the_last() {
        let cfg = Config::default();
        assert_eq!(cfg.measured_cores(8), 1 << 7);
        assert_eq!(cores_in(0b1001).collect::<Vec<_>>(), vec![0, 3]);
    }
}
