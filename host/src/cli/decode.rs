//! `tickscope decode FILE`: replay a raw capture (semihosting file, UART log, probe output):
//! link accounting, logs, figures. Without the firmware ELF, data still decodes and log frames
//! are counted.

use std::path::PathBuf;

use anyhow::Result;
use serde::Serialize;

use super::output::print_json;
use crate::analysis::Analysis;
use crate::analysis::summary::{Summary, summarize};
use crate::decode::{self, Report};
use crate::{fail, status};

/// `tickscope decode` options.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  tickscope decode results/runs/RUN/capture.bin
  tickscope decode uart.bin --elf target/fw/qemu-virt/aarch64-unknown-none/firmware/tickscope-fw --json")]
pub struct Args {
    /// The capture file.
    file: PathBuf,
    /// Firmware ELF whose defmt table decodes log frames.
    #[arg(long)]
    elf: Option<PathBuf>,
    /// Print the decoded logs and console text too.
    #[arg(long)]
    logs: bool,
    /// Accept lost or damaged frames (exit 0 anyway, still reported).
    #[arg(long)]
    allow_loss: bool,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
    /// Print every column of the table (as report.md has them) instead of the headline
    /// columns within 120 characters.
    #[arg(long)]
    wide: bool,
}

#[derive(Serialize)]
struct DecodeJson<'a> {
    file: String,
    capture: &'a Report,
    summary: Option<&'a Summary>,
    status: u8,
    problem: Option<String>,
    /// Failed CPU_ON calls, named.
    psci_failures: Vec<String>,
}

/// Runs `decode`.
pub fn run(a: Args) -> Result<u8> {
    if !a.file.is_file() {
        return Err(fail(
            status::CONFIG,
            format!("{} does not exist", a.file.display()),
        ));
    }
    let mut analysis = crate::decode::new_analysis()?;
    let rep = decode::decode_file(&a.file, a.elf.as_deref(), &mut analysis)?;
    let (st, problem) = verdict(&rep, &analysis, a.allow_loss);
    // The capture alone tells icount (its configuration says so); anything else is `unknown`.
    let emulation = if analysis.header.as_ref().is_some_and(|h| h.config.icount) {
        crate::machine::Emulation::Icount
    } else {
        crate::machine::Emulation::Unknown
    };
    let summary = analysis
        .header
        .is_some()
        .then(|| summarize(&analysis, "decoded", emulation, rep.link.frames_lost()));
    if a.json {
        print_json(&DecodeJson {
            file: a.file.display().to_string(),
            capture: &rep,
            summary: summary.as_ref(),
            status: st,
            problem: problem.clone(),
            psci_failures: analysis.psci_failure_lines(),
        })?;
    } else {
        print_decoded(&a, &rep, &analysis, summary.as_ref());
    }
    if let Some(p) = &problem {
        eprintln!("tickscope: {p}");
    }
    Ok(st)
}

/// The exit status and what went wrong: no frames at all, frames of another format version,
/// frames lost (unless allowed), or a producer that ended with a failure.
fn verdict(rep: &Report, analysis: &Analysis, allow_loss: bool) -> (u8, Option<String>) {
    let mut st = status::OK;
    let mut problem = rep.problems();
    if let Some(r) = analysis.refusals.first() {
        problem = Some(format!("the firmware refused the run: {r}"));
    }
    if rep.link.frames_ok == 0 {
        st = status::FAILURE;
        problem = Some(format!(
            "no tickscope frames found in {} bytes ({} damaged chunk(s), {} text chunk(s)){}",
            rep.link.bytes,
            rep.link.garbage_chunks + rep.link.frames_corrupt,
            rep.link.text_chunks,
            rep.foreign_version
                .map(|v| format!("; frames of wire format version {v} were seen"))
                .unwrap_or_default()
        ));
    } else if rep.foreign_version.is_some() || (rep.lossy() && !allow_loss) {
        st = status::FAILURE;
    }
    if let Some(t) = &analysis.trailer
        && st == status::OK
        && t.status != status::OK
    {
        st = t.status;
        problem.get_or_insert(format!(
            "the producer ended with status {} ({})",
            t.status,
            status::name(t.status)
        ));
    }
    (st, problem)
}

/// The text report: link counts, the run header, the summary table, and with `--logs` the
/// console lines and log records.
fn print_decoded(a: &Args, rep: &Report, analysis: &Analysis, summary: Option<&Summary>) {
    let l = &rep.link;
    println!(
        "{}: {} bytes, {} frames ok, {} corrupt, {} dropped, {} garbage chunk(s), {} text line(s), {} log frame(s){}",
        a.file.display(),
        l.bytes,
        l.frames_ok,
        l.frames_corrupt,
        l.frames_dropped,
        l.garbage_chunks,
        rep.text_lines.len(),
        rep.log_frames,
        if rep.logs_decoded { " (decoded)" } else { "" }
    );
    if let Some(h) = &analysis.header {
        println!(
            "{:?} on {}: EL{}, GICv{}, counter {} Hz, {} core(s) online, config: {}",
            h.source,
            h.board,
            h.el,
            h.gic,
            h.counter_hz,
            analysis.online.len(),
            h.config
        );
    }
    for p in analysis.psci_failure_lines() {
        println!("PSCI CPU_ON failed: {p}");
    }
    if let Some(s) = summary
        && !s.cores.is_empty()
    {
        print!("{}", crate::render::table(&[s], a.wide));
    }
    if a.logs {
        for t in &rep.text_lines {
            println!("console: {t}");
        }
        for l in &rep.logs {
            println!("log core {} @{}: [{}] {}", l.core, l.at, l.level, l.text);
        }
    }
}
