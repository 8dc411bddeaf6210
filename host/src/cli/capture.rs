//! `tickscope capture --serial DEV --baud B`: records a run from a board's UART (the firmware
//! built with a default configuration, see boards/README.md) until the end-of-run trailer, and
//! makes a run directory of every byte that arrived.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use serde::Serialize;

use super::options::OutArgs;
use crate::guest::serial;
use crate::machine::Emulation;
use crate::pipeline::{self, Request};
use crate::{fail, status};

/// `tickscope capture` options.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  tickscope capture --serial /dev/ttyUSB0 --baud 115200 --label enzian-bare
  tickscope capture --serial /dev/ttyUSB0 --baud 921600 --timeout 120 --json
  tickscope capture --serial rfc2217://lab-host:4001 --baud 115200   # ser2net, labgrid export
  tickscope capture --serial tcp://127.0.0.1:5555                    # a raw TCP serial port
  tickscope capture --serial 'exec:ssh gateway console enzian-3-console' --label enzian-bare")]
pub struct Args {
    /// Serial device (or a pseudo-terminal), a network port: `rfc2217://HOST:PORT` (telnet
    /// with RFC 2217, as ser2net and labgrid export it) or `tcp://HOST:PORT` (raw bytes), or a
    /// command's output: `exec:COMMAND` (run with `sh -c`; ended when the run is in).
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
    /// `hardware` (default), or `tcg`/`icount` when capturing an emulator's UART.
    #[arg(long, default_value = "hardware")]
    emulation: String,
    #[command(flatten)]
    out: OutArgs,
}

#[derive(Serialize)]
struct Extra {
    bytes: u64,
    frames_ok: u64,
    trailer: bool,
    /// Every frame passed its CRC: the channel carried the bytes unchanged (a pty or console
    /// server that translates newlines or drops bytes fails this).
    binary_clean: bool,
}

/// Runs `capture`.
pub fn run(a: Args) -> Result<u8> {
    let emulation = Emulation::parse(&a.emulation)
        .filter(|e| *e != Emulation::Unknown)
        .ok_or_else(|| {
            fail(
                status::CONFIG,
                "--emulation must be hardware, tcg or icount",
            )
        })?;
    let req = Request::Serial(serial::Request {
        port: a.serial.clone(),
        baud: a.baud,
        timeout: Duration::from_secs(a.timeout),
        elf: a.elf.clone(),
        emulation,
        quiet: a.out.json,
    });
    let run = pipeline::run(&req, &a.out.output("capture"))?;
    if !a.out.json {
        print!("{}", run.record.console);
    }
    let extra = Extra {
        bytes: run.record.link.link.bytes,
        frames_ok: run.record.link.link.frames_ok,
        trailer: run.analysis.trailer.is_some(),
        binary_clean: run.record.link.link.frames_corrupt == 0
            && run.record.link.link.frames_ok > 0,
    };
    if !extra.binary_clean && run.record.link.link.frames_corrupt > 0 {
        eprintln!(
            "tickscope: the channel is not binary-clean: {} frame(s) failed their CRC; a pty that translates newlines does this (`stty raw -echo` on it), or a console server that filters bytes",
            run.record.link.link.frames_corrupt
        );
    }
    super::output::print_run(&run, &a.out, extra)?;
    if a.out.explain && !a.out.json {
        super::output::print_explained(&run);
    }
    Ok(run.status())
}
