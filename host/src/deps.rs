//! Tools a run needs from the system (QEMU): found on PATH, installed with apt-get when missing
//! and running as root, otherwise a clear message saying what to install.

use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use anyhow::Result;

use crate::{fail, status};

/// Finds an executable on PATH.
pub fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

fn is_root() -> bool {
    std::fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

/// Installs Debian packages with apt-get (root only). Progress goes to stderr.
pub fn apt_install(packages: &[&str]) -> Result<()> {
    if !is_root() || which("apt-get").is_none() {
        return Err(fail(
            status::MISSING_TOOL,
            format!(
                "missing packages {}; install them with: sudo apt-get install {}",
                packages.join(", "),
                packages.join(" ")
            ),
        ));
    }
    eprintln!(
        "tickscope: installing {} with apt-get ...",
        packages.join(" ")
    );
    let quiet = |c: &mut Command| {
        c.env("DEBIAN_FRONTEND", "noninteractive")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
    };
    let mut install = Command::new("apt-get");
    install
        .args(["install", "-y", "--no-install-recommends"])
        .args(packages);
    quiet(&mut install);
    if !install.status().map(|s| s.success()).unwrap_or(false) {
        let mut update = Command::new("apt-get");
        update.arg("update");
        quiet(&mut update);
        let _ = update.status();
        let mut again = Command::new("apt-get");
        again
            .args(["install", "-y", "--no-install-recommends"])
            .args(packages);
        quiet(&mut again);
        if !again.status().map(|s| s.success()).unwrap_or(false) {
            return Err(fail(
                status::MISSING_TOOL,
                format!("apt-get could not install {}", packages.join(" ")),
            ));
        }
    }
    Ok(())
}

/// `qemu-system-aarch64` (or `$TICKSCOPE_QEMU`), installed if missing and possible.
pub fn qemu_system() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("TICKSCOPE_QEMU") {
        let p = PathBuf::from(p);
        if p.is_file() {
            return Ok(p);
        }
        return Err(fail(
            status::MISSING_TOOL,
            format!("TICKSCOPE_QEMU={} does not exist", p.display()),
        ));
    }
    if let Some(p) = which("qemu-system-aarch64") {
        return Ok(p);
    }
    apt_install(&["qemu-system-arm"]).map_err(|e| {
        fail(
            status::MISSING_TOOL,
            format!(
                "qemu-system-aarch64 is not installed ({e}). On Debian/Ubuntu: sudo apt-get install qemu-system-arm"
            ),
        )
    })?;
    which("qemu-system-aarch64").ok_or_else(|| {
        fail(
            status::MISSING_TOOL,
            "qemu-system-aarch64 still not on PATH after installing qemu-system-arm",
        )
    })
}

/// Where Debian's `qemu-efi-aarch64` puts EDK2 for QEMU `virt`.
pub const UEFI_FIRMWARE: &str = "/usr/share/qemu-efi-aarch64/QEMU_EFI.fd";

/// UEFI firmware for QEMU `virt` (`$TICKSCOPE_UEFI_FIRMWARE`, else Debian's `qemu-efi-aarch64`),
/// installed if missing and possible.
pub fn uefi_firmware() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("TICKSCOPE_UEFI_FIRMWARE") {
        let p = PathBuf::from(p);
        if p.is_file() {
            return Ok(p);
        }
        return Err(fail(
            status::MISSING_TOOL,
            format!("TICKSCOPE_UEFI_FIRMWARE={} does not exist", p.display()),
        ));
    }
    let path = PathBuf::from(UEFI_FIRMWARE);
    if !path.is_file() {
        apt_install(&["qemu-efi-aarch64"]).map_err(|e| {
            fail(
                status::MISSING_TOOL,
                format!(
                    "UEFI firmware for QEMU virt ({UEFI_FIRMWARE}) is missing ({e}). On Debian/Ubuntu: sudo apt-get install qemu-efi-aarch64"
                ),
            )
        })?;
    }
    if path.is_file() {
        Ok(path)
    } else {
        Err(fail(
            status::MISSING_TOOL,
            format!("{UEFI_FIRMWARE} still missing after installing qemu-efi-aarch64"),
        ))
    }
}

/// QEMU's version string (`7.2.22`), for run metadata.
pub fn qemu_version(qemu: &std::path::Path) -> String {
    Command::new(qemu)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| {
            s.lines()
                .next()
                .map(|l| l.trim_start_matches("QEMU emulator version ").to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}
