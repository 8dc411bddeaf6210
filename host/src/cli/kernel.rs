//! `tickscope kernel`: fetches the arm64 kernel a Linux run boots (or finds it in the cache) and
//! says which it is, so a machine (or a CI cache) can be prepared ahead of `linux` and `compare`.

use anyhow::Result;
use serde::Serialize;

use super::output::print_json;
use crate::apt::{self, Flavour};
use crate::status;
use crate::workspace::cache_dir;

/// `tickscope kernel` options.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  tickscope kernel                          # the cached kernel, or the archive's current one
  tickscope kernel --kernel-version 6.1.0-56 --json
  TICKSCOPE_CACHE=/ci/cache tickscope kernel")]
pub struct Args {
    /// Pin the release, e.g. `6.1.0-56`.
    #[arg(long)]
    kernel_version: Option<String>,
    /// The PREEMPT_RT build of the same kernel.
    #[arg(long)]
    rt: bool,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct J {
    release: String,
    package: Option<String>,
    image: String,
    cache: String,
}

/// Runs `kernel`.
pub fn run(a: Args) -> Result<u8> {
    let flavour = if a.rt { Flavour::Rt } else { Flavour::Generic };
    let k = apt::kernel(flavour, a.kernel_version.as_deref())?;
    let j = J {
        release: k.release.clone(),
        package: k.package.clone(),
        image: k.image.display().to_string(),
        cache: cache_dir().display().to_string(),
    };
    if a.json {
        print_json(&j)?;
    } else {
        println!(
            "kernel {} ({}) at {}",
            j.release,
            j.package.as_deref().unwrap_or("package unknown"),
            j.image
        );
    }
    Ok(status::OK)
}
