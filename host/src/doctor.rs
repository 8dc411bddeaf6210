//! What a run needs and whether it is there: the toolchain and its targets, a C linker for the
//! host build, QEMU (and the counter frequency its `virt` gives), the kernel cache, apt for
//! fetching kernels, tracefs in the cached kernel, root. Each check says how to fix it.

use std::path::Path;
use std::process::Command;

use serde::Serialize;

use crate::{deps, toolchain, workspace};

/// One check.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// What is checked.
    pub name: String,
    /// Whether it is fine.
    pub ok: bool,
    /// What was found.
    pub detail: String,
    /// The command that fixes it (empty when fine).
    pub fix: String,
}

fn check(name: &str, ok: bool, detail: impl Into<String>, fix: &str) -> Check {
    Check {
        name: name.into(),
        ok,
        detail: detail.into(),
        fix: if ok { String::new() } else { fix.into() },
    }
}

fn output(cmd: &str, args: &[&str], dir: Option<&Path>) -> Option<String> {
    let mut c = Command::new(cmd);
    c.args(args);
    if let Some(d) = dir {
        c.current_dir(d);
    }
    let o = c.output().ok()?;
    o.status
        .success()
        .then(|| String::from_utf8_lossy(&o.stdout).trim().to_string())
}

/// The counter frequency QEMU's `virt` gives the guest, by QEMU version: 62.5 MHz up to 9.0,
/// 1 GHz from 9.1 (its default machine type then sets CNTFRQ to 1 GHz).
pub fn qemu_counter_hz(version: &str) -> u64 {
    let mut parts = version
        .split(|c: char| !c.is_ascii_digit())
        .filter(|p| !p.is_empty());
    let major: u32 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    let minor: u32 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    if (major, minor) >= (9, 1) {
        1_000_000_000
    } else {
        62_500_000
    }
}

/// Runs every check.
pub fn checks() -> Vec<Check> {
    let mut v = rust_checks();
    v.extend(qemu_checks());
    let cached = cached_kernels();
    let apt = deps::which("apt-get").is_some() && deps::which("dpkg-deb").is_some();
    v.extend(cache_checks(&cached, apt));
    v.push(snapshots());
    v.push(check(
        "apt (private state, for fetching kernels)",
        apt,
        if apt {
            "apt-get and dpkg-deb found; fetching touches only tickscope's cache".to_string()
        } else {
            "apt-get or dpkg-deb missing".into()
        },
        "pass --kernel PATH, or use a Debian/Ubuntu host",
    ));
    if let Some(k) = cached.iter().rev().find(|k| !k.ends_with("-rt-arm64")) {
        v.push(kernel_tracing(k));
    }
    v.extend(host_checks());
    v
}

/// The Rust toolchain, its targets, and a C linker for the host build.
fn rust_checks() -> Vec<Check> {
    let mut v = Vec::new();
    let root = workspace::root().ok();
    let rustc = root
        .as_deref()
        .and_then(|r| output("rustc", &["--version"], Some(r)));
    v.push(check(
        "rust toolchain",
        rustc.is_some(),
        rustc
            .clone()
            .unwrap_or_else(|| "rustc does not run in the source tree".into()),
        "install rustup (https://rustup.rs), then `rustup toolchain install` in the source tree",
    ));
    if let Some(r) = root.as_deref() {
        match toolchain::missing_targets(r) {
            Ok(missing) => {
                let wanted = toolchain::required_targets(r).unwrap_or_default();
                v.push(check(
                    "rust targets",
                    missing.is_empty(),
                    if missing.is_empty() {
                        format!("installed: {}", wanted.join(", "))
                    } else {
                        format!("missing: {}", missing.join(", "))
                    },
                    &format!("rustup target add {}", missing.join(" ")),
                ));
            }
            Err(e) => v.push(check(
                "rust targets",
                false,
                format!("{e:#}"),
                "install rustup (https://rustup.rs)",
            )),
        }
    }
    let cc = ["cc", "gcc", "clang"]
        .iter()
        .find_map(|c| deps::which(c).map(|p| p.display().to_string()));
    v.push(check(
        "C linker (host build)",
        cc.is_some(),
        cc.unwrap_or_else(|| "no cc, gcc or clang on PATH".into()),
        "sudo apt-get install gcc",
    ));
    v
}

/// QEMU and the counter frequency its virt machine has.
fn qemu_checks() -> Vec<Check> {
    let mut v = Vec::new();
    let qemu = deps::which("qemu-system-aarch64");
    let version = qemu.as_ref().map(|q| deps::qemu_version(q));
    v.push(check(
        "QEMU",
        qemu.is_some(),
        match (&qemu, &version) {
            (Some(q), Some(ver)) => format!("{} ({ver})", q.display()),
            _ => "qemu-system-aarch64 not on PATH (tickscope installs it with apt-get when run as root)".into(),
        },
        "sudo apt-get install qemu-system-arm",
    ));
    if let Some(ver) = &version {
        let hz = qemu_counter_hz(ver);
        v.push(check(
            "QEMU counter frequency",
            true,
            format!(
                "{} MHz on the virt machine ({} ns per counter tick); baselines are only comparable at the same frequency",
                hz as f64 / 1e6,
                (1e9 / hz as f64).ceil()
            ),
            "",
        ));
    }
    v
}

/// The kernels in the cache (directories with a `vmlinuz`), sorted.
fn cached_kernels() -> Vec<String> {
    std::fs::read_dir(workspace::cache_dir().join("kernel"))
        .map(|d| {
            let mut v: Vec<String> = d
                .filter_map(|e| e.ok())
                .filter(|e| e.path().join("vmlinuz").is_file())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            v.sort();
            v
        })
        .unwrap_or_default()
}

/// What tickscope fetches on first use: kernels, the peers, the UEFI firmware.
fn cache_checks(cached: &[String], apt: bool) -> Vec<Check> {
    let mut v = Vec::new();
    let cache = workspace::cache_dir().join("kernel");
    v.push(check(
        "kernel cache",
        !cached.is_empty() || apt,
        if cached.is_empty() {
            format!("{} is empty; the first Linux run fetches Debian's arm64 kernel with apt (about 70 MB download)", cache.display())
        } else {
            format!("{}: {}", cache.display(), cached.join(", "))
        },
        "pass --kernel PATH (an arm64 Image), or run on Debian/Ubuntu with apt-get and dpkg-deb",
    ));
    let peers = std::fs::read_to_string(workspace::cache_dir().join("peers/current/package"));
    v.push(check(
        "peers (oslat, cyclictest for --peers)",
        peers.is_ok() || apt,
        match &peers {
            Ok(p) => format!("cached: {}", p.trim()),
            Err(_) => "not cached; the first --peers run fetches Debian's arm64 rt-tests, libc6 and libnuma1 with apt (about 2.5 MB)".into(),
        },
        "run on Debian/Ubuntu with apt-get and dpkg-deb, or leave out --peers",
    ));
    let uefi = std::env::var_os("TICKSCOPE_UEFI_FIRMWARE")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| deps::UEFI_FIRMWARE.into());
    v.push(check(
        "UEFI firmware (for --boot uefi)",
        uefi.is_file() || deps::which("apt-get").is_some(),
        if uefi.is_file() {
            uefi.display().to_string()
        } else {
            format!("{} missing; the first --boot uefi run installs qemu-efi-aarch64 with apt-get when run as root", uefi.display())
        },
        "sudo apt-get install qemu-efi-aarch64",
    ));
    v
}

/// Whether the newest cached generic kernel can be traced (and is tickless-capable).
fn kernel_tracing(k: &str) -> Check {
    let cache = workspace::cache_dir().join("kernel");
    let cfg = std::fs::read_to_string(cache.join(k).join("config")).unwrap_or_default();
    let has = |opt: &str| cfg.lines().any(|l| l == format!("{opt}=y"));
    let tracefs = has("CONFIG_FTRACE") && has("CONFIG_TRACEPOINTS");
    check(
        "tracefs in the guest kernel",
        tracefs,
        format!(
            "{k}: FTRACE {}, TRACEPOINTS {}, NO_HZ_FULL {}, OSNOISE_TRACER {} (tickscope attributes without it)",
            yes(has("CONFIG_FTRACE")),
            yes(has("CONFIG_TRACEPOINTS")),
            yes(has("CONFIG_NO_HZ_FULL")),
            yes(has("CONFIG_OSNOISE_TRACER"))
        ),
        "use a kernel with CONFIG_FTRACE=y and CONFIG_TRACEPOINTS=y, or --attribution counters",
    )
}

/// Who we run as, and whether QEMU dies with us.
fn host_checks() -> Vec<Check> {
    let mut v = Vec::new();
    let root_user = std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
        .unwrap_or(false);
    v.push(check(
        "root",
        true,
        if root_user {
            "running as root (needed only to install QEMU with apt-get)"
        } else {
            "not root: fine, unless QEMU must be installed (sudo apt-get install qemu-system-arm)"
        },
        "",
    ));
    v.push(check(
        "setpriv (QEMU dies with tickscope)",
        deps::which("setpriv").is_some(),
        if deps::which("setpriv").is_some() {
            "found: QEMU is started with a parent-death signal"
        } else {
            "missing: a QEMU could outlive a tickscope killed with SIGKILL"
        },
        "sudo apt-get install util-linux",
    ));
    v
}

fn yes(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

/// The booted-Linux snapshots: how many, how big, where (a missing cache is fine: the first Linux
/// run of each kernel and command line makes its snapshot).
fn snapshots() -> Check {
    let root = crate::guest::snapshot::root();
    let mut count = 0;
    let mut bytes = 0u64;
    for e in std::fs::read_dir(&root).into_iter().flatten().flatten() {
        let p = e.path();
        if p.join("snapshot.json").is_file() {
            count += 1;
            bytes += std::fs::metadata(p.join("ready.qcow2"))
                .map(|m| m.len())
                .unwrap_or(0);
        }
    }
    let writable = std::fs::create_dir_all(&root).is_ok() && tempfile::tempfile_in(&root).is_ok();
    check(
        "booted-Linux snapshots",
        writable,
        format!(
            "{}: {count} snapshot(s), {:.0} MB (each Linux run restores its kernel's; the first run of a kernel and command line boots it once to make it, keeping the {} most recently used)",
            root.display(),
            bytes as f64 / 1e6,
            crate::guest::snapshot::KEEP
        ),
        "make the cache writable, or set TICKSCOPE_SNAPSHOTS to a writable directory",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counter_frequency_follows_the_qemu_version() {
        assert_eq!(
            qemu_counter_hz("7.2.22 (Debian 1:7.2+dfsg-7+deb12u18)"),
            62_500_000
        );
        assert_eq!(qemu_counter_hz("9.0.2"), 62_500_000);
        assert_eq!(qemu_counter_hz("9.1.0"), 1_000_000_000);
        assert_eq!(qemu_counter_hz("10.0.2 (Debian)"), 1_000_000_000);
    }
}
