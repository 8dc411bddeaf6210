//! Facts baked in at build time besides the board (see `tickscope_board`): the source revision
//! and the configuration for boards without semihosting.

/// The firmware's source revision, padded to 40 characters by the build (`revision()` trims it).
const REVISION_PADDED: &str = env!("TICKSCOPE_REVISION");

/// The firmware's source revision (`git describe`).
pub fn revision() -> &'static str {
    REVISION_PADDED.trim_ascii_end()
}

// `BUILT_CONFIG`: the configuration compiled in for boards without semihosting
// (`TICKSCOPE_CONFIG`, parsed and checked by the build), if any.
include!(concat!(env!("OUT_DIR"), "/built_config.rs"));
