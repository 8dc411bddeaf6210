//! What a Linux run boots: the arm64 kernel (the user's, or Debian's through `apt`), the
//! generic/tickless command lines, the Linux probe built for aarch64 musl, and an initramfs
//! generated on the fly whose /init is the probe.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result};

use crate::{fail, status, workspace};

/// The kernels compared: Debian's generic image with two command lines, and its PREEMPT_RT
/// build with the same two.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum KernelMode {
    /// Isolated CPU (isolcpus, irqaffinity), tick still running.
    Generic,
    /// Isolated CPU with the tick stopped (nohz_full, rcu_nocbs).
    Tickless,
    /// The PREEMPT_RT kernel, isolated CPU, tick running.
    Rt,
    /// The PREEMPT_RT kernel with the tick stopped.
    RtTickless,
}

impl KernelMode {
    /// `generic` / `tickless` / `rt` / `rt-tickless`.
    pub fn name(self) -> &'static str {
        match self {
            KernelMode::Generic => "generic",
            KernelMode::Tickless => "tickless",
            KernelMode::Rt => "rt",
            KernelMode::RtTickless => "rt-tickless",
        }
    }

    /// Every mode, in report order.
    pub const ALL: [KernelMode; 4] = [
        KernelMode::Generic,
        KernelMode::Tickless,
        KernelMode::Rt,
        KernelMode::RtTickless,
    ];

    /// Parses a mode's name.
    pub fn parse(s: &str) -> Option<KernelMode> {
        Self::ALL.into_iter().find(|m| m.name() == s.trim())
    }

    /// The tick is stopped on the isolated CPU (nohz_full).
    pub fn tickless(self) -> bool {
        matches!(self, KernelMode::Tickless | KernelMode::RtTickless)
    }

    /// The PREEMPT_RT build is booted.
    pub fn preempt_rt(self) -> bool {
        matches!(self, KernelMode::Rt | KernelMode::RtTickless)
    }
}

/// Parses `--kernels generic,tickless,rt`: known names, each once, at least one.
pub fn parse_kernel_modes(list: &str) -> Result<Vec<KernelMode>, String> {
    let mut v = Vec::new();
    for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let m = KernelMode::parse(name).ok_or_else(|| {
            format!("--kernels: unknown kernel `{name}` (generic, tickless, rt, rt-tickless)")
        })?;
        if v.contains(&m) {
            return Err(format!("--kernels: `{name}` twice"));
        }
        v.push(m);
    }
    if v.is_empty() {
        return Err("--kernels needs at least one of generic, tickless, rt, rt-tickless".into());
    }
    Ok(v)
}

pub use tickscope_analysis::cpulist::parse_cpu_list;

/// A kernel CPU list (`0-2,4-7`).
pub fn cpu_list(cpus: &[usize]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < cpus.len() {
        let mut j = i;
        while j + 1 < cpus.len() && cpus[j + 1] == cpus[j] + 1 {
            j += 1;
        }
        parts.push(if i == j {
            cpus[i].to_string()
        } else {
            format!("{}-{}", cpus[i], cpus[j])
        });
        i = j + 1;
    }
    parts.join(",")
}

/// The kernel command line isolating `cpu` on a machine of `cpus` CPUs: interrupts go to the
/// others; tickless adds nohz_full and RCU callback offloading.
pub fn cmdline(mode: KernelMode, cpu: usize, cpus: usize, console: &str) -> String {
    let others: Vec<usize> = (0..cpus).filter(|&c| c != cpu).collect();
    // `cryptomgr.notests` skips the crypto algorithms' self-tests at boot: boot time only (a
    // quarter of it under QEMU), nothing that runs during the window.
    let base = format!(
        "console={console} loglevel=0 panic=-1 cryptomgr.notests irqaffinity={}",
        cpu_list(&others)
    );
    if mode.tickless() {
        format!("{base} isolcpus=nohz,domain,managed_irq,{cpu} nohz_full={cpu} rcu_nocbs={cpu}")
    } else {
        format!("{base} isolcpus=domain,managed_irq,{cpu}")
    }
}

/// An arm64 kernel image.
#[derive(Debug, Clone)]
pub struct Kernel {
    /// The Image (gzip or plain; QEMU takes both).
    pub image: PathBuf,
    /// Release (`6.1.0-50-arm64`), when known.
    pub release: String,
    /// The package and version it came from (`linux-image-6.1.0-50-arm64 6.1.153-1`), when
    /// tickscope fetched it.
    pub package: Option<String>,
}

/// Whether `path` holds an arm64 Linux Image: the `ARM\x64` magic at offset 56 of the Image, or
/// of the gzip stream Debian ships it as (decompressed far enough to see it).
pub fn looks_like_arm64_image(path: &Path) -> bool {
    let Ok(bytes) = std::fs::read(path) else {
        return false;
    };
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut head = [0u8; 64];
        let mut gz = flate2::read::GzDecoder::new(&bytes[..]);
        return std::io::Read::read_exact(&mut gz, &mut head).is_ok()
            && &head[56..60] == b"ARM\x64";
    }
    bytes.len() > 64 && &bytes[56..60] == b"ARM\x64"
}

/// The user's kernel, checked.
pub fn user_kernel(path: &Path) -> Result<Kernel> {
    if !path.is_file() {
        return Err(fail(
            status::CONFIG,
            format!("--kernel {}: no such file", path.display()),
        ));
    }
    if !looks_like_arm64_image(path) {
        return Err(fail(
            status::CONFIG,
            format!("--kernel {}: not an arm64 Linux Image", path.display()),
        ));
    }
    Ok(Kernel {
        image: path.to_path_buf(),
        release: String::new(),
        package: None,
    })
}

/// Builds the Linux probe for aarch64 (static musl) and returns its path.
pub fn build_probe() -> Result<PathBuf> {
    build_probe_for(PROBE_AARCH64)
}

/// The probe's target for arm64 Linux (QEMU guests, boards, servers).
pub const PROBE_AARCH64: &str = "aarch64-unknown-linux-musl";
/// The probe's target for x86_64 Linux (this kind of machine, x86 servers).
pub const PROBE_X86_64: &str = "x86_64-unknown-linux-musl";

/// The static probe's target for a machine's `uname -m`.
pub fn probe_target(machine: &str) -> Result<&'static str> {
    match machine.trim() {
        "aarch64" | "arm64" => Ok(PROBE_AARCH64),
        "x86_64" | "amd64" => Ok(PROBE_X86_64),
        other => Err(fail(
            status::CONFIG,
            format!("the probe runs on aarch64 and x86_64 Linux, not on `{other}`"),
        )),
    }
}

/// Builds the static probe for `target` (once per process and target: the runs of a
/// comparison share one; a second caller waits for the first's answer).
pub fn build_probe_for(target: &str) -> Result<PathBuf> {
    static BUILT: std::sync::Mutex<Vec<(String, PathBuf)>> = std::sync::Mutex::new(Vec::new());
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, p)) = built.iter().find(|(t, _)| t == target) {
        return Ok(p.clone());
    }
    let p = build_probe_now(target)?;
    built.push((target.to_string(), p.clone()));
    Ok(p)
}

fn build_probe_now(triple: &str) -> Result<PathBuf> {
    let root = workspace::root()?;
    crate::toolchain::ensure_targets()?;
    let target = root.join("target").join("probe");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(&root)
        .args([
            "build",
            "--release",
            "-p",
            "tickscope-probe",
            "--target",
            triple,
            "--quiet",
        ])
        .env("CARGO_TARGET_DIR", &target)
        .env_remove("RUSTFLAGS")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .context("running cargo to build the Linux probe")?;
    if !out.status.success() {
        return Err(fail(
            status::FAILURE,
            format!(
                "building the Linux probe for {triple} failed:\n{}",
                String::from_utf8_lossy(&out.stderr)
            ),
        ));
    }
    Ok(target.join(triple).join("release/tickscope-probe"))
}

/// An in-memory cpio archive in the "newc" format the kernel unpacks as its initramfs.
#[derive(Default)]
pub struct Cpio {
    buf: Vec<u8>,
    ino: u32,
}

impl Cpio {
    fn header(&mut self, name: &str, mode: u32, size: usize, rdev: (u32, u32)) {
        self.ino += 1;
        let fields = [
            self.ino,
            mode,
            0,
            0,
            1,
            0,
            size as u32,
            0,
            0,
            rdev.0,
            rdev.1,
            name.len() as u32 + 1,
            0,
        ];
        self.buf.extend_from_slice(b"070701");
        for f in fields {
            self.buf.extend_from_slice(format!("{f:08x}").as_bytes());
        }
        self.buf.extend_from_slice(name.as_bytes());
        self.buf.push(0);
        self.pad();
    }

    fn pad(&mut self) {
        while !self.buf.len().is_multiple_of(4) {
            self.buf.push(0);
        }
    }

    /// A directory.
    pub fn dir(&mut self, name: &str) -> &mut Self {
        self.header(name, 0o040755, 0, (0, 0));
        self
    }

    /// A regular file with `mode` permission bits.
    pub fn file(&mut self, name: &str, mode: u32, data: &[u8]) -> &mut Self {
        self.header(name, 0o100000 | mode, data.len(), (0, 0));
        self.buf.extend_from_slice(data);
        self.pad();
        self
    }

    /// A character device node.
    pub fn chardev(&mut self, name: &str, major: u32, minor: u32) -> &mut Self {
        self.header(name, 0o020600, 0, (major, minor));
        self
    }

    /// Ends the archive and returns its bytes.
    pub fn finish(mut self) -> Vec<u8> {
        self.header("TRAILER!!!", 0, 0, (0, 0));
        self.buf
    }
}

/// A file of the initramfs besides the probe: its path (no leading `/`), permission bits and
/// bytes.
pub type InitFile = (String, u32, Vec<u8>);

/// The initramfs: the probe as /init, its arguments in /tickscope.conf, /dev/console, and
/// `extra` files (the peers' binaries and libraries), with the directories they need.
pub fn initramfs(probe: &[u8], args: &str, extra: &[InitFile]) -> Vec<u8> {
    let mut c = Cpio::default();
    c.dir("dev")
        .dir("proc")
        .dir("sys")
        .dir("tmp")
        .chardev("dev/console", 5, 1);
    let mut dirs: Vec<String> = Vec::new();
    for (path, _, _) in extra {
        let mut at = String::new();
        for part in path
            .split('/')
            .rev()
            .skip(1)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
        {
            if !at.is_empty() {
                at.push('/');
            }
            at.push_str(part);
            if !dirs.contains(&at) && !["dev", "proc", "sys", "tmp"].contains(&at.as_str()) {
                dirs.push(at.clone());
                c.dir(&at);
            }
        }
    }
    for (path, mode, data) in extra {
        c.file(path, *mode, data);
    }
    c.file("init", 0o755, probe)
        .file("tickscope.conf", 0o644, args.as_bytes());
    c.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_lines_isolate_the_cpu() {
        let g = cmdline(KernelMode::Generic, 3, 4, "ttyAMA0");
        assert!(
            g.contains("isolcpus=domain,managed_irq,3") && g.contains("irqaffinity=0-2"),
            "{g}"
        );
        assert!(!g.contains("nohz_full"), "{g}");
        let t = cmdline(KernelMode::Tickless, 3, 4, "ttyAMA0");
        assert!(
            t.contains("nohz_full=3")
                && t.contains("rcu_nocbs=3")
                && t.contains("isolcpus=nohz,domain,managed_irq,3"),
            "{t}"
        );
        assert!(cmdline(KernelMode::Generic, 1, 4, "ttyAMA0").contains("irqaffinity=0,2-3"));
        assert!(cmdline(KernelMode::Generic, 0, 4, "ttyAMA0").contains("irqaffinity=1-3"));
    }

    #[test]
    fn kernel_lists_parse_in_order_and_refuse_unknown_or_repeated_names() {
        assert_eq!(
            parse_kernel_modes("generic, tickless,rt,rt-tickless").unwrap(),
            KernelMode::ALL
        );
        assert!(
            parse_kernel_modes("generic,foo")
                .unwrap_err()
                .contains("`foo`")
        );
        assert!(parse_kernel_modes("rt,rt").unwrap_err().contains("twice"));
        assert!(parse_kernel_modes("").is_err());
        // The PREEMPT_RT kernel takes the same command lines.
        assert_eq!(
            cmdline(KernelMode::RtTickless, 3, 4, "ttyAMA0"),
            cmdline(KernelMode::Tickless, 3, 4, "ttyAMA0")
        );
        assert!(KernelMode::Rt.preempt_rt() && !KernelMode::Rt.tickless());
    }

    #[test]
    fn cpio_is_newc_with_a_trailer() {
        let a = initramfs(
            b"\x7fELF-probe",
            "mode=noise cores=3",
            &[("usr/bin/oslat".into(), 0o755, b"\x7fELF-oslat".to_vec())],
        );
        assert!(a.starts_with(b"070701"));
        assert_eq!(a.len() % 4, 0);
        let text = String::from_utf8_lossy(&a);
        for name in [
            "init",
            "tickscope.conf",
            "dev/console",
            "TRAILER!!!",
            "mode=noise cores=3",
            "usr\0",
            "usr/bin\0",
            "usr/bin/oslat\0",
        ] {
            assert!(text.contains(name), "{name} missing");
        }
        // The file size field of `init` (7th field) is the probe's length.
        let at = text.find("init\0").unwrap();
        let header = &text[at - 110..at];
        assert_eq!(
            u32::from_str_radix(&header[6 + 6 * 8..6 + 7 * 8], 16).unwrap(),
            10
        );
    }
}
