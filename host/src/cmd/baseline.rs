//! `tickscope baseline DIR -o FILE`: freezes a run's figures into a baseline file for
//! `tickscope check`, with a bound per metric (a ratio, or an absolute tolerance).

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Result;
use serde::{Deserialize, Serialize};

use super::print_json;
use crate::rundir::{RunDir, write_atomic};
use crate::summary::Summary;
use crate::{fail, status};

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
    /// Emulation the run must have (`icount` baselines are only comparable with icount runs).
    pub emulation: String,
    /// The configuration of the run it was made from (informational).
    pub config: String,
    /// Metric path in summary.json (`latency_ns.p99`) to its bound.
    pub metrics: BTreeMap<String, Bound>,
}

/// `tickscope baseline` options.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  tickscope baseline results/runs/RUN -o results/baselines/qemu-icount-noise.json
  tickscope baseline RUN -o base.json --ratio 1.5")]
pub struct Args {
    /// Run directory.
    dir: PathBuf,
    /// Baseline file to write.
    #[arg(short = 'o', long = "output")]
    output: PathBuf,
    /// Allowed ratio for latency and event-size metrics (bigger is worse).
    #[arg(long, default_value_t = 1.25)]
    ratio: f64,
    /// Allowed relative change of the event rate, both ways.
    #[arg(long, default_value_t = 0.1)]
    rate_tolerance: f64,
    /// Description stored in the file.
    #[arg(long)]
    description: Option<String>,
    /// Print the baseline as JSON on stdout too.
    #[arg(long)]
    json: bool,
}

/// Reads a metric from a summary by path (`latency_ns.p99`).
pub fn metric(s: &Summary, path: &str) -> Option<f64> {
    let mut v = serde_json::to_value(s).ok()?;
    for k in path.split('.') {
        v = v.get(k)?.clone();
    }
    v.as_f64()
}

/// The default bounds for a run's figures.
pub fn make(s: &Summary, ratio: f64, rate_tol: f64) -> BTreeMap<String, Bound> {
    let mut m = BTreeMap::new();
    let upper = |v: f64| Bound {
        value: v,
        max_ratio: Some(ratio),
        min_ratio: None,
        max_abs: None,
    };
    for q in ["p50", "p99", "p9999", "max"] {
        if let Some(v) = metric(s, &format!("latency_ns.{q}")) {
            m.insert(format!("latency_ns.{q}"), upper(v));
        }
    }
    if s.events > 0 {
        for q in ["p50", "max"] {
            if let Some(v) = metric(s, &format!("event_ns.{q}")) {
                m.insert(format!("event_ns.{q}"), upper(v));
            }
        }
        m.insert(
            "events_per_s".into(),
            Bound {
                value: s.events_per_s,
                max_ratio: Some(1.0 + rate_tol),
                min_ratio: Some(1.0 - rate_tol),
                max_abs: None,
            },
        );
    } else {
        // A quiet baseline: allow a couple of events per second before calling it a regression.
        m.insert(
            "events_per_s".into(),
            Bound {
                value: 0.0,
                max_ratio: None,
                min_ratio: None,
                max_abs: Some(2.0),
            },
        );
    }
    if let Some(t) = s.tick_cost_ns {
        m.insert("tick_cost_ns".into(), upper(t as f64));
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

/// Runs `baseline`.
pub fn run(a: Args) -> Result<u8> {
    if a.ratio < 1.0 || !(0.0..1.0).contains(&a.rate_tolerance) {
        return Err(fail(
            status::CONFIG,
            "--ratio must be >= 1 and --rate-tolerance in [0, 1)",
        ));
    }
    let dir = RunDir::open(&a.dir)?;
    let s = dir.summary()?;
    let info = dir.info().ok();
    let b = Baseline {
        description: a
            .description
            .clone()
            .unwrap_or_else(|| format!("{} {} run {}", s.emulation, s.mode, s.label)),
        mode: s.mode.clone(),
        emulation: s.emulation.clone(),
        config: info.map(|i| i.config).unwrap_or_default(),
        metrics: make(&s, a.ratio, a.rate_tolerance),
    };
    let mut text = serde_json::to_string_pretty(&b)?;
    text.push('\n');
    write_atomic(&a.output, text.as_bytes())?;
    if a.json {
        print_json(&b)?;
    } else {
        println!(
            "baseline with {} metric(s) written to {}",
            b.metrics.len(),
            a.output.display()
        );
    }
    Ok(status::OK)
}
