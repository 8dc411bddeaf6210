//! Writing result files safely: whole or not at all, never under a predictable temporary name.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// Writes `path` through a fresh temporary file in the same directory (unpredictable name,
/// created exclusively) and a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<PathBuf> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".tickscope-")
        .tempfile_in(dir)
        .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
    tmp.write_all(bytes)
        .with_context(|| format!("writing {}", path.display()))?;
    // Results are for sharing: readable by all, like a file written the ordinary way.
    tmp.as_file()
        .set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644))?;
    tmp.persist(path)
        .map_err(|e| e.error)
        .with_context(|| format!("renaming to {}", path.display()))?;
    Ok(path.to_path_buf())
}

/// A directory that takes a renderer's files, writing each atomically as it comes.
pub struct Dir<'a> {
    /// Where.
    pub path: &'a Path,
}

impl tickscope_analysis::render::Files for Dir<'_> {
    fn put(&mut self, file: tickscope_analysis::render::Artifact) -> Result<()> {
        write_atomic(&self.path.join(&file.name), &file.bytes).map(|_| ())
    }
}
