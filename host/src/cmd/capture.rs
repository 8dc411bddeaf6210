//! `tickscope capture --serial DEV --baud B`: records a run from a board's UART (the firmware
//! built with a default configuration, see boards/README.md) until the end-of-run trailer, saving
//! every byte as `capture.bin` and making a run directory of it.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde::Serialize;

use super::print_json;
use crate::analysis::Analysis;
use crate::decode::Decoder;
use crate::progress::Progress;
use crate::rundir::{RunDir, RunInfo, now_stamps};
use crate::summary::{Summary, summarize};
use crate::{fail, report, status};

/// `tickscope capture` options.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  tickscope capture --serial /dev/ttyUSB0 --baud 115200 --label enzian-bare
  tickscope capture --serial /dev/ttyUSB0 --baud 921600 --timeout 120 --json")]
pub struct Args {
    /// Serial device (or a pseudo-terminal).
    #[arg(long)]
    serial: PathBuf,
    /// Baud rate.
    #[arg(long, default_value_t = 115_200)]
    baud: u32,
    /// Stop after this many seconds without the end-of-run trailer.
    #[arg(long, default_value_t = 600)]
    timeout: u64,
    /// Firmware ELF for defmt logs.
    #[arg(long)]
    elf: Option<PathBuf>,
    /// Run directory.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Run label.
    #[arg(long, default_value = "capture")]
    label: String,
    /// `hardware` (default), or `tcg`/`icount` when capturing an emulator's UART.
    #[arg(long, default_value = "hardware")]
    emulation: String,
    /// Accept lost or damaged frames.
    #[arg(long)]
    allow_loss: bool,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct CaptureJson<'a> {
    #[serde(flatten)]
    summary: &'a Summary,
    bytes: u64,
    frames_ok: u64,
    trailer: bool,
    status: u8,
    run_dir: String,
}

/// Runs `capture`.
pub fn run(a: Args) -> Result<u8> {
    let mut port = serialport::new(a.serial.to_string_lossy(), a.baud)
        .timeout(Duration::from_millis(200))
        .open()
        .map_err(|e| {
            fail(
                status::CONFIG,
                format!("cannot open {} at {} baud: {e}", a.serial.display(), a.baud),
            )
        })?;
    let dir = RunDir::create(a.out.as_deref(), &a.label)?;
    let (_, start_time) = now_stamps();
    let mut file = std::fs::File::create(dir.file(".capture.bin.partial"))
        .context("creating the capture file")?;
    let mut decoder = Decoder::new(a.elf.as_deref())?;
    let mut analysis = Analysis::default();
    let progress = Progress::new(
        &format!("capturing {}", a.serial.display()),
        Duration::from_secs(a.timeout),
        a.json,
    );
    let started = Instant::now();
    let mut buf = vec![0u8; 64 * 1024];
    let mut bytes = 0u64;
    let mut ended_by = "timeout";
    loop {
        if started.elapsed() > Duration::from_secs(a.timeout) {
            break;
        }
        match port.read(&mut buf) {
            Ok(0) => {
                ended_by = "end of input";
                break;
            }
            Ok(n) => {
                file.write_all(&buf[..n])?;
                bytes += n as u64;
                decoder.push(&buf[..n], &mut analysis);
                if analysis.trailer.is_some() {
                    ended_by = "trailer";
                    break;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                // A pseudo-terminal whose other side closed reports an I/O error: the end.
                ended_by = if bytes > 0 { "port closed" } else { "error" };
                if bytes == 0 {
                    progress.finish();
                    return Err(fail(
                        status::FAILURE,
                        format!("reading {}: {e}", a.serial.display()),
                    ));
                }
                break;
            }
        }
        progress.tick(started.elapsed());
    }
    progress.finish();
    file.flush()?;
    drop(file);
    std::fs::rename(dir.file(".capture.bin.partial"), dir.file("capture.bin"))?;
    let rep = decoder.finish();
    let summary = summarize(&analysis, &a.label, &a.emulation, rep.link.frames_lost());
    let mut st = analysis
        .trailer
        .map(|t| t.status)
        .unwrap_or(status::FAILURE);
    let mut problems = Vec::new();
    if analysis.trailer.is_none() {
        problems.push(format!(
            "no end-of-run trailer after {bytes} bytes ({ended_by}); kept what arrived"
        ));
    }
    if let Some(p) = rep.problems() {
        problems.push(p);
        if rep.lossy() && !a.allow_loss && st == status::OK {
            st = status::FAILURE;
        }
    }
    let h = analysis.header.as_ref();
    let info = RunInfo {
        label: a.label.clone(),
        kind: "capture".into(),
        board: h.map(|h| h.board.to_string()).unwrap_or_default(),
        cpu: h.map(|h| format!("MIDR {:#x}", h.midr)).unwrap_or_default(),
        el: h.map(|h| h.el).unwrap_or(0),
        entry_el: h.map(|h| h.boot_el).unwrap_or(0),
        gic: h.map(|h| h.gic).unwrap_or(0),
        smp: analysis.online.len() as u16,
        emulation: a.emulation.clone(),
        qemu_version: None,
        qemu_command: None,
        kernel: None,
        kernel_cmdline: None,
        revision: h.map(|h| h.revision.to_string()).unwrap_or_default(),
        config: h.map(|h| h.config.to_string()).unwrap_or_default(),
        start_time,
        wall_s: started.elapsed().as_secs_f64(),
        status: st,
        tickscope: env!("CARGO_PKG_VERSION").into(),
    };
    dir.write_json("run.json", &info)?;
    dir.write_json("summary.json", &summary)?;
    let console: String = rep.text_lines.iter().map(|l| format!("{l}\n")).collect();
    dir.write("console.log", console.as_bytes())?;
    if analysis.header.is_some() && !analysis.cores.is_empty() {
        report::write_run_files(&dir, &analysis, &summary, true)?;
    }
    if a.json {
        print_json(&CaptureJson {
            summary: &summary,
            bytes,
            frames_ok: rep.link.frames_ok,
            trailer: analysis.trailer.is_some(),
            status: st,
            run_dir: dir.path.display().to_string(),
        })?;
    } else {
        print!("{console}");
        if !analysis.cores.is_empty() {
            report::print_table(&[&summary]);
        }
        println!(
            "captured {bytes} bytes, {} frames, {} core(s) online; run directory: {}",
            rep.link.frames_ok,
            analysis.online.len(),
            dir.path.display()
        );
    }
    for p in problems {
        eprintln!("tickscope: {p}");
    }
    Ok(st)
}
