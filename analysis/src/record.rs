//! The run record: what a run was (run.json), its figures (summary.json), and its exit status,
//! decided here, once, from everything the capture and the analysis say, before anything is
//! written. Every runner's capture goes through [`make`].

use serde::{Deserialize, Serialize};

use crate::analysis::Analysis;
use crate::analysis::summary::{CoreSplits, Summary, round6, summarize_with};
use crate::capture::{Capture, End};
use crate::decode::{self, LogLine};
use crate::facts::{Emulation, Facts};
use crate::status;

pub use crate::analysis::summary::Covered;

/// What ran where (run.json).
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct RunInfo {
    /// Run label.
    pub label: String,
    /// `bare-metal`, `linux`, `capture` or `import`.
    pub kind: String,
    /// Board description or machine.
    pub board: String,
    /// CPU model (QEMU `-cpu`, or MIDR of the board).
    pub cpu: String,
    /// EL of the measurement (0 = Linux user space).
    pub el: u8,
    /// EL the image or kernel was entered at.
    pub entry_el: u8,
    /// GIC version.
    pub gic: u8,
    /// Cores.
    pub smp: u16,
    /// `icount`, `tcg`, `hardware` or `unknown`.
    pub emulation: String,
    /// QEMU version, when emulated.
    pub qemu_version: Option<String>,
    /// The full QEMU command line (replayable in the run directory).
    pub qemu_command: Option<String>,
    /// Linux kernel release.
    pub kernel: Option<String>,
    /// The kernel's package and version, when tickscope fetched it.
    pub kernel_package: Option<String>,
    /// Linux kernel command line.
    pub kernel_cmdline: Option<String>,
    /// `generic` or `tickless` (the command line tickscope chose).
    pub kernel_mode: Option<String>,
    /// The running kernel is PREEMPT_RT (read from the kernel by the probe, not assumed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preempt_rt: Option<bool>,
    /// The rt-tests package of the peers (`--peers`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peers_package: Option<String>,
    /// The packages the load's tools came from in a QEMU guest (`--load hackbench`, `stress-ng`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub load_packages: Vec<String>,
    /// The snapshot of the booted kernel the run was restored from (Linux under QEMU).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<crate::facts::SnapshotFacts>,
    /// A real machine's account of itself (`linux --here`, `--ssh`): host, architecture, CPU
    /// model, CPUs online, `nohz_full`, `isolated`, the measured CPU.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<crate::facts::SystemFacts>,
    /// How a bare-metal image was started, when not by QEMU's direct load (`uefi`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boot: Option<String>,
    /// The load on the other CPUs (`--load`): what was asked and each instance's progress
    /// counters (as in summary.json), so "loaded" is a measured fact of the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load: Option<crate::analysis::load::LoadSummary>,
    /// Counter frequency of the measurement, Hz.
    pub counter_hz: u64,
    /// Firmware or probe revision (git describe).
    pub revision: String,
    /// The configuration as `key=value` tokens (or the probe's arguments).
    pub config: String,
    /// UTC start time (RFC 3339).
    pub start_time: String,
    /// Wall-clock duration of the whole run, seconds.
    pub wall_s: f64,
    /// Seconds of it spent booting before the measurement (Linux), when known.
    pub boot_s: Option<f64>,
    /// Exit status of the run (what tickscope exits with for it).
    pub status: u8,
    /// What went wrong, first the reason for the status.
    pub problems: Vec<String>,
    /// Set when the run did not finish and the figures cover only part of the window.
    pub partial: Option<Covered>,
    /// tickscope version.
    pub tickscope: String,
}

/// A finished run, in memory: everything the run directory and every renderer need.
#[derive(Debug, Clone)]
pub struct RunRecord {
    /// run.json.
    pub info: RunInfo,
    /// summary.json.
    pub summary: Summary,
    /// Each measured core's events split into causes (for the plots).
    pub splits: Vec<CoreSplits>,
    /// Link accounting.
    pub link: decode::Report,
    /// Console text.
    pub console: String,
    /// Decoded firmware logs.
    pub logs: Vec<LogLine>,
}

impl RunRecord {
    /// The exit status.
    pub fn status(&self) -> u8 {
        self.info.status
    }
}

/// What the user allowed, and what the host knows that the capture does not.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// Accept lost frames or samples (still reported).
    pub allow_loss: bool,
    /// The nominal counter frequency of the board the firmware names in its header (Hz), from
    /// its board description, which the host looks up once decoded; `None`: not a firmware run,
    /// or a board without a description. A CNTFRQ_EL0 more than 1 % away is noted.
    pub nominal_counter_hz: Option<u64>,
}

/// The emulation of a capture: the runner's, or for a file, what its configuration says.
fn emulation(capture: &Capture, a: &Analysis) -> Emulation {
    match capture.facts.emulation {
        Emulation::Unknown if a.header.as_ref().is_some_and(|h| h.config.icount) => {
            Emulation::Icount
        }
        e => e,
    }
}

/// The console as the run printed it: the emulator's console, then text lines found on the wire.
fn console_text(capture: &Capture, link: &decode::Report) -> String {
    let mut console = capture.console.clone();
    for line in &link.text_lines {
        console.push_str(line);
        console.push('\n');
    }
    console
}

/// The summary names the machine the run was on (a Linux probe only knows its hostname).
fn name_machine(summary: &mut Summary, facts: &Facts) {
    if facts.boot.is_some() {
        summary.boot = facts.boot.clone();
        summary.entry_el = Some(facts.entry_el);
    }
    if !facts.board.is_empty() {
        summary.board = facts.board.clone();
        summary.gic = facts.gic;
        summary.el = facts.el;
    }
}

/// Makes the run record: figures, facts, and the status decided once.
pub fn make(
    capture: &Capture,
    analysis: &Analysis,
    link: decode::Report,
    label: &str,
    kind: &str,
    start_time: String,
    policy: &Policy,
) -> RunRecord {
    let emulation = emulation(capture, analysis);
    let (mut summary, splits) = summarize_with(analysis, label, emulation, link.link.frames_lost());
    let console = console_text(capture, &link);
    summary.load = crate::analysis::load::summarize(capture.expect.load.as_deref(), analysis);
    let (status, problems) = decide(capture, analysis, &link, &summary, policy);
    let partial = summary.partial;
    let facts = facts(&capture.facts, analysis, emulation);
    name_machine(&mut summary, &facts);
    let h = analysis.header.as_ref();
    let kernel = facts.kernel.clone();
    let info = RunInfo {
        label: label.to_string(),
        kind: kind.to_string(),
        board: facts.board.clone(),
        cpu: facts.cpu.clone(),
        el: facts.el,
        entry_el: facts.entry_el,
        gic: facts.gic,
        smp: facts.cores,
        emulation: emulation.name().into(),
        qemu_version: facts.qemu_version.clone(),
        qemu_command: facts.qemu_command.clone(),
        kernel: kernel
            .as_ref()
            .map(|k| k.release.clone())
            .filter(|r| !r.is_empty()),
        kernel_package: kernel.as_ref().and_then(|k| k.package.clone()),
        kernel_cmdline: kernel
            .as_ref()
            .map(|k| k.cmdline.clone())
            .filter(|c| !c.is_empty()),
        kernel_mode: kernel.as_ref().and_then(|k| k.mode.clone()),
        preempt_rt: analysis.kernel.as_ref().map(|k| k.preempt_rt),
        peers_package: facts.peers_package.clone(),
        load_packages: facts.load_packages.clone(),
        snapshot: kernel.as_ref().and_then(|k| k.snapshot.clone()),
        system: facts.system.clone(),
        boot: facts.boot.clone(),
        load: summary.load.clone(),
        counter_hz: facts.counter_hz,
        revision: h.map(|h| h.revision.to_string()).unwrap_or_default(),
        config: if capture.config.is_empty() {
            h.map(|h| h.config.to_string()).unwrap_or_default()
        } else {
            capture.config.clone()
        },
        start_time,
        wall_s: round6(capture.wall.as_secs_f64()),
        boot_s: capture.boot_s.map(round6),
        status,
        problems,
        partial,
        tickscope: env!("CARGO_PKG_VERSION").into(),
    };
    RunRecord {
        info,
        summary,
        splits,
        logs: link.logs.clone(),
        link,
        console,
    }
}

/// The machine's facts: the runner's, completed from the stream's header where the runner could
/// not know them (a board's capture, an import).
fn facts(f: &Facts, a: &Analysis, emulation: Emulation) -> Facts {
    let mut f = f.clone();
    f.emulation = emulation;
    let Some(h) = a.header.as_ref() else {
        return f;
    };
    f.counter_hz = h.counter_hz;
    if f.boot.is_some() {
        // UEFI chose the EL it entered the image at; the firmware read it.
        f.entry_el = h.boot_el;
    }
    if f.board.is_empty() {
        f.board = h.board.to_string();
        f.el = h.el;
        f.entry_el = h.boot_el;
        f.gic = h.gic;
        f.cores = a
            .linux
            .as_ref()
            .map(|l| l.cpus)
            .unwrap_or(a.online.len() as u16);
        if h.midr != 0 {
            f.cpu = format!("MIDR {:#x}", h.midr);
        }
    }
    if !h.kernel.is_empty() {
        let k = f.kernel.get_or_insert_with(Default::default);
        k.release = h.kernel.to_string();
        if k.cmdline.is_empty() {
            k.cmdline = h.cmdline.to_string();
        }
    }
    f
}

/// The exit status and the problems found so far: the first failure decides the status.
struct Verdict {
    status: u8,
    problems: Vec<String>,
}

impl Verdict {
    /// A problem that fails the run (the first such decides the status).
    fn fail(&mut self, status: u8, problem: String) {
        if self.status == status::OK {
            self.status = status;
        }
        self.problems.push(problem);
    }

    /// A problem worth saying that does not fail the run.
    fn note(&mut self, problem: String) {
        self.problems.push(problem);
    }
}

/// The exit status and the problems, first the one that decided it.
fn decide(
    capture: &Capture,
    a: &Analysis,
    link: &decode::Report,
    s: &Summary,
    policy: &Policy,
) -> (u8, Vec<String>) {
    let mut v = Verdict {
        status: status::OK,
        problems: Vec::new(),
    };
    what_it_refused(&mut v, capture, a);
    how_it_ended(&mut v, capture, a);
    what_arrived(&mut v, capture, a, link);
    if let Some(cpu) = capture.expect.nohz_full_cpu
        && a.header.is_some()
    {
        tick_stopped(&mut v, a, cpu);
    }
    what_it_found(&mut v, a, s, policy);
    if let Some(p) = link.problems() {
        let p = format!("capture: {p}");
        if link.lossy() && !policy.allow_loss {
            v.fail(status::FAILURE, p);
        } else {
            v.note(p);
        }
    }
    (v.status, v.problems)
}

/// The firmware's counter frequency (CNTFRQ_EL0, which the figures use) against its board
/// description's nominal one: the firmware used to warn itself, the host has the board file.
fn counter_disagrees(
    h: &tickscope_core::wire::msg::RunHeader,
    nominal: Option<u64>,
) -> Option<String> {
    if h.source != tickscope_core::wire::msg::Source::Firmware {
        return None;
    }
    counter_note(h.counter_hz, nominal?)
}

/// A note when `cntfrq` is more than 1 % from `nominal` (0: the board names none).
fn counter_note(cntfrq: u64, nominal: u64) -> Option<String> {
    (nominal != 0 && cntfrq.abs_diff(nominal) * 100 > nominal).then(|| {
        format!(
            "CNTFRQ_EL0 says {cntfrq} Hz, the board description {nominal} Hz: the figures use CNTFRQ_EL0 (firmware that programs it wrong, or the wrong board file?)"
        )
    })
}

/// Why the firmware refused the run, in words (it sends the reason as data): first, since it
/// decides the status the firmware ended with.
fn what_it_refused(v: &mut Verdict, capture: &Capture, a: &Analysis) {
    let st = match capture.end {
        End::Exited(st) if st != status::OK => st,
        _ => status::CONFIG,
    };
    for r in &a.refusals {
        v.fail(st, format!("the firmware refused the run: {r}"));
    }
}

/// How the guest ended: hung, crashed, interrupted, a non-zero status, or stopped early.
fn how_it_ended(v: &mut Verdict, capture: &Capture, a: &Analysis) {
    match &capture.end {
        End::Hung { after_s } => v.fail(
            status::HUNG,
            format!("the guest did not finish within {after_s} s and was killed"),
        ),
        End::Crashed { what } => v.fail(status::HUNG, what.clone()),
        End::Interrupted { .. } => v.fail(
            status::INTERRUPTED,
            "interrupted: the guest was stopped, what arrived was kept".into(),
        ),
        End::Exited(st) if *st != status::OK && !capture.expect.status_in_trailer => v.fail(
            *st,
            format!(
                "the firmware ended with status {st} ({})",
                status::name(*st)
            ),
        ),
        End::Stopped { why } if a.trailer.is_none() => v.fail(
            status::FAILURE,
            format!("the run did not finish: {why}; kept what arrived"),
        ),
        End::Exited(_) | End::Stopped { .. } => {}
    }
}

/// Whether a run arrived at all, and the status its producer ended with.
fn what_arrived(v: &mut Verdict, capture: &Capture, a: &Analysis, link: &decode::Report) {
    if capture.is_empty() {
        v.fail(status::FAILURE, "the guest produced no capture".into());
    } else if a.header.is_none() && a.refusals.is_empty() {
        let tail: Vec<&str> = link
            .text_lines
            .iter()
            .rev()
            .take(8)
            .map(String::as_str)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        v.fail(
            status::FAILURE,
            format!(
                "the capture holds no tickscope run ({} frames decoded); last console lines:\n{}",
                link.link.frames_ok,
                tail.join("\n")
            ),
        );
    }
    if capture.expect.status_in_trailer
        && let Some(t) = a.trailer
        && t.status != status::OK
    {
        let why = link
            .text_lines
            .iter()
            .rev()
            .find(|l| l.contains("tickscope"))
            .cloned()
            .unwrap_or_default();
        v.fail(
            t.status,
            format!(
                "the producer ended with status {} ({}): {why}",
                t.status,
                status::name(t.status)
            ),
        );
    }
}

/// A tickless run whose kernel did not stop the tick on the measured CPU fails.
fn tick_stopped(v: &mut Verdict, a: &Analysis, cpu: usize) {
    let nohz = a
        .linux
        .as_ref()
        .map(|l| l.nohz_full.to_string())
        .unwrap_or_default();
    if !crate::cpulist::parse_cpu_list(&nohz).contains(&cpu) {
        v.fail(
            status::FAILURE,
            format!(
                "the kernel did not stop the tick on CPU {cpu}: /sys/devices/system/cpu/nohz_full is `{nohz}` (needs CONFIG_NO_HZ_FULL=y and nohz_full={cpu})"
            ),
        );
    }
}

/// What the figures say: missed ticks, attribution coverage, peers, faults, lost records.
fn what_it_found(v: &mut Verdict, a: &Analysis, s: &Summary, policy: &Policy) {
    for note in s
        .inject
        .as_ref()
        .map(|t| t.missed_notes())
        .unwrap_or_default()
    {
        v.note(note);
    }
    if let Some(p) = s
        .attribution_coverage
        .as_ref()
        .and_then(|c| crate::analysis::coverage::timer_problem(c, s.emulation))
    {
        v.fail(status::FAILURE, p);
    }
    for (name, p) in &s.peers {
        if let Some(why) = &p.problem {
            v.fail(status::FAILURE, format!("peer {name}: {why}"));
        }
    }
    // A run that says it was loaded must show the load ran: its figures claim it.
    for why in s.load.iter().flat_map(|l| &l.problems) {
        v.fail(status::FAILURE, format!("load: {why}"));
    }
    if let Some(note) = a
        .header
        .as_ref()
        .and_then(|h| counter_disagrees(h, policy.nominal_counter_hz))
    {
        v.note(note);
    }
    for f in &a.faults {
        v.note(format!(
            "firmware fault on core {}: ESR {:#x} ELR {:#x} FAR {:#x}",
            f.core, f.esr, f.elr, f.far
        ));
    }
    if s.lost > 0 {
        let p = format!(
            "{} record(s) lost on the device (ring full){}",
            s.lost,
            if policy.allow_loss {
                " (accepted: --allow-loss)"
            } else {
                "; pass --allow-loss to accept"
            }
        );
        if policy.allow_loss {
            v.note(p);
        } else {
            v.fail(status::FAILURE, p);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::counter_note;

    #[test]
    fn a_counter_more_than_1_percent_off_its_board_is_noted() {
        assert_eq!(counter_note(62_500_000, 62_500_000), None);
        assert_eq!(
            counter_note(63_000_000, 62_500_000),
            None,
            "0.8 % is within"
        );
        let note = counter_note(100_000_000, 62_500_000).unwrap();
        assert!(
            note.starts_with("CNTFRQ_EL0 says 100000000 Hz, the board description 62500000 Hz"),
            "{note}"
        );
        assert_eq!(
            counter_note(1, 0),
            None,
            "a board without a nominal frequency"
        );
    }
}
