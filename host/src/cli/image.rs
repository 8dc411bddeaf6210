//! `tickscope image`: builds the firmware for a board, prints its size (loaded bytes against its
//! budget, 40 KiB or 36 KiB on ThunderX; static RAM), and writes the raw `.bin` a boot loader
//! copies to the load address; with `--efi`, also the UEFI application that carries it.

use std::path::PathBuf;

use anyhow::Result;
use serde::Serialize;

use super::output::print_json;
use crate::firmware::{self, Sizes};
use crate::{status, workspace};

/// `tickscope image` options.
#[derive(clap::Args, Debug)]
#[command(after_help = r#"Examples:
  tickscope image                               # size of the qemu-virt image
  tickscope image --board thunderx-cn88xx --bin /tmp/tickscope.bin \
      --config "mode=noise cores=47 duration=10s el=2 inject=250:10us"
  tickscope image --board thunderx-cn88xx --efi --config "mode=noise cores=47 duration=10s"
                                                # + target/fw/<board>/.../tickscope-fw.efi"#)]
pub struct Args {
    /// Board description.
    #[arg(long, default_value = "qemu-virt")]
    board: String,
    /// Where to write the raw binary (default: target/fw/<board>/tickscope-fw.bin).
    #[arg(long)]
    bin: Option<PathBuf>,
    /// Configuration compiled into the image, for boards without semihosting, e.g.
    /// "mode=noise cores=47 duration=10s el=2" (same settings as the semihosting command line).
    #[arg(long)]
    config: Option<String>,
    /// Also build the UEFI application (PE/COFF, `aarch64-unknown-uefi`) that carries the image:
    /// started from the UEFI shell or GRUB's `chainloader`, it places the image at the board's
    /// load address, leaves UEFI and starts it with the MMU off at the EL UEFI ran at.
    #[arg(long)]
    efi: bool,
    /// Where to write the UEFI application (default: tickscope-fw.efi beside the ELF).
    #[arg(long, requires = "efi")]
    efi_out: Option<PathBuf>,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct EfiJson {
    path: String,
    load_address: String,
    /// Bytes the loader allocates from UEFI at the load address (image, BSS, tables, stacks,
    /// rings).
    reserved_bytes: u64,
    #[serde(flatten)]
    pe: crate::efi::PeFacts,
}

#[derive(Serialize)]
struct ImageJson {
    board: String,
    elf: String,
    bin: String,
    #[serde(flatten)]
    sizes: Sizes,
    limit_bytes: u64,
    within_limit: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    efi: Option<EfiJson>,
}

/// Runs `image`.
pub fn run(a: Args) -> Result<u8> {
    let board = workspace::board(&a.board)?;
    if let Some(c) = &a.config {
        tickscope_core::Config::parse(c)
            .map_err(|e| crate::fail(status::CONFIG, format!("--config: {e}")))?;
    }
    let img = firmware::ensure_built_with(&board.name, a.json, a.config.as_deref())?;
    let sizes = firmware::sizes(&img.elf)?;
    let bin = a
        .bin
        .clone()
        .unwrap_or_else(|| img.elf.with_file_name("tickscope-fw.bin"));
    let (load, bytes) = firmware::write_bin(&img.elf, &bin)?;
    let limit = firmware::size_limit(&board.name);
    let within = sizes.image_bytes <= limit;
    let efi = match a.efi {
        true => Some(crate::efi::build(
            &img,
            &board.name,
            a.efi_out.as_deref(),
            a.json,
        )?),
        false => None,
    };
    let efi_json = efi.as_ref().map(|e| EfiJson {
        path: e.path.display().to_string(),
        load_address: format!("{:#x}", e.load_address),
        reserved_bytes: e.span_bytes,
        pe: e.pe.clone(),
    });
    if a.json {
        print_json(&ImageJson {
            board: board.name.clone(),
            elf: img.elf.display().to_string(),
            bin: bin.display().to_string(),
            sizes: sizes.clone(),
            limit_bytes: limit,
            within_limit: within,
            efi: efi_json,
        })?;
    } else {
        print_sizes(
            &board.name,
            &img.elf,
            (&sizes, limit),
            &bin,
            bytes,
            load,
            efi.as_ref(),
        );
    }
    if !sizes.formatting_symbols.is_empty() {
        eprintln!(
            "tickscope: the image carries core::fmt ({}): a panic that formats its message (indexing, expect, RefCell::borrow_mut, copy_from_slice) crept in; use tickscope_core::checked or a fixed panic message",
            sizes.formatting_symbols.join(", ")
        );
        return Ok(status::FAILURE);
    }
    if !within {
        eprintln!(
            "tickscope: the image is {} bytes, above the {limit}-byte budget for {}",
            sizes.image_bytes, board.name
        );
        return Ok(status::FAILURE);
    }
    Ok(status::OK)
}

/// The text report: sizes, the static buffers, the raw binary and the UEFI application.
fn print_sizes(
    board: &str,
    elf: &std::path::Path,
    (sizes, limit): (&Sizes, u64),
    bin: &std::path::Path,
    bytes: u64,
    load: u64,
    efi: Option<&crate::efi::Efi>,
) {
    println!("firmware for {}: {}", board, elf.display());
    println!(
        "  image (loaded) {:>9} bytes  ({:.1} % of the {} KiB budget)",
        sizes.image_bytes,
        100.0 * sizes.image_bytes as f64 / limit as f64,
        limit / 1024
    );
    println!(
        "  static RAM     {:>9} bytes  (stacks and guard pages {}, page tables {}, rings/buffers {}, rest BSS)",
        sizes.static_ram_bytes, sizes.stack_bytes, sizes.table_bytes, sizes.noinit_bytes
    );
    println!(
        "  core::fmt      {}",
        match sizes.formatting_symbols.is_empty() {
            true => "absent (no panic formats its message)".to_string(),
            false => format!("present: {}", sizes.formatting_symbols.join(", ")),
        }
    );
    for b in &sizes.buffers {
        println!("    {:>9} bytes  {} ({})", b.bytes, b.name, b.section);
    }
    println!(
        "  raw binary     {} ({bytes} bytes, load and start at {load:#x})",
        bin.display()
    );
    if let Some(e) = &efi {
        println!(
            "  UEFI app       {} ({} bytes, PE32+ arm64 EFI application; places the image at {:#x} and reserves {} bytes there)",
            e.path.display(),
            e.pe.bytes,
            e.load_address,
            e.span_bytes
        );
    }
}
