//! The Rust targets the cross builds need (the firmware's `aarch64-unknown-none`, the Linux
//! probe's `aarch64-unknown-linux-musl`), as `rust-toolchain.toml` lists them: checked before
//! any cross build, and added with rustup when missing (a clear error without rustup).

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use anyhow::Result;

use crate::{deps, fail, status, workspace};

/// The targets `rust-toolchain.toml` lists.
pub fn required_targets(root: &Path) -> Result<Vec<String>> {
    let path = root.join("rust-toolchain.toml");
    let text = std::fs::read_to_string(&path).map_err(|e| {
        fail(
            status::MISSING_TOOL,
            format!("reading {}: {e}", path.display()),
        )
    })?;
    let doc: toml::Table = text
        .parse()
        .map_err(|e| fail(status::CONFIG, format!("{}: {e}", path.display())))?;
    Ok(doc
        .get("toolchain")
        .and_then(|t| t.get("targets"))
        .and_then(|t| t.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default())
}

/// The active toolchain's sysroot (the one rust-toolchain.toml selects in `root`).
fn sysroot(root: &Path) -> Option<String> {
    let out = Command::new("rustc")
        .args(["--print", "sysroot"])
        .current_dir(root)
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Required targets the active toolchain lacks.
pub fn missing_targets(root: &Path) -> Result<Vec<String>> {
    let Some(sysroot) = sysroot(root) else {
        return Err(fail(
            status::MISSING_TOOL,
            "rustc does not run in the source tree: install rustup (https://rustup.rs), then run `rustup toolchain install` there",
        ));
    };
    Ok(required_targets(root)?
        .into_iter()
        .filter(|t| !Path::new(&sysroot).join("lib/rustlib").join(t).is_dir())
        .collect())
}

/// Makes sure every required target is installed, once per process.
pub fn ensure_targets() -> Result<()> {
    static DONE: OnceLock<Result<(), String>> = OnceLock::new();
    DONE.get_or_init(|| {
        ensure(&workspace::root().map_err(|e| e.to_string())?).map_err(|e| format!("{e:#}"))
    })
    .clone()
    .map_err(|m| fail(status::MISSING_TOOL, m))
}

fn ensure(root: &Path) -> Result<()> {
    if missing_targets(root)?.is_empty() {
        return Ok(());
    }
    // Two tickscope processes may meet a toolchain without its targets at once (runs started in
    // parallel): one adds them while the other waits, then finds them there. Two rustups
    // installing the same component at once leave it half installed.
    // The lock lives in tickscope's per-user cache, which every checkout shares, as the toolchain.
    let cache = crate::workspace::cache_dir();
    let _ = std::fs::create_dir_all(&cache);
    let lock_path = cache.join("rustup-targets.lock");
    let lock = std::fs::File::create(&lock_path).map_err(|e| {
        fail(
            status::MISSING_TOOL,
            format!("{}: {e}", lock_path.display()),
        )
    })?;
    lock.lock().map_err(|e| {
        fail(
            status::MISSING_TOOL,
            format!("locking {}: {e}", lock_path.display()),
        )
    })?;
    let missing = missing_targets(root)?;
    if missing.is_empty() {
        return Ok(());
    }
    if deps::which("rustup").is_none() {
        return Err(fail(
            status::MISSING_TOOL,
            format!(
                "the Rust target(s) {} are missing and rustup is not installed: install rustup (https://rustup.rs) or add the targets to your toolchain",
                missing.join(", ")
            ),
        ));
    }
    eprintln!(
        "tickscope: adding the Rust target(s) {} (rust-toolchain.toml) ...",
        missing.join(", ")
    );
    let out = Command::new("rustup")
        .arg("target")
        .arg("add")
        .args(&missing)
        .current_dir(root)
        .stdout(Stdio::null())
        .output()?;
    if !out.status.success() {
        return Err(fail(
            status::MISSING_TOOL,
            format!(
                "`rustup target add {}` failed: {}",
                missing.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        ));
    }
    let still = missing_targets(root)?;
    if !still.is_empty() {
        return Err(fail(
            status::MISSING_TOOL,
            format!(
                "the target(s) {} are still missing after rustup",
                still.join(", ")
            ),
        ));
    }
    Ok(())
}
