//! The cycle counter as a second clock: started on every core when the PMU exists, and related to
//! the generic counter on a measured core before its window, so a cycle latency can be computed
//! from a deadline in counter ticks.

use core::sync::atomic::{AtomicBool, Ordering};

use tickscope_cpu::{pmu, regs, timer, vectors};

static PMU: AtomicBool = AtomicBool::new(false);

/// Starts the cycle counter on the boot core (secondaries follow when this says it runs). When
/// there is none, or a hypervisor traps it, every core's vectors skip the cycle read.
pub fn start_pmu() {
    let running = pmu::start_cycle_counter();
    PMU.store(running, Ordering::Relaxed);
    if !running {
        vectors::without_cycles();
    }
}

/// Whether the PMU cycle counter is running (read at interrupt entry when it is).
pub fn pmu_enabled() -> bool {
    PMU.load(Ordering::Relaxed)
}

/// One counter edge seen by a polling loop, with the cycle counter read around each counter read:
/// the edge came after the previous read, which followed `before_prev`, and no later than this
/// read, which preceded `after`.
struct Edge {
    /// The counter's new value.
    counter: u64,
    /// Cycle counter just before the last read that still saw the old value.
    before_prev: u64,
    /// Cycle counter just after the read that saw the new value.
    after: u64,
}

/// Polls the counter until it changes, bracketing every read with two cycle reads.
#[inline(never)]
fn edge() -> Edge {
    let old = timer::now();
    let mut before_prev = pmu::cycles();
    loop {
        let before = pmu::cycles();
        let counter = timer::now();
        let after = pmu::cycles();
        if counter != old {
            return Edge {
                counter,
                before_prev,
                after,
            };
        }
        before_prev = before;
    }
}

/// How the cycle counter relates to the counter on this core.
#[derive(Clone, Copy)]
pub struct Calibration {
    /// Cycles per counter tick, 16.16 fixed point.
    pub q16: u64,
    /// Cycles at counter 0 (two's complement: it may be negative), at the latest:
    /// `counter × ratio + offset` is no earlier than the cycle at which the counter reached
    /// `counter`, so latencies computed from it are lower bounds.
    pub offset: u64,
    /// How much earlier the edge may have been, in cycles (measured: the tightest bracket of 32
    /// edge readings). A latency's true value lies between the figure and the figure plus this.
    pub uncertainty: u64,
}

/// Edge readings the offset is bracketed from, one per phase shift.
const READINGS: u64 = 32;

/// Relates the cycle counter to the counter: `cycles ≈ counter × ratio + offset`. The ratio is
/// measured over 16384 counter ticks between two counter edges and snapped to an integer when
/// within 0.1 % of one (QEMU: exactly 1e9 / CNTFRQ), so it does not drift. The offset is
/// bracketed, not assumed: each of 32 edge readings, started at 32 different phases, bounds the edge from below (the cycle before
/// the last read of the old value) and from above (the cycle after the first read of the new
/// one); the offset is the tightest upper bound and the uncertainty its distance to the tightest
/// lower bound.
pub fn cycles_per_tick() -> Option<Calibration> {
    if !pmu_enabled() {
        return None;
    }
    let e0 = edge();
    timer::spin_until(e0.counter + 16_384);
    let e1 = edge();
    let mut q16 = (e1.after.wrapping_sub(e0.after) << 16) / (e1.counter - e0.counter).max(1);
    let whole = (q16 + 0x8000) >> 16;
    if whole > 0 && (q16.abs_diff(whole << 16)) * 1000 < q16 {
        q16 = whole << 16;
    }
    // Offsets are differences of two free-running counts: signed (the cycle counter may have
    // started after the counter).
    let (mut upper, mut lower) = (i64::MAX, i64::MIN);
    for shift in 0..READINGS {
        // Each reading starts `shift` instructions later than the last edge's lockstep would
        // have it, so the readings meet the edge at every phase of the polling loop (up to 32
        // instructions long) and the brackets close in from both sides. Back-to-back readings
        // meet it at the same few phases whenever the loop's length divides the counter period,
        // which is a matter of code layout.
        regs::nops(shift);
        let e = edge();
        let at = ((e.counter as u128 * q16 as u128) >> 16) as u64;
        upper = upper.min(e.after.wrapping_sub(at) as i64);
        lower = lower.max(e.before_prev.wrapping_sub(at) as i64);
    }
    Some(Calibration {
        q16,
        offset: upper as u64,
        uncertainty: upper.saturating_sub(lower).max(0) as u64,
    })
}
