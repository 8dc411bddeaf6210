//! Debian's arm64 stress-ng for the guest's initramfs (`--load stress-ng` in QEMU): the binary
//! and the libraries the loader needs for it, fetched a level of dependencies at a time.
//!
//! Only packages that hold a library still missing are followed: stress-ng's 42-package closure
//! (Mesa, X11) is mostly dlopened by its GPU stressor, which the guest has no GPU for.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::Result;

use super::{Apt, archive, cached_or_made};
use crate::kernel::InitFile;
use crate::libs::{self, Unpacked};
use crate::{fail, status};

const BINARY: &str = "usr/bin/stress-ng";
const HELP: &str = "--load stress-ng in QEMU needs Debian's arm64 stress-ng package, fetched with apt on a Debian or Ubuntu host";
/// Levels of dependencies followed before giving up (stress-ng's libraries are 3 deep).
const MAX_LEVELS: usize = 8;

/// stress-ng for the initramfs.
#[derive(Debug, Clone)]
pub struct StressNg {
    /// `stress-ng 0.15.06-2`.
    pub package: String,
    /// Its binary and every library it loads, at their initramfs paths.
    pub files: Vec<InitFile>,
}

/// stress-ng from the cache (`$TICKSCOPE_CACHE/stress-ng`) or fetched into it.
pub fn fetch() -> Result<StressNg> {
    cached_or_made("stress-ng", cached, fetch_into)
}

/// Fetches stress-ng and the libraries it loads into `stage`.
fn fetch_into(stage: &Path) -> Result<()> {
    let (apt, _) = archive(HELP, "stress-ng for arm64 with its libraries")?;
    let version = apt.candidate("stress-ng").ok_or_else(|| {
        fail(
            status::MISSING_TOOL,
            format!("stress-ng is not in the archive: {HELP}"),
        )
    })?;
    let work = tempfile::Builder::new()
        .prefix("tickscope-stress-ng-")
        .tempdir()?;
    let files = resolve(&apt, work.path())?;
    let mut manifest = String::new();
    for (to, from) in &files {
        let dst = stage.join("root").join(to);
        std::fs::create_dir_all(dst.parent().expect("a file in a directory"))?;
        // Copies the file a symlink names (libz.so.1 -> libz.so.1.2.13).
        std::fs::copy(from, &dst)?;
        manifest.push_str(to);
        manifest.push('\n');
    }
    std::fs::write(stage.join("files"), manifest)?;
    std::fs::write(stage.join("package"), format!("stress-ng {version}\n"))?;
    Ok(())
}

fn cached(dir: &Path) -> Option<StressNg> {
    let package = std::fs::read_to_string(dir.join("package")).ok()?;
    let manifest = std::fs::read_to_string(dir.join("files")).ok()?;
    let mut files = Vec::new();
    for to in manifest.lines().filter(|l| !l.is_empty()) {
        let bytes = std::fs::read(dir.join("root").join(to)).ok()?;
        files.push((to.to_string(), 0o755, bytes));
    }
    files.iter().any(|(p, _, _)| p == BINARY).then(|| StressNg {
        package: package.trim().to_string(),
        files,
    })
}

/// Fetches stress-ng and libc, then, level by level, the dependencies of each package whose
/// files name a library not found yet. Returns `(initramfs path, unpacked file)` of the binary
/// and each library.
fn resolve(apt: &Apt, work: &Path) -> Result<Vec<(String, PathBuf)>> {
    let x = work.join("x");
    let mut fetched: BTreeSet<String> = BTreeSet::new();
    let mut unpacked: Vec<Unpacked> = Vec::new();
    let mut want: Vec<String> = vec!["stress-ng".into(), "libc6".into()];
    let binary = x.join("stress-ng").join(BINARY);
    for level in 0..MAX_LEVELS {
        let names: Vec<&str> = want.iter().map(String::as_str).collect();
        apt.download_each(&names, &work.join(format!("debs{level}")), &x, HELP)?;
        for p in &want {
            fetched.insert(p.clone());
            unpacked.push(Unpacked {
                package: p.clone(),
                root: x.join(p),
            });
        }
        let needs = |p: &Path| libs::needed(&std::fs::read(p)?);
        let c = libs::closure(&binary, "stress-ng", &unpacked, &needs)?;
        if c.missing.is_empty() {
            let mut files = vec![(BINARY.to_string(), binary.clone())];
            files.extend(
                c.found
                    .into_iter()
                    .map(|f| (libs::destination(&f.name), f.path)),
            );
            return Ok(files);
        }
        let holders: BTreeSet<&str> = c.missing.iter().map(|(_, by)| by.as_str()).collect();
        want = Vec::new();
        for h in holders {
            for d in apt.depends(h)? {
                if !fetched.contains(&d) && !want.contains(&d) {
                    want.push(d);
                }
            }
        }
        if want.is_empty() {
            return Err(missing(&c.missing));
        }
    }
    Err(fail(
        status::FAILURE,
        format!("stress-ng's libraries are more than {MAX_LEVELS} dependencies deep"),
    ))
}

fn missing(m: &[(String, String)]) -> anyhow::Error {
    let list: Vec<String> = m.iter().map(|(l, by)| format!("{l} (for {by})")).collect();
    fail(
        status::FAILURE,
        format!(
            "stress-ng's packages and their dependencies do not hold {}",
            list.join(", ")
        ),
    )
}
