//! tickscope-probe: the firmware's measurement, as a small static Linux program, so the generic
//! and the tickless kernel are measured on the same machine with the same loop and format.
//!
//! Usage: `tickscope-probe [--out FILE] [--priority N] [--no-rt] [--settle DUR]
//! [--attribution auto|tracefs|counters|none] [--peers oslat,cyclictest] KEY=VALUE...` where the
//! settings are the firmware's (`mode=noise cores=3 duration=5s threshold=1us`). It pins itself to
//! the measured CPU, locks memory, runs SCHED_FIFO, records what the kernel ran on that CPU during the window
//! (tracefs, or per-event counters), and writes the wire format to stdout or FILE. As PID 1 (an
//! initramfs /init) it mounts /proc, /sys and /dev, reads its arguments from /tickscope.conf
//! (or, when that says `--await-args`, takes them from the host at the snapshot point: see
//! `snapshot`), writes to the console, and powers the machine off at the end. With `--peers` it then runs
//! rt-tests' oslat and cyclictest on the same CPU and ships their output too.

mod counters;
mod irqs;
mod load;
mod peers;
mod snapshot;
mod sys;
mod timer_line;
mod trace;
mod window;

use std::io::Write;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tickscope_core::config::{Config, Mode, Platform, cores_in};
use tickscope_core::exit;
use tickscope_core::probe::{GAP_SLOTS, Threshold};
use tickscope_core::ring::{Consumer, Ring, Slot, empty_slot};
use tickscope_core::units::{ns_to_ticks, parse_duration};
use tickscope_core::wire::msg::{
    Attribution, BLOCK, Block, CauseKind, CoreStatus, Covered, GapCounts, InterruptCounts,
    KernelInfo, LinuxInfo, Method, NameEntry, Names, NoiseEvent, PeerTool, RunHeader, Source,
    TimerLine, TimerSample, Trailer, Window,
};
use tickscope_core::wire::{self, Encoder, Message};

use counters::Counters;
use trace::Tracer;
use trace::live::LiveTrace;
use window::{Done, Plan, Watchers};

/// The writer's 20 ms rounds between two readings of the trace during a live window (half a
/// second: the kernel's buffer holds far more, the host holds half a second's records).
const TRACE_ROUNDS: u64 = 25;

/// Records between the measuring thread and the writer.
const RING: usize = 1 << 18;

/// From the window's announcement to its start: the measuring thread's setup (pinning, locking
/// its memory, the gap table, tracing on) takes under 10 ms, and a tickless kernel stops the tick
/// it restarted for the new task within two ticks (8 ms at 250 Hz), so the window opens on a
/// spinning, tick-free CPU. Every millisecond here is spun under `-icount` too (5 host ms each).
const LEAD_NS: u64 = 20_000_000;

/// Counter the noise loop reads, and its frequency.
mod counter {
    /// CNTVCT_EL0: the same counter as the firmware's loop (readable from EL0 under Linux).
    #[cfg(target_arch = "aarch64")]
    #[inline(always)]
    pub fn now() -> u64 {
        let v: u64;
        // SAFETY: reading the virtual counter has no side effects; Linux enables EL0 access.
        unsafe {
            std::arch::asm!("mrs {}, cntvct_el0", out(reg) v, options(nomem, nostack, preserves_flags))
        };
        v
    }

    /// CNTFRQ_EL0.
    #[cfg(target_arch = "aarch64")]
    pub fn hz() -> u64 {
        let v: u64;
        // SAFETY: as above.
        unsafe {
            std::arch::asm!("mrs {}, cntfrq_el0", out(reg) v, options(nomem, nostack, preserves_flags))
        };
        v
    }

    /// Nothing to choose: CNTVCT is the architecture's own counter, the firmware's too (and
    /// nothing is said, so the guest's output before the window stays as it was).
    #[cfg(target_arch = "aarch64")]
    pub fn choose(_threshold_ns: u64) -> String {
        String::new()
    }

    /// x86_64: the TSC when it is invariant and the kernel keeps time with it, else
    /// CLOCK_MONOTONIC (through the vDSO, in ns). 0: CLOCK_MONOTONIC.
    #[cfg(target_arch = "x86_64")]
    static TSC_HZ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

    /// The TSC, or CLOCK_MONOTONIC where it cannot be used (see [`choose`]).
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    pub fn now() -> u64 {
        if TSC_HZ.load(std::sync::atomic::Ordering::Relaxed) != 0 {
            // SAFETY: RDTSC has no side effects and is available on every x86_64 CPU.
            unsafe { core::arch::x86_64::_rdtsc() }
        } else {
            super::sys::monotonic_ns()
        }
    }

    /// Its frequency.
    #[cfg(target_arch = "x86_64")]
    pub fn hz() -> u64 {
        match TSC_HZ.load(std::sync::atomic::Ordering::Relaxed) {
            0 => 1_000_000_000,
            f => f,
        }
    }

    /// Chooses the TSC when the CPU says it is invariant (`constant_tsc`, `nonstop_tsc`), the
    /// kernel's clocksource is `tsc` and a `threshold_ns` gap fits the gap table in its ticks;
    /// its frequency is the kernel's: TSC ticks over CLOCK_MONOTONIC_RAW (which the kernel
    /// computes from the TSC with its own calibration) across 100 ms. Says what it chose and why.
    #[cfg(target_arch = "x86_64")]
    pub fn choose(threshold_ns: u64) -> String {
        let flags = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let flags = flags.lines().find(|l| l.starts_with("flags")).unwrap_or("");
        let has = |f: &str| flags.split_whitespace().any(|w| w == f);
        let source = std::fs::read_to_string(
            "/sys/devices/system/clocksource/clocksource0/current_clocksource",
        )
        .unwrap_or_default();
        let why_not = if !(has("constant_tsc") && has("nonstop_tsc")) {
            Some("the TSC is not invariant (constant_tsc and nonstop_tsc not both set)".to_string())
        } else if source.trim() != "tsc" {
            Some(format!(
                "the kernel keeps time with `{}`, not the TSC",
                source.trim()
            ))
        } else {
            None
        };
        if let Some(why) = why_not {
            return format!("counter: CLOCK_MONOTONIC (vDSO, ns): {why}");
        }
        let pair = || {
            let mut best = (u64::MAX, 0, 0);
            for _ in 0..16 {
                // SAFETY: as in `now`.
                let a = unsafe { core::arch::x86_64::_rdtsc() };
                let r = super::sys::monotonic_raw_ns();
                // SAFETY: as in `now`.
                let b = unsafe { core::arch::x86_64::_rdtsc() };
                if b.wrapping_sub(a) < best.0 {
                    best = (b.wrapping_sub(a), a + (b - a) / 2, r);
                }
            }
            (best.1, best.2)
        };
        let (t0, r0) = pair();
        std::thread::sleep(std::time::Duration::from_millis(100));
        let (t1, r1) = pair();
        let hz = ((t1 - t0) as u128 * 1_000_000_000 / (r1 - r0).max(1) as u128) as u64;
        let threshold_ticks = threshold_ns as u128 * hz as u128 / 1_000_000_000;
        if threshold_ticks >= tickscope_core::probe::GAP_SLOTS as u128 {
            return format!(
                "counter: CLOCK_MONOTONIC (vDSO, ns): a threshold of {threshold_ns} ns is {threshold_ticks} TSC ticks, more than the gap table holds"
            );
        }
        TSC_HZ.store(hz, std::sync::atomic::Ordering::Relaxed);
        format!(
            "counter: TSC at {hz} Hz (invariant; the kernel's clocksource; its rate against CLOCK_MONOTONIC_RAW)"
        )
    }

    /// Elsewhere: CLOCK_MONOTONIC through the vDSO, in ns.
    #[cfg(not(any(target_arch = "aarch64", target_arch = "x86_64")))]
    #[inline(always)]
    pub fn now() -> u64 {
        super::sys::monotonic_ns()
    }

    /// 1 GHz (nanoseconds).
    #[cfg(not(any(target_arch = "aarch64", target_arch = "x86_64")))]
    pub fn hz() -> u64 {
        1_000_000_000
    }

    /// Says which counter.
    #[cfg(not(any(target_arch = "aarch64", target_arch = "x86_64")))]
    pub fn choose(_threshold_ns: u64) -> String {
        "counter: CLOCK_MONOTONIC (vDSO, ns)".into()
    }
}

/// How to attribute noise.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Attr {
    Auto,
    Tracefs,
    Counters,
    None,
}

/// Probe options besides the shared configuration.
struct Options {
    config: Config,
    out: Option<String>,
    priority: i32,
    rt: bool,
    settle_ns: u64,
    init: bool,
    attribution: Attr,
    peers: Vec<PeerTool>,
    load: Vec<load::Load>,
}

fn usage() -> ! {
    eprintln!(
        "usage: tickscope-probe [--out FILE] [--priority N] [--no-rt] [--settle DUR] [--attribution auto|tracefs|counters|none] [--peers oslat,cyclictest] [--load hackbench+memory+stress-ng:ARG,ARG] KEY=VALUE...\n\
         settings: mode=timer|noise cores=CPU duration=5s period=1ms threshold=1us (as the firmware)"
    );
    std::process::exit(exit::CONFIG as i32)
}

fn parse_args(args: &[String], init: bool) -> Result<Options, String> {
    let mut o = Options {
        config: Config {
            mode: Mode::Noise,
            ..Config::default()
        },
        out: None,
        priority: 90,
        rt: true,
        settle_ns: 0,
        init,
        attribution: Attr::Auto,
        peers: Vec::new(),
        load: Vec::new(),
    };
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        let mut value = || {
            i += 1;
            args.get(i)
                .cloned()
                .ok_or_else(|| format!("{a} needs a value"))
        };
        match a.as_str() {
            "--out" => o.out = Some(value()?),
            "--priority" => {
                o.priority = value()?
                    .parse()
                    .map_err(|_| "--priority needs 1..99".to_string())?
            }
            "--no-rt" => o.rt = false,
            "--settle" => {
                o.settle_ns = parse_duration(&value()?).map_err(|e| format!("--settle: {e}"))?
            }
            "--attribution" => {
                o.attribution = match value()?.as_str() {
                    "auto" => Attr::Auto,
                    "tracefs" => Attr::Tracefs,
                    "counters" => Attr::Counters,
                    "none" => Attr::None,
                    v => {
                        return Err(format!(
                            "--attribution {v}: expected auto, tracefs, counters or none"
                        ));
                    }
                }
            }
            "--peers" => o.peers = peers::parse(&value()?)?,
            "--load" => o.load = load::parse(&value()?)?,
            "-h" | "--help" => usage(),
            kv if kv.contains('=') => {
                let (k, v) = kv.split_once('=').unwrap();
                o.config.set(k, v).map_err(|e| format!("`{kv}`: {e}"))?;
            }
            other => return Err(format!("unknown argument `{other}`")),
        }
        i += 1;
    }
    if !(1..=99).contains(&o.priority) {
        return Err("--priority must be 1..99".into());
    }
    Ok(o)
}

/// Frames messages onto the output.
struct Output {
    sink: Box<dyn Write + Send>,
    enc: Box<Encoder>,
}

impl Output {
    fn send(&mut self, msg: &Message) {
        if let Ok(bytes) = self.enc.encode(msg) {
            let _ = self.sink.write_all(bytes);
        }
    }

    fn text(&mut self, line: &str) {
        let _ = self.sink.write_all(line.as_bytes());
        let _ = self.sink.write_all(b"\n");
        let _ = self.sink.flush();
    }
}

/// The ring's consumer and the blocks it fills, shipping onto the output: the writer's (after the
/// window under icount, else during it) or, at checkpoints under icount, the measuring thread's.
struct Drain<'r, 'o> {
    consumer: Consumer<'r, 'r, Rec>,
    out: &'o mut Output,
    cpu: u16,
    timer: bool,
    timer_block: heapless::Vec<TimerSample, BLOCK>,
    noise_block: heapless::Vec<NoiseEvent, BLOCK>,
    /// Largest latency or event drained, in the run's ticks (for the plain-text result line).
    max: u64,
    /// The latest end of a record drained (run ticks): one not drained yet ends after it.
    last_end: u64,
    /// The trace, read during the window by the writer (tracefs attribution, live runs).
    trace: Option<LiveTrace>,
}

impl Drain<'_, '_> {
    /// Sends the wake-ups collected so far, delta-coded (`Message::TimerDeltas`).
    fn send_timer_block(&mut self) {
        let mut items = std::mem::take(&mut self.timer_block);
        wire::msg::delta_code(&mut items);
        self.out.send(&Message::TimerDeltas(Block {
            core: self.cpu,
            items,
        }));
    }

    /// Moves what the ring holds into blocks, sending the full ones.
    fn drain(&mut self) {
        while let Some(Rec {
            at: a,
            value: b,
            moved,
        }) = self.consumer.pop()
        {
            self.max = self.max.max(b);
            self.last_end = self.last_end.max(a + b);
            if self.timer {
                let _ = self.timer_block.push(TimerSample {
                    deadline: a,
                    latency: b.min(u32::MAX as u64) as u32,
                    cycles: u32::MAX,
                    entry: u32::MAX,
                });
                if self.timer_block.is_full() {
                    self.send_timer_block();
                }
            } else {
                let _ = self.noise_block.push(NoiseEvent {
                    start: a,
                    duration: b.min(u32::MAX as u64) as u32,
                    counters: moved,
                });
                if self.noise_block.is_full() {
                    let items = std::mem::take(&mut self.noise_block);
                    self.out.send(&Message::NoiseEvents(Block {
                        core: self.cpu,
                        items,
                    }));
                }
            }
        }
    }

    /// Drains and sends the partial blocks too.
    fn flush(&mut self) {
        self.drain();
        if !self.timer_block.is_empty() {
            self.send_timer_block();
        }
        if !self.noise_block.is_empty() {
            let items = std::mem::take(&mut self.noise_block);
            self.out.send(&Message::NoiseEvents(Block {
                core: self.cpu,
                items,
            }));
        }
    }

    /// Names the measuring thread in the trace (before the trace is switched on).
    pub fn probe_thread(&mut self, tid: i32) {
        if let Some(t) = self.trace.as_mut() {
            t.reader.probe(tid);
        }
    }

    /// Ships the events drained so far, then the trace recorded so far, then how far both
    /// reach (`Covered`): the host attributes a long run as it goes.
    fn ship_trace(&mut self) {
        self.flush();
        let Some(t) = self.trace.as_mut() else {
            return;
        };
        let round = t.round(None);
        let upto = t.covered(round.at, self.last_end);
        ship_round(self.out, self.cpu, round);
        self.out.send(&Message::Covered(Covered {
            core: self.cpu,
            upto,
        }));
    }

    /// A checkpoint: everything so far, then the status that covers exactly it.
    fn checkpoint(&mut self, status: CoreStatus) {
        self.flush();
        self.out.send(&Message::Checkpoint(status));
        let _ = self.out.sink.flush();
    }
}

fn open_output(path: Option<&str>) -> Result<Output, String> {
    let sink: Box<dyn Write + Send> = match path {
        None | Some("-") => Box::new(std::io::stdout()),
        Some(p) => {
            let f = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(!p.starts_with("/dev/"))
                .open(p)
                .map_err(|e| format!("cannot open {p}: {e}"))?;
            sys::make_raw(f.as_raw_fd());
            Box::new(f)
        }
    };
    Ok(Output {
        sink,
        enc: Box::new(Encoder::new()),
    })
}

fn read(path: &str) -> String {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

fn hstring<const N: usize>(s: &str) -> heapless::String<N> {
    let mut h = heapless::String::new();
    for c in s.chars() {
        if h.push(c).is_err() {
            break;
        }
    }
    h
}

/// A record between the measuring thread and the writer.
#[derive(Clone, Copy)]
struct Rec {
    /// Deadline (timer mode) or the gap's start (noise mode), in the run's clock.
    at: u64,
    /// Latency or gap, in the run's ticks.
    value: u64,
    /// Per-event counters that moved during a noise event (a bit per watched source).
    moved: u64,
}

/// A (counter, CLOCK_MONOTONIC ns) pair read together: the counter read before and after the
/// clock, the closest of a few tries, the clock's value set against their midpoint.
fn clock_pair(now: fn() -> u64) -> (u64, u64) {
    let mut best = (u64::MAX, 0, 0);
    for _ in 0..8 {
        let a = now();
        let m = sys::monotonic_ns();
        let b = now();
        if b.wrapping_sub(a) < best.0 {
            best = (b.wrapping_sub(a), a + (b - a) / 2, m);
        }
    }
    (best.1, best.2)
}

/// Maps trace-clock ns to counter ticks through two calibration pairs.
fn to_counter(ts: u64, a: (u64, u64), b: (u64, u64)) -> u64 {
    let (ca, ma) = (a.0 as i128, a.1 as i128);
    let (cb, mb) = (b.0 as i128, b.1 as i128);
    if mb == ma {
        return (ca + (ts as i128 - ma)).max(0) as u64;
    }
    (ca + (ts as i128 - ma) * (cb - ca) / (mb - ma)).max(0) as u64
}

fn main() {
    let init = std::process::id() == 1;
    let args: Vec<String> = if init {
        sys::mount("proc", "/proc");
        sys::mount("sysfs", "/sys");
        sys::mount("devtmpfs", "/dev");
        read("/tickscope.conf")
            .split_whitespace()
            .map(String::from)
            .collect()
    } else {
        std::env::args().skip(1).collect()
    };
    let args = if args.iter().any(|a| a == "--await-args") {
        match await_args(&args) {
            Ok(a) => a,
            Err(e) => {
                eprintln!("tickscope-probe: {e}");
                if init {
                    sys::power_off();
                }
                std::process::exit(exit::CONFIG as i32)
            }
        }
    } else {
        args
    };
    let status = match parse_args(&args, init) {
        Ok(o) => run(o),
        Err(e) => {
            eprintln!("tickscope-probe: {e}");
            exit::CONFIG
        }
    };
    if init {
        // Give the console a moment to drain, then power off (QEMU exits).
        std::thread::sleep(Duration::from_millis(100));
        sys::power_off();
    }
    std::process::exit(status as i32);
}

/// `--await-args` (the initramfs's argument when the host snapshots the guest): stops at the
/// snapshot point right after boot and returns the run's arguments, which the host writes when it
/// restores the snapshot (settling, if asked, is then the run's first step, as without snapshot).
fn await_args(early: &[String]) -> Result<Vec<String>, String> {
    if let Some(other) = early.iter().find(|a| *a != "--await-args") {
        return Err(format!("`{other}` cannot come before the snapshot"));
    }
    let args = snapshot::await_args();
    if args.is_empty() {
        return Err("no arguments: the host writes them when it restores the snapshot".into());
    }
    Ok(args)
}

/// How the window's noise will be attributed, set up before it opens.
struct Attributor {
    method: Method,
    tracer: Option<Tracer>,
    counters: Option<Counters>,
    detail: String,
}

fn setup_attribution(
    o: &Options,
    cpu: usize,
    timer_mode: bool,
    timer_irq: Option<u32>,
) -> Attributor {
    let mut why_not_trace = String::new();
    if matches!(o.attribution, Attr::Auto | Attr::Tracefs) {
        // About 32 bytes per record and a dozen records per tick: 256 KiB per second of window
        // keeps a busy generic kernel, within 1..64 MiB; a live run's writer reads it every half
        // second, so 8 MiB holds half a minute of it.
        let secs = o.config.duration_ns.div_ceil(1_000_000_000) + 1;
        let most = if o.config.icount { 65536 } else { 8192 };
        let kb = (secs * 256).clamp(1024, most);
        match Tracer::setup(cpu, timer_mode, kb, o.init) {
            Ok(t) => {
                let detail = if t.missing.is_empty() {
                    String::new()
                } else {
                    format!("tracepoints not in this kernel: {}", t.missing.join(", "))
                };
                return Attributor {
                    method: Method::Tracefs,
                    tracer: Some(t),
                    counters: None,
                    detail,
                };
            }
            Err(e) => why_not_trace = e,
        }
    }
    if matches!(o.attribution, Attr::Auto | Attr::Tracefs | Attr::Counters) && !timer_mode {
        let c = Counters::open(cpu, timer_irq);
        let mut detail = if why_not_trace.is_empty() {
            "per-event counters tell which causes ran during an event, not for how long".to_string()
        } else {
            format!(
                "tracefs unavailable ({why_not_trace}); per-event counters tell which causes ran, not for how long"
            )
        };
        if c.left_out > 0 {
            detail.push_str(&format!(
                "; {} interrupt line(s) beyond 64 counters not watched",
                c.left_out
            ));
        }
        return Attributor {
            method: Method::Counters,
            tracer: None,
            counters: Some(c),
            detail,
        };
    }
    let detail = match o.attribution {
        Attr::None => "attribution off (--attribution none)".to_string(),
        _ if timer_mode => format!("timer mode needs tracefs: {why_not_trace}"),
        _ => why_not_trace,
    };
    Attributor {
        method: Method::None,
        tracer: None,
        counters: None,
        detail,
    }
}

/// Sends `names`, the first of which has index `from`.
fn send_names(out: &mut Output, cpu: u16, from: usize, names: &[(CauseKind, String)]) {
    for (chunk_no, chunk) in names.chunks(16).enumerate() {
        let mut items = heapless::Vec::new();
        for (i, (kind, name)) in chunk.iter().enumerate() {
            let _ = items.push(NameEntry {
                index: (from + chunk_no * 16 + i) as u16,
                kind: *kind,
                name: hstring(name),
            });
        }
        out.send(&Message::Names(Names { core: cpu, items }));
    }
}

/// The kernel's timer line, found by its INTID (see `timer_line`), said on the console either
/// way: which line the tick is, or why it is known by name.
fn find_timer_line(out: &mut Output) -> Option<timer_line::IrqLine> {
    match timer_line::find() {
        Ok(t) => {
            out.text(&format!(
                "tickscope-probe: the tick is irq {} (INTID {}, {})",
                t.irq, t.hwirq, t.actions
            ));
            Some(t)
        }
        Err(why) => {
            out.text(&format!("tickscope-probe: {why}"));
            None
        }
    }
}

/// Ships the timer line, when there is one, for the host to know the tick by number.
fn send_timer_line(out: &mut Output, cpu: u16, timer: Option<&timer_line::IrqLine>) {
    if let Some(t) = timer {
        out.send(&Message::TimerLine(TimerLine {
            core: cpu,
            irq: t.irq,
            intid: t.hwirq,
            name: hstring(&t.actions),
        }));
    }
}

/// A refusal: the status to end with and why.
struct Refused(u8, String);

/// Ends the run early: the message on stderr (and on the output when it is not stdout), then the
/// trailer with `status`.
fn fail(o: &Options, out: &mut Output, Refused(status, msg): Refused) -> u8 {
    eprintln!("tickscope-probe: {msg}");
    if o.init || o.out.is_some() {
        out.text(&format!("tickscope-probe: {msg}"));
    }
    out.send(&Message::End(Trailer {
        status,
        cores_online: sys::online_cpus().len() as u16,
        at: counter::now(),
    }));
    let _ = out.sink.flush();
    status
}

/// The configuration as this machine runs it, and the one CPU it measures.
fn measured_cpu(o: &Options, cpus: &[usize]) -> Result<(Config, usize), Refused> {
    let refuse = |msg: String| Refused(exit::CONFIG, msg);
    let mut cfg = o.config;
    cfg.smp = cpus.len() as u16;
    let measured: Vec<u16> = cores_in(cfg.measured_cores(cfg.smp)).collect();
    let [cpu] = measured.as_slice() else {
        return Err(refuse(
            "the probe measures one CPU at a time (cores=N)".into(),
        ));
    };
    let cpu = *cpu as usize;
    if cfg.mode == Mode::Boot {
        return Err(refuse("mode must be timer or noise".into()));
    }
    let platform = Platform {
        cores_online: cpus.iter().max().map(|m| *m as u16 + 1).unwrap_or(1),
        counter_hz: Some(counter::hz()),
        boot_el: None,
    };
    if let Err(e) = cfg.validate(&platform) {
        // Any CPU may be measured on Linux (the boot core is the firmware's I/O core, not ours).
        if !matches!(
            e.problem,
            tickscope_core::config::Problem::Housekeeping { .. }
        ) {
            return Err(refuse(e.to_string()));
        }
    }
    if !cpus.contains(&cpu) {
        return Err(refuse(format!(
            "CPU {cpu} does not exist (online CPUs: {})",
            sys::format_cpus(cpus)
        )));
    }
    Ok((cfg, cpu))
}

/// Real-time throttling, switched off for the run when we are allowed to (as init we are):
/// with it on, a SCHED_FIFO loop is stopped for 50 ms every second. Written back when dropped,
/// whichever way `run` returns; `sys::undo_on_signal` covers signals.
struct RtThrottling {
    /// Whether it is off now.
    off: bool,
    /// The value to write back, when we changed it and are not init.
    restore: Option<String>,
}

const RT_PATH: &str = "/proc/sys/kernel/sched_rt_runtime_us";

impl RtThrottling {
    fn switch_off(o: &Options) -> Self {
        let before = read(RT_PATH);
        if o.rt && before != "-1" {
            let _ = std::fs::write(RT_PATH, "-1");
        }
        let restore = o.rt && !o.init && !before.is_empty() && before != "-1";
        RtThrottling {
            off: read(RT_PATH) == "-1",
            restore: restore.then_some(before),
        }
    }
}

impl Drop for RtThrottling {
    fn drop(&mut self) {
        if let Some(v) = &self.restore {
            let _ = std::fs::write(RT_PATH, v);
        }
    }
}

/// The run header and the console line naming the kernel and the CPU.
fn send_header(out: &mut Output, cfg: &Config, cpu: usize, cpus: usize, hz: u64) {
    let uname = read("/proc/sys/kernel/osrelease");
    let cmdline = read("/proc/cmdline");
    let host = read("/proc/sys/kernel/hostname");
    out.text(&format!(
        "tickscope-probe: Linux {uname} on CPU {cpu} of {cpus}; cmdline: {cmdline}"
    ));
    out.send(&Message::Header(RunHeader {
        format: wire::FORMAT_VERSION as u16,
        source: Source::LinuxProbe,
        board: hstring(if host.is_empty() { "linux" } else { &host }),
        midr: 0,
        el: 0,
        boot_el: 0,
        gic: 0,
        counter_hz: hz,
        reset_ticks: 0,
        config: *cfg,
        boot_core: 0,
        timer: cfg.timer,
        pmu: false,
        reduced: false,
        revision: hstring(env!("CARGO_PKG_VERSION")),
        kernel: hstring(&uname),
        cmdline: hstring(&cmdline),
    }));
}

/// The run's clock: CLOCK_MONOTONIC ns in timer mode (the kernel's timers run on it), the
/// counter in noise mode; with its ticks per second.
fn clock(cfg: &Config) -> (u64, fn() -> u64) {
    if cfg.mode == Mode::Timer {
        (1_000_000_000, sys::monotonic_ns)
    } else {
        (counter::hz(), counter::now)
    }
}

/// The window's plan (its time is fixed later, by `Plan::open_in`). Checkpoints only under
/// icount, where nothing drains during the window.
fn plan(o: &Options, cfg: &Config, cpu: usize) -> Result<Plan, Refused> {
    let (hz, now) = clock(cfg);
    let threshold_ticks = cfg.threshold_ns * hz / 1_000_000_000;
    let Some(threshold) = Threshold::new(threshold_ticks) else {
        return Err(Refused(
            exit::CONFIG,
            format!(
                "threshold too large for the gap table (max {} ticks)",
                GAP_SLOTS - 1
            ),
        ));
    };
    Ok(Plan {
        cpu,
        cfg: *cfg,
        start: 0,
        end: 0,
        hz,
        now,
        threshold,
        every: match cfg.checkpoint_ns {
            n if n > 0 && cfg.icount => ns_to_ticks(n, hz),
            _ => u64::MAX,
        },
        rt: o.rt,
        priority: o.priority,
    })
}

/// Opens the window and runs the measuring thread and, on this thread (kept off the measured
/// CPU), the writer that drains the ring in blocks: during the window, or under icount after it
/// (every instruction another CPU runs is time the measured one loses). Returns what the thread
/// saw, the ring's losses counted, and the largest value drained.
fn measure_and_drain(
    plan: &mut Plan,
    attr: &mut Attributor,
    out: &mut Output,
    mut load: Option<&mut load::Running>,
) -> (Done, u64, Option<LiveTrace>) {
    let slots: Vec<Slot<Rec>> = (0..RING).map(|_| empty_slot()).collect();
    let ring = Ring::new();
    let (producer, consumer) = ring.split(&slots).expect("fresh ring");
    // Everything is set up: the window opens LEAD_NS from now (the measuring thread is pinned,
    // locked and spinning by then, and a tickless kernel has had time to stop the tick it
    // restarted for the new task).
    if let Some(l) = load.as_deref_mut() {
        l.open();
    }
    plan.open_in(LEAD_NS);
    out.send(&Message::Window(Window {
        core: plan.cpu as u16,
        start: plan.start,
        end: plan.end,
        threshold: plan.threshold.ticks(),
    }));
    let plan = &*plan;
    let done = AtomicBool::new(false);
    let drain_live = !plan.cfg.icount;
    let shared = std::sync::Mutex::new(Drain {
        consumer,
        out,
        cpu: plan.cpu as u16,
        timer: plan.cfg.mode == Mode::Timer,
        timer_block: heapless::Vec::new(),
        noise_block: heapless::Vec::new(),
        max: 0,
        last_end: 0,
        trace: attr
            .tracer
            .as_mut()
            .map(|t| LiveTrace::new(t.reader(), plan.now, plan.hz)),
    });
    let mut d = std::thread::scope(|s| {
        let watch = Watchers {
            tracer: attr.tracer.as_mut(),
            counters: attr.counters.as_mut(),
        };
        let (done, shared) = (&done, &shared);
        let mut measure =
            Some(s.spawn(move || window::measure(plan, producer, watch, shared, done)));
        sys::avoid(plan.cpu);
        let mut joined = None;
        if !drain_live {
            joined = measure.take().map(|m| m.join().expect("measuring thread"));
        }
        for round in 1u64.. {
            let finished = done.load(Ordering::Acquire);
            if finished && let Some(l) = load.take() {
                l.close();
            }
            let mut drain = shared.lock().unwrap();
            drain.drain();
            if finished && drain.consumer.is_empty() {
                break;
            }
            if drain_live && round % TRACE_ROUNDS == 0 {
                drain.ship_trace();
            }
            drop(drain);
            std::thread::sleep(Duration::from_millis(20));
        }
        let d = match (joined, measure) {
            (Some(d), _) => d,
            (None, Some(m)) => m.join().expect("measuring thread"),
            (None, None) => unreachable!("the thread is joined exactly once"),
        };
        shared.lock().unwrap().flush();
        d
    });
    d.status.lost = ring.lost();
    let drain = shared.into_inner().expect("the measuring thread has ended");
    (d, drain.max, drain.trace)
}

/// A trace reading's new names, then its records.
fn ship_round(out: &mut Output, cpu: u16, round: trace::live::Round) {
    let (from, names) = round.names;
    send_names(out, cpu, from, &names);
    send_blocks(round.records.into_iter(), |items| {
        out.send(&Message::Trace(Block { core: cpu, items }))
    });
}

/// Attribution: the cause names, the trace records of the window's CPU (tracefs) not shipped
/// during it, and how the noise was attributed.
fn ship_attribution(
    out: &mut Output,
    attr: &Attributor,
    live: Option<LiveTrace>,
    result: &Done,
    cpu: u16,
) {
    let mut lost_trace = 0;
    match (&attr.tracer, &attr.counters, live) {
        (Some(t), _, Some(mut live)) => {
            // Read during the window: its last records, converted as the others were; read
            // once after it: through the window's own clock pairs.
            let pairs = (!live.streamed).then_some(result.clock);
            ship_round(out, cpu, live.round(pairs));
            lost_trace = t.dropped() + live.reader.lost();
        }
        (None, Some(c), _) => send_names(out, cpu, 0, &c.names),
        _ => {}
    }
    out.send(&Message::Attribution(Attribution {
        core: cpu,
        method: attr.method,
        probe: 0,
        lost: lost_trace,
        detail: hstring(&attr.detail),
        clock: result.clock,
    }));
}

/// Sends `items` in blocks of at most `BLOCK`.
fn send_blocks<T>(items: impl Iterator<Item = T>, mut send: impl FnMut(heapless::Vec<T, BLOCK>)) {
    let mut block = heapless::Vec::new();
    for item in items {
        if block.is_full() {
            send(std::mem::take(&mut block));
        }
        let _ = block.push(item);
    }
    if !block.is_empty() {
        send(block);
    }
}

/// Noise mode's loop-gap counts, the window's interrupt counts and the CPU-isolation facts.
fn ship_facts(out: &mut Output, result: &Done, cpu: usize, cpus: usize, rt_off: bool) {
    if let Some(gaps) = &result.gaps {
        let counts = gaps
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
            .map(|(g, &n)| (g as u32, n));
        send_blocks(counts, |counts| {
            out.send(&Message::Gaps(GapCounts {
                core: cpu as u16,
                counts,
            }))
        });
    }
    let before = irqs::parse(&result.irqs_before, cpu);
    let after = irqs::parse(&result.irqs_after, cpu);
    let mut sources = heapless::Vec::new();
    for (name, n) in irqs::delta(&before, &after).into_iter().take(24) {
        let _ = sources.push((hstring(&name), n));
    }
    out.send(&Message::Interrupts(InterruptCounts {
        core: cpu as u16,
        interval_ns: result.irq_interval_ns,
        sources,
    }));
    out.send(&Message::Linux(LinuxInfo {
        cpus: cpus as u16,
        nohz_full: hstring(&read("/sys/devices/system/cpu/nohz_full")),
        isolated: hstring(&read("/sys/devices/system/cpu/isolated")),
        rt_throttling_off: rt_off,
        fifo: result.fifo,
        locked: result.locked,
    }));
    out.send(&Message::Kernel(kernel_info()));
}

/// The plain-text result line (as the firmware's), for readers of the console or stderr alone
/// (LAVA: `tickscope-result: ID pass|fail VALUE UNITS`): the largest latency or loop gap,
/// failed when records were lost.
fn result_line(cfg: &Config, result: &Done, cpu: usize, max_ticks: u64, hz: u64) -> String {
    let largest_gap = result
        .gaps
        .as_ref()
        .and_then(|g| g.iter().rposition(|&n| n > 0))
        .unwrap_or(0) as u64;
    format!(
        "tickscope-result: cpu{cpu}-{}-max {} {} ns",
        cfg.mode.name(),
        if result.status.lost == 0 {
            "pass"
        } else {
            "fail"
        },
        tickscope_core::units::ticks_to_ns(max_ticks.max(largest_gap), hz)
    )
}

fn run(o: Options) -> u8 {
    let mut out = match open_output(o.out.as_deref()) {
        Ok(out) => out,
        Err(e) => {
            eprintln!("tickscope-probe: {e}");
            return exit::CONFIG;
        }
    };
    let cpus = sys::online_cpus();
    let (cfg, cpu) = match measured_cpu(&o, &cpus) {
        Ok(c) => c,
        Err(r) => return fail(&o, &mut out, r),
    };
    let counter_note = counter::choose(cfg.threshold_ns);
    let rt = RtThrottling::switch_off(&o);
    if o.settle_ns > 0 {
        std::thread::sleep(Duration::from_nanos(o.settle_ns));
    }
    // The header first: a refusal after it reaches the host as the producer's status.
    send_header(&mut out, &cfg, cpu, cpus.len(), clock(&cfg).0);
    let mut plan = match plan(&o, &cfg, cpu) {
        Ok(p) => p,
        Err(r) => return fail(&o, &mut out, r),
    };
    if !counter_note.is_empty() {
        out.text(&format!("tickscope-probe: {counter_note}"));
    }
    let mut loads = match start_load(&o, &mut out, cpu, &cpus) {
        Ok(l) => l,
        Err(r) => return fail(&o, &mut out, r),
    };
    let timer = find_timer_line(&mut out);
    let mut attr = setup_attribution(
        &o,
        cpu,
        cfg.mode == Mode::Timer,
        timer.as_ref().map(|t| t.irq),
    );
    sys::undo_on_signal(
        RT_PATH,
        rt.restore.as_deref().unwrap_or(""),
        attr.tracer.as_ref().map(|t| t.instance()),
    );
    let (result, max_ticks, live) =
        measure_and_drain(&mut plan, &mut attr, &mut out, loads.as_mut());
    if let Some(e) = result.error {
        return fail(&o, &mut out, Refused(exit::CONFIG, e));
    }
    ship_attribution(&mut out, &attr, live, &result, cpu as u16);
    drop(attr);
    send_timer_line(&mut out, cpu as u16, timer.as_ref());
    ship_facts(&mut out, &result, cpu, cpus.len(), rt.off);
    out.send(&Message::CoreStatus(result.status));
    let line = result_line(&cfg, &result, cpu, max_ticks, plan.hz);
    out.text(&line);
    eprintln!("{line}");
    // The peers after everything of ours: a run cut short during them keeps the probe's figures.
    run_peers(&o, &mut out, &cfg, cpu);
    // The load ran through the peers too: they measure under what the probe did.
    for progress in loads.map(load::Running::stop).unwrap_or_default() {
        out.send(&Message::Load(progress));
    }
    out.send(&Message::End(Trailer {
        status: exit::OK,
        cores_online: cpus.len() as u16,
        at: counter::now(),
    }));
    let _ = out.sink.flush();
    exit::OK
}

/// `--peers`: oslat and cyclictest on the measured CPU, one after the other.
fn run_peers(o: &Options, out: &mut Output, cfg: &Config, cpu: usize) {
    if o.peers.is_empty() {
        return;
    }
    let _ = out.sink.flush();
    peers::run(
        out,
        &o.peers,
        &peers::Setup {
            cpu,
            duration_ns: cfg.duration_ns,
            period_ns: cfg.period_ns,
            priority: o.priority,
        },
    );
}

/// Starts `--load` on every online CPU but the measured one, once each instance has worked.
fn start_load(
    o: &Options,
    out: &mut Output,
    cpu: usize,
    cpus: &[usize],
) -> Result<Option<load::Running>, Refused> {
    if o.load.is_empty() {
        return Ok(None);
    }
    let others: Vec<usize> = cpus.iter().copied().filter(|&c| c != cpu).collect();
    // stress-ng stops itself after this, should the probe die before stopping it: the window,
    // the peers after it (two tools of whole seconds) and a minute to spare.
    let secs = o.config.duration_ns.div_ceil(1_000_000_000);
    let stop_after_s = secs + 60 + if o.peers.is_empty() { 0 } else { 2 * secs + 2 };
    let running =
        load::start(&o.load, &others, stop_after_s).map_err(|e| Refused(exit::CONFIG, e))?;
    out.text(&format!(
        "tickscope-probe: load working on CPUs {}",
        sys::format_cpus(&others)
    ));
    Ok(Some(running))
}

/// The running kernel: its version string, and whether it is PREEMPT_RT (`/sys/kernel/realtime`,
/// which only PREEMPT_RT kernels have; the version string as a fallback).
fn kernel_info() -> KernelInfo {
    let version = read("/proc/sys/kernel/version");
    let realtime = read("/sys/kernel/realtime");
    KernelInfo {
        preempt_rt: if realtime.is_empty() {
            version.contains("PREEMPT_RT")
        } else {
            realtime == "1"
        },
        version: hstring(&version),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_times_map_onto_the_counter_through_two_pairs() {
        // 62.5 MHz counter: 16 ns per tick; pairs 1 s apart.
        let a = (1_000, 5_000_000_000);
        let b = (1_000 + 62_500_000, 6_000_000_000);
        assert_eq!(to_counter(5_000_000_000, a, b), 1_000);
        assert_eq!(to_counter(5_500_000_000, a, b), 1_000 + 31_250_000);
        assert_eq!(to_counter(5_000_000_016, a, b), 1_001);
        // Same clock (timer mode): identity shifted.
        assert_eq!(to_counter(42, (10, 10), (10, 10)), 42);
    }

    #[test]
    fn attribution_option_is_parsed_and_checked() {
        let o = parse_args(
            &["--attribution".into(), "counters".into(), "cores=1".into()],
            false,
        )
        .ok()
        .unwrap();
        assert_eq!(o.attribution, Attr::Counters);
        assert!(parse_args(&["--attribution".into(), "perf".into()], false).is_err());
    }
}
