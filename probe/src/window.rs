//! The measuring thread: pinned, locked and SCHED_FIFO on the measured CPU, it waits for the
//! window, measures (timer wake-ups or the noise loop), ships checkpoints, and hands back what it saw.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tickscope_core::config::{Config, Mode};
use tickscope_core::probe::{self, GAP_SLOTS, Schedule, Threshold};
use tickscope_core::ring::Producer;
use tickscope_core::units::ns_to_ticks;
use tickscope_core::wire::msg::CoreStatus;

use crate::counters::Counters;
use crate::trace::Tracer;
use crate::{Drain, Rec, clock_pair, read, sys};

/// What the measuring thread needs to know, fixed before it starts.
pub struct Plan {
    /// The measured CPU.
    pub cpu: usize,
    /// The run's configuration.
    pub cfg: Config,
    /// Window, in the run's clock (`now`).
    pub start: u64,
    /// End of the window.
    pub end: u64,
    /// Ticks per second of `now`.
    pub hz: u64,
    /// The run's clock: CLOCK_MONOTONIC ns in timer mode, the counter in noise mode.
    pub now: fn() -> u64,
    /// Noise mode's event threshold.
    pub threshold: Threshold,
    /// Checkpoint interval in ticks (`u64::MAX`: none).
    pub every: u64,
    /// SCHED_FIFO at `priority` with locked memory (`--rt`).
    pub rt: bool,
    /// SCHED_FIFO priority.
    pub priority: i32,
}

impl Plan {
    /// Fixes the window: it opens `lead_ns` from now and lasts the configured duration.
    pub fn open_in(&mut self, lead_ns: u64) {
        self.start = (self.now)() + ns_to_ticks(lead_ns, self.hz);
        self.end = self.start + ns_to_ticks(self.cfg.duration_ns, self.hz);
    }
}

/// What the measuring thread saw.
pub struct Done {
    /// The core's status at the window's end.
    pub status: CoreStatus,
    /// Noise mode's loop-gap counts.
    pub gaps: Option<Box<probe::GapTable>>,
    /// `/proc/interrupts` just before the window opened.
    pub irqs_before: String,
    /// `/proc/interrupts` right after it closed.
    pub irqs_after: String,
    /// CLOCK_MONOTONIC ns between the two reads.
    pub irq_interval_ns: u64,
    /// (clock, CLOCK_MONOTONIC) pairs before and after the window, for the trace's clock.
    pub clock: [(u64, u64); 2],
    /// The measuring thread's id (the trace names it).
    pub tid: i32,
    /// Whether it ran SCHED_FIFO.
    pub fifo: bool,
    /// Whether its memory was locked.
    pub locked: bool,
    /// Why it could not measure, if it could not.
    pub error: Option<String>,
}

/// The thread's optional helpers: the trace to switch on around the window, the counters read
/// at every noise event.
pub struct Watchers<'a> {
    /// tracefs attribution.
    pub tracer: Option<&'a mut Tracer>,
    /// Per-event counter attribution.
    pub counters: Option<&'a mut Counters>,
}

/// The thread's body: prepares, waits for the window, measures, closes. Sets `done` when it
/// returns, whichever way.
pub fn measure(
    plan: &Plan,
    mut producer: Producer<'_, '_, Rec>,
    mut watch: Watchers<'_>,
    shared: &Mutex<Drain<'_, '_>>,
    done: &AtomicBool,
) -> Done {
    let mut d = Done {
        status: CoreStatus {
            core: plan.cpu as u16,
            ..CoreStatus::default()
        },
        gaps: None,
        irqs_before: String::new(),
        irqs_after: String::new(),
        irq_interval_ns: 0,
        clock: [(0, 0); 2],
        tid: crate::sys::gettid(),
        fifo: false,
        locked: false,
        error: None,
    };
    if let Err(e) = prepare(plan, &mut d) {
        d.error = Some(e);
        done.store(true, Ordering::Release);
        return d;
    }
    shared.lock().unwrap().probe_thread(d.tid);
    // Everything the loop needs exists before the window opens (allocated and touched under
    // mlockall): setting it up inside the window would be the probe's own noise.
    let gaps: Option<Box<probe::GapTable>> = (plan.cfg.mode != Mode::Timer).then(|| {
        vec![0u64; GAP_SLOTS]
            .into_boxed_slice()
            .try_into()
            .expect("GAP_SLOTS entries")
    });
    let t_before = open_window(plan, &mut watch, &mut d);
    match gaps {
        None => timer_window(plan, &mut producer, shared, &mut d),
        Some(gaps) => {
            d.gaps = Some(noise_window(
                plan,
                &mut producer,
                &mut watch,
                shared,
                &mut d,
                gaps,
            ))
        }
    }
    d.status.window_start = plan.start;
    d.status.window_end = (plan.now)();
    d.irqs_after = read("/proc/interrupts");
    d.irq_interval_ns = sys::monotonic_ns() - t_before;
    d.clock[1] = clock_pair(plan.now);
    if let Some(t) = watch.tracer.as_mut() {
        t.off();
    }
    done.store(true, Ordering::Release);
    d
}

/// Pins the thread to the measured CPU, and (`--rt`) locks memory and switches to SCHED_FIFO.
fn prepare(plan: &Plan, d: &mut Done) -> Result<(), String> {
    sys::pin(plan.cpu).map_err(|e| e.0)?;
    if plan.rt {
        sys::lock_memory()
            .and_then(|_| sys::fifo(plan.priority))
            .map_err(|e| e.0)?;
        d.locked = true;
        d.fifo = true;
    }
    Ok(())
}

/// Waits for the window: sleeps through most of the time to it, then spins for the last 30 ms
/// (a tickless kernel restarts the tick when the CPU leaves idle and stops it again within a
/// tick or two of the task running alone; under icount a sleeping CPU costs no host time, a
/// spinning one does). Switches the trace on, reads the interrupt counts and the clock pair
/// just before the window, and returns CLOCK_MONOTONIC at the interrupt read.
fn open_window(plan: &Plan, watch: &mut Watchers<'_>, d: &mut Done) -> u64 {
    let (now, hz) = (plan.now, plan.hz);
    // How long the pre-window work takes on this CPU, measured here (pinned, warm): three times
    // that before the window opens, so the loop is running when it does.
    let t0 = now();
    let _ = read("/proc/interrupts");
    let _ = clock_pair(now);
    let lead = (3 * (now() - t0)).max(ns_to_ticks(1_000_000, hz));
    let spin = ns_to_ticks(30_000_000, hz);
    let wake = plan.start.saturating_sub(lead + spin);
    let t = now();
    if wake > t {
        std::thread::sleep(Duration::from_nanos(
            (wake - t).saturating_mul(1_000_000_000) / hz,
        ));
    }
    while now() < plan.start.saturating_sub(lead) {}
    if let Some(t) = watch.tracer.as_mut() {
        t.on();
    }
    d.clock[0] = clock_pair(now);
    d.irqs_before = read("/proc/interrupts");
    let t_before = sys::monotonic_ns();
    if let Some(c) = watch.counters.as_mut() {
        c.moved();
    }
    while now() < plan.start {}
    t_before
}

/// The status so far, covering the window up to `upto`.
fn snapshot(plan: &Plan, d: &Done, upto: u64) -> CoreStatus {
    CoreStatus {
        window_start: plan.start,
        window_end: upto,
        ..d.status
    }
}

/// Timer mode: absolute sleeps to each deadline of the schedule, a record per wake-up.
fn timer_window(
    plan: &Plan,
    producer: &mut Producer<'_, '_, Rec>,
    shared: &Mutex<Drain<'_, '_>>,
    d: &mut Done,
) {
    let mut next_checkpoint = plan.start.saturating_add(plan.every);
    let mut sched = Schedule::new(plan.start, plan.cfg.period_ns.max(1), plan.end);
    while !sched.is_empty() {
        sys::sleep_until(sched.deadline());
        let t = sys::monotonic_ns();
        if t < sched.deadline() {
            // An absolute sleep never returns early; if it did, sleep again rather than
            // record a latency the clock contradicts.
            continue;
        }
        let w = sched.fire(t);
        producer.push(Rec {
            at: w.deadline,
            value: w.latency,
            moved: 0,
        });
        if w.next.is_none() {
            break;
        }
        // Right after a wake-up, the period is ours until the next deadline.
        if t >= next_checkpoint {
            d.status.samples = sched.fired;
            d.status.overruns = sched.overruns;
            d.status.lost = producer.lost();
            shared.lock().unwrap().checkpoint(snapshot(plan, d, t));
            next_checkpoint = t.saturating_add(plan.every);
        }
    }
    d.status.samples = sched.fired;
    d.status.overruns = sched.overruns;
}

/// Noise mode: the counter loop, in stretches between checkpoints (a checkpoint's time is the
/// probe's own, blind, not a gap). Returns the loop-gap counts.
fn noise_window(
    plan: &Plan,
    producer: &mut Producer<'_, '_, Rec>,
    watch: &mut Watchers<'_>,
    shared: &Mutex<Drain<'_, '_>>,
    d: &mut Done,
    mut gaps: Box<probe::GapTable>,
) -> Box<probe::GapTable> {
    let mut next_checkpoint = plan.start.saturating_add(plan.every);
    let mut from = plan.start;
    let mut events = 0;
    loop {
        let stretch = probe::noise_loop_watching(
            crate::counter::now,
            from,
            next_checkpoint.min(plan.end),
            plan.threshold,
            &mut gaps,
            |at, gap| {
                let moved = watch.counters.as_mut().map(|c| c.moved()).unwrap_or(0);
                producer.push(Rec {
                    at,
                    value: gap,
                    moved,
                });
            },
        );
        events += stretch.events;
        d.status.blind += stretch.blind;
        d.status.samples = events + probe::counted(&gaps, plan.threshold);
        if stretch.last >= plan.end {
            break;
        }
        d.status.lost = producer.lost();
        shared
            .lock()
            .unwrap()
            .checkpoint(snapshot(plan, d, stretch.last));
        from = crate::counter::now();
        d.status.blind += from - stretch.last;
        next_checkpoint = stretch.last.saturating_add(plan.every);
    }
    gaps
}
