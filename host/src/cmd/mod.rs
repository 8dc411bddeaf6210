//! One module per subcommand, plus `bare` (the shared bare-metal QEMU run) and `args` (option
//! groups several subcommands share, so flags are spelled the same everywhere).

pub mod args;
pub mod bare;
pub mod baseline;
pub mod bench;
pub mod boot;
pub mod capture;
pub mod check;
pub mod compare;
pub mod decode;
pub mod image;
pub mod import;
pub mod linux;
pub mod measure;
#[cfg(feature = "probe-rs")]
pub mod probe_run;
pub mod report;

use anyhow::Result;
use serde::Serialize;

/// Prints one JSON object on stdout.
pub fn print_json<T: Serialize>(value: &T) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}
