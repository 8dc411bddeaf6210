//! What commands print: one JSON object, or a run's table and problems (shared by every command,
//! so a run looks the same whichever command made it).

use anyhow::Result;
use serde::Serialize;

use crate::pipeline::Run;

/// Prints one JSON object on stdout.
pub fn print_json<T: Serialize>(value: &T) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// `--json` of a single run: its summary, with the status and where it was saved.
#[derive(Serialize)]
pub struct RunJson<'a, E: Serialize> {
    #[serde(flatten)]
    summary: &'a crate::analysis::summary::Summary,
    #[serde(flatten)]
    extra: E,
    status: u8,
    problems: &'a [String],
    run_dir: String,
}

/// Prints a finished run: one JSON object (with `extra` fields), or the table; problems go to
/// stderr either way.
pub fn print_run<E: Serialize>(run: &Run, out: &super::options::OutArgs, extra: E) -> Result<()> {
    let r = &run.record;
    if out.json {
        print_json(&RunJson {
            summary: &r.summary,
            extra,
            status: r.status(),
            problems: &r.info.problems,
            run_dir: run.dir.path.display().to_string(),
        })?;
    } else {
        print!("{}", crate::render::table(&[&r.summary], out.wide));
        if let Some(c) = &r.summary.attribution_coverage {
            println!("{}", coverage_line(c));
        }
        println!("run directory: {}", run.dir.path.display());
    }
    print_problems(run);
    Ok(())
}

/// What the attribution was built from, in one line (`attribution_coverage`).
fn coverage_line(c: &crate::analysis::coverage::Coverage) -> String {
    let pct = |v: Option<f64>| v.map_or("n/a".to_string(), |v| format!("{:.1} %", v * 100.0));
    let sources: Vec<String> = c
        .sources
        .iter()
        .take(4)
        .map(|s| {
            let n = |v: Option<u64>| v.map_or("-".to_string(), |v| v.to_string());
            format!(
                "{} {} counted / {} traced / {} in events",
                s.name,
                s.counted,
                n(s.traced),
                n(s.in_events)
            )
        })
        .collect();
    format!(
        "attribution coverage: timer {}, all {} ({})",
        pct(c.timer),
        pct(c.overall),
        sources.join("; ")
    )
}

/// `--explain`: each core's worst events, piece by piece in time order (rtla's `--aa`).
pub fn print_explained(run: &Run) {
    for c in &run.record.summary.cores {
        for (i, w) in c.worst.iter().take(5).enumerate() {
            println!(
                "core {} worst #{}: {} ns at {:.6} s: {}",
                c.core,
                i + 1,
                w.event.value,
                w.event.at as f64 / 1e9,
                if w.pieces.is_empty() {
                    "no attribution".to_string()
                } else {
                    crate::analysis::explain::describe(&w.pieces)
                }
            );
        }
    }
}

/// Prints a run's problems (and a partial run's coverage) on stderr.
pub fn print_problems(run: &Run) {
    let r = &run.record;
    if let Some(p) = &r.summary.partial {
        eprintln!(
            "tickscope: {}: partial run, the figures cover {:.3} s of the {:.3} s window (run directory: {})",
            r.info.label,
            p.covered_s,
            p.window_s,
            run.dir.path.display()
        );
    }
    for p in &r.info.problems {
        eprintln!("tickscope: {}: {p}", r.info.label);
    }
}
