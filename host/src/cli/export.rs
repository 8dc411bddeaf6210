//! `tickscope export --format rt-tests|lava|rteval RUN_DIR`: a run in another tool's format, for the
//! readers users already have: cyclictest's `--json` layout (Linaro's test-definitions parser,
//! kernel CI dashboards), one thread per measured CPU, values in whole microseconds (floors, as
//! cyclictest); or LAVA's `lava-test-case` lines, one per headline figure, pass/fail from a
//! baseline (`--baseline`, as `check`) or from the run's own status.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Result;
use tickscope_core::hist::bucket_range;

use crate::rttests::{self, Export, Thread};
use crate::rundir;
use crate::{fail, status};

/// Formats `export` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// cyclictest's `--json=` file layout (file_version 1).
    RtTests,
    /// `lava-test-case NAME --result pass|fail --measurement X --units U` lines.
    Lava,
    /// rteval's XML summary of cyclictest (timer-mode runs): `<rteval>`, `<run_info>`,
    /// `<cyclictest>` with `<system>` and each `<core>`, their `<statistics>` and `<histogram>`.
    Rteval,
}

/// `tickscope export` options.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  tickscope export --format rt-tests results/runs/RUN > run.cyclictest.json
  tickscope export --format rt-tests results/runs/RUN --output run.json
  tickscope export --format lava results/runs/RUN --baseline results/baselines/mine.json
  tickscope export --format rteval results/runs/RUN --output summary.xml")]
pub struct Args {
    /// Output format.
    #[arg(long, value_enum)]
    format: Format,
    /// The run directory.
    run_dir: PathBuf,
    /// Write here instead of stdout.
    #[arg(long)]
    output: Option<PathBuf>,
    /// `lava`: pass/fail of each figure against this baseline (as `check`); without one, every
    /// figure passes when the run's status is 0.
    #[arg(long)]
    baseline: Option<PathBuf>,
}

/// A LAVA test case name: `[A-Za-z0-9._-]` only.
fn lava_name(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// The `lava-test-case` lines of a run: its status, then each headline figure (the metrics a
/// baseline bounds) with its measurement and unit.
fn lava_lines(
    loaded: &rundir::Loaded,
    baseline: Option<&crate::baseline::Baseline>,
) -> Result<String> {
    use crate::baseline;
    let s = &loaded.summary;
    let label = lava_name(&s.label);
    let verdicts: BTreeMap<String, bool> = match baseline {
        Some(b) => {
            baseline::comparable(b, s, &loaded.info).map_err(|e| fail(status::CONFIG, e))?;
            baseline::check(b, s)
                .into_iter()
                .map(|v| (v.metric, v.ok))
                .collect()
        }
        None => BTreeMap::new(),
    };
    let run_ok = loaded.info.status == status::OK;
    let mut out = format!(
        "lava-test-case tickscope-{label}-run --result {}\n",
        if run_ok { "pass" } else { "fail" }
    );
    let metrics = baseline::make(
        s,
        baseline::Tolerance {
            ratio: 1.0,
            rate: 1.0,
        },
    );
    for name in metrics.keys() {
        let Some(value) = baseline::metric(s, name) else {
            continue;
        };
        let pass = verdicts.get(name).copied().unwrap_or(run_ok);
        let units = if name.ends_with("_per_s") {
            "per_second"
        } else if name.contains("_ns") {
            "ns"
        } else {
            "count"
        };
        out += &format!(
            "lava-test-case tickscope-{label}-{} --result {} --measurement {value} --units {units}\n",
            lava_name(name),
            if pass { "pass" } else { "fail" },
        );
    }
    Ok(out)
}

/// A measured core's values as cyclictest's thread: its histogram in microsecond floors (each of
/// our buckets at its midpoint, within 0.4 % of its values), exact min and max.
fn thread(core: u16, c: &crate::analysis::CoreData) -> Thread {
    let h = &c.acc.values;
    let (min_us, max_us) = (h.min().unwrap_or(0) / 1000, h.max().unwrap_or(0) / 1000);
    let mut histogram = BTreeMap::new();
    for (i, n) in h.buckets() {
        let (lo, w) = bucket_range(i);
        // A bucket's midpoint may lie past the exact extremes its values never reach.
        let us = ((lo + w / 2) / 1000).clamp(min_us, max_us);
        *histogram.entry(us).or_insert(0) += n;
    }
    Thread {
        cpu: Some(core as u32),
        cycles: h.count(),
        min_us,
        avg_us: h.mean().unwrap_or(0) as f64 / 1000.0,
        max_us,
        histogram,
        overflow: 0,
        range_us: None,
    }
}

/// rteval's summary of a timer-mode run: each measured core's latencies at 1 µs (as `thread`
/// makes them for cyclictest's format), with the run's facts.
fn rteval_xml(loaded: &rundir::Loaded, dir: &std::path::Path) -> Result<String> {
    let s = &loaded.summary;
    if s.mode != tickscope_core::Mode::Timer {
        return Err(fail(
            status::CONFIG,
            format!(
                "{}: a {}-mode run; rteval's summary holds cyclictest's wake-up latencies, which only timer mode measures (`--format rt-tests` exports any mode)",
                dir.display(),
                s.mode.name()
            ),
        ));
    }
    let info = &loaded.info;
    let cores: Vec<crate::rteval::Core> = loaded
        .analysis
        .cores
        .iter()
        .map(|(core, c)| crate::rteval::Core {
            id: *core as u32,
            histogram: thread(*core, c).histogram,
        })
        .collect();
    // The probe's SCHED_FIFO priority when it ran one (`--priority N`); bare metal has no
    // scheduler: 0.
    let priority = info
        .config
        .split_whitespace()
        .skip_while(|t| *t != "--priority")
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    let command_line = format!("tickscope {} {}", info.kind, info.config);
    let description = format!("({} cores) {}", cores.len(), info.board);
    let version = format!("tickscope {}", info.tickscope);
    Ok(crate::rteval::summary_xml(
        &crate::rteval::RunFacts {
            version: &version,
            start_time: &info.start_time,
            duration_s: s.duration_s,
            node: &info.board,
            kernel: info.kernel.as_deref().unwrap_or(""),
            realtime: info.preempt_rt.unwrap_or(false),
            command_line: &command_line,
            priority,
            description: &description,
        },
        &cores,
    ))
}

/// Runs `export`.
pub fn run(a: Args) -> Result<u8> {
    let loaded = rundir::load(&a.run_dir)?;
    if loaded.analysis.cores.is_empty() {
        return Err(fail(
            status::CONFIG,
            format!(
                "{}: no measured core in its capture (a boot run, or no capture.bin)",
                a.run_dir.display()
            ),
        ));
    }
    let base: Option<crate::baseline::Baseline> = match &a.baseline {
        Some(p) => Some(rundir::read_json(p)?),
        None => None,
    };
    if base.is_some() && a.format != Format::Lava {
        return Err(fail(status::CONFIG, "--baseline applies to --format lava"));
    }
    let text = match a.format {
        Format::Lava => lava_lines(&loaded, base.as_ref())?,
        Format::Rteval => rteval_xml(&loaded, &a.run_dir)?,
        Format::RtTests => {
            let threads = loaded
                .analysis
                .cores
                .iter()
                .map(|(core, c)| thread(*core, c))
                .collect();
            // `tickscope` first and the mode: how `import` knows what it reads back.
            let cmdline = format!(
                "tickscope {} ({} mode) {}",
                loaded.info.kind,
                loaded.summary.mode.name(),
                a.run_dir.display()
            );
            let v = rttests::to_cyclictest_json(&Export {
                cmdline: &cmdline,
                version: &loaded.info.tickscope,
                start_time: &loaded.info.start_time,
                status: loaded.info.status,
                kernel: loaded.info.kernel.as_deref(),
                realtime: loaded.info.preempt_rt,
                board: &loaded.info.board,
                threads,
            });
            let mut t = serde_json::to_string_pretty(&v)?;
            t.push('\n');
            t
        }
    };
    match &a.output {
        Some(p) => {
            crate::files::write_atomic(p, text.as_bytes())?;
        }
        None => print!("{text}"),
    }
    Ok(status::OK)
}
