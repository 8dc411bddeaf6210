//! Facts baked in at build time besides the board (see `tickscope_board`): the source revision
//! and the configuration for boards without semihosting.

/// The firmware's source revision, padded with `~` to 40 characters by the build (`revision()`
/// trims it).
const REVISION_PADDED: &str = env!("TICKSCOPE_REVISION");

/// The firmware's source revision (`git describe`). Trimmed at run time (`black_box`): trimmed
/// by the compiler, the stored text would be as long as the revision again.
pub fn revision() -> &'static str {
    core::hint::black_box(REVISION_PADDED).trim_end_matches('~')
}

// `BUILT_CONFIG`: the configuration compiled in for boards without semihosting
// (`TICKSCOPE_CONFIG`, parsed and checked by the build), if any.
include!(concat!(env!("OUT_DIR"), "/built_config.rs"));
