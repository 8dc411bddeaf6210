//! The one QEMU launcher every subcommand uses: builds the command line from a machine spec,
//! runs it with a timeout (a hung guest is killed and reported), and captures its output.

use std::io::Read;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::deps;
use crate::machine::MachineSpec;

/// Where the guest's PL011 goes.
#[derive(Debug, Clone)]
pub enum Serial {
    /// Into a file.
    File(PathBuf),
}

/// What QEMU starts.
#[derive(Debug, Clone)]
pub enum Boot {
    /// `-kernel` (an ELF or a Linux `Image`), entered with the MMU off.
    Kernel(PathBuf),
    /// UEFI firmware (`-bios`) that boots `EFI/BOOT/BOOTAA64.EFI` from `esp`, a directory QEMU
    /// presents as a FAT drive. The boot menu's wait is skipped (`splash-time=0`) and there is
    /// no network device (EDK2 would otherwise try PXE first).
    Uefi {
        /// EDK2 for QEMU `virt` (`QEMU_EFI.fd`).
        firmware: PathBuf,
        /// The drive's directory.
        esp: PathBuf,
    },
}

/// A complete QEMU invocation.
#[derive(Debug, Clone)]
pub struct Launch {
    /// The machine.
    pub machine: MachineSpec,
    /// The kernel, or UEFI and its drive.
    pub boot: Boot,
    /// `-initrd`.
    pub initrd: Option<PathBuf>,
    /// `-append`.
    pub append: Option<String>,
    /// Semihosting command-line arguments (semihosting enabled when `Some`).
    pub semihosting: Option<Vec<String>>,
    /// The UART.
    pub serial: Serial,
    /// Further arguments.
    pub extra: Vec<String>,
    /// Working directory (semihosting files land here).
    pub cwd: PathBuf,
    /// Wall-clock limit.
    pub timeout: Duration,
}

impl Launch {
    /// The full argument list (without the program).
    pub fn args(&self) -> Vec<String> {
        let mut a = self.machine.args();
        match &self.boot {
            Boot::Kernel(k) => {
                a.push("-kernel".into());
                a.push(k.display().to_string());
            }
            Boot::Uefi { firmware, esp } => {
                a.push("-bios".into());
                a.push(firmware.display().to_string());
                a.push("-drive".into());
                // QEMU option syntax again: a comma in the path is doubled.
                let dir = esp.display().to_string().replace(',', ",,");
                a.push(format!("file=fat:rw:{dir},format=raw,if=virtio"));
                a.extend(["-nic", "none", "-boot", "menu=on,splash-time=0"].map(String::from));
            }
        }
        if let Some(i) = &self.initrd {
            a.push("-initrd".into());
            a.push(i.display().to_string());
        }
        if let Some(cmdline) = &self.append {
            a.push("-append".into());
            a.push(cmdline.clone());
        }
        if let Some(args) = &self.semihosting {
            let mut cfg = String::from("enable=on,target=native");
            for arg in std::iter::once("tickscope").chain(args.iter().map(String::as_str)) {
                // QEMU option syntax: a comma inside a value is written as ",,".
                cfg.push_str(",arg=");
                cfg.push_str(&arg.replace(',', ",,"));
            }
            a.push("-semihosting-config".into());
            a.push(cfg);
        }
        a.push("-serial".into());
        a.push(match &self.serial {
            Serial::File(p) => format!("file:{}", p.display()),
        });
        a.extend(self.extra.iter().cloned());
        a
    }

    /// The command as a shell line (for run.json and error messages).
    pub fn shell_line(&self, qemu: &Path) -> String {
        std::iter::once(qemu.display().to_string())
            .chain(self.args())
            .map(|a| {
                if a.contains([' ', '"', '\'']) {
                    format!("'{a}'")
                } else {
                    a
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// How a QEMU run ended.
#[derive(Debug)]
pub struct Outcome {
    /// Exit status (the guest's, via semihosting or power-off), `None` if killed by a signal.
    pub exit: Option<i32>,
    /// The signal that ended QEMU, if any (not ours).
    pub signal: Option<i32>,
    /// We killed it after `timeout`.
    pub timed_out: bool,
    /// We stopped it because tickscope was interrupted (the signal tickscope received).
    pub interrupted: Option<i32>,
    /// Everything QEMU wrote on stdout (semihosting console).
    pub stdout: Vec<u8>,
    /// Everything QEMU wrote on stderr.
    pub stderr: Vec<u8>,
    /// Wall time.
    pub wall: Duration,
    /// The command line.
    pub command: String,
}

/// A running QEMU that is killed when dropped: whatever path tickscope leaves by (an error, a
/// panic, a signal), the emulator does not outlive it.
struct Guard(std::process::Child);

impl Drop for Guard {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Runs QEMU. `on_tick` is called about every 50 ms with the elapsed time (progress display).
///
/// QEMU runs in its own process group (a Ctrl-C at the terminal reaches tickscope, which stops
/// QEMU and keeps what arrived), and under `setpriv --pdeathsig KILL` where available, so even a
/// tickscope killed with SIGKILL takes its QEMU with it.
pub fn run(launch: &Launch, on_tick: &mut dyn FnMut(Duration)) -> Result<Outcome> {
    run_with(launch, &mut || Ok(()), on_tick)
}

/// [`run`], with `control` called once QEMU has started (driving it through its gdbstub or QMP
/// socket). If `control` fails, QEMU is stopped and the error is returned with what QEMU said.
pub fn run_with(
    launch: &Launch,
    control: &mut dyn FnMut() -> Result<()>,
    on_tick: &mut dyn FnMut(Duration),
) -> Result<Outcome> {
    let qemu = deps::qemu_system()?;
    let command = launch.shell_line(&qemu);
    crate::interrupt::install();
    let mut cmd = match deps::which("setpriv") {
        Some(setpriv) => {
            let mut c = Command::new(setpriv);
            c.args(["--pdeathsig", "KILL", "--"]).arg(&qemu);
            c
        }
        None => Command::new(&qemu),
    };
    cmd.args(launch.args())
        .current_dir(&launch.cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut guard = Guard(cmd.spawn().with_context(|| format!("starting {command}"))?);
    let reader = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = r.read_to_end(&mut buf);
            buf
        })
    };
    let out = reader(Box::new(guard.0.stdout.take().unwrap()));
    let err = reader(Box::new(guard.0.stderr.take().unwrap()));
    let started = Instant::now();
    if let Err(e) = control() {
        let _ = guard.0.kill();
        let _ = guard.0.wait();
        let stderr = String::from_utf8_lossy(&err.join().unwrap_or_default()).into_owned();
        let stderr = stderr.trim();
        return Err(if stderr.is_empty() {
            e
        } else {
            e.context(format!("QEMU said: {stderr}"))
        });
    }
    let mut timed_out = false;
    let mut interrupted = None;
    let status = loop {
        if let Some(s) = guard.0.try_wait()? {
            break s;
        }
        if let Some(sig) = crate::interrupt::requested() {
            let _ = guard.0.kill();
            interrupted = Some(sig);
            break guard.0.wait()?;
        }
        if started.elapsed() > launch.timeout {
            let _ = guard.0.kill();
            timed_out = true;
            break guard.0.wait()?;
        }
        on_tick(started.elapsed());
        std::thread::sleep(Duration::from_millis(50));
    };
    let wall = started.elapsed();
    Ok(Outcome {
        exit: status.code(),
        signal: if timed_out || interrupted.is_some() {
            None
        } else {
            status.signal()
        },
        timed_out,
        interrupted,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
        wall,
        command,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    use tickscope_core::board::BoardDesc;

    fn board() -> BoardDesc {
        let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../boards/qemu-virt.toml");
        BoardDesc::load(&p).unwrap()
    }

    #[test]
    fn machine_options_follow_el_gic_and_icount() {
        let m = MachineSpec::new(&board(), 2, 3, 8, None, true).unwrap();
        let a = m.args().join(" ");
        assert!(a.contains("-M virt,gic-version=3,virtualization=on"), "{a}");
        assert!(a.contains("-smp 8") && a.contains("-cpu cortex-a72"), "{a}");
        assert!(a.contains("-icount shift=0,align=off,sleep=off"), "{a}");
        assert!(
            a.contains("-seed 1 -rtc base=2026-01-01T00:00:00,clock=vm"),
            "{a}"
        );
        assert_eq!(m.emulation().name(), "icount");
        let m = MachineSpec::new(&board(), 1, 2, 4, Some("max"), false).unwrap();
        assert_eq!(m.machine_arg(), "virt,gic-version=2");
        assert_eq!(m.emulation().name(), "tcg");
    }

    #[test]
    fn rejects_impossible_machines() {
        assert!(
            MachineSpec::new(&board(), 2, 2, 9, None, false).is_err(),
            "GICv2 has 8 cores at most"
        );
        assert!(MachineSpec::new(&board(), 3, 3, 4, None, false).is_err());
        assert!(MachineSpec::new(&board(), 1, 3, 0, None, false).is_err());
    }

    #[test]
    fn semihosting_args_escape_commas() {
        let l = Launch {
            machine: MachineSpec::new(&board(), 1, 2, 4, None, false).unwrap(),
            boot: Boot::Kernel("fw.elf".into()),
            initrd: None,
            append: None,
            semihosting: Some(vec!["mode=noise".into(), "cores=2,3".into()]),
            serial: Serial::File("uart.bin".into()),
            extra: vec![],
            cwd: ".".into(),
            timeout: Duration::from_secs(1),
        };
        let a = l.args().join(" ");
        assert!(
            a.contains("enable=on,target=native,arg=tickscope,arg=mode=noise,arg=cores=2,,3"),
            "{a}"
        );
        assert!(a.contains("-serial file:uart.bin"));
    }
}
