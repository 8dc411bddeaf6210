//! The firmware under QEMU: validate the configuration against the machine, build the image for
//! the board, launch QEMU in a private directory (semihosting files and the UART land there,
//! not in the run directory), and hand back what it wrote.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};
use tickscope_core::config::{Config, Mode, Platform, Transport};

use super::{Capture, End, Expect, Spill};
use crate::machine::{BootMethod, Facts, MachineSpec};
use crate::progress::Progress;
use crate::qemu::{self, Boot, Launch, Serial};
use crate::{deps, efi, fail, firmware, status};

/// A bare-metal run.
#[derive(Debug, Clone)]
pub struct Request {
    /// Machine.
    pub machine: MachineSpec,
    /// Firmware configuration.
    pub config: Config,
    /// Wall-clock limit (default: from the run length).
    pub timeout: Option<Duration>,
    /// No progress display.
    pub quiet: bool,
}

impl Request {
    /// Refuses a configuration the machine cannot run, before anything is built.
    pub fn validate(&self) -> Result<()> {
        let platform = Platform {
            cores_online: self.machine.smp,
            counter_hz: None,
            boot_el: Some(self.machine.entry_el),
        };
        self.config
            .validate(&platform)
            .map_err(|e| fail(status::CONFIG, e.to_string()))
    }

    /// Estimated wall time, for the timeout and the progress bar.
    pub fn estimate(&self) -> Duration {
        let window = self.config.duration_ns as f64 / 1e9;
        let per_virtual_s = match (self.config.mode, self.machine.icount) {
            (Mode::Noise, true) => 5.0,
            (Mode::Noise, false) => 1.5,
            (Mode::Timer, true) => 0.5,
            (Mode::Timer, false) => 1.2,
            (Mode::Boot, _) => 0.0,
        };
        // EDK2 takes about 3 s to reach the loader on a 2-core machine.
        let uefi = match self.machine.boot {
            BootMethod::Uefi => 3.0,
            BootMethod::Direct => 0.0,
        };
        Duration::from_secs_f64(1.0 + uefi + self.machine.smp as f64 * 0.1 + window * per_virtual_s)
    }

    fn what(&self) -> String {
        match self.config.mode {
            Mode::Boot => format!("booting {} core(s)", self.machine.smp),
            m => format!(
                "bare metal, {} ({})",
                m.name(),
                self.machine.emulation().name()
            ),
        }
    }
}

/// Builds what the run needs: the firmware image for the board, and the UEFI application
/// around it when the machine boots through UEFI.
pub fn prepare(req: &Request) -> Result<firmware::Image> {
    let mut img = firmware::ensure_built(&req.machine.board, req.quiet)?;
    if req.machine.boot == BootMethod::Uefi {
        img.efi = Some(efi::build(&img, &req.machine.board, None, req.quiet)?.path);
    }
    Ok(img)
}

/// What QEMU starts: the ELF directly, or UEFI firmware with the application on a FAT drive
/// (a directory in QEMU's private working directory).
fn boot(image: &firmware::Image, work: &Path) -> Result<Boot> {
    let Some(app) = &image.efi else {
        return Ok(Boot::Kernel(image.elf.clone()));
    };
    let esp = work.join("esp");
    let dir = esp.join("EFI").join("BOOT");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    std::fs::copy(app, dir.join("BOOTAA64.EFI"))
        .with_context(|| format!("copying {} to the UEFI drive", app.display()))?;
    Ok(Boot::Uefi {
        firmware: deps::uefi_firmware()?,
        esp,
    })
}

/// Captures above this stay in their file (moved out of QEMU's working directory), read as a
/// stream: a long run's capture never sits in memory whole.
const SPILL_BYTES: u64 = 32 << 20;

/// The capture QEMU wrote to `path`: its bytes, or for a long run the file itself.
fn take_capture(path: &Path) -> Result<(Vec<u8>, Option<Spill>)> {
    let len = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    // `TICKSCOPE_SPILL_BYTES`: a lower limit, so a short run takes a long run's path (tests).
    let limit = std::env::var("TICKSCOPE_SPILL_BYTES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(SPILL_BYTES);
    if len <= limit {
        return Ok((std::fs::read(path).unwrap_or_default(), None));
    }
    let kept = tempfile::Builder::new()
        .prefix("tickscope-capture-")
        .tempfile_in(path.parent().and_then(|p| p.parent()).unwrap_or(path))
        .context("making room for a long capture")?
        .into_temp_path()
        .keep()
        .context("keeping a long capture")?;
    std::fs::rename(path, &kept).context("moving a long capture out of QEMU's directory")?;
    Ok((Vec::new(), Some(Spill { path: kept, len })))
}

/// Runs the firmware once and returns its capture.
pub fn run(req: &Request, image: &firmware::Image) -> Result<Capture> {
    let qemu_bin = deps::qemu_system()?;
    // QEMU writes semihosting files and the UART log into its working directory: a private one.
    let work = tempfile::Builder::new()
        .prefix("tickscope-qemu-")
        .tempdir()
        .context("creating a working directory for QEMU")?;
    let uart = work.path().join("uart.bin");
    let expected = req.estimate();
    let timeout = req
        .timeout
        .unwrap_or(expected * 4 + Duration::from_secs(30));
    let launch = Launch {
        machine: req.machine.clone(),
        boot: boot(image, work.path())?,
        initrd: None,
        append: None,
        // The firmware reads its configuration in binary form (it has no text parser); the
        // text is in run.json.
        semihosting: Some(vec![semihosting_arg(&req.config)]),
        serial: Serial::File(uart.clone()),
        extra: vec![],
        cwd: work.path().to_path_buf(),
        timeout,
    };
    let captured = match req.config.transport {
        Transport::Uart => uart.clone(),
        Transport::Semihosting => work.path().join("capture.bin"),
    };
    let outcome = run_watched(req, &launch, &captured, expected)?;
    let (bytes, spill) = take_capture(&captured)?;
    // With semihosting, the UART carries nothing unless the firmware fell back to it.
    let mut console = String::from_utf8_lossy(&outcome.stdout).into_owned();
    if req.config.transport == Transport::Semihosting
        && let Ok(u) = std::fs::read(&uart)
        && !u.is_empty()
    {
        console.push_str(&String::from_utf8_lossy(&u));
    }
    Ok(Capture {
        bytes,
        spill,
        console,
        emulator_log: outcome.stderr.clone(),
        end: outcome.end(),
        facts: Facts {
            board: req.machine.board.clone(),
            cpu: req.machine.cpu.clone(),
            el: if req.config.el == 0 {
                req.machine.entry_el
            } else {
                req.config.el
            },
            entry_el: req.machine.entry_el,
            gic: req.machine.gic,
            cores: req.machine.smp,
            emulation: req.machine.emulation(),
            qemu_version: Some(deps::qemu_version(&qemu_bin)),
            qemu_command: Some(outcome.command.clone()),
            counter_hz: 0,
            kernel: None,
            peers_package: None,
            load_packages: Vec::new(),
            system: None,
            boot: (req.machine.boot != BootMethod::Direct).then(|| req.machine.boot.name().into()),
        },
        elf: Some(image.elf.clone()),
        config: req.config.to_string(),
        wall: outcome.wall,
        boot_s: None,
        keep: vec![],
        expect: Expect {
            // The firmware's interfering cores are bare metal's load (`compare --load`).
            load: req.config.interference.then(|| "interference".to_string()),
            ..Expect::default()
        },
    })
}

/// Runs QEMU with a progress bar that says how far the capture has got.
fn run_watched(
    req: &Request,
    launch: &Launch,
    captured: &Path,
    expected: Duration,
) -> Result<qemu::Outcome> {
    let progress = Progress::new(&req.what(), expected, req.quiet);
    let mut live = crate::live::Live::new(captured.to_path_buf());
    let outcome = qemu::run(launch, &mut |t| {
        progress.tick(t);
        if progress.shown()
            && let Some(now) = live.poll()
        {
            progress.note(&now);
        }
    });
    progress.finish();
    outcome
}

/// The firmware's semihosting argument for `config`: `cfg=HEX` (see
/// `tickscope_core::config_bytes`).
pub fn semihosting_arg(config: &Config) -> String {
    format!("{}={}", tickscope_core::config_bytes::KEY, config.to_hex())
}

impl qemu::Outcome {
    /// How the guest ended.
    pub fn end(&self) -> End {
        if self.timed_out {
            End::Hung {
                after_s: self.wall.as_secs(),
            }
        } else if let Some(sig) = self.interrupted {
            End::Interrupted { signal: sig }
        } else if let Some(sig) = self.signal {
            let stderr = String::from_utf8_lossy(&self.stderr);
            let stderr = stderr.trim();
            End::Crashed {
                what: if stderr.is_empty() {
                    format!("QEMU died of signal {sig}")
                } else {
                    format!("QEMU died of signal {sig}: {stderr}")
                },
            }
        } else {
            End::Exited(
                self.exit
                    .map(|c| c.clamp(0, 255) as u8)
                    .unwrap_or(status::HUNG),
            )
        }
    }
}
