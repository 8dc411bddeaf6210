//! The messages of the wire format, `postcard`-encoded inside frames (see [`super::frame`]).
//! One enum for firmware, Linux probe and host; every timestamp is in counter ticks.

use heapless::{String, Vec};
use serde::{Deserialize, Serialize};

use crate::config::{Config, TimerChoice};
use crate::exception::VectorSlot;
use crate::stats::WorstEvent;

/// Items per sample block (a frame stays well under [`super::MAX_BODY`]).
pub const BLOCK: usize = 32;
/// Bytes of defmt data per log message.
pub const LOG_BYTES: usize = 192;

/// Who produced a stream.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The bare-metal firmware.
    Firmware,
    /// The Linux probe.
    LinuxProbe,
}

/// First message of every run: what is measured, where, with what clock.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct RunHeader {
    /// Wire format version of the producer (also in every frame).
    pub format: u16,
    /// Firmware or Linux probe.
    pub source: Source,
    /// Board description name (firmware) or machine name (Linux).
    pub board: String<32>,
    /// Main ID register of the boot core (0 when unknown).
    pub midr: u64,
    /// Exception level the measurement runs at (0 on Linux: EL0).
    pub el: u8,
    /// Exception level the image was entered at.
    pub boot_el: u8,
    /// GIC architecture version in use (0 when unknown).
    pub gic: u8,
    /// Counter frequency (CNTFRQ_EL0, or 1e9 for clock_gettime).
    pub counter_hz: u64,
    /// Counter value at the first instruction we control.
    pub reset_ticks: u64,
    /// The configuration as the producer understood it.
    pub config: Config,
    /// The core that booted and does the I/O (the firmware's, after any `boot-core` hand-off;
    /// the CPU the Linux probe's writer runs on is not this: 0 there).
    pub boot_core: u16,
    /// The timer `timer` mode uses, resolved from `config.timer`.
    pub timer: TimerChoice,
    /// Whether PMCCNTR cycle timestamps are included.
    pub pmu: bool,
    /// Raw samples replaced by histograms + worst-N + per-second counts (slow link).
    pub reduced: bool,
    /// Firmware/probe source revision (git describe), empty when unknown.
    pub revision: String<40>,
    /// Linux: kernel release (`uname -r`).
    pub kernel: String<64>,
    /// Linux: kernel command line.
    pub cmdline: String<256>,
}

/// A core reports for duty.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct CoreOnline {
    /// Logical core index (position in the board's MPIDR list).
    pub core: u16,
    /// MPIDR_EL1 affinity value.
    pub mpidr: u64,
    /// Exception level it runs at.
    pub el: u8,
    /// Counter value when it reported.
    pub at: u64,
}

/// PSCI CPU_ON failed for a core.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct PsciFailure {
    /// Logical index of the target.
    pub core: u16,
    /// Target MPIDR.
    pub mpidr: u64,
    /// PSCI return code (negative).
    pub code: i32,
}

/// Name of a PSCI return code.
pub fn psci_error_name(code: i32) -> &'static str {
    match code {
        0 => "SUCCESS",
        -1 => "NOT_SUPPORTED",
        -2 => "INVALID_PARAMETERS",
        -3 => "DENIED",
        -4 => "ALREADY_ON",
        -5 => "ON_PENDING",
        -6 => "INTERNAL_FAILURE",
        -7 => "NOT_PRESENT",
        -8 => "DISABLED",
        -9 => "INVALID_ADDRESS",
        _ => "UNKNOWN_PSCI_ERROR",
    }
}

/// Result of the NEON computation a core ran (the host checks it against [`neon_reference`]).
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct NeonCheck {
    /// Core that ran it.
    pub core: u16,
    /// Its result.
    pub value: u64,
}

/// Input of the NEON check: 64 lanes of 32-bit floats, `i * 0.5 + 1`.
pub fn neon_input(i: usize) -> f32 {
    i as f32 * 0.5 + 1.0
}

/// The known answer of the NEON check, computed in scalar code: the bits of the f32 dot
/// product of the input with itself, xored with the integer sum of the input's bit patterns.
/// Both operations are exact in f32 for this input, so any correct SIMD order gives the same bits.
pub fn neon_reference() -> u64 {
    let mut dot = 0.0f32;
    let mut bits: u64 = 0;
    for i in 0..64 {
        let v = neon_input(i);
        dot += v * v;
        bits = bits.wrapping_add(v.to_bits() as u64);
    }
    (dot.to_bits() as u64) << 32 ^ bits
}

/// One timer wake-up.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TimerSample {
    /// Programmed deadline (counter ticks).
    pub deadline: u64,
    /// Counter at the exception vector's first read, minus the deadline.
    pub latency: u32,
    /// Same in PMU cycles (PMCCNTR against a calibrated deadline), `u32::MAX` when unavailable.
    pub cycles: u32,
    /// PMU cycles from the vector's first read to the handler's body (the entry cost),
    /// `u32::MAX` when unavailable.
    pub entry: u32,
}

/// Turns a block of wake-ups into the form [`Message::TimerDeltas`] carries, in place: every
/// deadline but the first becomes the difference from the one before (a varint of the period, 2
/// or 3 bytes, instead of the whole counter's 5 to 8), and `cycles` and `entry` are stored plus
/// one, so "unavailable" (`u32::MAX`) wraps to 0 and takes one byte instead of five.
pub fn delta_code(items: &mut [TimerSample]) {
    let mut prev = 0u64;
    for s in items {
        let at = s.deadline;
        s.deadline = at.wrapping_sub(prev);
        prev = at;
        s.cycles = s.cycles.wrapping_add(1);
        s.entry = s.entry.wrapping_add(1);
    }
}

/// The wake-ups of a [`Message::TimerDeltas`] block in their plain form, decoded as they are
/// read (no copy of the block).
pub fn delta_decoded(items: &[TimerSample]) -> impl Iterator<Item = TimerSample> + '_ {
    items.iter().scan(0u64, |prev, s| {
        *prev = prev.wrapping_add(s.deadline);
        Some(TimerSample {
            deadline: *prev,
            latency: s.latency,
            cycles: s.cycles.wrapping_sub(1),
            entry: s.entry.wrapping_sub(1),
        })
    })
}

/// Undoes [`delta_code`] in place.
pub fn delta_decode(items: &mut [TimerSample]) {
    let mut prev = 0u64;
    for s in items {
        prev = prev.wrapping_add(s.deadline);
        s.deadline = prev;
        s.cycles = s.cycles.wrapping_sub(1);
        s.entry = s.entry.wrapping_sub(1);
    }
}

/// A gap in the counter loop above the threshold.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NoiseEvent {
    /// Counter before the gap.
    pub start: u64,
    /// Gap length in ticks.
    pub duration: u32,
    /// Counters that moved during the gap (bit `i` = entry `i` of the [`Names`] table), when the
    /// producer attributes with per-event counters; 0 otherwise.
    pub counters: u64,
}

/// What one interrupt on a measured core was, as its handler knows it.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IrqKind {
    /// The injected tick (the synthetic kernel tick).
    Tick,
    /// The measurement's own timer (timer mode).
    Timer,
    /// A software-generated interrupt (core 0's wake-up or done signal).
    Sgi,
    /// A timer interrupt that arrived before its deadline or with its condition not met
    /// (a ghost: counted, never recorded as a latency).
    Ghost,
    /// Any other interrupt (spurious included).
    #[default]
    Other,
}

/// One interrupt taken on a measured core during its window, with the core's own timestamps:
/// the vector's first counter read and the handler's last. Every interrupt but the measurement
/// timer's own wake-ups is recorded, so the host can charge each gap to what ran in it.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IrqSpan {
    /// Interrupt ID (INTID).
    pub intid: u16,
    /// What it was.
    pub kind: IrqKind,
    /// Counter at the exception vector's first instructions.
    pub entry: u64,
    /// Counter read just before the handler returned, minus `entry`.
    pub span: u32,
    /// For a timer interrupt whose deadline is known (the injected tick): `entry - deadline`;
    /// `u32::MAX` otherwise.
    pub late: u32,
    /// Ticks of the span during which the core was not running the handler (see
    /// [`crate::probe::HandlerClock`]): the handler's own time is `span - stolen`.
    pub stolen: u32,
}

/// Kinds of OS activity a noise event can be charged to (osnoise's classes, plus `hw`: time
/// during which nothing of the measured CPU's OS ran).
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CauseKind {
    /// A hardware interrupt handler.
    Irq,
    /// An inter-processor interrupt.
    Ipi,
    /// A softirq.
    Softirq,
    /// Another thread ran on the CPU.
    Thread,
    /// A non-maskable interrupt.
    Nmi,
    /// Hardware, firmware, hypervisor or emulator: the CPU ran nothing of the OS.
    Hw,
}

impl CauseKind {
    /// The name used in JSON (`irq`, `ipi`, `softirq`, `thread`, `nmi`, `hw`).
    pub fn name(self) -> &'static str {
        match self {
            CauseKind::Irq => "irq",
            CauseKind::Ipi => "ipi",
            CauseKind::Softirq => "softirq",
            CauseKind::Thread => "thread",
            CauseKind::Nmi => "nmi",
            CauseKind::Hw => "hw",
        }
    }
}

/// One entry of a producer's name table: the causes that trace records and per-event counters
/// refer to by index (`arch_timer`, `TIMER`, `kworker/3:1:42`, ...).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct NameEntry {
    /// Index the records use.
    pub index: u16,
    /// Kind of cause.
    pub kind: CauseKind,
    /// Name.
    pub name: String<40>,
}

/// Part of a producer's name table.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Names {
    /// Core the names belong to.
    pub core: u16,
    /// Entries.
    pub items: Vec<NameEntry, 16>,
}

/// What a kernel trace record says happened on the measured CPU.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub enum TraceKind {
    /// An interrupt handler started (`irq:irq_handler_entry`); `name` = the handler.
    IrqEntry,
    /// It returned (`irq:irq_handler_exit`).
    IrqExit,
    /// A softirq started (`irq:softirq_entry`); `name` = the vector (`TIMER`, `RCU`, ...).
    SoftirqEntry,
    /// It ended.
    SoftirqExit,
    /// An IPI handler started (`ipi:ipi_entry`); `name` = its reason.
    IpiEntry,
    /// It ended.
    IpiExit,
    /// The CPU switched to the task `name` (`sched:sched_switch`); the probe's own thread is
    /// named in [`Attribution::probe`].
    Switch,
    /// An hrtimer expired on the CPU (`timer:hrtimer_expire_entry`) for the probe's sleep.
    TimerExpire,
    /// The probe's thread was woken (`sched:sched_wakeup`).
    Wakeup,
}

/// One kernel trace record, its time converted to the probe's counter.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceRecord {
    /// Counter ticks (the probe's clock).
    pub at: u64,
    /// What happened.
    pub kind: TraceKind,
    /// Index into the [`Names`] table.
    pub name: u16,
}

/// How a producer attributes noise to causes.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// The firmware's own interrupt records.
    Firmware,
    /// The kernel's tracepoints through tracefs.
    Tracefs,
    /// Per-event interrupt, softirq and context-switch counters.
    Counters,
    /// No attribution.
    None,
}

impl Method {
    /// The name used in JSON.
    pub fn name(self) -> &'static str {
        match self {
            Method::Firmware => "firmware",
            Method::Tracefs => "tracefs",
            Method::Counters => "counters",
            Method::None => "none",
        }
    }
}

/// How a measured core's noise is attributed, sent before its records.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Attribution {
    /// Core.
    pub core: u16,
    /// Method in use.
    pub method: Method,
    /// Name-table index of the probe's own thread (trace switches back to it end a thread cause).
    pub probe: u16,
    /// Trace records the kernel dropped (buffer full) or the probe could not parse.
    pub lost: u64,
    /// Why a better method was not used, or what limits this one (empty when nothing to say).
    pub detail: String<120>,
    /// Trace clock calibration: `(counter, trace ns)` read together at the window's start and
    /// end (both zero without a trace).
    pub clock: [(u64, u64); 2],
}

/// A block of records from one core.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Block<T> {
    /// Core the records come from.
    pub core: u16,
    /// The records, oldest first.
    pub items: Vec<T, BLOCK>,
}

/// Loop-gap counts (noise mode): how many loop iterations took exactly `ticks`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct GapCounts {
    /// Core.
    pub core: u16,
    /// `(gap in ticks, iterations)` pairs.
    pub counts: Vec<(u32, u64), BLOCK>,
}

/// What a reduced histogram measures.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// Timer wake-up latency.
    Latency,
    /// Noise loop gaps (all of them).
    LoopGap,
    /// Noise events (gaps above the threshold).
    NoiseEvent,
}

/// Part of a histogram (nanoseconds) built on the device when the link is too slow for samples.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct HistogramPart {
    /// Core.
    pub core: u16,
    /// Metric.
    pub metric: Metric,
    /// This is the histogram of the events (values above the threshold), not of all values.
    pub events: bool,
    /// `(bucket index, count)` pairs, see [`crate::hist`].
    pub buckets: Vec<(u16, u64), BLOCK>,
    /// On the last part: exact `(min, max, sum, overflow)`.
    pub last: Option<(u64, u64, u64, u64)>,
}

/// Worst events and per-second event counts of a reduced metric.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct ReducedEvents {
    /// Core.
    pub core: u16,
    /// Metric.
    pub metric: Metric,
    /// Largest events, ns, `at` relative to the window start.
    pub worst: Vec<WorstEvent, 16>,
    /// Per-second counts starting at `first_second`.
    pub first_second: u32,
    /// Counts.
    pub per_second: Vec<u32, BLOCK>,
}

/// The measurement window of one core, sent before its first sample.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Core.
    pub core: u16,
    /// Counter when the window opens.
    pub start: u64,
    /// Counter when it closes.
    pub end: u64,
    /// Event threshold in counter ticks (gaps or latencies above it are events).
    pub threshold: u64,
}

/// How a measured core related its cycle counter to the generic counter before its window: the
/// cycle count at a deadline is `deadline × ratio_q16 / 65536 + offset`, which is no earlier
/// than the true one, so cycle latencies are lower bounds, at most `uncertainty` cycles low.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CycleCalibration {
    /// Core.
    pub core: u16,
    /// Cycles per counter tick, 16.16 fixed point.
    pub ratio_q16: u64,
    /// Cycle count at counter 0 (two's complement), from the edge readings' tightest upper bound.
    pub offset: u64,
    /// Distance in cycles from that bound to the tightest lower bound: how early the edge may be.
    pub uncertainty: u64,
}

/// End-of-measurement status of one measured core.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CoreStatus {
    /// Core.
    pub core: u16,
    /// Samples taken (timer wake-ups, or loop iterations in noise mode).
    pub samples: u64,
    /// Records dropped because the ring was full.
    pub lost: u64,
    /// Counter when the window opened.
    pub window_start: u64,
    /// Counter when the window closed.
    pub window_end: u64,
    /// Injected ticks taken.
    pub ticks: u64,
    /// Interrupts other than the measurement's own taken on this core (should be 0).
    pub foreign_irqs: u64,
    /// Timer wake-ups that came more than one period late (overruns).
    pub overruns: u64,
    /// Counter ticks the loop spent after its events, recording them, before it measured again:
    /// a blind spot of the measurement, not noise.
    pub blind: u64,
    /// Timer interrupts that arrived with their condition (CTL.ISTATUS) not met (ghosts),
    /// counted instead of recorded.
    pub ghosts: u64,
    /// Timer interrupts taken before their deadline by the measurement counter (a compare value
    /// that does not match the deadline), counted instead of recorded.
    pub early: u64,
}

/// Per-source interrupt counts on the measured CPU over the window (Linux `/proc/interrupts`).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct InterruptCounts {
    /// CPU.
    pub core: u16,
    /// Window length in nanoseconds.
    pub interval_ns: u64,
    /// `(source, count)`: e.g. `("arch_timer", 500)`, `("IPI0 Rescheduling", 2)`.
    pub sources: Vec<(String<32>, u64), 24>,
}

/// The kernel's per-CPU timer interrupt, found by its number (its INTID on the interrupt
/// controller), not by a name: the tick is the interrupt this line counts, whatever the kernel
/// calls it. The Linux probe sends it on arm64; x86's local timer is a system vector (`LOC`).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct TimerLine {
    /// CPU measured.
    pub core: u16,
    /// The kernel's number for the line (`/proc/interrupts`, `irq_handler_entry`'s `irq`).
    pub irq: u32,
    /// Its INTID on the GIC (`/sys/kernel/irq/N/hwirq`).
    pub intid: u32,
    /// Its handler's name (`/sys/kernel/irq/N/actions`): how traces and `/proc/interrupts`
    /// name it.
    pub name: String<32>,
}

/// The INTIDs of the Arm generic timer's per-CPU interrupts that SBSA/BSA recommend (EL2
/// physical 26, virtual 27, EL2 virtual 28, secure 29 and non-secure EL1 physical 30): where to
/// look when the device tree does not say.
pub const ARCH_TIMER_INTIDS: [u32; 5] = [26, 27, 28, 29, 30];

/// What the Linux probe found about CPU isolation on its machine.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct LinuxInfo {
    /// CPUs online.
    pub cpus: u16,
    /// `/sys/devices/system/cpu/nohz_full` (empty: tick never stopped anywhere).
    pub nohz_full: String<64>,
    /// `/sys/devices/system/cpu/isolated`.
    pub isolated: String<64>,
    /// Real-time throttling was off during the run (`sched_rt_runtime_us` = -1).
    pub rt_throttling_off: bool,
    /// The probe ran with SCHED_FIFO.
    pub fifo: bool,
    /// Its memory was locked.
    pub locked: bool,
}

/// The running kernel as the Linux probe found it (not as the host asked for it).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct KernelInfo {
    /// `uname -v` (`/proc/sys/kernel/version`): `#1 SMP PREEMPT_RT Debian 6.1.x ...`.
    pub version: String<120>,
    /// The kernel is PREEMPT_RT: `/sys/kernel/realtime` reads 1 (or, without that file, the
    /// version names PREEMPT_RT).
    pub preempt_rt: bool,
}

/// A peer tool the Linux probe runs on the measured CPU after its own window.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum PeerTool {
    /// rt-tests' oslat (loop-gap noise, as our noise mode).
    Oslat,
    /// rt-tests' cyclictest (timer wake-up latency, as our timer mode).
    Cyclictest,
}

impl PeerTool {
    /// The tool's name (its binary).
    pub fn name(self) -> &'static str {
        match self {
            PeerTool::Oslat => "oslat",
            PeerTool::Cyclictest => "cyclictest",
        }
    }
}

/// Which of a peer's outputs a [`PeerChunk`] carries.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum PeerStream {
    /// The file its `--json=` option wrote.
    Json,
    /// What it printed (stdout then stderr).
    Text,
}

/// Bytes of a peer's output per chunk.
pub const PEER_CHUNK: usize = 192;

/// A piece of a peer's output, in order.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct PeerChunk {
    /// The tool.
    pub tool: PeerTool,
    /// Which output.
    pub stream: PeerStream,
    /// Bytes.
    pub data: Vec<u8, PEER_CHUNK>,
}

/// A peer's run, after its output: how it was called and ended, and the measured CPU's
/// interrupts over its window.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct PeerRun {
    /// The tool.
    pub tool: PeerTool,
    /// Its command line.
    pub command: String<200>,
    /// Exit status (negative: killed by that signal; `i32::MIN`: could not start).
    pub status: i32,
    /// The measured CPU's interrupts between just before it started and just after it ended.
    pub interrupts: InterruptCounts,
    /// Of that interval, the time the CPU was not idle (`/proc/stat`, 10 ms resolution), ns:
    /// a tool's start-up and exit leave the CPU idle, when an idle kernel stops its tick.
    pub busy_ns: u64,
}

/// A load the Linux probe keeps running on the CPUs it does not measure (`--load`), one instance
/// pinned to each such CPU.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LoadKind {
    /// rt-tests' hackbench, run again as each run ends: pipes between processes, fork and exit
    /// (the scheduler and IPIs).
    Hackbench,
    /// stress-ng with the user's arguments.
    StressNg,
    /// The probe's own memory-bandwidth hog: copies between two buffers larger than the caches.
    Memory,
}

impl LoadKind {
    /// The load's name, as `--load` spells it.
    pub fn name(self) -> &'static str {
        match self {
            LoadKind::Hackbench => "hackbench",
            LoadKind::StressNg => "stress-ng",
            LoadKind::Memory => "memory",
        }
    }

    /// What its operations count.
    pub fn unit(self) -> &'static str {
        match self {
            LoadKind::Hackbench => "runs",
            LoadKind::StressNg => "bogo ops",
            LoadKind::Memory => "MiB copied",
        }
    }
}

/// One load instance's progress, after the window (Linux probe, `--load`): "loaded" as a measured
/// fact. `before` and `during` are `None` for a tool that reports only its total when it exits
/// (stress-ng); its `busy_ns` still says it ran through the window.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct LoadProgress {
    /// The load.
    pub kind: LoadKind,
    /// The CPU it was pinned to.
    pub cpu: u16,
    /// Its command line (the probe's own loop for `memory`).
    pub command: String<120>,
    /// Operations ([`LoadKind::unit`]) from its start to just before the window opened.
    pub before: Option<u64>,
    /// Operations from just before the window opened to just after it closed.
    pub during: Option<u64>,
    /// Operations from its start to its stop.
    pub total: u64,
    /// The length of that "during" interval, ns.
    pub interval_ns: u64,
    /// Of the interval, the time its CPU was not idle (`/proc/stat`, 10 ms resolution), ns.
    pub busy_ns: u64,
    /// Runs that exited with a failure or could not start.
    pub failures: u32,
    /// It was still running when the window closed.
    pub running: bool,
}

/// A defmt-encoded log message from the firmware.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct LogRecord {
    /// Core that logged.
    pub core: u16,
    /// Counter when it logged.
    pub at: u64,
    /// The defmt frame (decode with the firmware ELF's `.defmt` table).
    pub data: Vec<u8, LOG_BYTES>,
}

/// An unexpected exception.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct FaultReport {
    /// Core.
    pub core: u16,
    /// Exception level it was taken at.
    pub el: u8,
    /// Vector-table slot.
    pub slot: VectorSlot,
    /// ESR_ELx.
    pub esr: u64,
    /// ELR_ELx.
    pub elr: u64,
    /// FAR_ELx.
    pub far: u64,
    /// SPSR_ELx.
    pub spsr: u64,
    /// Interrupt ID, for an unclaimed interrupt (`u32::MAX` otherwise).
    pub intid: u32,
}

/// A panic on the device.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct PanicReport {
    /// Core.
    pub core: u16,
    /// Source file.
    pub file: String<64>,
    /// Line.
    pub line: u32,
    /// Message (truncated).
    pub message: String<160>,
}

/// Every record of a core before `upto` has been shipped ([`Message::Covered`]).
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Covered {
    /// Measured core.
    pub core: u16,
    /// Counter ticks (the producer's clock).
    pub upto: u64,
}

/// Last message of a run.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trailer {
    /// Exit status the producer reports (0 = success).
    pub status: u8,
    /// Cores online.
    pub cores_online: u16,
    /// Counter at the end.
    pub at: u64,
}

/// Every message of the wire format.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[allow(clippy::large_enum_variant)] // messages are built one at a time, never stored in bulk
pub enum Message {
    /// Run header (first).
    Header(RunHeader),
    /// A core came online.
    CoreOnline(CoreOnline),
    /// PSCI CPU_ON failed.
    PsciFailure(PsciFailure),
    /// NEON check result.
    Neon(NeonCheck),
    /// A measured core's window (before its samples).
    Window(Window),
    /// Timer wake-ups.
    TimerSamples(Block<TimerSample>),
    /// Noise events.
    NoiseEvents(Block<NoiseEvent>),
    /// Interrupts taken on a measured core during its window.
    Irqs(Block<IrqSpan>),
    /// How the core's noise is attributed.
    Attribution(Attribution),
    /// Cause names.
    Names(Names),
    /// Kernel trace records of the measured CPU.
    Trace(Block<TraceRecord>),
    /// Loop-gap counts.
    Gaps(GapCounts),
    /// Reduced histogram part.
    Histogram(HistogramPart),
    /// Reduced worst-N and per-second counts.
    Reduced(ReducedEvents),
    /// Per-core end status.
    CoreStatus(CoreStatus),
    /// Linux interrupt attribution.
    Interrupts(InterruptCounts),
    /// Linux CPU isolation facts.
    Linux(LinuxInfo),
    /// defmt log.
    Log(LogRecord),
    /// Unexpected exception.
    Fault(FaultReport),
    /// Panic.
    Panic(PanicReport),
    /// End of run.
    End(Trailer),
    // New kinds go last: a message's number is its place here (postcard), so appending keeps
    // every recorded capture of this format readable.
    /// A measured core's status so far, shipped during its window (every `checkpoint=` of
    /// window time) after everything it covers: `window_end` is how far it reaches. A run cut
    /// short keeps its figures up to the last one.
    Checkpoint(CoreStatus),
    /// The running kernel (Linux probe).
    Kernel(KernelInfo),
    /// How a measured core related its cycle counter to the counter (before its window).
    Calibration(CycleCalibration),
    /// Timer wake-ups as [`delta_code`] writes them (what the firmware and the probe send: about
    /// 3 bytes less per sample than [`Message::TimerSamples`], which old captures hold). The host's
    /// decoder hands them on as `TimerSamples`.
    TimerDeltas(Block<TimerSample>),
    /// A piece of a peer tool's output (Linux probe, `--peers`).
    Peer(PeerChunk),
    /// A peer tool's run, after all its output.
    PeerDone(PeerRun),
    /// The firmware would not start the run, or could not bring it up: why, for the host to
    /// word (the image carries no text for it).
    Refused(crate::refusal::Refusal),
    /// The kernel's timer line on the measured CPU (Linux probe, arm64): the tick by number.
    TimerLine(TimerLine),
    /// A load instance's progress (Linux probe, `--load`), after the window.
    Load(LoadProgress),
    /// How far a measured core's records have all been shipped, during its window (Linux probe
    /// draining its trace live): every event and trace record before `upto` came before this.
    Covered(Covered),
}

#[cfg(test)]
mod delta_tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn delta_coding_round_trips(items in prop::collection::vec(any::<(u64, u32, u32, u32)>(), 0..BLOCK)) {
            let original: std::vec::Vec<TimerSample> = items
                .iter()
                .map(|&(deadline, latency, cycles, entry)| TimerSample { deadline, latency, cycles, entry })
                .collect();
            let mut coded = original.clone();
            delta_code(&mut coded);
            let read: std::vec::Vec<TimerSample> = delta_decoded(&coded).collect();
            prop_assert_eq!(&read, &original);
            delta_decode(&mut coded);
            prop_assert_eq!(coded, original);
        }
    }

    #[test]
    fn a_periodic_block_shrinks_by_the_counter_bytes() {
        let mut items: Vec<TimerSample, BLOCK> = Vec::new();
        for k in 0..BLOCK as u64 {
            let _ = items.push(TimerSample {
                deadline: 12_500_000_000 + k * 62_500,
                latency: 3,
                cycles: u32::MAX,
                entry: u32::MAX,
            });
        }
        let plain = Message::TimerSamples(Block {
            core: 1,
            items: items.clone(),
        });
        delta_code(&mut items);
        let coded = Message::TimerDeltas(Block { core: 1, items });
        let len = |m: &Message| postcard::to_allocvec(m).unwrap().len();
        // Per sample: 5-byte deadline -> 3-byte delta, 2 x 5-byte "unavailable" -> 2 x 1 byte.
        assert_eq!(len(&plain) - len(&coded), (BLOCK - 1) * 10 + 8);
    }
}
