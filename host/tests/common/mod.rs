//! Helpers for the end-to-end tests: run the `tickscope` binary and read its JSON, and the
//! known answers of the emulator the tests run on.
#![allow(dead_code)]

pub mod browser;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// What a `tickscope` invocation produced.
pub struct Run {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// stdout as JSON, or a panic that shows everything.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}); status {}\nstdout:\n{}\nstderr:\n{}",
                self.status, self.stdout, self.stderr
            )
        })
    }

    /// Panics with all output unless the exit status is `want`.
    pub fn expect_status(&self, want: i32) -> &Self {
        assert_eq!(
            self.status, want,
            "unexpected exit status\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }
}

/// Runs tickscope with `args` from the source tree root.
pub fn tickscope(args: &[&str]) -> Run {
    tickscope_env(args, &[])
}

/// [`tickscope`] with further environment variables.
pub fn tickscope_env(args: &[&str], env: &[(&str, &std::path::Path)]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_tickscope"))
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .current_dir(root())
        .output()
        .expect("running tickscope");
    Run {
        status: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The source tree root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// A fresh temporary directory for a run.
pub fn tmp() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("tickscope-test-")
        .tempdir()
        .unwrap()
}

/// A run directory path inside `dir`.
pub fn out(dir: &tempfile::TempDir, name: &str) -> String {
    dir.path().join(name).display().to_string()
}

/// `value[key]` as f64, with a readable panic.
pub fn num(v: &serde_json::Value, path: &str) -> f64 {
    let mut cur = v;
    for k in path.split('.') {
        cur = &cur[k];
    }
    cur.as_f64()
        .unwrap_or_else(|| panic!("{path} is not a number in {v:#}"))
}

/// The upstream version of the QEMU on PATH (`7.2.22`).
pub fn qemu_version() -> String {
    static V: OnceLock<String> = OnceLock::new();
    V.get_or_init(|| {
        let out = Command::new("qemu-system-aarch64")
            .arg("--version")
            .output();
        out.ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| {
                s.lines()
                    .next()
                    .map(|l| l.trim_start_matches("QEMU emulator version ").to_string())
            })
            .and_then(|l| l.split_whitespace().next().map(String::from))
            .unwrap_or_default()
    })
    .clone()
}

/// Whether the exact known answers (measured under QEMU 7.2, Debian bookworm's, with its
/// 62.5 MHz `virt` counter) apply: icount figures change with QEMU's translation and counter.
/// Where they do not, exact checks are skipped with a message and the bands still apply.
/// A nanosecond figure of an icount run equals its known answer to one tick of the 62.5 MHz
/// counter: where a 10 µs busy loop ends relative to a counter edge moves by a tick when the
/// firmware's code moves, nothing else does.
#[allow(dead_code)]
pub fn assert_ns(got: f64, want: f64, what: &str) {
    assert!(
        (got - want).abs() <= 16.0,
        "{what}: {got} ns, expected {want} ns to one counter tick (16 ns)"
    );
}

pub fn exact() -> bool {
    let v = qemu_version();
    let ok = v.starts_with("7.2.");
    if !ok {
        eprintln!(
            "QEMU {v} is not 7.2: exact icount known answers are skipped, bands still checked"
        );
    }
    ok
}

/// The causes of a summary (or core) other than the hardware one, as (name, kind, events/s).
pub fn os_causes(v: &serde_json::Value) -> Vec<(String, String, f64)> {
    v["causes"]
        .as_array()
        .unwrap_or_else(|| panic!("no causes in {v:#}"))
        .iter()
        .filter(|c| c["kind"] != "hw")
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_string(),
                c["kind"].as_str().unwrap().to_string(),
                c["events_per_s"].as_f64().unwrap(),
            )
        })
        .collect()
}

/// QEMU's `-semihosting-config` value giving the firmware `settings` ("mode=boot smp=2"), in
/// the binary form it reads, as `tickscope config` writes it.
pub fn semihosting_config(settings: &str) -> String {
    let r = tickscope(&["config", "--semihosting-config", settings]);
    r.expect_status(0);
    r.stdout.trim().to_string()
}

/// The QEMU arguments the UART tests run the release image `elf` with: the 2-core virt
/// machine under icount (the serial port and the monitor are the caller's).
pub fn firmware_machine(elf: &str) -> Vec<String> {
    [
        "-M",
        "virt",
        "-cpu",
        "cortex-a72",
        "-smp",
        "2",
        "-m",
        "256M",
        "-nodefaults",
        "-display",
        "none",
        "-icount",
        "shift=0,align=off,sleep=off",
        "-kernel",
        elf,
    ]
    .map(String::from)
    .to_vec()
}

/// QEMU paused (`-S`) under icount on the 2-core virt machine, the firmware given `settings`
/// ("mode=timer smp=2 ..."), its UART on a pseudo-terminal this process owns: `pty` is the
/// slave's path for the reader under test.
///
/// The pty is ours, not QEMU's (`-serial pty`), so that QEMU's exit cannot lose the run's end:
/// when the last holder of a pty's master closes it, the kernel hangs up the slave and flushes
/// what its reader had not read yet, and QEMU exits right after the trailer. A loaded machine
/// made that reader late (ser2net in one CI run: 864 of 1,000 samples, no trailer). Here the
/// master stays open until this value is dropped, after the reader has everything.
pub struct PtyQemu {
    pub qemu: std::process::Child,
    pub pty: String,
    monitor: std::os::unix::net::UnixStream,
    /// The master (QEMU's stdin and stdout are copies of it) and the slave, held open.
    _ends: (serialport::TTYPort, serialport::TTYPort),
    _dir: tempfile::TempDir,
}

impl PtyQemu {
    /// Starts QEMU paused with the firmware given `settings`.
    pub fn start(settings: &str) -> PtyQemu {
        use serialport::SerialPort;
        use std::os::fd::{FromRawFd, IntoRawFd, OwnedFd};
        let img = tickscope(&["image", "--json"]);
        img.expect_status(0);
        let elf = img.json()["elf"].as_str().unwrap().to_string();
        let (master, slave) = serialport::TTYPort::pair().expect("a pseudo-terminal pair");
        let pty = slave.name().expect("the slave's path");
        let copy = |p: &serialport::TTYPort| {
            let fd = p.try_clone_native().unwrap().into_raw_fd();
            // SAFETY: `into_raw_fd` hands over a descriptor nothing else owns or closes.
            std::process::Stdio::from(unsafe { OwnedFd::from_raw_fd(fd) })
        };
        let dir = tmp();
        let sock = dir.path().join("monitor.sock");
        let mut qemu = Command::new("qemu-system-aarch64")
            .args(firmware_machine(&elf))
            .args(["-serial", "stdio", "-monitor"])
            .arg(format!("unix:{},server=on,wait=off", sock.display()))
            .args(["-S", "-semihosting-config"])
            .arg(semihosting_config(settings))
            .stdin(copy(&master))
            .stdout(copy(&master))
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("starting qemu");
        let monitor = (0..100)
            .find_map(|_| {
                let s = std::os::unix::net::UnixStream::connect(&sock).ok();
                if s.is_none() {
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                s
            })
            .unwrap_or_else(|| {
                let _ = qemu.kill();
                panic!("QEMU's monitor socket did not appear");
            });
        PtyQemu {
            qemu,
            pty,
            monitor,
            _ends: (master, slave),
            _dir: dir,
        }
    }

    /// Lets the guest run.
    pub fn cont(&mut self) {
        use std::io::Write;
        self.monitor.write_all(b"cont\n").unwrap();
    }

    /// Waits up to 5 s for the guest to end itself (semihosting exit), then makes sure no
    /// emulator is left behind.
    pub fn finish(&mut self) {
        for _ in 0..50 {
            if self.qemu.try_wait().unwrap().is_some() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        let _ = self.qemu.kill();
        let _ = self.qemu.wait();
    }
}

impl Drop for PtyQemu {
    fn drop(&mut self) {
        let _ = self.qemu.kill();
        let _ = self.qemu.wait();
    }
}
