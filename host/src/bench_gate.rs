//! `bench --check`: the benchmark figures against a stored baseline. Sizes and icount figures must
//! be exact; host speeds, as ratios to a reference measured in the same run, must not fall below
//! their bound; memory per sample must not rise above its bound.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::bench::{Figures, Only};
use crate::{fail, status};

/// Speed ratios may fall to this share of the baseline (machines and load differ by about
/// ±20 %; a build twice as slow fails).
pub const SPEED_FLOOR: f64 = 0.7;
/// Memory per sample may grow to this multiple of the baseline.
pub const MEMORY_CEILING: f64 = 1.25;

/// A stored baseline: each figure with its bounds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Baseline {
    /// What made it (command, machine), for the reader.
    pub made_by: String,
    /// Samples of the synthetic capture the host figures used (a check uses the same).
    pub samples: u64,
    /// By figure name.
    pub figures: BTreeMap<String, Bound>,
}

/// One figure's baseline value and the range it may move in.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Bound {
    /// The value when the baseline was made.
    pub value: f64,
    /// Lowest accepted value (`None`: no lower bound).
    pub min: Option<f64>,
    /// Highest accepted value (`None`: no upper bound).
    pub max: Option<f64>,
}

/// One figure checked.
#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    /// Figure name.
    pub figure: String,
    /// Baseline value.
    pub baseline: f64,
    /// This run's value (`None`: not produced).
    pub value: Option<f64>,
    /// The accepted range, as text.
    pub bound: String,
    /// Within it.
    pub ok: bool,
}

/// The bound a figure of `kind` and `unit` gets in a new baseline (`None`: not gated, a raw host
/// figure that depends on the machine).
fn bound_for(kind: &str, unit: &str, value: f64) -> Option<Bound> {
    let (min, max) = match (kind, unit) {
        ("size" | "icount", _) => (Some(value), Some(value)),
        ("ratio", "ratio") => (Some(value * SPEED_FLOOR), None),
        ("ratio", _) => (None, Some(value * MEMORY_CEILING)),
        _ => return None,
    };
    Some(Bound { value, min, max })
}

impl Baseline {
    /// A baseline from this run's figures: every exact and every ratio figure, with its bound.
    pub fn from_figures(f: &Figures, made_by: &str, samples: u64) -> Baseline {
        Baseline {
            made_by: made_by.into(),
            samples,
            figures: f
                .iter()
                .filter_map(|(k, v)| Some((k.clone(), bound_for(v.kind, v.unit, v.value)?)))
                .collect(),
        }
    }

    /// Reads a baseline file.
    pub fn load(path: &Path) -> Result<Baseline> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        serde_json::from_str(&text).map_err(|e| {
            fail(
                status::CONFIG,
                format!("{}: not a bench baseline: {e}", path.display()),
            )
        })
    }

    /// The figure groups this baseline needs measured.
    pub fn groups(&self) -> Vec<Only> {
        let mut g = vec![];
        let mut want = |o: Only| {
            if !g.contains(&o) {
                g.push(o)
            }
        };
        for k in self.figures.keys() {
            match k.split('.').next().unwrap_or("") {
                "firmware" => want(Only::Sizes),
                "wire" | "host" => want(Only::Host),
                "compare" | "probe" => want(Only::EndToEnd),
                _ => want(Only::Icount),
            }
        }
        g
    }

    /// Every baseline figure against this run's.
    pub fn check(&self, f: &Figures) -> Vec<Verdict> {
        self.figures
            .iter()
            .map(|(k, b)| {
                let value = f.get(k).map(|x| x.value);
                let ok = value.is_some_and(|v| {
                    b.min.is_none_or(|m| v >= m - 1e-9) && b.max.is_none_or(|m| v <= m + 1e-9)
                });
                let bound = match (b.min, b.max) {
                    (Some(a), Some(z)) if a == z => format!("= {a}"),
                    (Some(a), Some(z)) => format!("{a:.4} ..= {z:.4}"),
                    (Some(a), None) => format!(">= {a:.4}"),
                    (None, Some(z)) => format!("<= {z:.4}"),
                    (None, None) => "any".into(),
                };
                Verdict {
                    figure: k.clone(),
                    baseline: b.value,
                    value,
                    bound,
                    ok,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::Figure;

    fn figures(pairs: &[(&str, f64, &'static str, &'static str)]) -> Figures {
        pairs
            .iter()
            .map(|&(k, v, unit, kind)| {
                (
                    k.to_string(),
                    Figure {
                        value: v,
                        unit,
                        how: String::new(),
                        kind,
                    },
                )
            })
            .collect()
    }

    #[test]
    fn sizes_are_exact_speeds_have_a_floor_and_memory_a_ceiling() {
        let base = figures(&[
            ("firmware.qemu-virt.image_bytes", 62_708.0, "bytes", "size"),
            ("host.decode_vs_crc", 0.5, "ratio", "ratio"),
            ("host.report_peak_bytes_per_sample", 4.0, "bytes", "ratio"),
            ("host.decode_mb_per_s", 300.0, "MB/s", "host"),
        ]);
        let b = Baseline::from_figures(&base, "test", 1000);
        assert_eq!(b.figures.len(), 3, "raw host speeds are not gated");
        assert!(b.check(&base).iter().all(|v| v.ok));
        let verdict = |pairs| {
            b.check(&figures(pairs))
                .into_iter()
                .filter(|v| !v.ok)
                .map(|v| v.figure)
                .collect::<Vec<_>>()
        };
        // Faster and leaner passes; one byte more, half the speed, 30 % more memory fail.
        assert!(
            verdict(&[
                ("firmware.qemu-virt.image_bytes", 62_708.0, "bytes", "size"),
                ("host.decode_vs_crc", 0.9, "ratio", "ratio"),
                ("host.report_peak_bytes_per_sample", 2.0, "bytes", "ratio"),
            ])
            .is_empty()
        );
        assert_eq!(
            verdict(&[
                ("firmware.qemu-virt.image_bytes", 62_709.0, "bytes", "size"),
                ("host.decode_vs_crc", 0.25, "ratio", "ratio"),
                ("host.report_peak_bytes_per_sample", 5.2, "bytes", "ratio"),
            ]),
            [
                "firmware.qemu-virt.image_bytes",
                "host.decode_vs_crc",
                "host.report_peak_bytes_per_sample"
            ]
        );
        // A figure the run did not produce fails too.
        assert_eq!(verdict(&[]).len(), 3);
        assert_eq!(b.groups(), [Only::Sizes, Only::Host]);
    }
}
