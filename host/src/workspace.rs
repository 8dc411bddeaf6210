//! Where things are: the tickscope source tree (boards, firmware, results) found from the current
//! directory or, failing that, from where this binary was built.

use std::path::{Path, PathBuf};

use anyhow::Result;
use tickscope_core::board::BoardDesc;

use crate::{fail, status};

/// The source tree root (holds `boards/`, `firmware/`, `results/`).
pub fn root() -> Result<PathBuf> {
    let looks_right =
        |p: &Path| p.join("boards").is_dir() && p.join("firmware").join("Cargo.toml").is_file();
    if let Ok(cwd) = std::env::current_dir() {
        for dir in cwd.ancestors() {
            if looks_right(dir) {
                return Ok(dir.to_path_buf());
            }
        }
    }
    let built_in = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf);
    match built_in {
        Some(p) if looks_right(&p) => Ok(p),
        _ => Err(fail(
            status::MISSING_TOOL,
            "cannot find the tickscope source tree (boards/, firmware/): run tickscope from inside it",
        )),
    }
}

/// Path of a board description.
pub fn board_path(name: &str) -> Result<PathBuf> {
    Ok(root()?.join("boards").join(format!("{name}.toml")))
}

/// Loads a board description by name, listing the known boards when it does not exist.
pub fn board(name: &str) -> Result<BoardDesc> {
    let path = board_path(name)?;
    if !path.exists() {
        let mut known: Vec<String> = std::fs::read_dir(root()?.join("boards"))?
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                e.file_name()
                    .to_str()?
                    .strip_suffix(".toml")
                    .map(str::to_string)
            })
            .collect();
        known.sort();
        return Err(fail(
            status::CONFIG,
            format!("unknown board `{name}`; known boards: {}", known.join(", ")),
        ));
    }
    BoardDesc::load(&path).map_err(|e| fail(status::CONFIG, e))
}

/// `results/` of the tree.
pub fn results() -> Result<PathBuf> {
    Ok(root()?.join("results"))
}

/// tickscope's cache directory (`$TICKSCOPE_CACHE`, else `$XDG_CACHE_HOME/tickscope`, else
/// `~/.cache/tickscope`).
pub fn cache_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("TICKSCOPE_CACHE") {
        return PathBuf::from(d);
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("tickscope")
}
