//! A machine prepared the way the README says: `doctor` reports what a run needs with the command
//! that fixes each gap; the kernel is fetched with apt under tickscope's own state, leaving the
//! system's dpkg architectures, sources and package lists exactly as they were; a file that is
//! not an arm64 Image is refused before anything boots.

mod common;
use common::*;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

#[test]
fn doctor_prints_every_check_with_its_fix() {
    let r = tickscope(&["doctor", "--json"]);
    let j = r.json();
    let checks = j["checks"].as_array().unwrap();
    let names: Vec<&str> = checks.iter().map(|c| c["name"].as_str().unwrap()).collect();
    for want in [
        "rust toolchain",
        "rust targets",
        "C linker (host build)",
        "QEMU",
        "kernel cache",
        "root",
    ] {
        assert!(names.contains(&want), "{want} missing from {names:?}");
    }
    for c in checks {
        assert!(!c["detail"].as_str().unwrap().is_empty(), "{c:#}");
        let ok = c["ok"].as_bool().unwrap();
        assert_eq!(
            ok,
            c["fix"].as_str().unwrap().is_empty(),
            "a failing check says how to fix it: {c:#}"
        );
    }
    assert_eq!(j["ok"], checks.iter().all(|c| c["ok"] == true));
    assert_eq!(r.status, if j["ok"] == true { 0 } else { 127 });
    // This machine runs the end-to-end tests: QEMU and the targets are there.
    let ok = |n: &str| checks.iter().find(|c| c["name"] == n).unwrap()["ok"] == true;
    assert!(ok("QEMU") && ok("rust targets"), "{j:#}");
}

/// What the system's package manager knows: foreign architectures, sources, lists, status.
fn apt_state() -> BTreeMap<String, String> {
    let mut s = BTreeMap::new();
    let out = Command::new("dpkg")
        .arg("--print-foreign-architectures")
        .output()
        .unwrap();
    s.insert(
        "foreign".into(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    );
    let mut files = vec![Path::new("/etc/apt/sources.list").to_path_buf()];
    for dir in ["/etc/apt/sources.list.d", "/var/lib/apt/lists"] {
        if let Ok(d) = std::fs::read_dir(dir) {
            files.extend(d.filter_map(|e| e.ok()).map(|e| e.path()));
        }
    }
    files.push(Path::new("/var/lib/dpkg/status").to_path_buf());
    for f in files {
        if let Ok(m) = std::fs::metadata(&f) {
            let sum = if m.len() < 4 << 20 {
                std::fs::read(&f)
                    .map(|b| {
                        b.iter()
                            .fold(0u64, |h, &x| h.wrapping_mul(31).wrapping_add(x as u64))
                    })
                    .unwrap_or(0)
            } else {
                0
            };
            s.insert(f.display().to_string(), format!("{} {sum}", m.len()));
        }
    }
    s
}

#[test]
fn fetching_the_kernel_leaves_the_systems_package_state_alone() {
    if Command::new("apt-get").arg("--version").output().is_err() {
        eprintln!("SKIPPED: no apt-get on this machine (not a Debian/Ubuntu host)");
        return;
    }
    let before = apt_state();
    let cache = tmp();
    let out = Command::new(env!("CARGO_BIN_EXE_tickscope"))
        .args(["kernel", "--json"])
        .env("TICKSCOPE_CACHE", cache.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // A fresh cache: the kernel came from the archive, with its package and version recorded.
    let package = j["package"].as_str().unwrap_or_else(|| panic!("{j:#}"));
    assert!(
        package.starts_with("linux-image-") && package.contains("arm64 "),
        "{package}"
    );
    let image = std::fs::read(j["image"].as_str().unwrap()).unwrap();
    assert_eq!(&image[56..60], b"ARM\x64", "an arm64 Image");
    let after = apt_state();
    assert_eq!(
        before, after,
        "the system's dpkg architectures, sources, lists or status changed"
    );
    // Pinned to the same release, it comes from the cache.
    let release = j["release"].as_str().unwrap();
    let again = Command::new(env!("CARGO_BIN_EXE_tickscope"))
        .args([
            "kernel",
            "--json",
            "--kernel-version",
            release.trim_end_matches("-arm64"),
        ])
        .env("TICKSCOPE_CACHE", cache.path())
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(0));
    assert!(
        !String::from_utf8_lossy(&again.stderr).contains("fetching"),
        "a cached kernel is not fetched again"
    );
}

#[test]
fn nothing_in_the_code_changes_dpkgs_architectures() {
    let mut hits = Vec::new();
    for dir in ["host/src", "probe/src", "scripts", ".ci"] {
        let mut stack = vec![root().join(dir)];
        while let Some(p) = stack.pop() {
            if p.is_dir() {
                stack.extend(
                    std::fs::read_dir(&p)
                        .unwrap()
                        .filter_map(|e| e.ok())
                        .map(|e| e.path()),
                );
            } else if let Ok(text) = std::fs::read_to_string(&p)
                && text.contains(&format!("{}-architecture", "--add"))
            {
                hits.push(p.display().to_string());
            }
        }
    }
    assert!(
        hits.is_empty(),
        "dpkg's architectures are changed in {hits:?}"
    );
}

#[test]
fn a_file_that_is_not_an_arm64_image_is_refused_before_anything_runs() {
    let d = tmp();
    let r = tickscope(&[
        "linux",
        "--kernel-mode",
        "generic",
        "--kernel",
        "README.md",
        "--out",
        &out(&d, "x"),
    ]);
    assert_eq!(r.status, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("not an arm64 Linux Image"),
        "{}",
        r.stderr
    );
    assert!(
        !d.path().join("x").exists(),
        "no run directory for a refused run"
    );
}
