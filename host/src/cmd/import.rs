//! `tickscope import FILE --label NAME`: makes a run directory from a capture copied back from a
//! board (the Linux probe's output on the board's own Linux, or a saved UART capture), so
//! `report` and `check` treat it like any other run.

use std::path::PathBuf;

use anyhow::Result;
use serde::Serialize;

use super::print_json;
use crate::analysis::Analysis;
use crate::decode;
use crate::rundir::{RunDir, RunInfo, now_stamps};
use crate::summary::{Summary, summarize};
use crate::{fail, report, status};

/// `tickscope import` options.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  # on the board: sudo ./tickscope-probe mode=noise cores=47 duration=60s --out generic.bin
  tickscope import generic.bin --label enzian-generic --emulation hardware
  tickscope report results/runs/*enzian-generic results/runs/*enzian-tickless")]
pub struct Args {
    /// The capture (probe output or firmware UART capture).
    file: PathBuf,
    /// Run label.
    #[arg(long)]
    label: String,
    /// How it was produced: `hardware` (default), `tcg` or `icount`.
    #[arg(long, default_value = "hardware")]
    emulation: String,
    /// Firmware ELF for defmt logs (firmware captures).
    #[arg(long)]
    elf: Option<PathBuf>,
    /// Run directory.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Accept lost or damaged frames.
    #[arg(long)]
    allow_loss: bool,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct ImportJson<'a> {
    #[serde(flatten)]
    summary: &'a Summary,
    status: u8,
    run_dir: String,
}

/// Runs `import`.
pub fn run(a: Args) -> Result<u8> {
    if !matches!(a.emulation.as_str(), "hardware" | "tcg" | "icount") {
        return Err(fail(
            status::CONFIG,
            "--emulation must be hardware, tcg or icount",
        ));
    }
    if !a.file.is_file() {
        return Err(fail(
            status::CONFIG,
            format!("{} does not exist", a.file.display()),
        ));
    }
    let mut analysis = Analysis::default();
    let rep = decode::decode_file(&a.file, a.elf.as_deref(), &mut analysis)?;
    if analysis.header.is_none() {
        return Err(fail(
            status::FAILURE,
            format!(
                "{} holds no tickscope run ({} frames decoded)",
                a.file.display(),
                rep.link.frames_ok
            ),
        ));
    }
    let dir = RunDir::create(a.out.as_deref(), &a.label)?;
    std::fs::copy(&a.file, dir.file("capture.bin"))?;
    let summary = summarize(&analysis, &a.label, &a.emulation, rep.link.frames_lost());
    let h = analysis.header.as_ref().unwrap();
    let mut st = analysis
        .trailer
        .map(|t| t.status)
        .unwrap_or(status::FAILURE);
    if let Some(p) = rep.problems() {
        eprintln!("tickscope: {}: {p}", a.file.display());
        if rep.lossy() && !a.allow_loss && st == status::OK {
            st = status::FAILURE;
        }
    }
    let info = RunInfo {
        label: a.label.clone(),
        kind: "import".into(),
        board: h.board.to_string(),
        cpu: if h.midr != 0 {
            format!("MIDR {:#x}", h.midr)
        } else {
            String::new()
        },
        el: h.el,
        entry_el: h.boot_el,
        gic: h.gic,
        smp: analysis
            .linux
            .as_ref()
            .map(|l| l.cpus)
            .unwrap_or(analysis.online.len() as u16),
        emulation: a.emulation.clone(),
        qemu_version: None,
        qemu_command: None,
        kernel: (!h.kernel.is_empty()).then(|| h.kernel.to_string()),
        kernel_cmdline: (!h.cmdline.is_empty()).then(|| h.cmdline.to_string()),
        revision: h.revision.to_string(),
        config: h.config.to_string(),
        start_time: now_stamps().1,
        wall_s: 0.0,
        status: st,
        tickscope: env!("CARGO_PKG_VERSION").into(),
    };
    dir.write_json("run.json", &info)?;
    dir.write_json("summary.json", &summary)?;
    let console: String = rep.text_lines.iter().map(|l| format!("{l}\n")).collect();
    dir.write("console.log", console.as_bytes())?;
    report::write_run_files(&dir, &analysis, &summary, true)?;
    if a.json {
        print_json(&ImportJson {
            summary: &summary,
            status: st,
            run_dir: dir.path.display().to_string(),
        })?;
    } else {
        report::print_table(&[&summary]);
        println!("run directory: {}", dir.path.display());
    }
    Ok(st)
}
