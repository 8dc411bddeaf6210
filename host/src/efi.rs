//! The firmware as a UEFI application: `tickscope-efi` (firmware/efi) built around a board's
//! image, and a structural check that the result is a PE/COFF file UEFI would start.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result};
use object::pe::{IMAGE_FILE_MACHINE_ARM64, IMAGE_SUBSYSTEM_EFI_APPLICATION};
use object::read::pe::{ImageNtHeaders, ImageOptionalHeader, PeFile64};
use object::{LittleEndian, Object, ObjectSection, SectionFlags};
use serde::Serialize;

use crate::firmware::{self, Image};
use crate::{fail, status, workspace};

/// The UEFI target the loader builds for.
pub const TARGET: &str = "aarch64-unknown-uefi";

/// A built loader.
#[derive(Debug, Clone)]
pub struct Efi {
    /// The `.efi` file.
    pub path: PathBuf,
    /// What the file says of itself.
    pub pe: PeFacts,
    /// Where the loader places the image.
    pub load_address: u64,
    /// Bytes from there the firmware uses (the loader allocates them all from UEFI).
    pub span_bytes: u64,
}

/// The facts of a PE/COFF file that decide whether UEFI starts it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PeFacts {
    /// File size.
    pub bytes: u64,
    /// COFF machine (`0xaa64` for arm64).
    pub machine: String,
    /// Optional-header subsystem (10: EFI application).
    pub subsystem: u16,
    /// Entry point, relative to the image base.
    pub entry_rva: String,
    /// Section names.
    pub sections: Vec<String>,
    /// Whether the file carries base relocations (UEFI may load it anywhere).
    pub relocatable: bool,
    /// Offset of the firmware image inside the file (the payload found byte for byte).
    pub payload_offset: Option<u64>,
}

impl PeFacts {
    /// Why UEFI would refuse the file, if it would.
    pub fn problem(&self) -> Option<String> {
        if self.machine != format!("{IMAGE_FILE_MACHINE_ARM64:#x}") {
            Some(format!("machine {} is not arm64", self.machine))
        } else if self.subsystem != IMAGE_SUBSYSTEM_EFI_APPLICATION {
            Some(format!(
                "subsystem {} is not an EFI application",
                self.subsystem
            ))
        } else if self.payload_offset.is_none() {
            Some("the firmware image is not inside the file".into())
        } else {
            None
        }
    }
}

/// Builds `tickscope-efi` around `img` (its raw binary written beside the ELF) and copies it to
/// `out` (default: `tickscope-fw.efi` beside the ELF). Checks the result structurally.
pub fn build(img: &Image, board: &str, out: Option<&Path>, quiet: bool) -> Result<Efi> {
    let bin = img.elf.with_file_name("tickscope-fw.bin");
    let (load, _) = firmware::write_bin(&img.elf, &bin)?;
    let (start, end) = firmware::span(&img.elf)?;
    if start != load {
        return Err(fail(
            status::FAILURE,
            format!("the image starts at {start:#x}, not at its load address {load:#x}"),
        ));
    }
    let target = workspace::root()?
        .join("target")
        .join("fw")
        .join(board)
        .join("efi");
    let path = out
        .map(Path::to_path_buf)
        .unwrap_or_else(|| img.elf.with_file_name("tickscope-fw.efi"));
    let payload = Payload {
        bin: &bin,
        load_address: load,
        span_bytes: end - start,
        board,
    };
    build_loader(&payload, &target, &path, quiet)
}

/// What the loader carries and where it puts it.
#[derive(Debug, Clone, Copy)]
pub struct Payload<'a> {
    /// The raw image.
    pub bin: &'a Path,
    /// Its load (link) address.
    pub load_address: u64,
    /// Bytes the firmware uses from there (allocated from UEFI as a whole).
    pub span_bytes: u64,
    /// Board name (for the loader's messages).
    pub board: &'a str,
}

/// Builds the loader around `payload` in `target_dir` and writes it to `out`, checked.
pub fn build_loader(payload: &Payload, target_dir: &Path, out: &Path, quiet: bool) -> Result<Efi> {
    crate::toolchain::ensure_targets()?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(&cargo);
    cmd.current_dir(workspace::root()?.join("firmware").join("efi"))
        .args(["build", "--release", "--locked", "--target", TARGET])
        .env("TICKSCOPE_EFI_PAYLOAD", payload.bin)
        .env("TICKSCOPE_EFI_LOAD", format!("{:#x}", payload.load_address))
        .env("TICKSCOPE_EFI_SPAN", payload.span_bytes.to_string())
        .env("TICKSCOPE_EFI_BOARD", payload.board)
        .env("CARGO_TARGET_DIR", target_dir)
        // A host build's flags must not leak into the UEFI build.
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if quiet {
        cmd.arg("--quiet");
    }
    let o = cmd
        .output()
        .context("running cargo to build tickscope-efi")?;
    if !o.status.success() {
        return Err(fail(
            status::FAILURE,
            format!(
                "building the UEFI loader for board {} failed:\n{}",
                payload.board,
                String::from_utf8_lossy(&o.stderr)
            ),
        ));
    }
    let built = target_dir
        .join(TARGET)
        .join("release")
        .join("tickscope-efi.efi");
    let app = std::fs::read(&built).with_context(|| format!("reading {}", built.display()))?;
    firmware::write_if_changed(out, &app)?;
    let bytes =
        std::fs::read(payload.bin).with_context(|| format!("reading {}", payload.bin.display()))?;
    let pe = inspect(out, &bytes)?;
    if let Some(p) = pe.problem() {
        return Err(fail(
            status::FAILURE,
            format!("{}: UEFI would not start it: {p}", out.display()),
        ));
    }
    Ok(Efi {
        path: out.to_path_buf(),
        pe,
        load_address: payload.load_address,
        span_bytes: payload.span_bytes,
    })
}

/// Reads the PE/COFF facts of `path` and looks for `payload` in it.
pub fn inspect(path: &Path, payload: &[u8]) -> Result<PeFacts> {
    let data = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let pe = PeFile64::parse(&*data).map_err(|e| {
        fail(
            status::FAILURE,
            format!("{}: not a PE32+ file: {e}", path.display()),
        )
    })?;
    let nt = pe.nt_headers();
    let base = pe.relative_address_base();
    let executable_entry = pe.sections().any(|s| {
        let SectionFlags::Coff { characteristics } = s.flags() else {
            return false;
        };
        characteristics & object::pe::IMAGE_SCN_MEM_EXECUTE != 0
            && (s.address()..s.address() + s.size()).contains(&pe.entry())
    });
    if !executable_entry {
        return Err(fail(
            status::FAILURE,
            format!(
                "{}: the entry point is not in an executable section",
                path.display()
            ),
        ));
    }
    Ok(PeFacts {
        bytes: data.len() as u64,
        machine: format!("{:#x}", nt.file_header().machine.get(LittleEndian)),
        subsystem: nt.optional_header().subsystem(),
        entry_rva: format!("{:#x}", pe.entry() - base),
        sections: pe
            .sections()
            .filter_map(|s| s.name().ok().map(String::from))
            .collect(),
        relocatable: pe.sections().any(|s| s.name() == Ok(".reloc")),
        payload_offset: find(&data, payload).map(|o| o as u64),
    })
}

/// The first offset of `needle` in `hay`.
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || needle.len() > hay.len() {
        return None;
    }
    hay.windows(needle.len()).position(|w| w == needle)
}
