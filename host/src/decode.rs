//! Decoding captures from files: the decoder itself is `tickscope_analysis::decode` (re-exported
//! here); this adds what touches the file system (the capture file, the firmware ELF).

use std::path::Path;

use anyhow::{Context, Result};

pub use tickscope_analysis::decode::*;

/// The firmware ELF's bytes, whose `.defmt` table decodes log frames.
pub fn read_elf(elf: Option<&Path>) -> Result<Option<Vec<u8>>> {
    elf.map(|p| std::fs::read(p).with_context(|| format!("reading ELF {}", p.display())))
        .transpose()
}

/// Decodes a capture file.
pub fn decode_file(path: &Path, elf: Option<&Path>, sink: &mut dyn Sink) -> Result<Report> {
    let elf = read_elf(elf)?;
    let f = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    decode_reader(std::io::BufReader::new(f), elf.as_deref(), sink)
}
