//! `tickscope bench` (being written).

use anyhow::Result;

/// Options.
#[derive(clap::Args, Debug)]
pub struct Args {}

/// Runs it.
pub fn run(_a: Args) -> Result<u8> {
    Err(crate::fail(crate::status::FAILURE, "bench: not available yet"))
}
