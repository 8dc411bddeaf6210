//! `tickscope probe-run` (feature `probe-rs`): loads the firmware into RAM through a debug probe,
//! starts it, and serves its semihosting requests (console, command line, capture.bin, exit)
//! like QEMU does, so a board behind a probe runs exactly the QEMU flow.
//!
//! Supported: targets probe-rs knows (`--chip`), whose core probe-rs can halt, write and resume,
//! with RAM at the board's load address. Not supported: the ThunderX itself (probe-rs has no
//! CN88xx target; use `tickscope capture` over its UART), RTT (the firmware ships over
//! semihosting or the UART instead), and semihosting buffers above 4 GiB (probe-rs passes 32-bit
//! addresses).

use std::io::Write;
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

use crate::analysis::Analysis;
use crate::rundir::RunDir;
use crate::{decode, fail, report, status, summary};

/// `tickscope probe-run` options.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// probe-rs target name of the chip.
    #[arg(long)]
    chip: String,
    /// Firmware ELF (built for a board whose load address is RAM on that chip).
    #[arg(long)]
    elf: PathBuf,
    /// Configuration tokens passed as the semihosting command line.
    #[arg(long, default_value = "mode=boot")]
    config: String,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 120)]
    timeout: u64,
    /// Run directory.
    #[arg(long)]
    out: Option<PathBuf>,
}

const CONSOLE: u32 = 1;
const CAPTURE: u32 = 2;

/// Runs `probe-run`.
pub fn run(a: Args) -> Result<u8> {
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

    let dir = RunDir::create(a.out.as_deref(), "probe-run")?;
    let mut capture = std::fs::File::create(dir.file("capture.bin"))?;
    let mut console = String::new();
    let started = Instant::now();
    let exit = loop {
        if started.elapsed() > Duration::from_secs(a.timeout) {
            core.halt(Duration::from_secs(1))?;
            break status::HUNG;
        }
        match core.status()? {
            CoreStatus::Halted(HaltReason::Breakpoint(BreakpointCause::Semihosting(cmd))) => {
                match cmd {
                    SemihostingCommand::ExitSuccess => break status::OK,
                    SemihostingCommand::ExitError(d) => {
                        break d.subcode.or(d.exit_status).unwrap_or(1).min(255) as u8;
                    }
                    SemihostingCommand::GetCommandLine(req) => req.write_command_line_to_target(
                        &mut core,
                        &format!("tickscope {}", a.config),
                    )?,
                    SemihostingCommand::Open(req) => {
                        let path = req.path(&mut core)?;
                        let handle = if path == ":tt" { CONSOLE } else { CAPTURE };
                        req.respond_with_handle(&mut core, NonZeroU32::new(handle).unwrap())?;
                    }
                    SemihostingCommand::Write(req) => {
                        let bytes = req.read(&mut core)?;
                        if req.file_handle() == CAPTURE {
                            capture.write_all(&bytes)?;
                        } else {
                            console.push_str(&String::from_utf8_lossy(&bytes));
                            print!("{}", String::from_utf8_lossy(&bytes));
                        }
                        req.write_status(&mut core, 0)?;
                    }
                    SemihostingCommand::WriteConsole(req) => {
                        let text = req.read(&mut core)?;
                        print!("{text}");
                        console.push_str(&text);
                    }
                    SemihostingCommand::Close(req) => req.success(&mut core)?,
                    other => {
                        eprintln!("tickscope: unsupported semihosting request {other:?}");
                        break status::FAILURE;
                    }
                }
                core.run()?;
            }
            CoreStatus::Halted(reason) => {
                eprintln!("tickscope: the core halted ({reason:?})");
                break status::FAULT;
            }
            _ => std::thread::sleep(Duration::from_millis(5)),
        }
    };
    drop(capture);
    dir.write("console.log", console.as_bytes())?;
    let mut analysis = Analysis::default();
    let rep = decode::decode_file(&dir.file("capture.bin"), Some(&a.elf), &mut analysis)?;
    let s = summary::summarize(&analysis, "probe-run", "hardware", rep.link.frames_lost());
    dir.write_json("summary.json", &s)?;
    if !analysis.cores.is_empty() {
        report::write_run_files(&dir, &analysis, &s, true)?;
        report::print_table(&[&s]);
    }
    println!("run directory: {}", dir.path.display());
    Ok(exit)
}
