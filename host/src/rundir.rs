//! Run directories: `results/runs/<UTC time>-<label>/` (or `--out DIR`) holding the raw capture,
//! `run.json` (what ran where), `summary.json` (the figures) and the plots. Every file is written
//! to a temporary name and renamed, so an interrupted run never leaves a half file that looks whole.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::summary::Summary;
use crate::{fail, status, workspace};

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
    /// `icount`, `tcg` or `hardware`.
    pub emulation: String,
    /// QEMU version, when emulated.
    pub qemu_version: Option<String>,
    /// The full QEMU command line.
    pub qemu_command: Option<String>,
    /// Linux kernel release.
    pub kernel: Option<String>,
    /// Linux kernel command line.
    pub kernel_cmdline: Option<String>,
    /// Firmware or probe revision (git describe).
    pub revision: String,
    /// The configuration as `key=value` tokens.
    pub config: String,
    /// UTC start time (RFC 3339).
    pub start_time: String,
    /// Wall-clock duration of the whole run, seconds.
    pub wall_s: f64,
    /// Exit status of the run.
    pub status: u8,
    /// tickscope version.
    pub tickscope: String,
}

/// A run directory.
#[derive(Debug, Clone)]
pub struct RunDir {
    /// Its path.
    pub path: PathBuf,
}

/// UTC now as (`20261126-120102`, `2026-11-26T12:01:02Z`).
pub fn now_stamps() -> (String, String) {
    let now = time::OffsetDateTime::now_utc();
    let short = format!(
        "{:04}{:02}{:02}-{:02}{:02}{:02}",
        now.year(),
        now.month() as u8,
        now.day(),
        now.hour(),
        now.minute(),
        now.second()
    );
    let long = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        now.year(),
        now.month() as u8,
        now.day(),
        now.hour(),
        now.minute(),
        now.second()
    );
    (short, long)
}

/// Makes a label safe as a path component.
pub fn sanitize(label: &str) -> String {
    let s: String = label
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect();
    if s.is_empty() { "run".into() } else { s }
}

impl RunDir {
    /// Creates `out`, or a fresh `results/runs/<time>-<label>`.
    pub fn create(out: Option<&Path>, label: &str) -> Result<RunDir> {
        let path = match out {
            Some(p) => p.to_path_buf(),
            None => {
                let base = workspace::results()?.join("runs");
                let (stamp, _) = now_stamps();
                let mut p = base.join(format!("{stamp}-{}", sanitize(label)));
                let mut n = 2;
                while p.exists() {
                    p = base.join(format!("{stamp}-{}-{n}", sanitize(label)));
                    n += 1;
                }
                p
            }
        };
        std::fs::create_dir_all(&path)
            .with_context(|| format!("creating run directory {}", path.display()))?;
        // Absolute, because QEMU runs with the run directory as its working directory.
        let path = path
            .canonicalize()
            .with_context(|| format!("resolving {}", path.display()))?;
        Ok(RunDir { path })
    }

    /// Opens an existing run directory.
    pub fn open(path: &Path) -> Result<RunDir> {
        if !path.join("run.json").is_file() && !path.join("capture.bin").is_file() {
            return Err(fail(
                status::CONFIG,
                format!(
                    "{} is not a run directory (no run.json or capture.bin)",
                    path.display()
                ),
            ));
        }
        Ok(RunDir {
            path: path.to_path_buf(),
        })
    }

    /// Path of a file in the directory.
    pub fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// Writes a file atomically (temporary name, then rename).
    pub fn write(&self, name: &str, bytes: &[u8]) -> Result<PathBuf> {
        write_atomic(&self.file(name), bytes)
    }

    /// Writes pretty JSON atomically.
    pub fn write_json<T: Serialize>(&self, name: &str, value: &T) -> Result<PathBuf> {
        let mut s = serde_json::to_string_pretty(value)?;
        s.push('\n');
        self.write(name, s.as_bytes())
    }

    /// Reads run.json.
    pub fn info(&self) -> Result<RunInfo> {
        read_json(&self.file("run.json"))
    }

    /// Reads summary.json.
    pub fn summary(&self) -> Result<Summary> {
        read_json(&self.file("summary.json"))
    }
}

/// Writes `path` via a temporary file in the same directory and a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<PathBuf> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("file"),
        std::process::id()
    ));
    std::fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("renaming to {}", path.display()))?;
    Ok(path.to_path_buf())
}

/// Reads a JSON file with a clear error.
pub fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text)
        .map_err(|e| fail(status::CONFIG, format!("{}: {e}", path.display())))
}
