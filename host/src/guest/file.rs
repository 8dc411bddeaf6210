//! A capture file made elsewhere (the probe's output on a board's own Linux, a saved UART
//! capture): read as it is; its end-of-run trailer carries the producer's status.

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
    Ok(Capture {
        bytes,
        console: String::new(),
        emulator_log: vec![],
        end: End::Stopped {
            why: "end of file".into(),
        },
        facts: Facts {
            emulation: req.emulation,
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
        },
    })
}
