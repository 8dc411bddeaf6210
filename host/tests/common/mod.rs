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

/// QEMU paused (`-S`) with the firmware's UART on a pty and its monitor on stdin/stdout, under
/// icount on the 2-core virt machine, the firmware given `settings` ("mode=timer smp=2 ..."):
/// the process (send `cont` on its stdin to run the guest) and the pty's path. The monitor's
/// further output is drained in the background.
pub fn qemu_firmware_on_pty(settings: &str) -> (std::process::Child, String) {
    use std::io::BufRead;
    let img = tickscope(&["image", "--json"]);
    img.expect_status(0);
    let elf = img.json()["elf"].as_str().unwrap().to_string();
    let mut qemu = Command::new("qemu-system-aarch64")
        .args(firmware_machine(&elf))
        .args([
            "-serial",
            "pty",
            "-monitor",
            "stdio",
            "-S",
            "-semihosting-config",
        ])
        .arg(semihosting_config(settings))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("starting qemu");
    // With the monitor on stdio, QEMU announces the pty there.
    let mut monitor = std::io::BufReader::new(qemu.stdout.take().unwrap());
    let mut line = String::new();
    let pty = loop {
        line.clear();
        if monitor.read_line(&mut line).unwrap() == 0 {
            let _ = qemu.kill();
            panic!("QEMU did not announce its pty");
        }
        if let Some(p) = line.split("redirected to ").nth(1) {
            break p.split_whitespace().next().unwrap().to_string();
        }
    };
    std::thread::spawn(move || {
        let mut sink = String::new();
        while monitor.read_line(&mut sink).unwrap_or(0) > 0 {
            sink.clear();
        }
    });
    (qemu, pty)
}
