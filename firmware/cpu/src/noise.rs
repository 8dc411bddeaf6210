//! The noise window's counter loop (`tickscope_core::probe::noise_loop` on the generic counter),
//! built for speed and placed in the image's first page (`.text.hot`, see the linker script):
//! under QEMU a loop of ten instructions that straddles a 4 KiB page loses TCG's direct block
//! chaining and emulates a quarter slower (same figures, longer runs).

use tickscope_core::irq::SampleRec;
use tickscope_core::probe::{self, GapTable, LoopStats, Threshold};
use tickscope_core::ring::Producer;

use crate::timer;

/// Runs the loop over `[start, end)`: every gap above `threshold` is pushed to `samples` as an
/// event, every other one counted in `gaps`.
#[inline(never)]
#[unsafe(link_section = ".text.hot.noise")]
pub fn window(
    start: u64,
    end: u64,
    threshold: Threshold,
    gaps: &mut GapTable,
    samples: &mut Option<Producer<'static, 'static, SampleRec>>,
) -> LoopStats {
    probe::noise_loop(timer::now, start, end, threshold, gaps, |at, gap| {
        if let Some(p) = samples.as_mut() {
            p.push(SampleRec {
                at,
                ticks: gap,
                cycles: 0,
                entry: 0,
            });
        }
    })
}
