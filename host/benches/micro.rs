//! Host micro-benchmarks: the hot parts of the pipeline, each repeated and reported as the minimum
//! and the median per item (`cargo bench -p tickscope`). Wall-clock figures of this machine,
//! printed, never asserted; `tickscope bench` has the end-to-end and exact (-icount) figures.

use std::hint::black_box;
use std::time::Instant;

use tickscope::analysis::Analysis;
use tickscope::decode::Decoder;
use tickscope_core::hist::Histogram;
use tickscope_core::stats::Accumulator;
use tickscope_core::wire::Encoder;
use tickscope_core::wire::msg::{Block, Message, NoiseEvent};

const REPEATS: usize = 7;

/// Runs `f` (which handles `items` items) `REPEATS` times; prints ns per item, min and median.
fn bench(name: &str, items: u64, mut f: impl FnMut()) {
    f(); // warm-up
    let mut ns: Vec<f64> = (0..REPEATS)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_nanos() as f64 / items as f64
        })
        .collect();
    ns.sort_by(f64::total_cmp);
    println!(
        "{name:<44} min {:>9.2} ns/item   median {:>9.2} ns/item   ({items} items x {REPEATS})",
        ns[0],
        ns[REPEATS / 2]
    );
}

fn main() {
    const N: u64 = 2_000_000;
    bench("histogram record", N, || {
        let mut h = Histogram::new();
        let mut x = 1u64;
        for _ in 0..N {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
            h.record(20 + (x >> 54));
        }
        black_box(&h);
    });
    bench("accumulator record (hist, events, worst, per s)", N, || {
        let mut acc = Accumulator::new(1_000);
        let mut x = 1u64;
        for i in 0..N {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
            acc.record(20 + (x >> 54), i * 100, 3);
        }
        black_box(&acc);
    });
    let events: Vec<NoiseEvent> = (0..N)
        .map(|i| NoiseEvent {
            start: i * 250_000,
            duration: 626 + (i % 7) as u32,
            counters: 0,
        })
        .collect();
    bench("encode noise events (postcard, COBS, CRC)", N, || {
        let mut enc = Encoder::new();
        let mut bytes = 0usize;
        for chunk in events.chunks(32) {
            let m = Message::NoiseEvents(Block {
                core: 3,
                items: heapless::Vec::from_slice(chunk).unwrap(),
            });
            bytes += enc.encode(&m).unwrap().len();
        }
        black_box(bytes);
    });
    let capture = tickscope::bench::synthetic_capture(N);
    bench("decode + analyse timer samples", N, || {
        let mut a = Analysis::default();
        let mut d = Decoder::new(None).unwrap();
        for chunk in capture.chunks(1 << 20) {
            d.push(chunk, &mut a);
        }
        black_box(d.finish());
        black_box(&a);
    });
}
