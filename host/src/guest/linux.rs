//! Linux under QEMU: the same machine as the bare-metal run, an arm64 kernel with the generic or
//! tickless command line, and an initramfs whose /init is the Linux probe; the probe's wire
//! stream comes back on the guest's serial port.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use clap::ValueEnum;

use super::{Capture, End, Expect, snapshot};
use crate::kernel::{self, Kernel, KernelMode};
use crate::machine::{Facts, KernelFacts, MachineSpec, SnapshotFacts};
use crate::progress::Progress;
use crate::qemu::{self, Launch, Serial};
use crate::{deps, fail, status};

/// Where the kernel comes from.
#[derive(Debug, Clone)]
pub enum KernelSource {
    /// The user's Image.
    Path(PathBuf),
    /// Debian's arm64 package, fetched and cached (a pinned version, or the archive's current).
    Debian {
        /// `--kernel-version`.
        version: Option<String>,
    },
}

/// How the probe attributes noise to causes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum AttributionChoice {
    /// tracefs when the kernel has it, per-event counters otherwise.
    #[default]
    Auto,
    /// The kernel's tracepoints through tracefs (fails over to counters, saying why).
    Tracefs,
    /// Per-event interrupt, softirq and context-switch counters.
    Counters,
    /// None: measure only.
    None,
}

impl AttributionChoice {
    /// The probe's spelling.
    pub fn name(self) -> &'static str {
        match self {
            AttributionChoice::Auto => "auto",
            AttributionChoice::Tracefs => "tracefs",
            AttributionChoice::Counters => "counters",
            AttributionChoice::None => "none",
        }
    }
}

/// A Linux run.
#[derive(Debug, Clone)]
pub struct Request {
    /// Machine (the bare-metal run's).
    pub machine: MachineSpec,
    /// Which command line.
    pub kernel_mode: KernelMode,
    /// Which kernel.
    pub kernel: KernelSource,
    /// `noise` or `timer`.
    pub mode: tickscope_core::Mode,
    /// The isolated, measured CPU.
    pub cpu: usize,
    /// Window, ns.
    pub duration_ns: u64,
    /// Timer period, ns.
    pub period_ns: u64,
    /// Event threshold, ns.
    pub threshold_ns: u64,
    /// Time the probe waits after boot before measuring, ns.
    pub settle_ns: u64,
    /// How often the probe ships what it has during the window (under icount), ns; 0: never.
    pub checkpoint_ns: u64,
    /// Attribution method.
    pub attribution: AttributionChoice,
    /// SCHED_FIFO priority of the probe (and of the peers); default 99 in timer mode (as
    /// cyclictest), 90 in noise mode.
    pub priority: Option<i32>,
    /// After the probe, run rt-tests' oslat and cyclictest on the same CPU for the same time.
    pub peers: bool,
    /// What runs on the other CPUs through the window (`--load`).
    pub load: crate::load::Load,
    /// Wall-clock limit (default: from the run length).
    pub timeout: Option<Duration>,
    /// No progress display.
    pub quiet: bool,
}

/// What a Linux run needs, built or fetched once (shared by the runs of a comparison).
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The kernel.
    pub kernel: Kernel,
    /// The probe, built for aarch64.
    pub probe: PathBuf,
    /// rt-tests' oslat, cyclictest and hackbench with their libraries (`--peers`, `--load
    /// hackbench`).
    pub peers: Option<crate::apt::Peers>,
    /// Debian's stress-ng with the libraries it loads (`--load stress-ng`).
    pub stress_ng: Option<crate::apt::stress_ng::StressNg>,
}

impl Request {
    /// Refuses what cannot run, before anything is built or fetched.
    pub fn validate(&self) -> Result<()> {
        let cpus = self.machine.smp as usize;
        if cpus < 2 {
            return Err(fail(
                status::CONFIG,
                "isolating a CPU needs at least 2 (--smp 2 or more)",
            ));
        }
        if self.cpu >= cpus {
            return Err(fail(
                status::CONFIG,
                format!(
                    "--core {} does not exist: {cpus} CPUs (0..{})",
                    self.cpu,
                    cpus - 1
                ),
            ));
        }
        if self.mode == tickscope_core::Mode::Boot {
            return Err(fail(
                status::CONFIG,
                "the Linux probe measures timer or noise",
            ));
        }
        let cfg = self.probe_config();
        cfg.validate(&tickscope_core::config::Platform {
            cores_online: self.machine.smp,
            counter_hz: None,
            boot_el: None,
        })
        .or_else(|e| {
            // On Linux CPU 0 may be measured (the probe's writer runs elsewhere).
            if matches!(
                e.problem,
                tickscope_core::config::Problem::Housekeeping { .. }
            ) {
                Ok(())
            } else {
                Err(fail(status::CONFIG, e.to_string()))
            }
        })?;
        if let Some(p) = self.priority
            && !(1..=99).contains(&p)
        {
            return Err(fail(status::CONFIG, format!("--priority {p}: 1..99")));
        }
        if let KernelSource::Path(p) = &self.kernel {
            kernel::user_kernel(p)?;
        }
        Ok(())
    }

    fn probe_config(&self) -> tickscope_core::Config {
        tickscope_core::Config {
            mode: self.mode,
            smp: self.machine.smp,
            cores: 1 << self.cpu,
            duration_ns: self.duration_ns,
            period_ns: self.period_ns,
            threshold_ns: self.threshold_ns,
            icount: self.machine.icount,
            checkpoint_ns: self.checkpoint_ns,
            ..tickscope_core::Config::default()
        }
    }

    /// The SCHED_FIFO priority the probe runs at.
    pub fn priority(&self) -> i32 {
        self.priority.unwrap_or(default_priority(self.mode))
    }

    /// The probe's arguments before the snapshot (in /tickscope.conf): wait at the snapshot
    /// point for the run's arguments.
    pub fn early_args(&self) -> String {
        "--await-args".into()
    }

    /// The run's arguments, written into the restored probe (which settles first).
    pub fn probe_args(&self) -> String {
        let window = ProbeArgs {
            mode: self.mode,
            cpu: self.cpu,
            duration_ns: self.duration_ns,
            period_ns: self.period_ns,
            threshold_ns: self.threshold_ns,
            settle_ns: self.settle_ns,
            checkpoint_ns: self.checkpoint_ns,
            attribution: self.attribution,
            priority: self.priority(),
            peers: self.peers,
            load: self.load.probe_arg(),
            icount: self.machine.icount,
        };
        format!("--out /dev/ttyAMA0 {}", window.render())
    }

    fn estimate(&self) -> Duration {
        let mut window_s = (self.duration_ns + self.settle_ns) as f64 / 1e9;
        if self.peers {
            // oslat (with its 1 s pre-heat) and cyclictest, whole seconds each.
            window_s += 1.0 + 2.0 * self.duration_ns.div_ceil(1_000_000_000) as f64;
        }
        // A load keeps the other vCPUs busy: under icount QEMU runs them in turn.
        let busy = if self.load.is_none() {
            1.0
        } else {
            self.machine.smp as f64
        };
        Duration::from_secs_f64(if self.machine.icount {
            40.0 + window_s * 6.0 * busy
        } else {
            15.0 + window_s * 1.5
        })
    }
}

/// The probe's settings for one window, whatever runs it (a QEMU guest, a real machine): what
/// it measures, how, and at which priority; its output aside.
pub struct ProbeArgs {
    /// `noise` or `timer`.
    pub mode: tickscope_core::Mode,
    /// The measured CPU.
    pub cpu: usize,
    /// Window, ns.
    pub duration_ns: u64,
    /// Timer period, ns.
    pub period_ns: u64,
    /// Event threshold, ns.
    pub threshold_ns: u64,
    /// Wait before measuring, ns.
    pub settle_ns: u64,
    /// Checkpoint interval, ns (0: only at the end).
    pub checkpoint_ns: u64,
    /// Attribution method.
    pub attribution: AttributionChoice,
    /// SCHED_FIFO priority.
    pub priority: i32,
    /// oslat and cyclictest after the window.
    pub peers: bool,
    /// The probe's `--load` (empty: none).
    pub load: String,
    /// Under QEMU's `-icount` (the probe writes only after its window).
    pub icount: bool,
}

impl ProbeArgs {
    /// The probe's command-line arguments.
    pub fn render(&self) -> String {
        format!(
            "--settle {}ns --priority {}{}{} --attribution {} mode={} cores={} duration={}ns period={}ns threshold={}ns icount={} checkpoint={}",
            self.settle_ns,
            self.priority,
            if self.peers {
                " --peers oslat,cyclictest"
            } else {
                ""
            },
            match self.load.as_str() {
                "" => String::new(),
                l => format!(" --load {l}"),
            },
            self.attribution.name(),
            self.mode.name(),
            self.cpu,
            self.duration_ns,
            self.period_ns,
            self.threshold_ns,
            if self.icount { "on" } else { "off" },
            match self.checkpoint_ns {
                0 => "0".to_string(),
                ns => format!("{ns}ns"),
            }
        )
    }
}

/// The probe's SCHED_FIFO priority unless given: 99 in timer mode (as cyclictest), 90 in noise
/// mode (below the kernel's own FIFO 99 threads).
pub fn default_priority(mode: tickscope_core::Mode) -> i32 {
    match mode {
        tickscope_core::Mode::Timer => 99,
        _ => 90,
    }
}

/// Fetches the kernel and builds the probe.
pub fn prepare(req: &Request) -> Result<Prepared> {
    let kernel = match &req.kernel {
        KernelSource::Path(p) => kernel::user_kernel(p)?,
        KernelSource::Debian { version } => crate::apt::kernel(
            if req.kernel_mode.preempt_rt() {
                crate::apt::Flavour::Rt
            } else {
                crate::apt::Flavour::Generic
            },
            version.as_deref(),
        )?,
    };
    let probe = kernel::build_probe()?;
    let peers = if req.peers || req.load.tools().contains(&"hackbench") {
        Some(crate::apt::peers()?)
    } else {
        None
    };
    let stress_ng = if req.load.tools().contains(&"stress-ng") {
        Some(crate::apt::stress_ng::fetch()?)
    } else {
        None
    };
    Ok(Prepared {
        kernel,
        probe,
        peers,
        stress_ng,
    })
}

/// Restores the booted kernel (booting it first when its snapshot is not cached) with the probe
/// as init, gives the probe the run's arguments, and returns the probe's capture.
pub fn run(req: &Request, prep: &Prepared) -> Result<Capture> {
    let qemu_bin = deps::qemu_system()?;
    let qemu_version = deps::qemu_version(&qemu_bin);
    let work = tempfile::Builder::new()
        .prefix("tickscope-linux-")
        .tempdir()
        .context("creating a working directory for QEMU")?;
    let probe = std::fs::read(&prep.probe)
        .with_context(|| format!("reading the probe {}", prep.probe.display()))?;
    let hooks = snapshot::hooks(&probe)
        .map_err(|e| fail(status::FAILURE, format!("the Linux probe: {e:#}")))?;
    let g = guest(req, prep, &probe, work.path())?;
    let inputs = snapshot::Inputs {
        qemu_version: &qemu_version,
        machine_args: &req.machine.args(),
        kernel: &prep.kernel.image,
        cmdline: &g.append,
        initramfs: &g.initramfs,
    };
    let (outcome, snap, first_byte) = restore_and_run(req, &g, &inputs, hooks, work.path())?;
    let bytes = std::fs::read(&g.serial).unwrap_or_default();
    // The command as it can be replayed from the run directory, which keeps the initramfs.
    let command = outcome
        .command
        .replace(&g.initrd.display().to_string(), "initramfs.cpio")
        .replace(&g.serial.display().to_string(), "ttyAMA0.bin")
        .replace(&work.path().display().to_string(), ".");
    let end = match outcome.end() {
        // The probe powers the machine off: QEMU exits 0 whatever the probe's status (which is in
        // the trailer).
        End::Exited(_) => End::Exited(0),
        e => e,
    };
    let facts = facts(req, prep, &g, &snap, qemu_version, command);
    Ok(Capture {
        bytes,
        spill: None,
        console: String::new(),
        emulator_log: outcome.stderr.clone(),
        end,
        facts,
        elf: None,
        config: format!("{} {}", req.early_args(), g.probe_args),
        wall: outcome.wall,
        boot_s: first_byte,
        keep: vec![("initramfs.cpio".into(), g.initramfs)],
        expect: Expect {
            nohz_full_cpu: req.kernel_mode.tickless().then_some(req.cpu),
            status_in_trailer: true,
            load: (!req.load.is_none()).then(|| req.load.name()),
        },
    })
}

/// What one Linux run boots: the probe's initramfs and arguments, the kernel command line and
/// QEMU's launch with the serial line captured to a file.
struct Guest {
    probe_args: String,
    initramfs: Vec<u8>,
    initrd: PathBuf,
    append: String,
    serial: PathBuf,
    launch: Launch,
    label: String,
}

fn guest(req: &Request, prep: &Prepared, probe: &[u8], work: &Path) -> Result<Guest> {
    let mut tools = req.load.tools();
    if req.peers {
        tools.extend(["oslat", "cyclictest"]);
    }
    let mut files = prep
        .peers
        .as_ref()
        .map(|p| p.files_for(&tools))
        .unwrap_or_default();
    // stress-ng's libraries, less those the peers carry already (libc and the loader).
    for f in prep.stress_ng.iter().flat_map(|s| &s.files) {
        if !files.iter().any(|(path, _, _)| *path == f.0) {
            files.push(f.clone());
        }
    }
    let initramfs = kernel::initramfs(probe, &req.early_args(), &files);
    let initrd = work.join("initramfs.cpio");
    std::fs::write(&initrd, &initramfs)?;
    let machine = &req.machine;
    let append = kernel::cmdline(req.kernel_mode, req.cpu, machine.smp as usize, "ttyAMA0");
    let serial = work.join("ttyAMA0.bin");
    // The very machine of the bare-metal run, memory included (the board's 256 MiB hold the
    // kernel, the probe and a trace buffer of up to 64 MiB).
    let launch = Launch {
        machine: machine.clone(),
        boot: qemu::Boot::Kernel(prep.kernel.image.clone()),
        initrd: Some(initrd.clone()),
        append: Some(append.clone()),
        semihosting: None,
        serial: Serial::File(serial.clone()),
        extra: vec!["-no-reboot".into()],
        cwd: work.to_path_buf(),
        timeout: req
            .timeout
            .unwrap_or(req.estimate() * 4 + Duration::from_secs(60)),
    };
    let label = format!(
        "Linux {} ({})",
        req.kernel_mode.name(),
        machine.emulation().name()
    );
    Ok(Guest {
        probe_args: req.probe_args(),
        initramfs,
        initrd,
        append,
        serial,
        launch,
        label,
    })
}

/// Restores the snapshot (made first when not cached) and runs the probe to its end. A cached
/// snapshot QEMU cannot restore (damaged, or saved by a QEMU that writes it differently) is made
/// again, once. Also returns the boot time: until the first byte on the serial line (restoring
/// the snapshot and starting the probe's run; the probe speaks first).
fn restore_and_run(
    req: &Request,
    g: &Guest,
    inputs: &snapshot::Inputs,
    hooks: snapshot::Hooks,
    work: &Path,
) -> Result<(qemu::Outcome, snapshot::Snapshot, Option<f64>)> {
    let mut snap = snapshot::find_or_make(&g.launch, inputs, hooks, &g.label, req.quiet)?;
    let progress = Progress::new(&g.label, req.estimate(), req.quiet);
    let mut live = crate::live::Live::new(g.serial.clone());
    let mut first_byte: Option<f64> = None;
    let mut restore = |snap: &snapshot::Snapshot| -> Result<qemu::Outcome> {
        let mut l = g.launch.clone();
        l.extra.extend(snapshot::restore_options(snap, work)?);
        qemu::run_with(
            &l,
            &mut || snapshot::release(work, snap, &g.probe_args),
            &mut |t| {
                progress.tick(t);
                if progress.shown()
                    && let Some(now) = live.poll()
                {
                    progress.note(&now);
                }
                if first_byte.is_none() && std::fs::metadata(&g.serial).is_ok_and(|m| m.len() > 0) {
                    first_byte = Some(t.as_secs_f64());
                }
            },
        )
    };
    let outcome = match restore(&snap) {
        Err(e) if snap.reused && crate::interrupt::requested().is_none() => {
            eprintln!(
                "tickscope: the cached snapshot {} did not restore ({e:#}); making it again",
                snap.dir.display()
            );
            snapshot::forget(&snap);
            snap = snapshot::find_or_make(&g.launch, inputs, hooks, &g.label, req.quiet)?;
            restore(&snap)
        }
        r => r,
    }
    .inspect_err(|_| progress.finish())?;
    progress.finish();
    Ok((outcome, snap, first_byte))
}

/// The packages the load's tools came from: rt-tests for hackbench, stress-ng's own.
fn load_packages(req: &Request, prep: &Prepared) -> Vec<String> {
    let tools = req.load.tools();
    let peers = prep
        .peers
        .as_ref()
        .filter(|_| tools.contains(&"hackbench"))
        .map(|p| p.package.clone());
    let stress = prep.stress_ng.as_ref().map(|s| s.package.clone());
    peers.into_iter().chain(stress).collect()
}

/// The run's facts: the machine, the kernel and its snapshot, the replayable command.
fn facts(
    req: &Request,
    prep: &Prepared,
    g: &Guest,
    snap: &snapshot::Snapshot,
    qemu_version: String,
    command: String,
) -> Facts {
    let machine = &req.machine;
    Facts {
        board: machine.board.clone(),
        cpu: machine.cpu.clone(),
        el: 0,
        entry_el: machine.entry_el,
        gic: machine.gic,
        cores: machine.smp,
        emulation: machine.emulation(),
        qemu_version: Some(qemu_version),
        qemu_command: Some(command),
        counter_hz: 0,
        kernel: Some(KernelFacts {
            release: prep.kernel.release.clone(),
            package: prep.kernel.package.clone(),
            cmdline: g.append.clone(),
            mode: Some(req.kernel_mode.name().into()),
            snapshot: Some(SnapshotFacts {
                key: snap.meta.key.clone(),
                reused: snap.reused,
                create_s: (!snap.reused).then_some(snap.meta.create_s),
            }),
        }),
        peers_package: prep
            .peers
            .as_ref()
            .filter(|_| req.peers)
            .map(|p| p.package.clone()),
        load_packages: load_packages(req, prep),
        system: None,
        boot: None,
    }
}
