//! `tickscope apt-fetch PACKAGE... --into DIR`: Debian packages (arm64 or `all`) fetched with the
//! private apt state tickscope uses for kernels (signatures and hashes checked, the system's apt
//! and dpkg untouched, no root) and unpacked into DIR. The LAVA validation uses it for
//! `lava-common`.

use std::path::PathBuf;

use anyhow::Result;

use crate::status;

/// `tickscope apt-fetch` options.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  tickscope apt-fetch lava-common --into ~/.cache/tickscope/lava/lava-common
  tickscope apt-fetch rt-tests libnuma1 --into /tmp/rt-tests")]
pub struct Args {
    /// Packages.
    #[arg(required = true)]
    packages: Vec<String>,
    /// Where to unpack them.
    #[arg(long)]
    into: PathBuf,
}

/// Runs `apt-fetch`.
pub fn run(a: Args) -> Result<u8> {
    let versions = crate::apt::fetch(&a.packages, &a.into)?;
    for v in versions {
        println!("{v}");
    }
    println!("unpacked into {}", a.into.display());
    Ok(status::OK)
}
