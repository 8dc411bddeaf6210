//! Log-linear (HDR-style) histogram: fixed memory, mergeable, bounded relative error.
//! Values below 256 are counted exactly; above, each power-of-two octave is split into 128 buckets.
//!
//! Why not the `hdrhistogram` crate: it needs `std` and a heap, and the firmware and the Linux
//! probe need the same type in `no_std` with fixed memory. The scheme is the same (HDR with 7
//! significant bits), the code is ours and small.
//!
//! Error bound: a value `v` lands in a bucket `[lo, lo + w)` with `w <= lo / 128`; reporting the
//! bucket midpoint is within `w / 2 <= v / 256` of `v`, i.e. **at most 0.4 %** relative error.
//! Values up to 2^40 (about 18 minutes in nanoseconds) are tracked; larger ones are counted in
//! `overflow` (and `max` stays exact), so the tail shape is never folded into a capped bucket.

use serde::{Deserialize, Serialize};

/// Significant bits per octave: 128 sub-buckets.
pub const SUB_BITS: u32 = 7;
/// Values `< 2^MAX_BITS` are bucketed; larger ones count as overflow.
pub const MAX_BITS: u32 = 40;
/// Number of buckets.
pub const BUCKETS: usize = ((MAX_BITS - SUB_BITS) as usize + 1) << SUB_BITS;
/// Largest value that lands in a bucket.
pub const MAX_TRACKABLE: u64 = (1u64 << MAX_BITS) - 1;

/// Bucket index for a value (`v <= MAX_TRACKABLE`).
#[inline(always)]
pub fn bucket_index(v: u64) -> usize {
    let h = 63 - (v | 1).leading_zeros();
    let k = h.saturating_sub(SUB_BITS);
    ((k << SUB_BITS) as u64 + (v >> k)) as usize
}

/// The lowest value of a bucket and its width.
#[inline]
pub fn bucket_range(index: usize) -> (u64, u64) {
    let first_scaled = 2usize << SUB_BITS;
    if index < first_scaled {
        (index as u64, 1)
    } else {
        let k = (index >> SUB_BITS) as u32 - 1;
        let sub = (index - ((k as usize) << SUB_BITS)) as u64;
        (sub << k, 1u64 << k)
    }
}

/// Percentile points reported everywhere: (label, numerator, denominator).
pub const PERCENTILES: [(&str, u64, u64); 5] = [
    ("p50", 50, 100),
    ("p90", 90, 100),
    ("p99", 99, 100),
    ("p999", 999, 1000),
    ("p9999", 9999, 10000),
];

/// A log-linear histogram of `u64` values (nanoseconds, ticks, ...).
#[derive(Clone, PartialEq, Eq)]
pub struct Histogram {
    counts: [u64; BUCKETS],
    total: u64,
    overflow: u64,
    min: u64,
    max: u64,
    sum: u128,
}

impl core::fmt::Debug for Histogram {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Histogram")
            .field("total", &self.total)
            .field("overflow", &self.overflow)
            .field("min", &self.min())
            .field("max", &self.max())
            .finish_non_exhaustive()
    }
}

impl Default for Histogram {
    fn default() -> Self {
        Self::new()
    }
}

impl Histogram {
    /// An empty histogram.
    pub const fn new() -> Self {
        // All zero, so a `static` histogram lands in .bss (`min` is valid only when total > 0).
        Histogram {
            counts: [0; BUCKETS],
            total: 0,
            overflow: 0,
            min: 0,
            max: 0,
            sum: 0,
        }
    }

    /// Clears all counts, in place (no 35 KiB temporary on a small firmware stack).
    pub fn clear(&mut self) {
        self.counts.fill(0);
        self.total = 0;
        self.overflow = 0;
        self.min = 0;
        self.max = 0;
        self.sum = 0;
    }

    /// Records one value.
    #[inline]
    pub fn record(&mut self, v: u64) {
        self.record_n(v, 1);
    }

    /// Records each of `vs`, as [`Histogram::record`] of each in turn would: the buckets one by
    /// one, the minimum, maximum, count and sum once for the slice (a decode records a block of
    /// 32 wake-ups at a time).
    #[inline]
    pub fn record_all(&mut self, vs: &[u64]) {
        if vs.is_empty() {
            return;
        }
        let (mut lo, mut hi, mut sum) = (u64::MAX, 0u64, 0u128);
        for &v in vs {
            match self.counts.get_mut(bucket_index(v)) {
                Some(c) if v <= MAX_TRACKABLE => *c = c.saturating_add(1),
                _ => self.overflow = self.overflow.saturating_add(1),
            }
            lo = lo.min(v);
            hi = hi.max(v);
            sum += v as u128;
        }
        self.min = if self.total == 0 {
            lo
        } else {
            self.min.min(lo)
        };
        self.max = self.max.max(hi);
        self.total = self.total.saturating_add(vs.len() as u64);
        self.sum = self.sum.saturating_add(sum);
    }

    /// Records `n` occurrences of a value. Counts saturate instead of wrapping.
    #[inline]
    pub fn record_n(&mut self, v: u64, n: u64) {
        if n == 0 {
            return;
        }
        // Every value up to MAX_TRACKABLE has a bucket (`get_mut`, not indexing: the firmware
        // carries no panic message that formats).
        match self.counts.get_mut(bucket_index(v)) {
            Some(c) if v <= MAX_TRACKABLE => *c = c.saturating_add(n),
            _ => self.overflow = self.overflow.saturating_add(n),
        }
        self.min = if self.total == 0 { v } else { self.min.min(v) };
        self.max = self.max.max(v);
        self.total = self.total.saturating_add(n);
        self.sum = self.sum.saturating_add(v as u128 * n as u128);
    }

    /// Adds every count of `other` (merge = histogram of the concatenated inputs).
    pub fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(other.counts.iter()) {
            *a = a.saturating_add(*b);
        }
        if other.total > 0 {
            self.min = if self.total == 0 {
                other.min
            } else {
                self.min.min(other.min)
            };
        }
        self.total = self.total.saturating_add(other.total);
        self.overflow = self.overflow.saturating_add(other.overflow);
        self.max = self.max.max(other.max);
        self.sum = self.sum.saturating_add(other.sum);
    }

    /// Number of recorded values.
    pub fn count(&self) -> u64 {
        self.total
    }

    /// Values above [`MAX_TRACKABLE`].
    pub fn overflow(&self) -> u64 {
        self.overflow
    }

    /// Smallest recorded value (exact), or `None` when empty.
    pub fn min(&self) -> Option<u64> {
        (self.total > 0).then_some(self.min)
    }

    /// Largest recorded value (exact), or `None` when empty.
    pub fn max(&self) -> Option<u64> {
        (self.total > 0).then_some(self.max)
    }

    /// Sum of all recorded values (exact).
    pub fn sum(&self) -> u128 {
        self.sum
    }

    /// Mean (exact, rounded down), or `None` when empty.
    pub fn mean(&self) -> Option<u64> {
        (self.total > 0).then(|| (self.sum / self.total as u128) as u64)
    }

    /// The value at quantile `num/den` by the nearest-rank rule: the smallest recorded value
    /// such that at least `num/den` of all values are `<=` it. Within 0.4 % of the exact value.
    pub fn quantile(&self, num: u64, den: u64) -> Option<u64> {
        if self.total == 0 {
            return None;
        }
        let rank = ((self.total as u128 * num as u128).div_ceil(den as u128) as u64).max(1);
        let mut seen = 0u64;
        for (i, &c) in self.counts.iter().enumerate() {
            if c == 0 {
                continue;
            }
            seen = seen.saturating_add(c);
            if seen >= rank {
                let (lo, w) = bucket_range(i);
                let mid = lo + (w - 1) / 2;
                return Some(mid.clamp(self.min, self.max));
            }
        }
        Some(self.max)
    }

    /// Non-empty buckets as `(index, count)`, lowest first.
    pub fn buckets(&self) -> impl Iterator<Item = (usize, u64)> + '_ {
        self.counts
            .iter()
            .enumerate()
            .filter(|(_, c)| **c != 0)
            .map(|(i, c)| (i, *c))
    }

    /// Adds `count` to bucket `index` directly (used when rebuilding from a wire block).
    /// Returns false when the index is out of range.
    pub fn add_bucket(&mut self, index: usize, count: u64) -> bool {
        let Some(c) = self.counts.get_mut(index) else {
            return false;
        };
        *c = c.saturating_add(count);
        self.total = self.total.saturating_add(count);
        true
    }

    /// Restores the exact extremes, overflow and sum after [`Histogram::add_bucket`] calls.
    pub fn set_exact(&mut self, min: u64, max: u64, sum: u128, overflow: u64) {
        self.min = min;
        self.max = max;
        self.sum = sum;
        self.overflow = overflow;
        self.total = self.total.saturating_add(overflow);
    }
}

/// The fixed summary every report shows: count, min, mean, percentiles, max.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Quantiles {
    /// Number of values.
    pub count: u64,
    /// Smallest value.
    pub min: u64,
    /// Mean value.
    pub mean: u64,
    /// 50th percentile.
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 99th percentile.
    pub p99: u64,
    /// 99.9th percentile.
    pub p999: u64,
    /// 99.99th percentile.
    pub p9999: u64,
    /// Largest value.
    pub max: u64,
}

impl Histogram {
    /// The standard summary (all zero when empty).
    pub fn quantiles(&self) -> Quantiles {
        if self.total == 0 {
            return Quantiles::default();
        }
        let q = |i: usize| {
            self.quantile(PERCENTILES[i].1, PERCENTILES[i].2)
                .unwrap_or(0)
        };
        Quantiles {
            count: self.total,
            min: self.min,
            mean: self.mean().unwrap_or(0),
            p50: q(0),
            p90: q(1),
            p99: q(2),
            p999: q(3),
            p9999: q(4),
            max: self.max,
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn recording_a_slice_is_recording_each_value() {
        let vs: [u64; 7] = [5, 0, 1 << 41, 300, 300, u64::MAX, 127];
        let (mut one, mut all) = (Histogram::new(), Histogram::new());
        one.record(9);
        all.record(9);
        for &v in &vs {
            one.record(v);
        }
        all.record_all(&vs);
        all.record_all(&[]);
        assert!(one.counts == all.counts, "buckets");
        assert_eq!(
            (one.total, one.overflow, one.min, one.max, one.sum),
            (all.total, all.overflow, all.min, all.max, all.sum)
        );
        let mut fresh = Histogram::new();
        fresh.record_all(&[40, 7]);
        assert_eq!((fresh.min, fresh.max, fresh.total), (7, 40, 2));
    }

    use super::*;
    use proptest::prelude::*;

    fn exact_quantile(sorted: &[u64], num: u64, den: u64) -> u64 {
        let rank = ((sorted.len() as u128 * num as u128).div_ceil(den as u128) as usize).max(1);
        sorted[rank - 1]
    }

    #[test]
    fn buckets_tile_the_range_without_gaps() {
        let mut expected_lo = 0u64;
        for i in 0..BUCKETS {
            let (lo, w) = bucket_range(i);
            assert_eq!(lo, expected_lo, "bucket {i}");
            assert_eq!(bucket_index(lo), i);
            assert_eq!(bucket_index(lo + w - 1), i);
            // Relative width bound: w <= lo/128 once above the exact range.
            if lo >= 256 {
                assert!(w * 128 <= lo, "bucket {i} too wide: {lo} + {w}");
            }
            expected_lo = lo + w;
        }
        assert_eq!(expected_lo - 1, MAX_TRACKABLE);
    }

    #[test]
    fn small_values_are_exact_and_overflow_is_counted() {
        let mut h = Histogram::new();
        for v in [0, 1, 2, 255] {
            h.record(v);
        }
        h.record(u64::MAX);
        assert_eq!(h.count(), 5);
        assert_eq!(h.overflow(), 1);
        assert_eq!(h.quantile(1, 5), Some(0));
        assert_eq!(h.quantile(4, 5), Some(255));
        assert_eq!(
            h.quantile(1, 1),
            Some(u64::MAX),
            "p100 is the exact max, even in overflow"
        );
    }

    fn values() -> impl Strategy<Value = Vec<u64>> {
        prop::collection::vec(
            prop_oneof![
                0u64..300,
                1_000u64..20_000,
                any::<u64>().prop_map(|v| v >> (v % 40)),
                (1u64 << 39)..(1u64 << 41),
            ],
            1..2000,
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn percentiles_within_stated_error(vals in values()) {
            let mut h = Histogram::new();
            for &v in &vals { h.record(v); }
            let mut sorted = vals.clone();
            sorted.sort_unstable();
            prop_assert_eq!(h.count(), vals.len() as u64);
            prop_assert_eq!(h.min(), sorted.first().copied());
            prop_assert_eq!(h.max(), sorted.last().copied());
            prop_assert_eq!(h.sum(), vals.iter().map(|&v| v as u128).sum::<u128>());
            for (name, num, den) in PERCENTILES.iter().copied().chain([("p100", 1, 1), ("p0", 0, 1)]) {
                let exact = exact_quantile(&sorted, num, den);
                let got = h.quantile(num, den).unwrap();
                if exact > MAX_TRACKABLE {
                    // Falls into overflow: reported as the exact max.
                    prop_assert_eq!(got, *sorted.last().unwrap());
                } else {
                    let err = got.abs_diff(exact) as f64;
                    prop_assert!(err <= exact as f64 * 0.01,
                        "{} exact {} got {} (err {:.3} %)", name, exact, got, 100.0 * err / exact.max(1) as f64);
                }
            }
        }

        #[test]
        fn merge_equals_concatenation(a in values(), b in values()) {
            let mut ha = Histogram::new();
            let mut hb = Histogram::new();
            let mut hab = Histogram::new();
            for &v in &a { ha.record(v); hab.record(v); }
            for &v in &b { hb.record(v); hab.record(v); }
            ha.merge(&hb);
            prop_assert!(ha == hab);
        }
    }
}
