//! Debian's (or Ubuntu's) arm64 kernel package, fetched with apt under a private state directory
//! in tickscope's cache: its own sources list, package lists, architecture and status file, so the
//! system's dpkg architectures, sources and lists are never touched, and no root is needed. apt
//! checks the archive's signatures (the system's keyrings) and every file's hash as usual.
//!
//! Sources: the host's own Debian entries (or `$TICKSCOPE_APT_SOURCES`, a sources.list file);
//! on Ubuntu, arm64 lives in the ports archive (`ports.ubuntu.com/ubuntu-ports`), and the kernel
//! package is Ubuntu's `linux-image-generic`. The cache is keyed by kernel release. The same way
//! it fetches the peers of `--peers`: rt-tests' oslat and cyclictest with their libraries.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result};

pub mod stress_ng;

use crate::kernel::{Kernel, looks_like_arm64_image};
use crate::workspace::cache_dir;
use crate::{deps, fail, status};

/// Which kernel build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavour {
    /// The distribution's generic arm64 kernel.
    Generic,
    /// Its PREEMPT_RT build (Debian `linux-image-rt-arm64`).
    Rt,
}

impl Flavour {
    fn suffix(self) -> &'static str {
        match self {
            Flavour::Generic => "arm64",
            Flavour::Rt => "rt-arm64",
        }
    }
}

/// One `deb` source, as apt reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// Archive URI.
    pub uri: String,
    /// Suites.
    pub suites: Vec<String>,
    /// Components.
    pub components: Vec<String>,
    /// Keyring (`Signed-By`), if the entry names one.
    pub signed_by: Option<String>,
}

/// Parses one-line (`deb [opts] URI SUITE COMP...`) and deb822 (`Types: deb` stanzas) sources.
pub fn parse_sources(text: &str) -> Vec<Source> {
    let mut out = Vec::new();
    // deb822 stanzas are separated by blank lines and have `Key: value` fields.
    if text.lines().any(|l| l.trim_start().starts_with("Types:")) {
        for stanza in text.split("\n\n") {
            let field = |k: &str| {
                stanza
                    .lines()
                    .filter(|l| !l.trim_start().starts_with('#'))
                    .find_map(|l| l.strip_prefix(k).and_then(|r| r.strip_prefix(':')))
                    .map(|v| v.trim().to_string())
            };
            let (Some(types), Some(uris), Some(suites)) =
                (field("Types"), field("URIs"), field("Suites"))
            else {
                continue;
            };
            if !types.split_whitespace().any(|t| t == "deb")
                || field("Enabled").is_some_and(|e| e == "no")
            {
                continue;
            }
            for uri in uris.split_whitespace() {
                out.push(Source {
                    uri: uri.to_string(),
                    suites: suites.split_whitespace().map(String::from).collect(),
                    components: field("Components")
                        .unwrap_or_default()
                        .split_whitespace()
                        .map(String::from)
                        .collect(),
                    signed_by: field("Signed-By"),
                });
            }
        }
        return out;
    }
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        let Some(rest) = line.strip_prefix("deb ") else {
            continue;
        };
        let mut rest = rest.trim();
        let mut signed_by = None;
        if let Some(r) = rest.strip_prefix('[') {
            let (opts, after) = r.split_once(']').unwrap_or((r, ""));
            for o in opts.split_whitespace() {
                if let Some(v) = o.strip_prefix("signed-by=") {
                    signed_by = Some(v.to_string());
                }
            }
            rest = after.trim();
        }
        let mut f = rest.split_whitespace();
        let (Some(uri), Some(suite)) = (f.next(), f.next()) else {
            continue;
        };
        out.push(Source {
            uri: uri.to_string(),
            suites: vec![suite.to_string()],
            components: f.map(String::from).collect(),
            signed_by,
        });
    }
    out
}

/// The sources to fetch arm64 packages from: Debian entries as they are; Ubuntu's amd64
/// archives become the ports archive, where Ubuntu serves arm64.
pub fn arm64_sources(host: &[Source]) -> Vec<Source> {
    let mut out: Vec<Source> = Vec::new();
    for s in host {
        let uri = s.uri.trim_end_matches('/');
        let uri = if uri.contains("archive.ubuntu.com/ubuntu")
            || uri.contains("security.ubuntu.com/ubuntu")
        {
            "http://ports.ubuntu.com/ubuntu-ports".to_string()
        } else if uri.contains("debian") || uri.contains("ubuntu-ports") {
            uri.to_string()
        } else {
            continue;
        };
        let s = Source { uri, ..s.clone() };
        if !out.contains(&s) {
            out.push(s);
        }
    }
    out
}

fn host_sources() -> Vec<Source> {
    let mut text = String::new();
    if let Some(p) = std::env::var_os("TICKSCOPE_APT_SOURCES") {
        return parse_sources(&std::fs::read_to_string(p).unwrap_or_default());
    }
    text.push_str(&std::fs::read_to_string("/etc/apt/sources.list").unwrap_or_default());
    let mut sources = parse_sources(&text);
    if let Ok(dir) = std::fs::read_dir("/etc/apt/sources.list.d") {
        let mut files: Vec<PathBuf> = dir.filter_map(|e| e.ok().map(|e| e.path())).collect();
        files.sort();
        for f in files {
            let name = f.to_string_lossy();
            if name.ends_with(".list") || name.ends_with(".sources") {
                sources.extend(parse_sources(
                    &std::fs::read_to_string(&f).unwrap_or_default(),
                ));
            }
        }
    }
    arm64_sources(&sources)
}

fn is_ubuntu(sources: &[Source]) -> bool {
    sources.iter().any(|s| s.uri.contains("ubuntu"))
}

/// The private apt state under the cache.
struct Apt {
    dir: PathBuf,
}

impl Apt {
    fn new(sources: &[Source]) -> Result<Apt> {
        let dir = cache_dir().join("apt-arm64");
        for d in [
            "lists/partial",
            "archives/partial",
            "etc/sources.list.d",
            "etc/preferences.d",
        ] {
            std::fs::create_dir_all(dir.join(d))?;
        }
        let status_file = dir.join("status");
        if !status_file.exists() {
            std::fs::write(&status_file, "")?;
        }
        let mut list =
            String::from("# Written by tickscope: arm64 kernels only, private to its cache.\n");
        for s in sources {
            let mut opts = vec!["arch=arm64".to_string()];
            if let Some(k) = &s.signed_by {
                opts.push(format!("signed-by={k}"));
            }
            for suite in &s.suites {
                list.push_str(&format!(
                    "deb [{}] {} {} {}\n",
                    opts.join(" "),
                    s.uri,
                    suite,
                    s.components.join(" ")
                ));
            }
        }
        std::fs::write(dir.join("etc/sources.list"), list)?;
        Ok(Apt { dir })
    }

    /// apt options that point every piece of state at the private directory.
    fn options(&self) -> Vec<String> {
        let d = self.dir.display();
        let mut o = vec![
            format!("Dir::State={d}"),
            format!("Dir::State::Lists={d}/lists"),
            format!("Dir::State::status={d}/status"),
            format!("Dir::Cache={d}"),
            format!("Dir::Cache::Archives={d}/archives"),
            format!("Dir::Etc::SourceList={d}/etc/sources.list"),
            format!("Dir::Etc::SourceParts={d}/etc/sources.list.d"),
            format!("Dir::Etc::PreferencesParts={d}/etc/preferences.d"),
            "APT::Architecture=arm64".into(),
            "APT::Architectures=arm64".into(),
            "Acquire::Languages=none".into(),
            "Debug::NoLocking=1".into(),
        ];
        if is_root() {
            // Our cache belongs to root: apt's download sandbox user could not write into it.
            o.push("APT::Sandbox::User=root".into());
        }
        o.into_iter().flat_map(|x| ["-o".to_string(), x]).collect()
    }

    fn run(&self, tool: &str, args: &[&str], cwd: Option<&Path>) -> Result<String> {
        let mut c = Command::new(tool);
        c.args(self.options()).args(args);
        if let Some(d) = cwd {
            c.current_dir(d);
        }
        let out = c
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdin(Stdio::null())
            .output()
            .with_context(|| format!("running {tool}"))?;
        if !out.status.success() {
            anyhow::bail!(
                "{tool} {} failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

fn is_root() -> bool {
    std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
        .unwrap_or(false)
}

/// The cached kernel of `release` (or the newest cached one of the flavour), if any.
fn cached(cache: &Path, flavour: Flavour, release: Option<&str>) -> Option<Kernel> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(cache)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    dirs.sort();
    dirs.into_iter().rev().find_map(|d| {
        let name = d.file_name()?.to_str()?.to_string();
        let flavour_ok = match flavour {
            Flavour::Rt => name.ends_with("-rt-arm64"),
            Flavour::Generic => !name.ends_with("-rt-arm64"),
        };
        if !flavour_ok || release.is_some_and(|r| r != name) {
            return None;
        }
        let image = d.join("vmlinuz");
        looks_like_arm64_image(&image).then(|| Kernel {
            release: name,
            image,
            package: std::fs::read_to_string(d.join("package"))
                .ok()
                .map(|s| s.trim().to_string()),
        })
    })
}

/// Normalises `--kernel-version`: `6.1.0-56` or `6.1.0-56-arm64` to the release of the flavour.
pub fn release_name(version: &str, flavour: Flavour) -> String {
    let v = version
        .trim()
        .trim_start_matches("linux-image-")
        .trim_end_matches("-rt-arm64")
        .trim_end_matches("-arm64");
    format!("{v}-{}", flavour.suffix())
}

/// The archive's current kernel package of `flavour`: what its meta-package depends on.
fn current_kernel_package(
    apt: &Apt,
    sources: &[Source],
    flavour: Flavour,
    help: &str,
) -> Result<String> {
    let meta = match (is_ubuntu(sources), flavour) {
        (true, Flavour::Generic) => "linux-image-generic",
        (true, Flavour::Rt) => "linux-image-realtime",
        (false, Flavour::Generic) => "linux-image-arm64",
        (false, Flavour::Rt) => "linux-image-rt-arm64",
    };
    let deps = apt
        .run("apt-cache", &["depends", meta], None)
        .map_err(|e| fail(status::MISSING_TOOL, format!("{e}: {help}")))?;
    deps.lines()
        .filter_map(|l| l.trim().strip_prefix("Depends: "))
        .map(|p| p.trim_end_matches(":arm64").trim())
        .find(|p| p.starts_with("linux-image-") && p != &meta)
        .map(String::from)
        .ok_or_else(|| {
            fail(
                status::MISSING_TOOL,
                format!("cannot resolve {meta} for arm64: {help}"),
            )
        })
}

/// The kernel of `flavour` (a pinned `version`, or the archive's current one), from the cache
/// or fetched into it.
pub fn kernel(flavour: Flavour, version: Option<&str>) -> Result<Kernel> {
    let cache = cache_dir().join("kernel");
    let wanted = version.map(|v| release_name(v, flavour));
    if let Some(k) = cached(&cache, flavour, wanted.as_deref()) {
        return Ok(k);
    }
    std::fs::create_dir_all(&cache)?;
    // One fetch at a time: parallel runs share the cache; whoever waited finds the kernel.
    let lock = std::fs::File::create(cache.join(".fetch.lock"))?;
    lock.lock().context("locking the kernel cache")?;
    if let Some(k) = cached(&cache, flavour, wanted.as_deref()) {
        return Ok(k);
    }
    let help = "pass --kernel PATH (an arm64 Image), or let tickscope fetch one with apt on a Debian or Ubuntu host";
    let (apt, sources) = archive(help, "an arm64 kernel")?;
    let package = match &wanted {
        Some(r) => format!("linux-image-{r}"),
        None => current_kernel_package(&apt, &sources, flavour, help)?,
    };
    let candidate = apt.candidate(&package).ok_or_else(|| {
        fail(
            status::CONFIG,
            format!(
                "{package} is not in the archive (it serves only current kernels; pin one it has, or pass --kernel PATH)"
            ),
        )
    })?;
    let work = tempfile::Builder::new()
        .prefix("tickscope-kernel-")
        .tempdir()?;
    let x = work.path().join("x");
    apt.download_extract(&[package.as_str()], work.path(), &x, help)?;
    let boot = x.join("boot");
    let vmlinuz = std::fs::read_dir(&boot)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("vmlinuz-"))
        })
        .ok_or_else(|| fail(status::FAILURE, format!("{package} has no /boot/vmlinuz-*")))?;
    let release = vmlinuz
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .trim_start_matches("vmlinuz-")
        .to_string();
    let dest = cache.join(&release);
    std::fs::create_dir_all(&dest)?;
    if let Ok(cfg) = std::fs::read(boot.join(format!("config-{release}"))) {
        std::fs::write(dest.join("config"), cfg)?;
    }
    std::fs::write(dest.join("package"), format!("{package} {candidate}\n"))?;
    let tmp = dest.join("vmlinuz.tmp");
    std::fs::copy(&vmlinuz, &tmp)?;
    std::fs::rename(&tmp, dest.join("vmlinuz"))?;
    cached(&cache, flavour, Some(&release)).ok_or_else(|| {
        fail(
            status::FAILURE,
            format!("{package}: its vmlinuz is not an arm64 Image"),
        )
    })
}

/// The private apt state with fresh package lists (updated when older than an hour), and the
/// sources it uses. `help` says what the user can do instead, `what` what is being fetched.
fn archive(help: &str, what: &str) -> Result<(Apt, Vec<Source>)> {
    for tool in ["apt-get", "apt-cache", "dpkg-deb"] {
        if deps::which(tool).is_none() {
            return Err(fail(
                status::MISSING_TOOL,
                format!("nothing cached and no {tool}: {help}"),
            ));
        }
    }
    let sources = host_sources();
    if sources.is_empty() {
        return Err(fail(
            status::MISSING_TOOL,
            format!(
                "no Debian or Ubuntu archive in /etc/apt/sources.list(.d) (or set TICKSCOPE_APT_SOURCES to a sources.list): {help}"
            ),
        ));
    }
    let apt = Apt::new(&sources)?;
    let fresh = std::fs::metadata(apt.dir.join("lists/.updated"))
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.elapsed().ok())
        .is_some_and(|age| age.as_secs() < 3600);
    if !fresh {
        eprintln!(
            "tickscope: fetching {what} with apt (private state in {}) ...",
            apt.dir.display()
        );
        apt.run("apt-get", &["-q", "update"], None)
            .map_err(|e| fail(status::MISSING_TOOL, format!("{e}: {help}")))?;
        std::fs::write(apt.dir.join("lists/.updated"), "")?;
    } else {
        eprintln!("tickscope: fetching {what} with apt ...");
    }
    Ok((apt, sources))
}

impl Apt {
    /// The version apt would fetch of `package`, if the archive has it.
    fn candidate(&self, package: &str) -> Option<String> {
        let policy = self.run("apt-cache", &["policy", package], None).ok()?;
        policy
            .lines()
            .find_map(|l| l.trim().strip_prefix("Candidate:"))
            .map(|v| v.trim().to_string())
            .filter(|v| v != "(none)")
    }

    /// The packages `package` depends on (`Pre-Depends` and `Depends`, the first of each set of
    /// alternatives), for the candidate version.
    fn depends(&self, package: &str) -> Result<Vec<String>> {
        let show = self.run("apt-cache", &["show", "--no-all-versions", package], None)?;
        Ok(show
            .lines()
            .filter_map(|l| {
                l.strip_prefix("Depends:")
                    .or_else(|| l.strip_prefix("Pre-Depends:"))
            })
            .flat_map(crate::libs::depends)
            .collect())
    }

    /// Downloads `packages` into `work` (created) and unpacks each into its own directory,
    /// `into/<package>`.
    fn download_each(&self, packages: &[&str], work: &Path, into: &Path, help: &str) -> Result<()> {
        std::fs::create_dir_all(work)?;
        let mut args = vec!["-q", "download"];
        args.extend_from_slice(packages);
        self.run("apt-get", &args, Some(work))
            .map_err(|e| fail(status::MISSING_TOOL, format!("{e}: {help}")))?;
        for p in packages {
            let deb = std::fs::read_dir(work)?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .find(|d| {
                    d.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with(&format!("{p}_")) && n.ends_with(".deb"))
                })
                .ok_or_else(|| {
                    fail(
                        status::MISSING_TOOL,
                        format!("apt-get download {p} produced no .deb: {help}"),
                    )
                })?;
            let dir = into.join(p);
            std::fs::create_dir_all(&dir)?;
            unpack(&deb, &dir)?;
        }
        Ok(())
    }

    /// Downloads `packages` (checked against the archive's signed hashes) into `work` and
    /// unpacks them all into `into`.
    fn download_extract(
        &self,
        packages: &[&str],
        work: &Path,
        into: &Path,
        help: &str,
    ) -> Result<()> {
        let mut args = vec!["-q", "download"];
        args.extend_from_slice(packages);
        self.run("apt-get", &args, Some(work))
            .map_err(|e| fail(status::MISSING_TOOL, format!("{e}: {help}")))?;
        let debs: Vec<PathBuf> = std::fs::read_dir(work)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "deb"))
            .collect();
        if debs.len() < packages.len() {
            return Err(fail(
                status::MISSING_TOOL,
                format!(
                    "apt-get download {} produced {} .deb file(s)",
                    packages.join(" "),
                    debs.len()
                ),
            ));
        }
        for deb in debs {
            unpack(&deb, into)?;
        }
        Ok(())
    }
}

/// `dpkg-deb -x deb into`.
fn unpack(deb: &Path, into: &Path) -> Result<()> {
    let out = Command::new("dpkg-deb")
        .arg("-x")
        .arg(deb)
        .arg(into)
        .output()
        .context("running dpkg-deb")?;
    if !out.status.success() {
        return Err(fail(
            status::FAILURE,
            format!(
                "dpkg-deb -x {}: {}",
                deb.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        ));
    }
    Ok(())
}

/// Fetches Debian packages (arm64 or architecture-independent) with the private apt state and
/// unpacks them into `into` (`tickscope apt-fetch`: LAVA's schema package for the validation of
/// our LAVA files, for one). Returns `package version` of each.
pub fn fetch(packages: &[String], into: &Path) -> Result<Vec<String>> {
    let help = "apt-fetch needs apt-get and dpkg-deb and a Debian or Ubuntu archive";
    let (apt, _) = archive(help, &packages.join(", "))?;
    let mut versions = Vec::new();
    for p in packages {
        let v = apt.candidate(p).ok_or_else(|| {
            fail(
                status::CONFIG,
                format!("{p} is not in the archive (for arm64 or all)"),
            )
        })?;
        versions.push(format!("{p} {v}"));
    }
    let work = tempfile::Builder::new()
        .prefix("tickscope-fetch-")
        .tempdir()?;
    let names: Vec<&str> = packages.iter().map(String::as_str).collect();
    std::fs::create_dir_all(into)?;
    apt.download_extract(&names, work.path(), into, help)?;
    Ok(versions)
}

/// rt-tests' oslat and cyclictest for arm64 with the libraries they load, ready for the
/// initramfs: Debian's `rt-tests`, `libc6` and `libnuma1` packages, cached by rt-tests version.
#[derive(Debug, Clone)]
pub struct Peers {
    /// `rt-tests 2.4-1`.
    pub package: String,
    /// `(path in the initramfs, mode, bytes)`.
    pub files: Vec<crate::kernel::InitFile>,
}

/// What goes into the initramfs from the unpacked packages: the tools, the dynamic loader and the
/// libraries they need (`readelf -d`: libc, libpthread, librt, libnuma).
const PEER_FILES: [(&str, &str); 8] = [
    ("usr/bin/oslat", "usr/bin/oslat"),
    ("usr/bin/cyclictest", "usr/bin/cyclictest"),
    ("usr/bin/hackbench", "usr/bin/hackbench"),
    (
        "lib/aarch64-linux-gnu/ld-linux-aarch64.so.1",
        "lib/ld-linux-aarch64.so.1",
    ),
    (
        "lib/aarch64-linux-gnu/libc.so.6",
        "lib/aarch64-linux-gnu/libc.so.6",
    ),
    (
        "lib/aarch64-linux-gnu/libpthread.so.0",
        "lib/aarch64-linux-gnu/libpthread.so.0",
    ),
    (
        "lib/aarch64-linux-gnu/librt.so.1",
        "lib/aarch64-linux-gnu/librt.so.1",
    ),
    (
        "usr/lib/aarch64-linux-gnu/libnuma.so.1",
        "lib/aarch64-linux-gnu/libnuma.so.1",
    ),
];

impl Peers {
    /// The initramfs's files for these tools (`oslat`, `cyclictest`, `hackbench`): theirs and
    /// every library, in one order (the same tools give the same initramfs).
    pub fn files_for(&self, tools: &[&str]) -> Vec<crate::kernel::InitFile> {
        self.files
            .iter()
            .filter(|(path, _, _)| match path.strip_prefix("usr/bin/") {
                Some(tool) => tools.contains(&tool),
                None => true,
            })
            .cloned()
            .collect()
    }
}

fn cached_peers(dir: &Path) -> Option<Peers> {
    let package = std::fs::read_to_string(dir.join("package")).ok()?;
    let mut files = Vec::new();
    for (_, to) in PEER_FILES {
        files.push((
            to.to_string(),
            0o755,
            std::fs::read(dir.join("root").join(to)).ok()?,
        ));
    }
    Some(Peers {
        package: package.trim().to_string(),
        files,
    })
}

/// A cache of fetched files, `$TICKSCOPE_CACHE/<name>/current`: read by `read`, or, under a
/// lock (another run may be fetching the same), made by `make` into a staging directory in the
/// cache that replaces `current` whole once made.
fn cached_or_made<T>(
    name: &str,
    read: impl Fn(&Path) -> Option<T>,
    make: impl FnOnce(&Path) -> Result<()>,
) -> Result<T> {
    let cache = cache_dir().join(name);
    let current = cache.join("current");
    if let Some(t) = read(&current) {
        return Ok(t);
    }
    std::fs::create_dir_all(&cache)?;
    let lock = std::fs::File::create(cache.join(".fetch.lock"))?;
    lock.lock()
        .with_context(|| format!("locking the {name} cache"))?;
    if let Some(t) = read(&current) {
        return Ok(t);
    }
    let stage = tempfile::Builder::new()
        .prefix(&format!(".{name}-"))
        .tempdir_in(&cache)?;
    make(stage.path())?;
    let _ = std::fs::remove_dir_all(&current);
    std::fs::rename(stage.keep(), &current)?;
    read(&current).ok_or_else(|| fail(status::FAILURE, format!("the {name} cache is incomplete")))
}

/// The peers, from the cache or fetched into it (`$TICKSCOPE_CACHE/peers`).
pub fn peers() -> Result<Peers> {
    cached_or_made("peers", cached_peers, fetch_peers)
}

/// Fetches rt-tests and the libraries its tools load into `stage`.
fn fetch_peers(stage: &Path) -> Result<()> {
    let help = "--peers needs Debian's arm64 rt-tests package (oslat, cyclictest), fetched with apt on a Debian or Ubuntu host";
    let (apt, _) = archive(help, "rt-tests (oslat, cyclictest) for arm64")?;
    let version = apt.candidate("rt-tests").ok_or_else(|| {
        fail(
            status::MISSING_TOOL,
            format!("rt-tests is not in the archive: {help}"),
        )
    })?;
    let work = tempfile::Builder::new()
        .prefix("tickscope-peers-")
        .tempdir()?;
    let x = work.path().join("x");
    apt.download_extract(&["rt-tests", "libc6", "libnuma1"], work.path(), &x, help)?;
    for (from, to) in PEER_FILES {
        let src = x.join(from);
        let dst = stage.join("root").join(to);
        std::fs::create_dir_all(dst.parent().expect("a file in a directory"))?;
        // Copy the file a symlink names (libnuma.so.1 -> libnuma.so.1.0.0).
        std::fs::copy(&src, &dst).map_err(|e| {
            fail(
                status::FAILURE,
                format!("{from} is not in the packages: {e}"),
            )
        })?;
    }
    std::fs::write(stage.join("package"), format!("rt-tests {version}\n"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_both_source_formats_and_maps_ubuntu_to_ports() {
        let deb822 = "Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm bookworm-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\nTypes: deb-src\nURIs: http://x\nSuites: y\n";
        let s = parse_sources(deb822);
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].suites, ["bookworm", "bookworm-updates"]);
        assert_eq!(
            s[0].signed_by.as_deref(),
            Some("/usr/share/keyrings/debian-archive-keyring.gpg")
        );
        let one = "deb [arch=amd64 signed-by=/k.gpg] http://archive.ubuntu.com/ubuntu jammy main universe\n# deb http://no\ndeb https://packages.cloud.google.com/apt cloud-sdk main\n";
        let s = arm64_sources(&parse_sources(one));
        assert_eq!(s.len(), 1, "{s:?}");
        assert_eq!(s[0].uri, "http://ports.ubuntu.com/ubuntu-ports");
        assert_eq!(s[0].components, ["main", "universe"]);
        assert_eq!(s[0].signed_by.as_deref(), Some("/k.gpg"));
    }

    #[test]
    fn kernel_versions_name_their_flavour() {
        assert_eq!(release_name("6.1.0-56", Flavour::Generic), "6.1.0-56-arm64");
        assert_eq!(
            release_name("6.1.0-56-arm64", Flavour::Generic),
            "6.1.0-56-arm64"
        );
        assert_eq!(release_name("6.1.0-56", Flavour::Rt), "6.1.0-56-rt-arm64");
        assert_eq!(
            release_name("linux-image-6.1.0-56-rt-arm64", Flavour::Rt),
            "6.1.0-56-rt-arm64"
        );
    }
}
