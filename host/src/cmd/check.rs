//! `tickscope check --baseline FILE DIR`: the regression gate. Exit 0 when every metric is within
//! its bound, 1 when any moved out, with a table of what moved.

use std::path::PathBuf;

use anyhow::Result;
use serde::Serialize;

use super::baseline::{Baseline, Bound, metric};
use super::print_json;
use crate::rundir::{RunDir, read_json};
use crate::{fail, status};

/// `tickscope check` options.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  tickscope check --baseline results/baselines/qemu-icount-noise.json results/runs/RUN")]
pub struct Args {
    /// Baseline file.
    #[arg(long)]
    baseline: PathBuf,
    /// Run directory to check.
    dir: PathBuf,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
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

fn judge(name: &str, b: &Bound, run: Option<f64>) -> Verdict {
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
        ratio: ratio.map(crate::summary::round6),
        bound: bound.join(", "),
        ok,
    }
}

/// Runs `check`.
pub fn run(a: Args) -> Result<u8> {
    let base: Baseline = read_json(&a.baseline)?;
    let dir = RunDir::open(&a.dir)?;
    let s = dir.summary()?;
    if s.mode != base.mode || s.emulation != base.emulation {
        return Err(fail(
            status::CONFIG,
            format!(
                "the baseline is for {} runs under {}, this run is {} under {}: not comparable",
                base.mode, base.emulation, s.mode, s.emulation
            ),
        ));
    }
    let verdicts: Vec<Verdict> = base
        .metrics
        .iter()
        .map(|(k, b)| judge(k, b, metric(&s, k)))
        .collect();
    let failed = verdicts.iter().filter(|v| !v.ok).count();
    if a.json {
        #[derive(Serialize)]
        struct J<'a> {
            baseline: String,
            run: String,
            pass: bool,
            failed: usize,
            metrics: &'a [Verdict],
        }
        print_json(&J {
            baseline: a.baseline.display().to_string(),
            run: a.dir.display().to_string(),
            pass: failed == 0,
            failed,
            metrics: &verdicts,
        })?;
    } else {
        println!(
            "{:<18} {:>14} {:>14} {:>9}  {:<22} verdict",
            "metric", "baseline", "run", "ratio", "bound"
        );
        for v in &verdicts {
            println!(
                "{:<18} {:>14} {:>14} {:>9}  {:<22} {}",
                v.metric,
                v.baseline,
                v.run
                    .map(|r| r.to_string())
                    .unwrap_or_else(|| "missing".into()),
                v.ratio
                    .map(|r| format!("{r:.3}"))
                    .unwrap_or_else(|| "-".into()),
                v.bound,
                if v.ok { "ok" } else { "MOVED" }
            );
        }
        println!(
            "{}: {} of {} metric(s) out of bounds",
            if failed == 0 { "PASS" } else { "FAIL" },
            failed,
            verdicts.len()
        );
    }
    Ok(if failed == 0 {
        status::OK
    } else {
        status::FAILURE
    })
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
    }
}
