//! `tickscope image`: builds the firmware for a board, prints its size (loaded bytes against the
//! 64 KiB budget, static RAM), and writes the raw `.bin` a boot loader copies to the load address.

use std::path::PathBuf;

use anyhow::Result;
use serde::Serialize;

use super::output::print_json;
use crate::firmware::{self, SIZE_LIMIT, Sizes};
use crate::{status, workspace};

/// `tickscope image` options.
#[derive(clap::Args, Debug)]
#[command(after_help = r#"Examples:
  tickscope image                               # size of the qemu-virt image
  tickscope image --board thunderx-cn88xx --bin /tmp/tickscope.bin \
      --config "mode=noise cores=47 duration=10s el=2 inject=250:10us""#)]
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
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
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
    let within = sizes.image_bytes <= SIZE_LIMIT;
    if a.json {
        print_json(&ImageJson {
            board: board.name.clone(),
            elf: img.elf.display().to_string(),
            bin: bin.display().to_string(),
            sizes: sizes.clone(),
            limit_bytes: SIZE_LIMIT,
            within_limit: within,
        })?;
    } else {
        println!("firmware for {}: {}", board.name, img.elf.display());
        println!(
            "  image (loaded) {:>9} bytes  ({:.1} % of the {} KiB budget)",
            sizes.image_bytes,
            100.0 * sizes.image_bytes as f64 / SIZE_LIMIT as f64,
            SIZE_LIMIT / 1024
        );
        println!(
            "  static RAM     {:>9} bytes  (stacks and guard pages {}, page tables {}, rings/buffers {}, rest BSS)",
            sizes.static_ram_bytes, sizes.stack_bytes, sizes.table_bytes, sizes.noinit_bytes
        );
        println!(
            "  raw binary     {} ({bytes} bytes, load and start at {load:#x})",
            bin.display()
        );
    }
    if !within {
        eprintln!(
            "tickscope: the image is {} bytes, above the {SIZE_LIMIT}-byte budget",
            sizes.image_bytes
        );
        return Ok(status::FAILURE);
    }
    Ok(status::OK)
}
