//! Linux booted once per machine, kernel, command line and initramfs: a QEMU snapshot taken at the
//! probe's snapshot point and restored for every run, which gets its arguments written in then.
//!
//! Deterministic: QEMU's gdbstub stops the guest at exactly the first instruction of the probe's
//! `snapshot_point` (a breakpoint is checked when code is translated), so the snapshot is the
//! same on every host, and a run restored from it gives the same figures whether the snapshot was
//! just made or found in the cache, in parallel or not. The run's arguments are written into the
//! probe's buffer through the gdbstub while the machine is stopped, then it goes on. A snapshot is
//! `savevm` into a qcow2 image (the only format QEMU saves machine state in), cached under
//! `~/.cache/tickscope/snapshots/KEY` with `snapshot.json`; the least recently used beyond
//! [`KEEP`] are removed.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::gdb::Gdb;
use crate::progress::Progress;
use crate::qemu::{self, Launch, Serial};
use crate::{fail, status};

/// The name of the saved state inside the image.
pub const TAG: &str = "tickscope";

/// Snapshots kept in the cache (about 60 MB each).
pub const KEEP: usize = 12;

/// The probe's hooks, read from its executable (`.tickscope_hooks`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hooks {
    /// The snapshot point's first instruction (the breakpoint).
    pub point: u64,
    /// The buffer the run's arguments are written into.
    pub args: u64,
    /// Its length (the arguments and a NUL must fit).
    pub len: u64,
}

/// The record's first 8 bytes (probe/src/snapshot.rs, `HOOKS_MAGIC`).
const MAGIC: &[u8; 8] = b"tkscope1";

/// Reads the hooks of a probe executable. It must be a static, non-PIE executable: the hooks are
/// link-time addresses.
pub fn hooks(elf: &[u8]) -> Result<Hooks> {
    use object::{Object, ObjectKind, ObjectSection};
    let file = object::File::parse(elf).context("reading the probe's ELF")?;
    if file.kind() != ObjectKind::Executable {
        bail!(
            "the probe is not a non-PIE executable ({:?}): its snapshot hooks would move at load time",
            file.kind()
        );
    }
    let section = file
        .section_by_name(".tickscope_hooks")
        .ok_or_else(|| anyhow!("the probe has no .tickscope_hooks section (an older probe?)"))?;
    let d = section.data().context("reading .tickscope_hooks")?;
    if d.len() < 32 || &d[..8] != MAGIC {
        bail!("the probe's .tickscope_hooks record is not version 1 (`tkscope1`)");
    }
    let word = |i: usize| u64::from_le_bytes(d[i * 8..i * 8 + 8].try_into().unwrap());
    Ok(Hooks {
        point: word(1),
        args: word(2),
        len: word(3),
    })
}

/// What a snapshot was made of, kept beside it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Meta {
    /// The cache key (sha256 of the inputs).
    pub key: String,
    /// The gdbstub thread that stopped at the point (the CPU running the probe).
    pub thread: u32,
    /// The probe's hooks.
    pub hooks: Hooks,
    /// QEMU's version.
    pub qemu_version: String,
    /// The kernel image.
    pub kernel: String,
    /// Its command line.
    pub cmdline: String,
    /// When it was made (UTC, RFC 3339).
    pub created: String,
    /// Seconds it took (boot to the point, and saving).
    pub create_s: f64,
}

/// A snapshot ready to restore.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// Its cache directory.
    pub dir: PathBuf,
    /// What it was made of.
    pub meta: Meta,
    /// Found in the cache (not made by this run).
    pub reused: bool,
}

impl Snapshot {
    /// The qcow2 image holding the machine state.
    pub fn image(&self) -> PathBuf {
        self.dir.join("ready.qcow2")
    }
}

/// Where snapshots are cached (`$TICKSCOPE_SNAPSHOTS`, else `snapshots` in the cache).
pub fn root() -> PathBuf {
    std::env::var_os("TICKSCOPE_SNAPSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::workspace::cache_dir().join("snapshots"))
}

/// Everything a booted guest depends on.
pub struct Inputs<'a> {
    /// QEMU's version string.
    pub qemu_version: &'a str,
    /// The machine's arguments (machine, CPU, cores, memory, icount).
    pub machine_args: &'a [String],
    /// The kernel image (identified by path, size and modification time).
    pub kernel: &'a Path,
    /// The command line.
    pub cmdline: &'a str,
    /// The initramfs (the probe, its pre-snapshot arguments, the peers' files).
    pub initramfs: &'a [u8],
}

/// The cache key of `inputs`.
pub fn key(inputs: &Inputs) -> Result<String> {
    let m = std::fs::metadata(inputs.kernel)
        .with_context(|| format!("reading {}", inputs.kernel.display()))?;
    let modified = m
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let mut h = Sha256::new();
    let mut field = |name: &str, value: &[u8]| {
        h.update(name.as_bytes());
        h.update((value.len() as u64).to_le_bytes());
        h.update(value);
    };
    field("layout", b"tickscope-snapshot-1");
    field("qemu", inputs.qemu_version.as_bytes());
    field("machine", inputs.machine_args.join("\0").as_bytes());
    field(
        "kernel",
        format!("{}\0{}\0{modified}", inputs.kernel.display(), m.len()).as_bytes(),
    );
    field("cmdline", inputs.cmdline.as_bytes());
    field("initramfs", inputs.initramfs);
    Ok(h.finalize()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// An empty qcow2 (version 2) image of one 64 KiB cluster: header, refcount table, refcount
/// block, L1 table. `savevm` writes the machine state after them.
pub fn blank_qcow2() -> Vec<u8> {
    const C: usize = 1 << 16;
    let mut f = vec![0u8; 4 * C];
    let mut at = 0;
    let mut put = |bytes: &[u8]| {
        f[at..at + bytes.len()].copy_from_slice(bytes);
        at += bytes.len();
    };
    put(b"QFI\xfb"); // magic
    put(&2u32.to_be_bytes()); // version
    put(&0u64.to_be_bytes()); // no backing file
    put(&0u32.to_be_bytes());
    put(&16u32.to_be_bytes()); // cluster bits: 64 KiB
    put(&(C as u64).to_be_bytes()); // virtual size: one cluster
    put(&0u32.to_be_bytes()); // no encryption
    put(&1u32.to_be_bytes()); // L1 entries
    put(&(3 * C as u64).to_be_bytes()); // L1 table: cluster 3
    put(&(C as u64).to_be_bytes()); // refcount table: cluster 1
    put(&1u32.to_be_bytes()); // ... one cluster long
    put(&0u32.to_be_bytes()); // no snapshots yet
    put(&0u64.to_be_bytes());
    // The refcount table's first entry: the refcount block in cluster 2.
    f[C..C + 8].copy_from_slice(&(2 * C as u64).to_be_bytes());
    // Clusters 0..=3 are in use once each (16-bit refcounts).
    for i in 0..4 {
        f[2 * C + 2 * i..2 * C + 2 * i + 2].copy_from_slice(&1u16.to_be_bytes());
    }
    f
}

/// `-drive` for a snapshot image (QEMU's option syntax doubles a comma inside a value).
fn drive(image: &Path) -> [String; 2] {
    [
        "-drive".into(),
        format!(
            "if=none,id=tickscope-snapshot,format=qcow2,file={}",
            image.display().to_string().replace(',', ",,")
        ),
    ]
}

fn socket_arg(path: &Path) -> String {
    format!(
        "unix:{},server=on,wait=off",
        path.display().to_string().replace(',', ",,")
    )
}

/// Finds the snapshot of `inputs`, or makes it by booting `base` (the run's launch without its
/// snapshot options) to the probe's snapshot point.
pub fn find_or_make(
    base: &Launch,
    inputs: &Inputs,
    hooks: Hooks,
    label: &str,
    quiet: bool,
) -> Result<Snapshot> {
    let key = key(inputs)?;
    let root = root();
    let dir = root.join(&key);
    if let Some(s) = load(&dir, hooks)? {
        return Ok(s);
    }
    std::fs::create_dir_all(&root)
        .with_context(|| format!("creating the snapshot cache {}", root.display()))?;
    let making = tempfile::Builder::new()
        .prefix(&format!(".making-{key}-"))
        .tempdir_in(&root)
        .with_context(|| format!("creating a directory in {}", root.display()))?;
    let meta = make(base, inputs, hooks, &key, making.path(), label, quiet)?;
    std::fs::write(
        making.path().join("snapshot.json"),
        serde_json::to_vec_pretty(&meta)?,
    )?;
    let made = making.keep();
    if std::fs::rename(&made, &dir).is_err() {
        // Another tickscope made the same snapshot meanwhile: use theirs.
        let _ = std::fs::remove_dir_all(&made);
        return load(&dir, hooks)?
            .ok_or_else(|| anyhow!("could not place the snapshot in {}", dir.display()));
    }
    evict(&root, &dir);
    Ok(Snapshot {
        dir,
        meta,
        reused: false,
    })
}

/// The cached snapshot in `dir`, if it is complete and made for these hooks (marked as used).
fn load(dir: &Path, hooks: Hooks) -> Result<Option<Snapshot>> {
    let json = dir.join("snapshot.json");
    let Ok(text) = std::fs::read(&json) else {
        return Ok(None);
    };
    let meta: Meta = match serde_json::from_slice(&text) {
        Ok(m) => m,
        Err(_) => return Ok(None),
    };
    if meta.hooks != hooks || !dir.join("ready.qcow2").is_file() {
        return Ok(None);
    }
    if let Ok(f) = std::fs::File::options().write(true).open(&json) {
        let _ = f.set_modified(std::time::SystemTime::now());
    }
    Ok(Some(Snapshot {
        dir: dir.to_path_buf(),
        meta,
        reused: true,
    }))
}

/// Removes a cached snapshot (one QEMU could not restore).
pub fn forget(snap: &Snapshot) {
    let _ = std::fs::remove_dir_all(&snap.dir);
}

/// Runs the guest to the snapshot point (a breakpoint through the gdbstub), saves it with
/// `savevm` through QMP and ends QEMU. Returns the thread (vCPU) that stopped there.
fn stop_and_save(
    gdb_path: &Path,
    qmp_path: &Path,
    serial: &Path,
    hooks: Hooks,
    timeout: Duration,
) -> Result<u32> {
    let mut g = Gdb::connect(gdb_path, Duration::from_secs(30))?;
    g.set_breakpoint(hooks.point)?;
    let stop = g
        .continue_until_stop(timeout, &mut || crate::interrupt::requested().is_some())
        .map_err(|e| {
            let said = String::from_utf8_lossy(&std::fs::read(serial).unwrap_or_default())
                .trim()
                .to_string();
            if said.is_empty() {
                e
            } else {
                e.context(format!("the guest said: {said}"))
            }
        })?;
    g.clear_breakpoint(hooks.point)?;
    let mut q = Qmp::connect(qmp_path)?;
    q.hmp(&format!("savevm {TAG}"))?;
    q.quit();
    Ok(stop.thread.unwrap_or(1))
}

/// Boots to the snapshot point and saves the machine into `into/ready.qcow2`.
fn make(
    base: &Launch,
    inputs: &Inputs,
    hooks: Hooks,
    key: &str,
    into: &Path,
    label: &str,
    quiet: bool,
) -> Result<Meta> {
    let image = into.join("ready.qcow2");
    std::fs::write(&image, blank_qcow2())?;
    // Sockets in a short directory (a Unix socket path has at most 107 bytes).
    let socks = tempfile::Builder::new()
        .prefix("tickscope-snap-")
        .tempdir()
        .context("creating a directory for QEMU's sockets")?;
    let (gdb_path, qmp_path) = (socks.path().join("gdb"), socks.path().join("qmp"));
    let serial = socks.path().join("boot.bin");
    let mut launch = base.clone();
    launch.serial = Serial::File(serial.clone());
    launch.cwd = socks.path().to_path_buf();
    launch.extra.extend(drive(&image));
    launch.extra.extend([
        "-S".into(),
        "-gdb".into(),
        socket_arg(&gdb_path),
        "-qmp".into(),
        socket_arg(&qmp_path),
    ]);
    let progress = Progress::new(
        &format!("{label}: booting once for the snapshot"),
        Duration::from_secs(4),
        quiet,
    );
    let started = Instant::now();
    let mut thread = None;
    let timeout = launch.timeout;
    let outcome = qemu::run_with(
        &launch,
        &mut || {
            thread = Some(stop_and_save(
                &gdb_path, &qmp_path, &serial, hooks, timeout,
            )?);
            Ok(())
        },
        &mut |t| progress.tick(t),
    )
    .map_err(|e| {
        progress.finish();
        fail(
            status::FAILURE,
            format!("booting Linux for its snapshot failed: {e:#}"),
        )
    })?;
    progress.finish();
    if outcome.exit != Some(0) {
        return Err(fail(
            status::FAILURE,
            format!(
                "QEMU ended badly while saving the snapshot ({:?}): {}",
                outcome.end(),
                String::from_utf8_lossy(&outcome.stderr).trim()
            ),
        ));
    }
    Ok(Meta {
        key: key.to_string(),
        thread: thread.unwrap_or(1),
        hooks,
        qemu_version: inputs.qemu_version.to_string(),
        kernel: inputs.kernel.display().to_string(),
        cmdline: inputs.cmdline.to_string(),
        created: time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
        create_s: started.elapsed().as_secs_f64(),
    })
}

/// Removes the least recently used snapshots beyond [`KEEP`] (never `keep`), and directories
/// left half made more than an hour ago.
fn evict(root: &Path, keep: &Path) {
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    let mut done = Vec::new();
    for e in entries.flatten() {
        let path = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        let used = std::fs::metadata(path.join("snapshot.json"))
            .or_else(|_| std::fs::metadata(&path))
            .and_then(|m| m.modified())
            .unwrap_or(std::time::UNIX_EPOCH);
        if name.starts_with(".making-") {
            if used.elapsed().is_ok_and(|a| a > Duration::from_secs(3600)) {
                let _ = std::fs::remove_dir_all(&path);
            }
        } else if path != keep && path.is_dir() {
            done.push((used, path));
        }
    }
    done.sort_by_key(|d| std::cmp::Reverse(d.0));
    for (_, path) in done.into_iter().skip(KEEP.saturating_sub(1)) {
        let _ = std::fs::remove_dir_all(path);
    }
}

/// The QEMU options that restore `snap` from a private copy in `work` and wait for the gdbstub
/// on `work/gdb` (see [`release`]).
pub fn restore_options(snap: &Snapshot, work: &Path) -> Result<Vec<String>> {
    let copy = work.join("snapshot.qcow2");
    std::fs::copy(snap.image(), &copy)
        .with_context(|| format!("copying the snapshot {}", snap.image().display()))?;
    let mut a: Vec<String> = drive(&copy).into();
    a.extend([
        "-loadvm".into(),
        TAG.into(),
        "-S".into(),
        "-gdb".into(),
        socket_arg(&work.join("gdb")),
    ]);
    Ok(a)
}

/// Writes the run's arguments into the restored, stopped probe and lets the machine go.
pub fn release(work: &Path, snap: &Snapshot, args: &str) -> Result<()> {
    let hooks = snap.meta.hooks;
    let mut bytes = args.as_bytes().to_vec();
    bytes.push(0);
    if bytes.len() as u64 > hooks.len {
        return Err(fail(
            status::CONFIG,
            format!(
                "the probe's arguments ({} bytes) do not fit its {} byte buffer",
                args.len(),
                hooks.len
            ),
        ));
    }
    let mut g = Gdb::connect(&work.join("gdb"), Duration::from_secs(30))?;
    g.select_thread(snap.meta.thread)?;
    g.write_memory(hooks.args, &bytes)?;
    g.detach()
}

/// A QMP connection (QEMU's JSON monitor), for `savevm` and `quit`.
struct Qmp {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
}

impl Qmp {
    fn connect(path: &Path) -> Result<Qmp> {
        let writer = UnixStream::connect(path)
            .with_context(|| format!("connecting to QEMU's QMP socket {}", path.display()))?;
        writer.set_read_timeout(Some(Duration::from_secs(120)))?;
        let mut q = Qmp {
            reader: BufReader::new(writer.try_clone()?),
            writer,
        };
        q.line().context("QEMU's QMP greeting")?;
        q.execute(serde_json::json!({"execute": "qmp_capabilities"}))?;
        Ok(q)
    }

    fn line(&mut self) -> Result<serde_json::Value> {
        let mut l = String::new();
        if self.reader.read_line(&mut l)? == 0 {
            bail!("QEMU closed its QMP socket");
        }
        serde_json::from_str(&l).with_context(|| format!("QMP sent `{}`", l.trim()))
    }

    /// Runs a command and returns its `return` value (events in between are skipped).
    fn execute(&mut self, cmd: serde_json::Value) -> Result<serde_json::Value> {
        writeln!(self.writer, "{cmd}")?;
        loop {
            let v = self.line()?;
            if let Some(r) = v.get("return") {
                return Ok(r.clone());
            }
            if let Some(e) = v.get("error") {
                bail!("QEMU refused {cmd}: {e}");
            }
        }
    }

    /// A human-monitor command; anything it prints is an error (`savevm` prints nothing when
    /// it succeeds).
    fn hmp(&mut self, line: &str) -> Result<()> {
        let r = self.execute(serde_json::json!({
            "execute": "human-monitor-command",
            "arguments": {"command-line": line}
        }))?;
        match r.as_str().map(str::trim) {
            Some("") | None => Ok(()),
            Some(said) => bail!("`{line}`: {said}"),
        }
    }

    /// Asks QEMU to exit (it may close the socket before answering).
    fn quit(&mut self) {
        let _ = self.execute(serde_json::json!({"execute": "quit"}));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_blank_image_is_a_qcow2_v2_of_one_cluster_with_its_metadata_counted() {
        let f = blank_qcow2();
        assert_eq!(&f[..4], b"QFI\xfb");
        let be32 = |o: usize| u32::from_be_bytes(f[o..o + 4].try_into().unwrap());
        let be64 = |o: usize| u64::from_be_bytes(f[o..o + 8].try_into().unwrap());
        assert_eq!(be32(4), 2);
        assert_eq!(be32(20), 16);
        assert_eq!(be64(24), 65536);
        assert_eq!((be32(36), be64(40)), (1, 3 * 65536));
        assert_eq!((be64(48), be32(56)), (65536, 1));
        assert_eq!(be64(65536), 2 * 65536);
        let refs: Vec<u16> = (0..5)
            .map(|i| u16::from_be_bytes(f[2 * 65536 + 2 * i..][..2].try_into().unwrap()))
            .collect();
        assert_eq!(refs, [1, 1, 1, 1, 0]);
        assert_eq!(f.len(), 4 * 65536);
    }

    #[test]
    fn keys_change_with_every_input() {
        let dir = tempfile::tempdir().unwrap();
        let k = dir.path().join("Image");
        std::fs::write(&k, b"kernel").unwrap();
        let args = ["-M".to_string(), "virt".into()];
        let base = Inputs {
            qemu_version: "7.2",
            machine_args: &args,
            kernel: &k,
            cmdline: "console=ttyAMA0",
            initramfs: b"cpio",
        };
        let k0 = key(&base).unwrap();
        assert_eq!(k0.len(), 32);
        assert_eq!(key(&base).unwrap(), k0);
        let other_args = ["-M".to_string(), "virt,gic-version=3".into()];
        for changed in [
            Inputs {
                qemu_version: "8.2",
                ..base
            },
            Inputs {
                machine_args: &other_args,
                ..base
            },
            Inputs {
                cmdline: "console=ttyAMA0 nohz_full=3",
                ..base
            },
            Inputs {
                initramfs: b"cpio2",
                ..base
            },
        ] {
            assert_ne!(key(&changed).unwrap(), k0);
        }
        std::fs::write(&k, b"another kernel").unwrap();
        assert_ne!(key(&base).unwrap(), k0);
    }

    #[test]
    fn the_probe_hooks_are_read_and_a_file_without_them_is_refused() {
        let e = hooks(b"not an elf").unwrap_err();
        assert!(e.to_string().contains("ELF"), "{e}");
        // The host's own executable has no hooks section (and is PIE on most hosts).
        let me = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        assert!(hooks(&me).is_err());
    }
}
