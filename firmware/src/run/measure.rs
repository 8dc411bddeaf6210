//! The measurement: core 0 sets up rings and the window and waits (live-draining or in WFI);
//! each measured core runs `timer` or `noise` mode with the injected tick if asked, using the
//! shared loops of `tickscope_core::probe`, and pushes records into its lock-free ring.

use core::cell::UnsafeCell;
use core::mem::MaybeUninit;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use tickscope_core::config::{Config, Mode, TimerChoice, cores_in};
use tickscope_core::exit;
use tickscope_core::probe::{self, GapTable, HandlerClock, Schedule, Threshold};
use tickscope_core::ring::{Producer, Ring, Slot, empty_slot};
use tickscope_core::units::ns_to_ticks;
use tickscope_core::wire::Message;
use tickscope_core::wire::msg::{CoreStatus, IrqKind, Window};

use crate::arch::timer::{self, Timer};
use crate::arch::{self, gic, pmu};
use crate::board::MAX_CORES;
use crate::io::{self, println};
use crate::percore::{ConstInit, PerCore};
use crate::run::{self, Command, SGI_DONE, ship};
use crate::smp;

/// Most cores measured at once (each has its own rings and gap table).
pub const MAX_MEASURED: usize = 8;
const SAMPLE_CAP: usize = 1 << 16;
const IRQ_CAP: usize = 1 << 14;
/// Bytes of the interference buffer each interfering core streams over.
const INTERFERE_BYTES: usize = 4 << 20;

/// A sample-ring record: timer sample (deadline, latency, cycles) or noise event (start, gap, 0).
#[derive(Clone, Copy, Debug, Default)]
#[repr(C)]
pub struct Rec {
    /// Deadline or start (counter).
    pub a: u64,
    /// Latency or gap (ticks).
    pub b: u32,
    /// Cycles, or 0.
    pub c: u32,
    /// Entry cycles (vector to handler body), or `u32::MAX`.
    pub d: u32,
}

/// An interrupt-ring record: one interrupt taken in the window (see `IrqSpan`).
#[derive(Clone, Copy, Debug, Default)]
#[repr(C)]
pub struct IrqRec {
    /// Counter at the vector.
    pub entry: u64,
    /// Counter at the handler's end, minus `entry`.
    pub span: u32,
    /// `entry - deadline` for the injected tick, `u32::MAX` otherwise.
    pub late: u32,
    /// Ticks of the span the core was taken away from the handler.
    pub stolen: u32,
    /// INTID.
    pub intid: u16,
    /// What it was.
    pub kind: IrqKind,
}

struct Store<T, const N: usize>([Slot<T>; N]);
// SAFETY: slots are only accessed through the rings, which hand each slot to one side at a time.
unsafe impl<T: Send, const N: usize> Sync for Store<T, N> {}

#[unsafe(link_section = ".noinit.samples")]
static SAMPLE_STORE: [Store<Rec, SAMPLE_CAP>; MAX_MEASURED] =
    [const { Store([const { empty_slot() }; SAMPLE_CAP]) }; MAX_MEASURED];
#[unsafe(link_section = ".noinit.ticks")]
static IRQ_STORE: [Store<IrqRec, IRQ_CAP>; MAX_MEASURED] =
    [const { Store([const { empty_slot() }; IRQ_CAP]) }; MAX_MEASURED];

macro_rules! rings {
    ($store:ident) => {
        [
            Ring::new(&$store[0].0),
            Ring::new(&$store[1].0),
            Ring::new(&$store[2].0),
            Ring::new(&$store[3].0),
            Ring::new(&$store[4].0),
            Ring::new(&$store[5].0),
            Ring::new(&$store[6].0),
            Ring::new(&$store[7].0),
        ]
    };
}
static SAMPLE_RINGS: [Ring<'static, Rec>; MAX_MEASURED] = rings!(SAMPLE_STORE);
static IRQ_RINGS: [Ring<'static, IrqRec>; MAX_MEASURED] = rings!(IRQ_STORE);

struct GapCell(UnsafeCell<GapTable>);
// SAFETY: a gap table is written only by its measured core during the window and read by core 0
// after that core published DONE (Release/Acquire).
unsafe impl Sync for GapCell {}
static GAPS: [GapCell; MAX_MEASURED] =
    [const { GapCell(UnsafeCell::new([0; probe::GAP_SLOTS])) }; MAX_MEASURED];

struct InterfereBuf(UnsafeCell<[u8; INTERFERE_BYTES]>);
// SAFETY: interfering cores write racy bytes into it on purpose (memory load); no one reads
// values from it for any decision.
unsafe impl Sync for InterfereBuf {}
#[unsafe(link_section = ".noinit.interfere")]
static INTERFERE: InterfereBuf = InterfereBuf(UnsafeCell::new([0; INTERFERE_BYTES]));

/// Window bounds (virtual counter), set by core 0 before the Measure command.
static START_AT: AtomicU64 = AtomicU64::new(0);
static END_AT: AtomicU64 = AtomicU64::new(0);
/// Measured core finished and published its status.
static DONE: [AtomicBool; MAX_CORES] = [const { AtomicBool::new(false) }; MAX_CORES];
/// Set by the measurement-timer interrupt when the last deadline of the window fired.
static FINISHED: [AtomicBool; MAX_CORES] = [const { AtomicBool::new(false) }; MAX_CORES];

/// What core 0 hands a measured core before the Measure command.
pub struct Handoff {
    slot: usize,
    samples: Option<Producer<'static, 'static, Rec>>,
    irqs: Option<Producer<'static, 'static, IrqRec>>,
    threshold_ticks: u64,
    status: CoreStatus,
}

impl ConstInit for Handoff {
    const INIT: Self = Handoff {
        slot: 0,
        samples: None,
        irqs: None,
        threshold_ticks: 0,
        status: EMPTY_STATUS,
    };
}

const EMPTY_STATUS: CoreStatus = CoreStatus {
    core: 0,
    samples: 0,
    lost: 0,
    window_start: 0,
    window_end: 0,
    ticks: 0,
    foreign_irqs: 0,
    overruns: 0,
    blind: 0,
    ghosts: 0,
};

static HANDOFF: PerCore<Handoff> = PerCore::new();

/// What the interrupt handlers of a measured core use. Touched by the core's normal code only
/// while its interrupts are masked (setup and teardown).
pub struct IrqState {
    meas: Option<(Timer, u32)>,
    sched: Option<Schedule>,
    samples: Option<Producer<'static, 'static, Rec>>,
    tick: Option<(Timer, u32)>,
    tick_sched: Option<Schedule>,
    tick_busy: u64,
    /// Every interrupt of the window but the measurement timer's own wake-ups.
    irqs: Option<Producer<'static, 'static, IrqRec>>,
    /// CNTPCT - CNTVCT: added to deadlines of physical timers.
    phys_offset: u64,
    /// Cycle-counter calibration: cycles = counter × ratio (16.16) + offset.
    cal: Option<(u64, u64)>,
    spurious: u64,
    ghosts: u64,
    /// The running handler's own timeline (stolen time), restarted at every interrupt.
    clock: HandlerClock,
    /// Steps above this many ticks inside a handler are stolen time (the event threshold).
    steal_threshold: u64,
}

impl ConstInit for IrqState {
    const INIT: Self = IrqState {
        meas: None,
        sched: None,
        samples: None,
        tick: None,
        tick_sched: None,
        tick_busy: 0,
        irqs: None,
        phys_offset: 0,
        cal: None,
        spurious: 0,
        ghosts: 0,
        clock: HandlerClock::start(0, u64::MAX),
        steal_threshold: u64::MAX,
    };
}

/// Uninitialised (so it lands in .bss) until `init_core` writes each core's slot at boot,
/// before that core ever unmasks interrupts.
static IRQ: PerCore<MaybeUninit<IrqState>> = PerCore::new();

/// Initialises this core's interrupt state. Call once per core at boot, interrupts masked.
pub fn init_core() {
    // SAFETY: this core's slot, interrupts masked, no handler can observe it half-written.
    unsafe { IRQ.mine() }.write(IrqState::INIT);
}

/// This core's interrupt state.
///
/// # Safety
/// `init_core` ran on this core; the caller is the interrupt handler, or runs with interrupts
/// masked (so the two never hold the state at once).
#[allow(clippy::mut_from_ref)]
unsafe fn irq_state() -> &'static mut IrqState {
    // SAFETY: initialised by `init_core`; exclusivity is the caller's contract.
    unsafe { IRQ.mine().assume_init_mut() }
}

/// The timer `timer` mode uses at `el`.
pub fn timer_choice(cfg: &Config, el: u8) -> TimerChoice {
    match cfg.timer {
        TimerChoice::Auto if el >= 2 => TimerChoice::Hyp,
        TimerChoice::Auto => TimerChoice::Virtual,
        t => t,
    }
}

fn timer_of(choice: TimerChoice) -> Timer {
    match choice {
        TimerChoice::Hyp => Timer::Hyp,
        TimerChoice::Physical => Timer::Physical,
        _ => Timer::Virtual,
    }
}

/// Core 0: runs the measurement window and ships the results. Returns the run status.
pub fn run_primary(cfg: &Config, cores: usize) -> u8 {
    let hz = timer::frequency();
    let measured = cfg.measured_cores(cores as u16);
    let mut list: heapless::Vec<usize, MAX_MEASURED> = heapless::Vec::new();
    for core in cores_in(measured) {
        if list.push(core as usize).is_err() {
            println!("tickscope: at most {MAX_MEASURED} cores can be measured at once");
            return exit::CONFIG;
        }
    }
    let threshold_ticks = cfg.threshold_ns * hz / 1_000_000_000;
    if cfg.mode == Mode::Noise && Threshold::new(threshold_ticks).is_none() {
        println!(
            "tickscope: threshold {} ns is {threshold_ticks} counter ticks; the loop-gap table holds at most {} ticks",
            cfg.threshold_ns,
            probe::GAP_SLOTS - 1
        );
        return exit::CONFIG;
    }
    let interferers = if cfg.interference {
        (1..cores as u64).fold(0u64, |m, c| m | 1 << c) & !measured
    } else {
        0
    };

    let mut shippers: heapless::Vec<ship::Shipper, MAX_MEASURED> = heapless::Vec::new();
    for (slot, &core) in list.iter().enumerate() {
        let (sp, sc) = SAMPLE_RINGS[slot]
            .split()
            .expect("rings are split once per boot");
        let (ip, ic) = IRQ_RINGS[slot]
            .split()
            .expect("rings are split once per boot");
        // SAFETY: `core` is parked (it acts only after the Measure command published below).
        let h = unsafe { HANDOFF.other(core) };
        *h = Handoff {
            slot,
            samples: Some(sp),
            irqs: Some(ip),
            threshold_ticks,
            status: EMPTY_STATUS,
        };
        DONE[core].store(false, Ordering::Relaxed);
        let _ = shippers.push(ship::Shipper::new(core, slot, cfg, sc, ic));
    }

    // Open the window 1 ms from now, so every measured core is waiting for it.
    let start = timer::now() + hz / 1000;
    let end = start + ns_to_ticks(cfg.duration_ns, hz);
    START_AT.store(start, Ordering::Relaxed);
    END_AT.store(end, Ordering::Relaxed);
    for s in shippers.iter_mut() {
        s.set_window(start);
        io::send(&Message::Window(Window {
            core: s.core() as u16,
            start,
            end,
            threshold: threshold_ticks,
        }));
    }
    defmt::info!(
        "window: {=u64} ticks from {=u64}, {=usize} measured core(s)",
        end - start,
        start,
        list.len()
    );
    if interferers != 0 {
        run::command(Command::Interfere, interferers);
    }
    run::command(Command::Measure, measured);

    // Wait for the measured cores; give up a generous time after the window should have closed.
    let timeout_at = end + 2 * hz + (end - start) / 2;
    let live = cfg.drains_live();
    if !live {
        // Park in WFI so this core executes nothing during the window (see Drain::After).
        Timer::Virtual.arm(timeout_at);
        gic::set_private(Timer::Virtual.intid(), true);
    }
    let mut timed_out = false;
    while !list.iter().all(|&c| DONE[c].load(Ordering::Acquire)) {
        if live {
            for s in shippers.iter_mut() {
                s.drain();
            }
            if timer::now() > timeout_at {
                timed_out = true;
                break;
            }
        } else {
            arch::wfi();
            if run::drain_pending(Timer::Virtual.intid()) {
                timed_out = true;
                break;
            }
        }
    }
    if !live {
        Timer::Virtual.disable();
        gic::set_private(Timer::Virtual.intid(), false);
    }
    if interferers != 0 {
        run::command(Command::Stop, interferers);
    }
    for s in shippers.iter_mut() {
        s.drain();
        let core = s.core();
        if !DONE[core].load(Ordering::Acquire) {
            println!("tickscope: measured core {core} did not finish its window");
            continue;
        }
        // SAFETY: the core published DONE after its last write to the hand-off and gap table.
        let h = unsafe { HANDOFF.other(core) };
        // SAFETY: as above.
        let gaps = unsafe { &*GAPS[h.slot].0.get() };
        s.finish(&h.status, (cfg.mode == Mode::Noise).then_some(gaps));
    }
    if timed_out { exit::TIMEOUT } else { exit::OK }
}

/// A measured core: runs its window, publishes its status, tells core 0.
pub fn run_measured(core: usize) {
    let cfg = run::config();
    let el = arch::current_el();
    let hz = timer::frequency();
    // SAFETY: core 0 wrote the hand-off before the command; only this core uses it now.
    let h = unsafe { HANDOFF.mine() };
    let start = START_AT.load(Ordering::Relaxed);
    let end = END_AT.load(Ordering::Relaxed);
    FINISHED[core].store(false, Ordering::Relaxed);
    let mut samples = h.samples.take();

    arch::irq_save();
    {
        // SAFETY: interrupts are masked; the handlers cannot run while we set up their state.
        let st = unsafe { irq_state() };
        *st = IrqState::INIT;
        st.phys_offset = timer::virtual_offset();
        st.cal = calibrate_cycles();
        st.irqs = h.irqs.take();
        st.steal_threshold = h.threshold_ticks.max(1);
        let meas = timer_of(timer_choice(cfg, el));
        if let Some(tick) = cfg.inject {
            // The tick uses a timer the measurement does not: physical next to a virtual
            // measurement timer, virtual otherwise (noise mode measures no timer).
            let t = if cfg.mode == Mode::Timer && meas == Timer::Virtual {
                Timer::Physical
            } else {
                Timer::Virtual
            };
            let period = ns_to_ticks(tick.period_ns(), hz);
            // In timer mode the tick fires a tenth of its duration (at least 1 µs) before a
            // measurement deadline when the two coincide, so that wake-up is delayed by about 90 %
            // of the tick's duration: a known answer. (Fired together, the GIC would hand out
            // the lower INTID first and the tick would delay nothing.)
            let lead = (ns_to_ticks(tick.duration_ns, hz) / 10).max(ns_to_ticks(1_000, hz));
            let first = if cfg.mode == Mode::Timer {
                start.saturating_sub(lead)
            } else {
                start
            };
            let sched = Schedule::new(first, period, end);
            st.tick = Some((t, t.intid()));
            st.tick_busy = ns_to_ticks(tick.duration_ns, hz);
            gic::set_private(t.intid(), true);
            t.arm(sched.deadline() + if t.is_physical() { st.phys_offset } else { 0 });
            st.tick_sched = Some(sched);
        }
        if cfg.mode == Mode::Timer {
            let sched = Schedule::new(start, ns_to_ticks(cfg.period_ns, hz), end);
            st.meas = Some((meas, meas.intid()));
            st.samples = samples.take();
            gic::set_private(meas.intid(), true);
            meas.arm(
                sched.deadline()
                    + if meas.is_physical() {
                        st.phys_offset
                    } else {
                        0
                    },
            );
            st.sched = Some(sched);
        }
    }

    let mut iterations = 0;
    let mut blind = 0;
    match cfg.mode {
        Mode::Timer => {
            arch::irq_enable();
            while !FINISHED[core].load(Ordering::Acquire) {
                arch::wfi();
            }
        }
        Mode::Noise => {
            arch::irq_enable();
            let threshold = Threshold::new(h.threshold_ticks).expect("validated by core 0");
            // SAFETY: this core's gap table; core 0 reads it only after DONE.
            let gaps = unsafe { &mut *GAPS[h.slot].0.get() };
            gaps.fill(0);
            let mut out = samples.take();
            timer::spin_until(start);
            let stats = probe::noise_loop(timer::now, start, end, threshold, gaps, |start, gap| {
                if let Some(p) = out.as_mut() {
                    // A gap beyond u32 ticks (over a minute at 62.5 MHz) is kept at u32::MAX,
                    // never wrapped: the host reports such values as clamped.
                    p.push(Rec {
                        a: start,
                        b: gap.min(u32::MAX as u64) as u32,
                        c: 0,
                        d: 0,
                    });
                }
            });
            iterations = stats.iterations;
            blind = stats.blind;
        }
        Mode::Boot => {}
    }
    arch::irq_save();
    let window_end = timer::now();

    // SAFETY: interrupts are masked again; the handlers are done with the state.
    let st = unsafe { irq_state() };
    let mut status = CoreStatus {
        core: core as u16,
        window_start: start,
        window_end,
        ..EMPTY_STATUS
    };
    if let Some((t, id)) = st.meas.take() {
        t.disable();
        gic::set_private(id, false);
    }
    if let Some((t, id)) = st.tick.take() {
        t.disable();
        gic::set_private(id, false);
    }
    if let Some(s) = st.sched {
        status.samples = s.fired;
        status.overruns = s.overruns;
    } else {
        status.samples = iterations;
    }
    status.ticks = st.tick_sched.map(|s| s.fired).unwrap_or(0);
    status.foreign_irqs = st.spurious;
    status.ghosts = st.ghosts;
    status.blind = blind;
    st.irqs = None;
    status.lost = SAMPLE_RINGS[h.slot].lost() + IRQ_RINGS[h.slot].lost();
    h.status = status;
    DONE[core].store(true, Ordering::Release);
    gic::send_sgi(SGI_DONE, 0);
}

/// Counter and cycle counter read right after a counter edge.
fn edge() -> (u64, u64) {
    let t = timer::now();
    loop {
        let c = timer::now();
        if c != t {
            return (c, pmu::cycles());
        }
    }
}

/// Relates the cycle counter to the counter: `cycles ≈ counter × ratio + offset`, ratio in
/// 16.16 fixed point. The ratio is measured over 16384 counter ticks between two counter edges
/// and snapped to an integer when within 0.1 % of one (QEMU: exactly 1e9 / CNTFRQ), so it does
/// not drift; the offset is the smallest of 16 edge readings, within a few cycles of the edge.
fn calibrate_cycles() -> Option<(u64, u64)> {
    if !run::pmu_enabled() {
        return None;
    }
    let (c0, y0) = edge();
    timer::spin_until(c0 + 16_384);
    let (c1, y1) = edge();
    let mut q16 = ((y1 - y0) << 16) / (c1 - c0).max(1);
    let whole = (q16 + 0x8000) >> 16;
    if whole > 0 && (q16.abs_diff(whole << 16)) * 1000 < q16 {
        q16 = whole << 16;
    }
    let mut offset = u64::MAX;
    for _ in 0..16 {
        let (c, y) = edge();
        offset = offset.min(y.wrapping_sub(((c as u128 * q16 as u128) >> 16) as u64));
    }
    Some((q16, offset))
}

/// What the measurement made of an interrupt on this core.
#[derive(Clone, Copy)]
pub struct Claim {
    /// What it was.
    pub kind: IrqKind,
    /// `entry - deadline` of a timer whose deadline is known, else `u32::MAX`.
    pub late: u32,
}

/// Starts a handler's own timeline at the vector's timestamp (every interrupt, first thing).
#[inline(always)]
pub fn begin_irq(entry: u64) {
    // SAFETY: interrupt context on this core; the interrupted code does not use the state while
    // interrupts are enabled.
    let st = unsafe { irq_state() };
    st.clock = HandlerClock::start(entry, st.steal_threshold);
}

/// Interrupt on a measured core, with the vector's timestamps. Returns `None` if the interrupt is
/// not the measurement's (the caller decides whether it is someone else's or a fault).
#[inline(always)]
pub fn on_irq(intid: u32, entry: u64, cycles: u64) -> Option<Claim> {
    // Interrupt context on this core.
    // SAFETY: the interrupted code does not use the state while interrupts are enabled.
    let st = unsafe { irq_state() };
    if let Some((t, id)) = st.meas
        && id == intid
    {
        return Some(on_timer(st, t, entry, cycles));
    }
    if let Some((t, id)) = st.tick
        && id == intid
    {
        return Some(on_tick(st, t, entry));
    }
    None
}

/// Records an interrupt this core took during its window (all but the measurement timer's own
/// wake-ups, which are the samples). `exit` is read here, as the handler's last act.
#[inline(always)]
pub fn record_irq(intid: u32, claim: Option<Claim>, entry: u64) {
    // SAFETY: interrupt context on this core, as in `on_irq`.
    let st = unsafe { irq_state() };
    let Some(p) = st.irqs.as_mut() else {
        return;
    };
    let claim = claim.unwrap_or(Claim {
        kind: if intid < 16 {
            IrqKind::Sgi
        } else {
            IrqKind::Other
        },
        late: u32::MAX,
    });
    if claim.kind == IrqKind::Timer {
        return;
    }
    let exit = timer::now();
    st.clock.step(exit);
    p.push(IrqRec {
        entry,
        span: exit.wrapping_sub(entry).min(u32::MAX as u64) as u32,
        late: claim.late,
        stolen: st.clock.stolen().min(u32::MAX as u64) as u32,
        intid: intid as u16,
        kind: claim.kind,
    });
}

/// The timer's interrupt condition must hold and its deadline must have passed; anything else is
/// a ghost delivery, counted and never recorded as a latency (Linux's arch_timer handler checks
/// ISTATUS the same way).
fn is_ghost(t: Timer, entry: u64, deadline: u64) -> bool {
    !t.condition_met() || entry < deadline
}

fn on_timer(st: &mut IrqState, t: Timer, now: u64, cycles: u64) -> Claim {
    // The handler's body starts here: what it took to get here from the vector is the entry cost.
    let body = if st.cal.is_some() { pmu::cycles() } else { 0 };
    let ghost = Claim {
        kind: IrqKind::Ghost,
        late: u32::MAX,
    };
    let Some(sched) = st.sched.as_mut() else {
        return ghost;
    };
    if is_ghost(t, now, sched.deadline()) {
        st.ghosts += 1;
        return ghost;
    }
    let w = sched.fire(now);
    let lat_cycles = match st.cal {
        Some((q16, offset)) => {
            let due = ((w.deadline as u128 * q16 as u128) >> 16) as u64 + offset;
            // A cycle count before the calibrated deadline cannot be a latency: marked invalid.
            cycles
                .checked_sub(due)
                .filter(|&c| c < u32::MAX as u64)
                .map(|c| c as u32)
                .unwrap_or(u32::MAX)
        }
        None => u32::MAX,
    };
    if let Some(p) = st.samples.as_mut() {
        // Clamped, never wrapped (see the noise loop).
        p.push(Rec {
            a: w.deadline,
            b: w.latency.min(u32::MAX as u64) as u32,
            c: lat_cycles,
            d: if st.cal.is_some() {
                body.wrapping_sub(cycles).min(u32::MAX as u64 - 1) as u32
            } else {
                u32::MAX
            },
        });
    }
    match w.next {
        Some(next) => t.rearm(next + if t.is_physical() { st.phys_offset } else { 0 }),
        None => {
            t.disable();
            FINISHED[crate::smp::core_index()].store(true, Ordering::Release);
        }
    }
    Claim {
        kind: IrqKind::Timer,
        late: w.latency.min(u32::MAX as u64) as u32,
    }
}

fn on_tick(st: &mut IrqState, t: Timer, entry: u64) -> Claim {
    let ghost = Claim {
        kind: IrqKind::Ghost,
        late: u32::MAX,
    };
    let Some(sched) = st.tick_sched.as_mut() else {
        return ghost;
    };
    let deadline = sched.deadline();
    if is_ghost(t, entry, deadline) {
        st.ghosts += 1;
        return ghost;
    }
    // The synthetic kernel tick: keep the core busy for the configured time of its own
    // execution (time the core is taken away meanwhile is stolen, not the tick's work).
    probe::busy_for(timer::now, &mut st.clock, st.tick_busy);
    let w = sched.fire(entry);
    match w.next {
        Some(next) => t.rearm(next + if t.is_physical() { st.phys_offset } else { 0 }),
        None => t.disable(),
    }
    Claim {
        kind: IrqKind::Tick,
        late: (entry - deadline).min(u32::MAX as u64 - 1) as u32,
    }
}

/// Counts a spurious interrupt on this core.
pub fn count_spurious() {
    // SAFETY: interrupt context on this core, as in `on_irq`.
    unsafe { irq_state() }.spurious += 1;
}

/// An interfering core: streams over its part of a shared buffer until told to stop.
pub fn interfere(core: usize) {
    let cores = smp::cores_expected().max(1);
    let part = INTERFERE_BYTES / cores;
    let base = INTERFERE.0.get() as *mut u8;
    let mut round: u8 = 0;
    while run::current_command() == Command::Interfere {
        for off in (0..part).step_by(64) {
            // Concurrent writes to shared bytes are intended load, never read for a decision.
            // SAFETY: in bounds of this core's part of the buffer (see InterfereBuf).
            unsafe {
                let p = base.add(core * part + off);
                core::ptr::write_volatile(p, core::ptr::read_volatile(p).wrapping_add(round));
            }
        }
        round = round.wrapping_add(1);
    }
}
