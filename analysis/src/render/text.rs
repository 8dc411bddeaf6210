//! Text renderings of a run for scripts that already exist: the histogram in cyclictest's `-h`
//! format (one row per microsecond, per-core columns).

use std::fmt::Write as _;

use tickscope_core::hist::{Histogram, bucket_range};

/// The histogram in cyclictest's `-h` text format: one row per microsecond up to the maximum
/// (so scripts written for cyclictest read it), per-core columns.
pub fn cyclictest_histogram(cores: &[(u16, &Histogram)]) -> String {
    const MAX_ROWS: u64 = 1_000_000;
    let max_us = cores.iter().filter_map(|(_, h)| h.max()).max().unwrap_or(0) / 1000;
    let rows = (max_us + 1).min(MAX_ROWS);
    let mut bins: Vec<Vec<u64>> = vec![vec![0; rows as usize]; cores.len()];
    let mut overflow = vec![0u64; cores.len()];
    for (k, (_, h)) in cores.iter().enumerate() {
        for (i, n) in h.buckets() {
            let (lo, w) = bucket_range(i);
            let b = (lo + (w - 1) / 2) / 1000;
            if b < rows {
                bins[k][b as usize] += n;
            } else {
                overflow[k] += n;
            }
        }
        overflow[k] += h.overflow();
    }
    let mut s = String::from("# Histogram\n");
    for r in 0..rows as usize {
        let _ = write!(s, "{r:06}");
        for b in &bins {
            let _ = write!(s, " {:06}", b[r]);
        }
        s.push('\n');
    }
    let line = |name: &str, f: &dyn Fn(&Histogram) -> u64| {
        let mut l = format!("# {name}:");
        for (_, h) in cores {
            let _ = write!(l, " {:05}", f(h));
        }
        l.push('\n');
        l
    };
    s += &line("Total", &|h| h.count());
    s += &line("Min Latencies", &|h| h.min().unwrap_or(0) / 1000);
    s += &line("Avg Latencies", &|h| h.mean().unwrap_or(0) / 1000);
    s += &line("Max Latencies", &|h| h.max().unwrap_or(0) / 1000);
    let mut l = String::from("# Histogram Overflows:");
    for o in &overflow {
        let _ = write!(l, " {o:05}");
    }
    s += &l;
    s.push('\n');
    let mut t = String::from("# Cores:");
    for (c, _) in cores {
        let _ = write!(t, " {c}");
    }
    s += &t;
    s.push('\n');
    s
}
