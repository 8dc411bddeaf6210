//! Facts baked in at build time besides the board (see `tickscope_board`): the source revision
//! and the configuration for boards without semihosting.

/// The firmware's source revision.
pub const REVISION: &str = env!("TICKSCOPE_REVISION");

/// Configuration compiled in for boards without semihosting (`TICKSCOPE_CONFIG`), may be empty.
pub const DEFAULT_CONFIG: &str = env!("TICKSCOPE_DEFAULT_CONFIG");
