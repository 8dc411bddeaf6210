//! One bare-metal run under QEMU, shared by `boot`, `measure`, `compare` and `bench`: validate,
//! build the firmware, launch, capture, decode, summarise, and write the run directory.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Result;
use tickscope_core::config::{Config, Mode, Platform, Transport};

use crate::analysis::Analysis;
use crate::decode::{self, Report};
use crate::firmware;
use crate::progress::Progress;
use crate::qemu::{self, Launch, MachineSpec, Serial};
use crate::rundir::{RunDir, RunInfo, now_stamps};
use crate::summary::{Summary, summarize};
use crate::{deps, fail, report, status};

/// What to run.
pub struct Request {
    /// Machine.
    pub machine: MachineSpec,
    /// Firmware configuration.
    pub config: Config,
    /// Run label.
    pub label: String,
    /// Run directory (None: results/runs/...).
    pub out: Option<PathBuf>,
    /// Wall-clock limit override (seconds).
    pub timeout: Option<u64>,
    /// Quiet (JSON output): no progress bar.
    pub json: bool,
    /// Write plots into the run directory.
    pub plots: bool,
}

/// What came back.
pub struct Outcomes {
    /// The run directory.
    pub dir: RunDir,
    /// Statistics.
    pub analysis: Analysis,
    /// Link report.
    pub decode: Report,
    /// Figures.
    pub summary: Summary,
    /// Console text (semihosting stdout, or text found on the UART).
    pub console: String,
    /// Status tickscope should exit with (before link-loss policy).
    pub status: u8,
    /// What went wrong, for the user (first problem).
    pub problem: Option<String>,
}

/// Estimated wall time of a run, for the timeout and the progress bar.
pub fn estimate(machine: &MachineSpec, config: &Config) -> Duration {
    let window = config.duration_ns as f64 / 1e9;
    let per_virtual_s = match (config.mode, machine.icount) {
        (Mode::Noise, true) => 5.0,
        (Mode::Noise, false) => 1.5,
        (Mode::Timer, true) => 0.5,
        (Mode::Timer, false) => 1.2,
        (Mode::Boot, _) => 0.0,
    };
    Duration::from_secs_f64(1.0 + machine.smp as f64 * 0.1 + window * per_virtual_s)
}

/// Runs the firmware once.
pub fn run(req: Request) -> Result<Outcomes> {
    let started = Instant::now();
    let (_, start_time) = now_stamps();
    let platform = Platform {
        cores_online: req.machine.smp,
        counter_hz: None,
        boot_el: Some(req.machine.entry_el),
    };
    req.config
        .validate(&platform)
        .map_err(|e| fail(status::CONFIG, e.to_string()))?;
    let qemu_bin = deps::qemu_system()?;
    let image = firmware::ensure_built(&req.machine.board, req.json)?;
    let dir = RunDir::create(req.out.as_deref(), &req.label)?;

    let uart_file = if req.config.transport == Transport::Uart {
        "capture.bin"
    } else {
        "uart.log"
    };
    let _ = std::fs::remove_file(dir.file("capture.bin"));
    let expected = estimate(&req.machine, &req.config);
    let timeout = req
        .timeout
        .map(Duration::from_secs)
        .unwrap_or(expected * 4 + Duration::from_secs(30));
    let launch = Launch {
        machine: req.machine.clone(),
        kernel: image.elf.clone(),
        initrd: None,
        append: None,
        semihosting: Some(
            req.config
                .to_string()
                .split_whitespace()
                .map(String::from)
                .collect(),
        ),
        serial: Serial::File(dir.file(uart_file)),
        extra: vec![],
        cwd: dir.path.clone(),
        timeout,
    };
    let what = match req.config.mode {
        Mode::Boot => format!("booting {} core(s)", req.machine.smp),
        m => format!(
            "{} {} ({})",
            m.name(),
            crate::rundir::sanitize(&req.label),
            req.machine.emulation()
        ),
    };
    let progress = Progress::new(&what, expected, req.json);
    let outcome = qemu::run(&launch, &mut |t| progress.tick(t))?;
    progress.finish();

    let mut console = String::from_utf8_lossy(&outcome.stdout).into_owned();
    let mut analysis = Analysis::default();
    let capture = dir.file("capture.bin");
    let decode = if capture.is_file() {
        decode::decode_file(&capture, Some(&image.elf), &mut analysis)?
    } else {
        Report::default()
    };
    for line in &decode.text_lines {
        console.push_str(line);
        console.push('\n');
    }
    dir.write("console.log", console.as_bytes())?;
    if !outcome.stderr.is_empty() {
        dir.write("qemu-stderr.log", &outcome.stderr)?;
    }
    let logs: String = decode
        .logs
        .iter()
        .map(|l| {
            format!(
                "core {} @ {} ticks [{}] {}\n",
                l.core, l.at, l.level, l.text
            )
        })
        .collect();
    dir.write("firmware.log", logs.as_bytes())?;

    let summary = summarize(
        &analysis,
        &req.label,
        req.machine.emulation(),
        decode.link.frames_lost(),
    );
    let mut st = outcome.status();
    let mut problem = outcome.problem();
    if problem.is_none() && !capture.is_file() {
        problem = Some("the firmware produced no capture.bin".into());
        st = st.max(status::FAILURE);
    }
    if problem.is_none() && st != status::OK {
        problem = Some(format!(
            "the firmware ended with status {st} ({})",
            status::name(st)
        ));
    }
    let header = analysis.header.as_ref();
    let info = RunInfo {
        label: req.label.clone(),
        kind: "bare-metal".into(),
        board: req.machine.board.clone(),
        cpu: req.machine.cpu.clone(),
        el: header.map(|h| h.el).unwrap_or(req.config.el),
        entry_el: req.machine.entry_el,
        gic: req.machine.gic,
        smp: req.machine.smp,
        emulation: req.machine.emulation().into(),
        qemu_version: Some(deps::qemu_version(&qemu_bin)),
        qemu_command: Some(outcome.command.clone()),
        kernel: None,
        kernel_cmdline: None,
        revision: header.map(|h| h.revision.to_string()).unwrap_or_default(),
        config: req.config.to_string(),
        start_time,
        wall_s: crate::summary::round6(started.elapsed().as_secs_f64()),
        status: st,
        tickscope: env!("CARGO_PKG_VERSION").into(),
    };
    dir.write_json("run.json", &info)?;
    dir.write_json("summary.json", &summary)?;
    if req.config.mode != Mode::Boot {
        report::write_run_files(&dir, &analysis, &summary, req.plots)?;
    }
    Ok(Outcomes {
        dir,
        analysis,
        decode,
        summary,
        console,
        status: st,
        problem,
    })
}
