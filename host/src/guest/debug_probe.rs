//! A board behind a debug probe (feature `probe-rs`): loads the firmware into RAM, starts it, and
//! serves its semihosting requests (console, command line, capture.bin, exit) like QEMU does, so
//! a board behind a probe runs exactly the QEMU flow and hands back the same kind of capture.
//!
//! Supported: targets probe-rs knows (`chip`), whose core probe-rs can halt, write and resume,
//! with RAM at the board's load address. Not supported: the ThunderX itself (probe-rs has no
//! CN88xx target; use `tickscope capture` over its UART), RTT (the firmware ships over
//! semihosting or the UART instead), and semihosting buffers above 4 GiB (probe-rs passes 32-bit
//! addresses).

use std::num::NonZeroU32;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use object::{Object, ObjectSegment};
use probe_rs::config::TargetSelector;
use probe_rs::semihosting::SemihostingCommand;
use probe_rs::{
    BreakpointCause, CoreStatus, HaltReason, MemoryInterface, Permissions, Session, SessionConfig,
};

use super::{Capture, End, Expect};
use crate::machine::{Emulation, Facts};
use crate::{fail, status};

/// A run through a debug probe.
#[derive(Debug, Clone)]
pub struct Request {
    /// probe-rs target name of the chip.
    pub chip: String,
    /// Firmware ELF.
    pub elf: PathBuf,
    /// Configuration tokens passed as the semihosting command line.
    pub config: String,
    /// Give up after this long.
    pub timeout: Duration,
}

const CONSOLE: u32 = 1;
const CAPTURE: u32 = 2;

/// Loads, runs and serves the firmware until it exits.
pub fn run(a: &Request) -> Result<Capture> {
    let elf_bytes =
        std::fs::read(&a.elf).with_context(|| format!("reading {}", a.elf.display()))?;
    let elf = object::File::parse(&*elf_bytes).context("parsing the ELF")?;
    let config = SessionConfig {
        permissions: Permissions::default(),
        ..SessionConfig::default()
    };
    let mut session =
        Session::auto_attach(TargetSelector::from(a.chip.as_str()), config).map_err(|e| {
            fail(
                status::MISSING_TOOL,
                format!("attaching to {} through a debug probe: {e}", a.chip),
            )
        })?;
    let mut core = session.core(0)?;
    core.reset_and_halt(Duration::from_secs(2))?;
    for seg in elf.segments() {
        let data = seg.data()?;
        if !data.is_empty() {
            core.write(seg.address(), data)?;
        }
    }
    let pc = core.program_counter();
    core.write_core_reg(pc, elf.entry())?;
    core.run()?;
    let mut bytes = Vec::new();
    let mut console = String::new();
    let started = Instant::now();
    let end = loop {
        if started.elapsed() > a.timeout {
            core.halt(Duration::from_secs(1))?;
            break End::Hung {
                after_s: a.timeout.as_secs(),
            };
        }
        if let Some(signal) = crate::interrupt::requested() {
            core.halt(Duration::from_secs(1))?;
            break End::Interrupted { signal };
        }
        match core.status()? {
            CoreStatus::Halted(HaltReason::Breakpoint(BreakpointCause::Semihosting(cmd))) => {
                if let Some(end) = serve(&mut core, cmd, a, &mut bytes, &mut console)? {
                    break end;
                }
                core.run()?;
            }
            CoreStatus::Halted(reason) => {
                break End::Crashed {
                    what: format!("the core halted ({reason:?})"),
                };
            }
            _ => std::thread::sleep(Duration::from_millis(5)),
        }
    };
    Ok(Capture {
        bytes,
        spill: None,
        console,
        emulator_log: vec![],
        end,
        facts: Facts {
            cpu: a.chip.clone(),
            emulation: Emulation::Hardware,
            ..Facts::default()
        },
        elf: Some(a.elf.clone()),
        config: a.config.clone(),
        wall: started.elapsed(),
        boot_s: None,
        keep: vec![],
        expect: Expect::default(),
    })
}

/// Answers one semihosting request as QEMU would; the run's end when the request ends it.
fn serve(
    core: &mut probe_rs::Core<'_>,
    cmd: SemihostingCommand,
    a: &Request,
    bytes: &mut Vec<u8>,
    console: &mut String,
) -> Result<Option<End>> {
    match cmd {
        SemihostingCommand::ExitSuccess => return Ok(Some(End::Exited(status::OK))),
        SemihostingCommand::ExitError(d) => {
            let code = d.subcode.or(d.exit_status).unwrap_or(1).min(255) as u8;
            return Ok(Some(End::Exited(code)));
        }
        SemihostingCommand::GetCommandLine(req) => {
            req.write_command_line_to_target(core, &format!("tickscope {}", a.config))?
        }
        SemihostingCommand::Open(req) => {
            let path = req.path(core)?;
            let handle = if path == ":tt" { CONSOLE } else { CAPTURE };
            req.respond_with_handle(core, NonZeroU32::new(handle).unwrap())?;
        }
        SemihostingCommand::Write(req) => {
            let data = req.read(core)?;
            if req.file_handle() == CAPTURE {
                bytes.extend_from_slice(&data);
            } else {
                console.push_str(&String::from_utf8_lossy(&data));
                eprint!("{}", String::from_utf8_lossy(&data));
            }
            req.write_status(core, 0)?;
        }
        SemihostingCommand::WriteConsole(req) => {
            let text = req.read(core)?;
            eprint!("{text}");
            console.push_str(&text);
        }
        SemihostingCommand::Close(req) => req.success(core)?,
        other => {
            return Ok(Some(End::Crashed {
                what: format!("unsupported semihosting request {other:?}"),
            }));
        }
    }
    Ok(None)
}
