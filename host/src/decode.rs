//! Decoding captures from files: the decoder itself is `tickscope_analysis::decode` (re-exported
//! here); this adds what touches the file system (the capture file, the firmware ELF).

use std::path::Path;

use anyhow::{Context, Result};

use crate::analysis::Analysis;

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

/// An empty analysis keeping the records `TICKSCOPE_KEEP_RECORDS` says (every decode of a
/// capture: a run, `decode`, a report's reload).
pub fn new_analysis() -> Result<Analysis> {
    Ok(Analysis {
        records_kept: records_kept()?,
        ..Analysis::default()
    })
}

/// `TICKSCOPE_KEEP_RECORDS=N`: keep N records of each kind per core instead of 500 k before the
/// rest overflows, so a short run takes a long run's path (the tests use it).
fn records_kept() -> Result<Option<usize>> {
    match std::env::var("TICKSCOPE_KEEP_RECORDS") {
        Err(_) => Ok(None),
        Ok(v) if v.is_empty() => Ok(None),
        Ok(v) => match v.parse::<usize>() {
            Ok(n) if n > 0 => Ok(Some(n)),
            _ => Err(crate::fail(
                crate::status::CONFIG,
                format!("TICKSCOPE_KEEP_RECORDS={v}: a number of records above 0"),
            )),
        },
    }
}
