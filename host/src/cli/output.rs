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
pub fn print_run<E: Serialize>(run: &Run, json: bool, extra: E) -> Result<()> {
    let r = &run.record;
    if json {
        print_json(&RunJson {
            summary: &r.summary,
            extra,
            status: r.status(),
            problems: &r.info.problems,
            run_dir: run.dir.path.display().to_string(),
        })?;
    } else {
        print!("{}", crate::render::table(&[&r.summary]));
        println!("run directory: {}", run.dir.path.display());
    }
    print_problems(run);
    Ok(())
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
