//! One way through the code for every run: validate the request (before anything is built,
//! downloaded or created), prepare what it needs (firmware image, kernel, probe), let the guest
//! runner capture, decode and analyse the capture once, make the run record (status decided
//! once), and write the run directory. Commands build requests; they never call each other.

use std::path::PathBuf;

use anyhow::{Context, Result};

use crate::analysis::Analysis;
use crate::firmware::Image;
use crate::guest::{self, Capture, bare, file, linux, remote, serial};
use crate::record::{self, Policy, RunRecord};
use crate::rundir::{self, RunDir, now_stamps};

/// A run to make.
#[derive(Debug, Clone)]
pub enum Request {
    /// The firmware under QEMU.
    Bare(bare::Request),
    /// Linux and the probe under QEMU.
    Linux(linux::Request),
    /// A board's serial port.
    Serial(serial::Request),
    /// A capture file.
    File(file::Request),
    /// The Linux probe on a real machine: this one, or another over ssh.
    Remote(remote::Request),
}

impl Request {
    /// Refuses what cannot run, with the words the user needs, before any side effect.
    pub fn validate(&self) -> Result<()> {
        match self {
            Request::Bare(r) => r.validate(),
            Request::Linux(r) => r.validate(),
            Request::Serial(_) => Ok(()),
            Request::File(r) => r.validate(),
            Request::Remote(r) => r.validate(),
        }
    }

    /// `bare-metal`, `linux`, `capture` or `import` (run.json's `kind`).
    pub fn kind(&self) -> &'static str {
        match self {
            Request::Bare(_) => "bare-metal",
            Request::Linux(_) => "linux",
            Request::Serial(_) => "capture",
            Request::File(_) => "import",
            Request::Remote(_) => "linux",
        }
    }
}

/// Where and how a run is saved.
#[derive(Debug, Clone, Default)]
pub struct Output {
    /// Run label.
    pub label: String,
    /// Run directory (default: results/runs/<time>-<label>).
    pub out: Option<PathBuf>,
    /// Loss policy.
    pub policy: Policy,
    /// Draw the per-run plots.
    pub plots: bool,
    /// Replace a run already in `out` (`--force`); otherwise such a clash is an error.
    pub replace: bool,
}

/// What a request needs, built or fetched.
#[derive(Debug, Clone)]
pub enum Prepared {
    /// The firmware image.
    Bare(Image),
    /// The kernel and the probe.
    Linux(linux::Prepared),
    /// Nothing.
    Nothing,
}

/// Builds or fetches what the request needs.
pub fn prepare(req: &Request) -> Result<Prepared> {
    Ok(match req {
        Request::Bare(r) => Prepared::Bare(bare::prepare(r)?),
        Request::Linux(r) => Prepared::Linux(linux::prepare(r)?),
        // A real machine's probe is built for its architecture once the machine has said which.
        Request::Serial(_) | Request::File(_) | Request::Remote(_) => Prepared::Nothing,
    })
}

/// Lets the guest runner make the run.
pub fn capture(req: &Request, prep: &Prepared) -> Result<Capture> {
    match (req, prep) {
        (Request::Bare(r), Prepared::Bare(img)) => bare::run(r, img),
        (Request::Linux(r), Prepared::Linux(p)) => linux::run(r, p),
        (Request::Serial(r), _) => serial::run(r),
        (Request::File(r), _) => file::run(r),
        (Request::Remote(r), _) => remote::run(r),
        _ => unreachable!("prepare() matches the request"),
    }
}

/// A finished, saved run.
pub struct Run {
    /// The record (what run.json and summary.json hold, and the status).
    pub record: RunRecord,
    /// The decoded data.
    pub analysis: Analysis,
    /// Where it was saved.
    pub dir: RunDir,
}

impl Run {
    /// The exit status.
    pub fn status(&self) -> u8 {
        self.record.status()
    }
}

/// Decodes and analyses a capture, makes its record and writes its directory.
pub fn finish(capture: &Capture, kind: &str, start_time: String, out: &Output) -> Result<Run> {
    let mut analysis = crate::decode::new_analysis()?;
    let elf = crate::decode::read_elf(capture.elf.as_deref())?;
    let link = match &capture.spill {
        // A long run's capture, as a stream.
        Some(spill) => {
            let file = std::fs::File::open(&spill.path)
                .with_context(|| format!("reading the capture {}", spill.path.display()))?;
            tickscope_analysis::decode::decode_reader(file, elf.as_deref(), &mut analysis)?
        }
        None => crate::decode::decode_bytes(&capture.bytes, elf.as_deref(), &mut analysis)?,
    };
    let policy = record::Policy {
        nominal_counter_hz: nominal_counter_hz(&analysis),
        ..out.policy.clone()
    };
    let record = record::make(
        capture, &analysis, link, &out.label, kind, start_time, &policy,
    );
    let dir = rundir::write(
        (out.out.as_deref(), out.replace),
        &record,
        capture,
        &analysis,
        out.plots,
    )?;
    Ok(Run {
        record,
        analysis,
        dir,
    })
}

/// The nominal counter frequency of the board a firmware run names (its board description),
/// which the record checks CNTFRQ_EL0 against.
fn nominal_counter_hz(a: &Analysis) -> Option<u64> {
    let h = a.header.as_ref()?;
    (h.source == tickscope_core::wire::msg::Source::Firmware)
        .then(|| crate::workspace::board(&h.board).ok())
        .flatten()
        .map(|b| b.counter.nominal_hz)
}

/// Makes one run from start to end.
pub fn run(req: &Request, out: &Output) -> Result<Run> {
    req.validate()?;
    let prep = prepare(req)?;
    let (_, start_time) = now_stamps();
    let cap = capture(req, &prep)?;
    finish(&cap, req.kind(), start_time, out)
}

/// Re-exported for commands that only need the capture type.
pub use guest::End;
