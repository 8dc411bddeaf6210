//! Run directories: `results/runs/<UTC time>-<label>/` (or `--out DIR`) holding the raw capture
//! (written by us), `run.json` (what ran where, and the status), `summary.json` (the figures),
//! the text renderings and the plots. One writer for every kind of run; every file is written
//! to a fresh temporary file in the directory and renamed, so an interrupted write never leaves
//! a half file that looks whole.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::analysis::Analysis;
use crate::analysis::summary::{CoreSplits, Summary, summarize_with};
use crate::guest::Capture;
use crate::record::{RunInfo, RunRecord};
use crate::{fail, render, status, workspace};

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
    /// Creates `out` (which may exist), or a fresh `results/runs/<time>-<label>[-N]`: the name is
    /// claimed by creating the directory, so two runs started in the same second never share it.
    pub fn create(out: Option<&Path>, label: &str) -> Result<RunDir> {
        let path = match out {
            Some(p) => {
                std::fs::create_dir_all(p)
                    .with_context(|| format!("creating run directory {}", p.display()))?;
                p.to_path_buf()
            }
            None => {
                let base = workspace::results()?.join("runs");
                std::fs::create_dir_all(&base)
                    .with_context(|| format!("creating {}", base.display()))?;
                let (stamp, _) = now_stamps();
                let mut n = 1;
                loop {
                    let name = if n == 1 {
                        format!("{stamp}-{}", sanitize(label))
                    } else {
                        format!("{stamp}-{}-{n}", sanitize(label))
                    };
                    let p = base.join(name);
                    match std::fs::create_dir(&p) {
                        Ok(()) => break p,
                        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => n += 1,
                        Err(e) => {
                            return Err(e).with_context(|| format!("creating {}", p.display()));
                        }
                    }
                }
            }
        };
        let path = path
            .canonicalize()
            .with_context(|| format!("resolving {}", path.display()))?;
        Ok(RunDir { path })
    }

    /// Creates a run's directory as `create` does and claims it for one run: `capture.bin` is
    /// created there exclusively (every run writes one, replacing the claim), so a directory that
    /// already holds a run, or that another run claimed a moment earlier, is refused unless
    /// `replace` (`--force`). One board's run never lands silently under another's name.
    pub fn create_run(out: Option<&Path>, label: &str, replace: bool) -> Result<RunDir> {
        let dir = RunDir::create(out, label)?;
        let claim = dir.path.join("capture.bin");
        if replace {
            return Ok(dir);
        }
        let clash = || {
            fail(
                status::CONFIG,
                format!(
                    "{} already holds a run: choose another --out, or pass --force to replace it",
                    dir.path.display()
                ),
            )
        };
        if dir.path.join("run.json").exists() {
            return Err(clash());
        }
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&claim)
        {
            Ok(_) => Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(clash()),
            Err(e) => Err(e).with_context(|| format!("claiming {}", claim.display())),
        }
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

    /// Writes a file atomically.
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

pub use crate::files::write_atomic;

/// Reads a JSON file with a clear error.
///
/// Through `serde_json::Value`: a dependency turns on serde_json's `arbitrary_precision`, with
/// which numbers inside `#[serde(flatten)]` structs do not parse straight from text.
pub fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str::<serde_json::Value>(&text)
        .and_then(serde_json::from_value)
        .map_err(|e| fail(status::CONFIG, format!("{}: {e}", path.display())))
}

/// Writes a run directory: the capture, run.json, summary.json, the console and firmware logs,
/// the emulator's stderr, files the runner kept, the peers' outputs (oslat.json, cyclictest.json
/// and their printed text), and the renderings (histogram, CSV, plots).
/// `replace` lets it replace a run already in `out` (`--force`).
pub fn write(
    (out, replace): (Option<&Path>, bool),
    record: &RunRecord,
    capture: &Capture,
    analysis: &Analysis,
    plots: bool,
) -> Result<RunDir> {
    let dir = RunDir::create_run(out, &record.info.label, replace)?;
    match &capture.spill {
        // A long run's capture moves in whole (copied where the directory is elsewhere).
        Some(spill) => {
            let to = dir.file("capture.bin");
            if std::fs::rename(&spill.path, &to).is_err() {
                std::fs::copy(&spill.path, &to)
                    .with_context(|| format!("keeping the capture {}", spill.path.display()))?;
                let _ = std::fs::remove_file(&spill.path);
            }
        }
        None => {
            dir.write("capture.bin", &capture.bytes)?;
        }
    }
    dir.write_json("run.json", &record.info)?;
    dir.write_json("summary.json", &record.summary)?;
    dir.write("console.log", record.console.as_bytes())?;
    if !capture.emulator_log.is_empty() {
        dir.write("qemu-stderr.log", &capture.emulator_log)?;
    }
    if !record.logs.is_empty() {
        let logs: String = record
            .logs
            .iter()
            .map(|l| {
                format!(
                    "core {} @ {} ticks [{}] {}\n",
                    l.core, l.at, l.level, l.text
                )
            })
            .collect();
        dir.write("firmware.log", logs.as_bytes())?;
    }
    for (name, bytes) in &capture.keep {
        dir.write(name, bytes)?;
    }
    // The peers' own outputs, as they wrote them (`tickscope import` reads them back).
    for (tool, d) in &analysis.peers {
        if !d.json.is_empty() {
            dir.write(&format!("{}.json", tool.name()), &d.json)?;
        }
        if !d.text.is_empty() {
            dir.write(&format!("{}.txt", tool.name()), &d.text)?;
        }
    }
    if !analysis.cores.is_empty() {
        render::run_files(
            analysis,
            record,
            plots,
            &mut crate::files::Dir { path: &dir.path },
        )?;
    }
    Ok(dir)
}

/// A run loaded from its directory: its record as written, and its data decoded again from
/// capture.bin (for plots).
pub struct Loaded {
    /// Directory.
    pub dir: RunDir,
    /// run.json.
    pub info: RunInfo,
    /// summary.json.
    pub summary: Summary,
    /// Data decoded from capture.bin.
    pub analysis: Analysis,
    /// Events split into causes.
    pub splits: Vec<CoreSplits>,
}

/// Loads a run directory.
pub fn load(path: &Path) -> Result<Loaded> {
    let dir = RunDir::open(path)?;
    let summary = dir.summary()?;
    let info = dir.info().unwrap_or_default();
    let mut analysis = crate::decode::new_analysis()?;
    let cap = dir.file("capture.bin");
    if cap.is_file() {
        crate::decode::decode_file(&cap, None, &mut analysis)?;
    }
    let (_, splits) = summarize_with(&analysis, &summary.label, summary.emulation, 0);
    Ok(Loaded {
        dir,
        info,
        summary,
        analysis,
        splits,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_holding_a_run_is_refused_unless_replaced() {
        let d = tempfile::tempdir().unwrap();
        let out = d.path().join("board-a");
        // A fresh directory, and an existing empty one, are claimed.
        let first = RunDir::create_run(Some(&out), "board-a", false).unwrap();
        assert!(first.path.join("capture.bin").is_file());
        let empty = d.path().join("empty");
        std::fs::create_dir(&empty).unwrap();
        RunDir::create_run(Some(&empty), "x", false).unwrap();
        // Claimed (or holding a run): refused, the files left as they were.
        std::fs::write(out.join("capture.bin"), b"board-a's bytes").unwrap();
        let e = RunDir::create_run(Some(&out), "board-b", false).unwrap_err();
        assert!(e.to_string().contains("already holds a run"), "{e}");
        assert_eq!(
            std::fs::read(out.join("capture.bin")).unwrap(),
            b"board-a's bytes"
        );
        let old = d.path().join("old");
        std::fs::create_dir(&old).unwrap();
        std::fs::write(old.join("run.json"), b"{}").unwrap();
        assert!(RunDir::create_run(Some(&old), "x", false).is_err());
        assert!(
            !old.join("capture.bin").exists(),
            "a refused directory gets no claim"
        );
        // --force replaces.
        RunDir::create_run(Some(&out), "board-b", true).unwrap();
        // Two claims of one directory at once: exactly one wins.
        let race = d.path().join("race");
        let wins: usize = std::thread::scope(|s| {
            let hs: Vec<_> = (0..8)
                .map(|_| s.spawn(|| RunDir::create_run(Some(&race), "r", false).is_ok()))
                .collect();
            hs.into_iter().map(|h| h.join().unwrap() as usize).sum()
        });
        assert_eq!(wins, 1);
    }
}
