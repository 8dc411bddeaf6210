//! The one QEMU launcher every subcommand uses: builds the command line from a machine spec,
//! runs it with a timeout (a hung guest is killed and reported), and captures its output.

use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde::Serialize;
use tickscope_core::board::BoardDesc;

use crate::{deps, fail, status};

/// The emulated machine, identical for bare-metal and Linux runs of one comparison.
#[derive(Debug, Clone, Serialize)]
pub struct MachineSpec {
    /// Board description name (must have a `[qemu]` section).
    pub board: String,
    /// `-M` machine type.
    pub machine: String,
    /// EL the guest is entered at: 2 adds `virtualization=on`.
    pub entry_el: u8,
    /// GIC version (2 or 3).
    pub gic: u8,
    /// Cores.
    pub smp: u16,
    /// `-cpu` model.
    pub cpu: String,
    /// Deterministic `-icount shift=0,align=off,sleep=off`.
    pub icount: bool,
    /// RAM in MiB.
    pub memory_mib: u32,
}

/// The icount setting: one instruction per virtual nanosecond, no sleeping, no host alignment.
pub const ICOUNT: &str = "shift=0,align=off,sleep=off";

impl MachineSpec {
    /// A spec for `board` (which must be emulated by QEMU).
    pub fn new(
        board: &BoardDesc,
        entry_el: u8,
        gic: u8,
        smp: u16,
        cpu: Option<&str>,
        icount: bool,
    ) -> Result<Self> {
        let q = board.qemu.as_ref().ok_or_else(|| {
            fail(
                status::CONFIG,
                format!(
                    "board {} is not emulated by QEMU; use `tickscope capture` with the real board",
                    board.name
                ),
            )
        })?;
        if !matches!(entry_el, 1 | 2) {
            return Err(fail(
                status::CONFIG,
                format!("--el must be 1 or 2, not {entry_el}"),
            ));
        }
        if !matches!(gic, 2 | 3) {
            return Err(fail(
                status::CONFIG,
                format!("--gic must be 2 or 3, not {gic}"),
            ));
        }
        if gic == 2 && smp > 8 {
            return Err(fail(
                status::CONFIG,
                format!("GICv2 supports at most 8 cores (--smp {smp}); use --gic 3"),
            ));
        }
        let max = board.mpidrs().len();
        if smp == 0 || smp as usize > max {
            return Err(fail(
                status::CONFIG,
                format!("--smp must be 1..={max} for board {}", board.name),
            ));
        }
        Ok(MachineSpec {
            board: board.name.clone(),
            machine: q.machine.clone(),
            entry_el,
            gic,
            smp,
            cpu: cpu.unwrap_or(&q.cpu).to_string(),
            icount,
            memory_mib: q.memory_mib,
        })
    }

    /// `icount` or `tcg`: the label every figure produced on this machine carries.
    pub fn emulation(&self) -> &'static str {
        if self.icount { "icount" } else { "tcg" }
    }

    /// The `-M` argument.
    pub fn machine_arg(&self) -> String {
        let mut m = format!("{},gic-version={}", self.machine, self.gic);
        if self.entry_el == 2 {
            m.push_str(",virtualization=on");
        }
        m
    }

    /// Machine arguments (no kernel, no I/O).
    pub fn args(&self) -> Vec<String> {
        let mut a = vec![
            "-M".into(),
            self.machine_arg(),
            "-cpu".into(),
            self.cpu.clone(),
            "-smp".into(),
            self.smp.to_string(),
            "-m".into(),
            format!("{}M", self.memory_mib),
            "-nodefaults".into(),
            "-display".into(),
            "none".into(),
        ];
        if self.icount {
            a.push("-icount".into());
            a.push(ICOUNT.into());
        }
        a
    }
}

/// Where the guest's PL011 goes.
#[derive(Debug, Clone)]
pub enum Serial {
    /// Into a file.
    File(PathBuf),
}

/// A complete QEMU invocation.
#[derive(Debug, Clone)]
pub struct Launch {
    /// The machine.
    pub machine: MachineSpec,
    /// `-kernel`.
    pub kernel: PathBuf,
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
        a.push("-kernel".into());
        a.push(self.kernel.display().to_string());
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
    /// The signal that ended QEMU, if any.
    pub signal: Option<i32>,
    /// We killed it after `timeout`.
    pub timed_out: bool,
    /// Everything QEMU wrote on stdout (semihosting console).
    pub stdout: Vec<u8>,
    /// Everything QEMU wrote on stderr.
    pub stderr: Vec<u8>,
    /// Wall time.
    pub wall: Duration,
    /// The command line.
    pub command: String,
}

impl Outcome {
    /// The status tickscope should exit with for this outcome (the guest's own status if it
    /// ended normally).
    pub fn status(&self) -> u8 {
        if self.timed_out || self.signal.is_some() {
            status::HUNG
        } else {
            self.exit
                .map(|c| c.clamp(0, 255) as u8)
                .unwrap_or(status::HUNG)
        }
    }

    /// One line describing an abnormal end, `None` when QEMU exited by itself.
    pub fn problem(&self) -> Option<String> {
        if self.timed_out {
            Some(format!(
                "the guest did not finish within {:.0} s and was killed",
                self.wall.as_secs_f64()
            ))
        } else {
            self.signal.map(|sig| {
                format!(
                    "QEMU crashed (signal {sig}): {}",
                    String::from_utf8_lossy(&self.stderr).trim()
                )
            })
        }
    }
}

/// Runs QEMU. `on_tick` is called about every 100 ms with the elapsed time (progress display);
/// `on_start` once with the child's stderr reader when a pty path is needed.
pub fn run(launch: &Launch, on_tick: &mut dyn FnMut(Duration)) -> Result<Outcome> {
    let qemu = deps::qemu_system()?;
    let command = launch.shell_line(&qemu);
    let mut child = Command::new(&qemu)
        .args(launch.args())
        .current_dir(&launch.cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {command}"))?;
    let reader = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = r.read_to_end(&mut buf);
            buf
        })
    };
    let out = reader(Box::new(child.stdout.take().unwrap()));
    let err = reader(Box::new(child.stderr.take().unwrap()));
    let started = Instant::now();
    let mut timed_out = false;
    let status = loop {
        if let Some(s) = child.try_wait()? {
            break s;
        }
        if started.elapsed() > launch.timeout {
            let _ = child.kill();
            timed_out = true;
            break child.wait()?;
        }
        on_tick(started.elapsed());
        std::thread::sleep(Duration::from_millis(50));
    };
    let wall = started.elapsed();
    Ok(Outcome {
        exit: status.code(),
        signal: if timed_out { None } else { status.signal() },
        timed_out,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
        wall,
        command,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(m.emulation(), "icount");
        let m = MachineSpec::new(&board(), 1, 2, 4, Some("max"), false).unwrap();
        assert_eq!(m.machine_arg(), "virt,gic-version=2");
        assert_eq!(m.emulation(), "tcg");
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
            kernel: "fw.elf".into(),
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
