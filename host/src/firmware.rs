//! The firmware image: built on demand for a board (cargo decides what is stale), measured
//! (loaded bytes, static RAM), and converted to a raw `.bin` for boot loaders.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result};
use object::{Object, ObjectSection, ObjectSegment, ObjectSymbol, SectionKind};
use serde::Serialize;

use crate::{fail, status, workspace};

/// Loaded bytes the release image may take on `board`: #23's goals, 40 KiB, and 36 KiB for the
/// ThunderX. Reached by taking out `core::fmt` (its text, then its last users: formatting
/// panics), postcard's serializer, the semihosting crate, the name tables and the refusal texts
/// (the host words them), the encoders of kinds the firmware never sends, the second vector
/// table, the inlined lock loops and the padding before the vectors: 39,988 bytes for qemu-virt,
/// 36,136 for ThunderX (from 64,956 and 56,692). Next goal: 32 KiB.
pub fn size_limit(board: &str) -> u64 {
    match board {
        "thunderx-cn88xx" => 36 * 1024,
        _ => 40 * 1024,
    }
}

/// A built firmware image.
#[derive(Debug, Clone)]
pub struct Image {
    /// The ELF.
    pub elf: PathBuf,
    /// The UEFI application carrying it, when the run boots through UEFI.
    pub efi: Option<PathBuf>,
}

/// Target directory of a board's firmware build (separate per board, so images never clash).
fn target_dir(board: &str) -> Result<PathBuf> {
    Ok(workspace::root()?.join("target").join("fw").join(board))
}

/// Builds (if stale) the firmware for `board` with the `firmware` profile.
pub fn ensure_built(board: &str, quiet: bool) -> Result<Image> {
    ensure_built_with(board, quiet, None)
}

/// Builds the firmware for `board` with a compiled-in default configuration (boards without
/// semihosting read it at boot), e.g. `mode=noise cores=47 duration=10s`.
pub fn ensure_built_with(board: &str, quiet: bool, config: Option<&str>) -> Result<Image> {
    let root = workspace::root()?;
    crate::toolchain::ensure_targets()?;
    let target = target_dir(board)?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(&cargo);
    cmd.current_dir(&root)
        .args([
            "build",
            "-p",
            "tickscope-fw",
            "--target",
            "aarch64-unknown-none",
            "--profile",
            "firmware",
        ])
        .env("TICKSCOPE_BOARD", board)
        .env("TICKSCOPE_CONFIG", config.unwrap_or(""))
        .env("CARGO_TARGET_DIR", &target)
        // A host build's flags must not leak into the bare-metal build; ours only shorten the
        // source paths panics carry.
        .env_remove("RUSTFLAGS")
        .env("CARGO_ENCODED_RUSTFLAGS", remap_flags().join("\x1f"))
        .stdout(Stdio::null());
    if quiet {
        cmd.arg("--quiet");
    }
    let out = cmd
        .stderr(Stdio::piped())
        .output()
        .context("running cargo to build the firmware")?;
    if !out.status.success() {
        return Err(fail(
            status::FAILURE,
            format!(
                "building the firmware for board {board} failed:\n{}",
                String::from_utf8_lossy(&out.stderr)
            ),
        ));
    }
    let elf = elf_path(board)?;
    if !elf.is_file() {
        return Err(fail(
            status::FAILURE,
            format!("firmware build produced no {}", elf.display()),
        ));
    }
    Ok(Image { elf, efi: None })
}

/// `--remap-path-prefix` for every crate registry's source directory: a dependency's panic
/// location then reads `arm-gic-0.10.0/src/gicv3.rs`, not the absolute path under this user's
/// `CARGO_HOME`. The image is smaller (about 1 KB) and its size the same on every machine.
fn remap_flags() -> Vec<String> {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")));
    let Some(src) = home.map(|h| h.join("registry").join("src")) else {
        return vec![];
    };
    let Ok(dirs) = std::fs::read_dir(&src) else {
        return vec![];
    };
    let mut flags: Vec<String> = dirs
        .filter_map(|d| d.ok())
        .map(|d| format!("--remap-path-prefix={}/=", d.path().display()))
        .collect();
    flags.sort();
    flags
}

/// Size figures of an image.
#[derive(Debug, Clone, Serialize)]
pub struct Sizes {
    /// Bytes a loader copies (text + rodata + data).
    pub image_bytes: u64,
    /// Static RAM beyond the image: BSS, stacks, ring buffers (not loaded).
    pub static_ram_bytes: u64,
    /// Of which per-core stacks, with the guard page below each.
    pub stack_bytes: u64,
    /// Of which translation tables (both regimes, written by the entry code).
    pub table_bytes: u64,
    /// Of which sample/tick rings and other no-init buffers.
    pub noinit_bytes: u64,
    /// Load (link) address.
    pub load_address: u64,
    /// Entry point.
    pub entry: u64,
    /// The static buffers of 4 KiB and more (BSS and no-init), largest first: where the static
    /// RAM goes.
    pub buffers: Vec<Buffer>,
    /// Functions of `core::fmt` in the image: none, or a panic that formats its message
    /// (indexing, `expect`, `RefCell::borrow_mut`, `copy_from_slice`) crept in and brought
    /// about 3 KB of formatting code with it.
    pub formatting_symbols: Vec<String>,
}

/// The names among `names` that belong to `core::fmt` (v0 or legacy mangling, or demangled).
pub fn formatting_symbols<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut found: Vec<String> = names
        .into_iter()
        .filter(|n| n.contains("4core3fmt") || n.contains("core::fmt::"))
        .map(|n| demangle(n).unwrap_or_else(|| n.to_string()))
        .collect();
    found.sort();
    found.dedup();
    found
}

/// One static buffer of the image.
#[derive(Debug, Clone, Serialize)]
pub struct Buffer {
    /// Its Rust path (`tickscope_fw::run::slots::SAMPLE_STORE`).
    pub name: String,
    /// Bytes.
    pub bytes: u64,
    /// `.bss` (zeroed at boot) or `.noinit`.
    pub section: String,
}

/// Reads the section sizes of the ELF.
pub fn sizes(elf: &Path) -> Result<Sizes> {
    let data = std::fs::read(elf).with_context(|| format!("reading {}", elf.display()))?;
    let file = object::File::parse(&*data).context("parsing the firmware ELF")?;
    let mut s = Sizes {
        image_bytes: 0,
        static_ram_bytes: 0,
        stack_bytes: 0,
        table_bytes: 0,
        noinit_bytes: 0,
        load_address: u64::MAX,
        entry: file.entry(),
        buffers: vec![],
        formatting_symbols: formatting_symbols(
            file.symbols()
                .filter(|x| x.kind() == object::SymbolKind::Text)
                .filter_map(|x| x.name().ok()),
        ),
    };
    for sec in file.sections() {
        let name = sec.name().unwrap_or("");
        match sec.kind() {
            SectionKind::Text
            | SectionKind::ReadOnlyData
            | SectionKind::Data
            | SectionKind::ReadOnlyString
                if sec.address() != 0 =>
            {
                s.image_bytes += sec.size();
                s.load_address = s.load_address.min(sec.address());
            }
            SectionKind::UninitializedData => {
                s.static_ram_bytes += sec.size();
                if name == ".noinit" {
                    s.noinit_bytes += sec.size();
                }
            }
            _ => {}
        }
    }
    // Stacks and tables lie outside any section, where the layout (linker symbols) puts them.
    let sym = |name: &str| {
        file.symbols()
            .find(|x| x.name() == Ok(name))
            .map(|x| x.address())
    };
    let span = |a: &str, b: &str| match (sym(a), sym(b)) {
        (Some(a), Some(b)) if b >= a => b - a,
        _ => 0,
    };
    for sym in file.symbols() {
        let section = sym
            .section_index()
            .and_then(|i| file.section_by_index(i).ok())
            .and_then(|sec| sec.name().ok().map(String::from));
        if let (Some(section @ (".bss" | ".noinit")), true) =
            (section.as_deref(), sym.size() >= 4096)
        {
            let raw = sym.name().unwrap_or("?");
            s.buffers.push(Buffer {
                name: demangle(raw).unwrap_or_else(|| raw.to_string()),
                bytes: sym.size(),
                section: section.to_string(),
            });
        }
    }
    s.buffers
        .sort_by(|a, b| b.bytes.cmp(&a.bytes).then(a.name.cmp(&b.name)));
    s.stack_bytes = span("__stacks_base", "__stacks_end");
    s.table_bytes = span("__tables_base", "__tables_end");
    s.static_ram_bytes += s.stack_bytes + s.table_bytes;
    if s.load_address == u64::MAX {
        s.load_address = 0;
    }
    Ok(s)
}

/// Writes the raw binary a boot loader copies to the load address (loaded segments laid out by
/// physical address, gaps zero-filled). Returns (load address, bytes).
pub fn write_bin(elf: &Path, out: &Path) -> Result<(u64, u64)> {
    let data = std::fs::read(elf).with_context(|| format!("reading {}", elf.display()))?;
    let file = object::File::parse(&*data).context("parsing the firmware ELF")?;
    let mut segs: Vec<(u64, Vec<u8>)> = Vec::new();
    for seg in file.segments() {
        let bytes = seg.data().context("reading a segment")?;
        if bytes.is_empty() {
            continue;
        }
        segs.push((seg.address(), bytes.to_vec()));
    }
    let start = segs
        .iter()
        .map(|s| s.0)
        .min()
        .ok_or_else(|| fail(status::FAILURE, "ELF has no loaded segments"))?;
    let end = segs
        .iter()
        .map(|s| s.0 + s.1.len() as u64)
        .max()
        .unwrap_or(start);
    let mut bin = vec![0u8; (end - start) as usize];
    for (addr, bytes) in segs {
        let off = (addr - start) as usize;
        bin[off..off + bytes.len()].copy_from_slice(&bytes);
    }
    if file.entry() != start {
        return Err(fail(
            status::FAILURE,
            format!(
                "entry {:#x} is not the first byte of the image ({start:#x})",
                file.entry()
            ),
        ));
    }
    write_if_changed(out, &bin)?;
    Ok((start, bin.len() as u64))
}

/// Writes `bytes` to `path` unless it already holds them (a build that embeds the file then stays
/// fresh), through a temporary file renamed into place: a concurrent reader (a parallel run of
/// the same board) sees the old file or the new one, never half of one.
pub fn write_if_changed(path: &Path, bytes: &[u8]) -> Result<()> {
    if std::fs::read(path).is_ok_and(|old| old == bytes) {
        return Ok(());
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
    std::io::Write::write_all(&mut tmp, bytes)
        .with_context(|| format!("writing {}", tmp.path().display()))?;
    tmp.persist(path)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// The function of the ELF whose code holds `addr` (a fault's ELR), demangled.
pub fn function_at(elf: &Path, addr: u64) -> Option<String> {
    let data = std::fs::read(elf).ok()?;
    let file = object::File::parse(&*data).ok()?;
    let sym = file.symbols().find(|s| {
        s.kind() == object::SymbolKind::Text
            && s.size() > 0
            && (s.address()..s.address() + s.size()).contains(&addr)
    })?;
    let name = sym.name().ok()?;
    Some(demangle(name).unwrap_or_else(|| name.to_string()))
}

/// Demangles a legacy Rust symbol (`_ZN` length-prefixed path segments `E`), dropping the hash
/// segment; `None` for any other name.
fn demangle(name: &str) -> Option<String> {
    let mut rest = name.strip_prefix("_ZN")?;
    let mut parts: Vec<&str> = vec![];
    while !rest.starts_with('E') {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let len: usize = rest.get(..digits)?.parse().ok()?;
        parts.push(rest.get(digits..digits + len)?);
        rest = &rest[digits + len..];
    }
    if parts.last().is_some_and(|p| {
        p.len() == 17 && p.starts_with('h') && p[1..].bytes().all(|b| b.is_ascii_hexdigit())
    }) {
        parts.pop();
    }
    Some(parts.join("::"))
}

/// Where the firmware for `board` is built (its ELF).
pub fn elf_path(board: &str) -> Result<PathBuf> {
    Ok(target_dir(board)?
        .join("aarch64-unknown-none")
        .join("firmware")
        .join("tickscope-fw"))
}

/// Address of a symbol in the ELF (e.g. for diagnostics).
#[allow(dead_code)]
pub fn symbol(elf: &Path, name: &str) -> Result<Option<u64>> {
    let data = std::fs::read(elf)?;
    let file = object::File::parse(&*data)?;
    Ok(file
        .symbols()
        .find(|s| s.name() == Ok(name))
        .map(|s| s.address()))
}

/// The memory the firmware uses, as [start, end): the image, BSS, translation tables, stacks and
/// no-init rings (everything the layout places from the load address on). A loader that places
/// the image must own all of it.
pub fn span(elf: &Path) -> Result<(u64, u64)> {
    let data = std::fs::read(elf).with_context(|| format!("reading {}", elf.display()))?;
    let file = object::File::parse(&*data).context("parsing the firmware ELF")?;
    let sym = |name: &str| {
        file.symbols()
            .find(|x| x.name() == Ok(name))
            .map(|x| x.address())
    };
    let start = sym("__image_start")
        .ok_or_else(|| fail(status::FAILURE, "the firmware ELF has no __image_start"))?;
    let end = ["__bss_end", "__tables_end", "__stacks_end", "__noinit_end"]
        .iter()
        .filter_map(|s| sym(s))
        .max()
        .unwrap_or(start);
    Ok((start, end.max(start)))
}

#[cfg(test)]
mod tests {
    use super::{demangle, formatting_symbols};

    #[test]
    fn formatting_symbols_are_found_in_every_mangling() {
        let names = [
            "_RNvXsi_NtNtNtCsbcsGJ9IzBgZ_4core3fmt3num3impjNtB9_7Display3fmt",
            "_ZN4core3fmt9Formatter3pad17h0123456789abcdefE",
            "core::fmt::write",
            "_ZN12tickscope_fw3run4park17h414ca4dce7535f31E",
            "_RNvNtCsbcsGJ9IzBgZ_4core9panicking9panic_fmt",
            "_defmt_write",
        ];
        let found = formatting_symbols(names);
        assert_eq!(found.len(), 3, "{found:?}");
        assert!(found.contains(&"core::fmt::Formatter::pad".to_string()));
        assert!(formatting_symbols(names[3..].iter().copied()).is_empty());
    }

    #[test]
    fn demangles_legacy_rust_symbols() {
        assert_eq!(
            demangle("_ZN12tickscope_fw5fault7recurse17h43d25bc7f727f5e0E").as_deref(),
            Some("tickscope_fw::fault::recurse")
        );
        assert_eq!(demangle("memcpy"), None);
        assert_eq!(demangle("_ZN3foo9E"), None, "a length past the end");
    }
}
