//! A capture file made elsewhere (the probe's output on a board's own Linux, a saved UART
//! capture): read as it is; its end-of-run trailer carries the producer's status. Or another
//! tool's output (cyclictest `--json` or `-h`, oslat's JSON or printed summary): made into a
//! capture of the same format from what it holds (see `rttests::to_wire`).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};

use super::{Capture, End, Expect};
use crate::machine::{Emulation, Facts};
use crate::{fail, status};

/// An import.
#[derive(Debug, Clone)]
pub struct Request {
    /// The file.
    pub file: PathBuf,
    /// How it was produced.
    pub emulation: Emulation,
    /// Firmware ELF for defmt logs.
    pub elf: Option<PathBuf>,
    /// Event threshold for another tool's output (ns).
    pub threshold_ns: u64,
    /// The QEMU that produced it (`--qemu-version`).
    pub qemu_version: Option<String>,
}

impl Request {
    /// Refuses a missing file before anything else happens.
    pub fn validate(&self) -> Result<()> {
        if !self.file.is_file() {
            return Err(fail(
                status::CONFIG,
                format!("{} does not exist", self.file.display()),
            ));
        }
        Ok(())
    }
}

/// Reads the file.
pub fn run(req: &Request) -> Result<Capture> {
    let bytes =
        std::fs::read(&req.file).with_context(|| format!("reading {}", req.file.display()))?;
    if let Some(parsed) = crate::rttests::parse_any(&bytes) {
        let run =
            parsed.map_err(|e| fail(status::CONFIG, format!("{}: {e}", req.file.display())))?;
        return Ok(foreign(req, &run, bytes));
    }
    Ok(Capture {
        bytes,
        spill: None,
        console: String::new(),
        emulator_log: vec![],
        end: End::Stopped {
            why: "end of file".into(),
        },
        facts: Facts {
            emulation: req.emulation,
            // `QEMU emulator version 7.2.22 (Debian ...)` or just the version.
            qemu_version: req.qemu_version.as_ref().map(|v| {
                v.lines()
                    .next()
                    .unwrap_or("")
                    .trim()
                    .trim_start_matches("QEMU emulator version ")
                    .to_string()
            }),
            ..Facts::default()
        },
        elf: req.elf.clone(),
        config: String::new(),
        wall: Duration::ZERO,
        boot_s: None,
        keep: vec![],
        expect: Expect {
            nohz_full_cpu: None,
            status_in_trailer: true,
            load: None,
        },
    })
}

/// Another tool's run as a capture; the original file is kept beside it.
fn foreign(req: &Request, run: &crate::rttests::RtRun, original: Vec<u8>) -> Capture {
    let name = req
        .file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "source".into());
    Capture {
        bytes: crate::rttests::to_wire(run, req.threshold_ns),
        spill: None,
        console: format!(
            "imported {} {} output ({}) from {}\n",
            run.tool.name(),
            run.format,
            run.version.as_deref().unwrap_or("version unknown"),
            req.file.display()
        ),
        emulator_log: vec![],
        end: End::Exited(0),
        facts: Facts {
            emulation: req.emulation,
            kernel: run.kernel.as_ref().map(|k| crate::machine::KernelFacts {
                release: k.clone(),
                ..Default::default()
            }),
            ..Facts::default()
        },
        elf: None,
        config: run
            .cmdline
            .clone()
            .unwrap_or_else(|| format!("{} ({})", run.tool.name(), run.format)),
        wall: Duration::ZERO,
        boot_s: None,
        keep: vec![(format!("imported-{name}"), original)],
        expect: Expect {
            nohz_full_cpu: None,
            status_in_trailer: true,
            load: None,
        },
    }
}
