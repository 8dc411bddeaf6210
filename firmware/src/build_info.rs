//! Facts baked in at build time besides the board (see `tickscope_board`): the source revision
//! and the configuration for boards without semihosting.

/// The firmware's source revision.
pub const REVISION: &str = env!("TICKSCOPE_REVISION");

// `BUILT_CONFIG`: the configuration compiled in for boards without semihosting
// (`TICKSCOPE_CONFIG`, parsed and checked by the build), if any.
include!(concat!(env!("OUT_DIR"), "/built_config.rs"));
