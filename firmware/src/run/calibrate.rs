//! The cycle counter as a second clock: started on every core when the PMU exists, and related to
//! the generic counter on a measured core before its window, so a cycle latency can be computed
//! from a deadline in counter ticks.

use core::sync::atomic::{AtomicBool, Ordering};

use tickscope_cpu::{pmu, timer, vectors};

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
pub fn cycles_per_tick() -> Option<(u64, u64)> {
    if !pmu_enabled() {
        return None;
    }
    let (c0, y0) = edge();
    timer::spin_until(c0 + 16_384);
    let (c1, y1) = edge();
    let mut q16 = (y1.wrapping_sub(y0) << 16) / (c1 - c0).max(1);
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
