//! A board's serial port (or a pseudo-terminal): read until the run's end-of-run trailer, the
//! port closing, a timeout or an interrupt, keeping every byte that arrived.

use std::io::Read;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Result;
use tickscope_core::wire::Message;

use super::{Capture, End, Expect};
use crate::decode::{Decoder, Sink};
use crate::machine::{Emulation, Facts};
use crate::progress::Progress;
use crate::{fail, status};

/// A capture from a serial port.
#[derive(Debug, Clone)]
pub struct Request {
    /// Device path.
    pub port: PathBuf,
    /// Baud rate.
    pub baud: u32,
    /// Give up after this long without the trailer.
    pub timeout: Duration,
    /// Firmware ELF for defmt logs.
    pub elf: Option<PathBuf>,
    /// `hardware`, or `tcg`/`icount` for an emulator's UART.
    pub emulation: Emulation,
    /// No progress display.
    pub quiet: bool,
}

/// Notes the end-of-run trailer while the bytes stream in.
#[derive(Default)]
struct Watch {
    trailer: bool,
}

impl Sink for Watch {
    fn message(&mut self, _seq: u32, msg: &Message) {
        if matches!(msg, Message::End(_)) {
            self.trailer = true;
        }
    }
}

/// Reads the port until the run ends.
pub fn run(req: &Request) -> Result<Capture> {
    crate::interrupt::install();
    let mut port = serialport::new(req.port.to_string_lossy(), req.baud)
        .timeout(Duration::from_millis(200))
        .open()
        .map_err(|e| {
            fail(
                status::CONFIG,
                format!(
                    "cannot open {} at {} baud: {e}",
                    req.port.display(),
                    req.baud
                ),
            )
        })?;
    let mut watch = Watch::default();
    let mut decoder = Decoder::new(None)?;
    let progress = Progress::new(
        &format!("capturing {}", req.port.display()),
        req.timeout,
        req.quiet,
    );
    let started = Instant::now();
    let mut buf = vec![0u8; 64 * 1024];
    let mut bytes = Vec::new();
    let end = loop {
        if let Some(signal) = crate::interrupt::requested() {
            break End::Interrupted { signal };
        }
        if started.elapsed() > req.timeout {
            break End::Stopped {
                why: format!("no end-of-run trailer within {} s", req.timeout.as_secs()),
            };
        }
        match port.read(&mut buf) {
            Ok(0) => {
                break End::Stopped {
                    why: "the port reported end of input".into(),
                };
            }
            Ok(n) => {
                bytes.extend_from_slice(&buf[..n]);
                decoder.push(&buf[..n], &mut watch);
                if watch.trailer {
                    break End::Exited(status::OK);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                // A pseudo-terminal whose other side closed reports an I/O error: the end.
                if bytes.is_empty() {
                    progress.finish();
                    return Err(fail(
                        status::FAILURE,
                        format!("reading {}: {e}", req.port.display()),
                    ));
                }
                break End::Stopped {
                    why: format!("the port closed ({e})"),
                };
            }
        }
        progress.tick(started.elapsed());
    };
    progress.finish();
    Ok(Capture {
        bytes,
        console: String::new(),
        emulator_log: vec![],
        end,
        facts: Facts {
            emulation: req.emulation,
            ..Facts::default()
        },
        elf: req.elf.clone(),
        config: String::new(),
        wall: started.elapsed(),
        boot_s: None,
        keep: vec![],
        expect: Expect {
            nohz_full_cpu: None,
            status_in_trailer: true,
        },
    })
}
