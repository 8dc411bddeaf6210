//! Baselines and the regression gate: a baseline freezes a run's figures with a bound per metric;
//! checking a run compares like with like only (same mode, emulation, board, counter frequency,
//! QEMU version and configuration; otherwise it refuses), and under icount the default bounds are
//! exact: one counter tick for durations, nothing for counts and rates.

use crate::machine::Emulation;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::analysis::summary::{Summary, round6};
use crate::record::RunInfo;

/// The allowed movement of one metric.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Bound {
    /// The baseline value.
    pub value: f64,
    /// Largest allowed run/baseline ratio (for metrics where bigger is worse).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_ratio: Option<f64>,
    /// Smallest allowed run/baseline ratio.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_ratio: Option<f64>,
    /// Largest allowed |run - baseline|.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_abs: Option<f64>,
}

/// A baseline file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Baseline {
    /// What this baseline is for.
    pub description: String,
    /// Mode the run must have.
    pub mode: String,
    /// Emulation the run must have.
    pub emulation: String,
    /// The configuration the run must have (`key=value` tokens).
    pub config: String,
    /// Board the run must have run on.
    #[serde(default)]
    pub board: Option<String>,
    /// Counter frequency the run must have (QEMU 9.1 moved virt's from 62.5 MHz to 1 GHz).
    #[serde(default)]
    pub counter_hz: Option<u64>,
    /// QEMU version the run must have (icount figures change between versions).
    #[serde(default)]
    pub qemu_version: Option<String>,
    /// Metric path in summary.json (`latency_ns.p99`) to its bound.
    pub metrics: BTreeMap<String, Bound>,
}

/// Reads a metric from a summary by path (`latency_ns.p99`, `os_noise.events_per_s`).
pub fn metric(s: &Summary, path: &str) -> Option<f64> {
    let mut v = serde_json::to_value(s).ok()?;
    for k in path.split('.') {
        v = v.get(k)?.clone();
    }
    v.as_f64()
}

/// How loose the default bounds are.
#[derive(Debug, Clone, Copy)]
pub struct Tolerance {
    /// Allowed ratio for durations (bigger is worse), non-icount runs.
    pub ratio: f64,
    /// Allowed relative change of rates, both ways, non-icount runs.
    pub rate: f64,
}

/// The metrics a baseline freezes.
const DURATIONS: [&str; 12] = [
    "latency_ns.p50",
    "latency_ns.p99",
    "latency_ns.p9999",
    "latency_ns.max",
    "event_ns.p50",
    "event_ns.max",
    "tick_cost_ns",
    "tick_os_ns",
    "os_noise.event_ns.p50",
    "os_noise.event_ns.max",
    "hw_noise.event_ns.p50",
    "hw_noise.event_ns.max",
];
const RATES: [&str; 4] = [
    "events_per_s",
    "os_noise.events_per_s",
    "hw_noise.events_per_s",
    "timer_irqs_per_s",
];

/// The default bounds for a run's figures: exact under icount, `tol` otherwise.
pub fn make(s: &Summary, tol: Tolerance) -> BTreeMap<String, Bound> {
    let exact = s.emulation == Emulation::Icount;
    let tick_ns = (1e9 / s.counter_hz.max(1) as f64).ceil();
    let mut m = BTreeMap::new();
    for k in DURATIONS {
        let Some(v) = metric(s, k) else { continue };
        if k.starts_with("event_ns") && s.events == 0 {
            continue;
        }
        m.insert(
            k.to_string(),
            if exact {
                Bound {
                    value: v,
                    max_ratio: None,
                    min_ratio: None,
                    max_abs: Some(tick_ns),
                }
            } else {
                Bound {
                    value: v,
                    max_ratio: Some(tol.ratio),
                    min_ratio: None,
                    max_abs: None,
                }
            },
        );
    }
    for k in RATES {
        let Some(v) = metric(s, k) else { continue };
        m.insert(
            k.to_string(),
            if exact {
                Bound {
                    value: v,
                    max_ratio: None,
                    min_ratio: None,
                    max_abs: Some(1e-6),
                }
            } else if v == 0.0 {
                // A quiet baseline: a couple of events per second before calling it a regression.
                Bound {
                    value: 0.0,
                    max_ratio: None,
                    min_ratio: None,
                    max_abs: Some(2.0),
                }
            } else {
                Bound {
                    value: v,
                    max_ratio: Some(1.0 + tol.rate),
                    min_ratio: Some(1.0 - tol.rate),
                    max_abs: None,
                }
            },
        );
    }
    m.insert(
        "lost".into(),
        Bound {
            value: 0.0,
            max_ratio: None,
            min_ratio: None,
            max_abs: Some(0.0),
        },
    );
    m
}

/// The upstream part of a QEMU version string (`7.2.22` of `7.2.22 (Debian 1:7.2+dfsg-7)`):
/// what decides the emulation's figures.
pub fn upstream(version: &str) -> &str {
    version.split_whitespace().next().unwrap_or(version)
}

/// A baseline from a run.
pub fn from_run(
    s: &Summary,
    info: &RunInfo,
    description: Option<String>,
    tol: Tolerance,
) -> Baseline {
    Baseline {
        description: description
            .unwrap_or_else(|| format!("{} {} run {}", s.emulation, s.mode.name(), s.label)),
        mode: s.mode.name().into(),
        emulation: s.emulation.name().into(),
        config: info.config.clone(),
        board: Some(if info.board.is_empty() {
            s.board.clone()
        } else {
            info.board.clone()
        }),
        counter_hz: Some(s.counter_hz),
        qemu_version: info
            .qemu_version
            .as_deref()
            .map(|v| upstream(v).to_string()),
        metrics: make(s, tol),
    }
}

/// Why a run cannot be compared with a baseline, if it cannot.
pub fn comparable(b: &Baseline, s: &Summary, info: &RunInfo) -> Result<(), String> {
    let mut why = Vec::new();
    if s.mode.name() != b.mode {
        why.push(format!("mode {} (baseline {})", s.mode.name(), b.mode));
    }
    if s.emulation.name() != b.emulation {
        why.push(format!(
            "emulation {} (baseline {})",
            s.emulation, b.emulation
        ));
    }
    if let Some(hz) = b.counter_hz
        && hz != s.counter_hz
    {
        why.push(format!("counter {} Hz (baseline {hz} Hz)", s.counter_hz));
    }
    let board = if info.board.is_empty() {
        &s.board
    } else {
        &info.board
    };
    if let Some(bb) = &b.board
        && bb != board
    {
        why.push(format!("board {board} (baseline {bb})"));
    }
    if let Some(q) = &b.qemu_version
        && info.qemu_version.as_deref().map(upstream) != Some(upstream(q))
    {
        why.push(format!(
            "QEMU {} (baseline {q})",
            info.qemu_version.as_deref().unwrap_or("none")
        ));
    }
    if !b.config.is_empty()
        && !info.config.is_empty()
        && measuring(&b.config) != measuring(&info.config)
    {
        why.push(format!(
            "configuration `{}` (baseline `{}`)",
            info.config, b.config
        ));
    }
    if why.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "the run is not comparable with the baseline: {}; make a baseline for this setup with `tickscope baseline`",
            why.join(", ")
        ))
    }
}

/// A configuration without the settings of the link the results travel over (`transport`,
/// `baud`): they decide how the figures reach the host, not the figures (the same icount run over
/// semihosting and over the UART gives every figure identical; the network-serial and labgrid
/// tests check a UART capture against the semihosting baseline).
fn measuring(config: &str) -> Vec<&str> {
    config
        .split_whitespace()
        .filter(|kv| !kv.starts_with("transport=") && !kv.starts_with("baud="))
        .collect()
}

/// The verdict on one metric.
#[derive(Debug, Serialize)]
pub struct Verdict {
    /// Metric path.
    pub metric: String,
    /// Baseline value.
    pub baseline: f64,
    /// Run value (`None`: missing from the run).
    pub run: Option<f64>,
    /// run / baseline.
    pub ratio: Option<f64>,
    /// The bound, in words.
    pub bound: String,
    /// Within the bound.
    pub ok: bool,
}

/// Judges one metric.
pub fn judge(name: &str, b: &Bound, run: Option<f64>) -> Verdict {
    let mut bound = Vec::new();
    let mut ok = run.is_some();
    let ratio = run.and_then(|r| (b.value != 0.0).then(|| r / b.value));
    if let Some(r) = run {
        if let Some(m) = b.max_ratio {
            bound.push(format!("<= {m} x"));
            ok &= if b.value == 0.0 {
                r <= 0.0
            } else {
                r <= b.value * m
            };
        }
        if let Some(m) = b.min_ratio {
            bound.push(format!(">= {m} x"));
            ok &= r >= b.value * m;
        }
        if let Some(m) = b.max_abs {
            bound.push(format!("+- {m}"));
            ok &= (r - b.value).abs() <= m;
        }
    }
    Verdict {
        metric: name.to_string(),
        baseline: b.value,
        run,
        ratio: ratio.map(round6),
        bound: bound.join(", "),
        ok,
    }
}

/// Judges every metric of a baseline.
pub fn check(b: &Baseline, s: &Summary) -> Vec<Verdict> {
    b.metrics
        .iter()
        .map(|(k, bd)| judge(k, bd, metric(s, k)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_are_applied_as_written() {
        let up = Bound {
            value: 100.0,
            max_ratio: Some(1.25),
            min_ratio: None,
            max_abs: None,
        };
        assert!(judge("m", &up, Some(125.0)).ok);
        assert!(!judge("m", &up, Some(126.0)).ok);
        assert!(judge("m", &up, Some(1.0)).ok, "improvements pass");
        let both = Bound {
            value: 250.0,
            max_ratio: Some(1.1),
            min_ratio: Some(0.9),
            max_abs: None,
        };
        assert!(!judge("m", &both, Some(200.0)).ok);
        let abs = Bound {
            value: 0.0,
            max_ratio: None,
            min_ratio: None,
            max_abs: Some(2.0),
        };
        assert!(judge("m", &abs, Some(2.0)).ok);
        assert!(!judge("m", &abs, Some(3.0)).ok);
        assert!(
            !judge("m", &abs, None).ok,
            "a metric missing from the run fails"
        );
        // An exact icount bound: one 16 ns counter tick.
        let tick = Bound {
            value: 10_176.0,
            max_ratio: None,
            min_ratio: None,
            max_abs: Some(16.0),
        };
        assert!(judge("m", &tick, Some(10_192.0)).ok);
        assert!(!judge("m", &tick, Some(10_193.0)).ok);
    }
}
