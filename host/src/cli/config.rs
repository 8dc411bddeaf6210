//! `tickscope config`: the firmware's configuration in the binary form it reads (`cfg=HEX` on the
//! semihosting command line), for QEMU command lines written by hand, labgrid and LAVA.

use anyhow::Result;
use serde::Serialize;
use tickscope_core::Config;

use super::output::print_json;
use crate::guest::bare::semihosting_arg;
use crate::{fail, status};

/// `tickscope config` options.
#[derive(clap::Args, Debug)]
#[command(after_help = r#"Examples:
  tickscope config "mode=noise smp=4 duration=1s inject=250:10us icount=on transport=uart"
  qemu-system-aarch64 ... -semihosting-config "$(tickscope config --semihosting-config "mode=boot smp=4")""#)]
pub struct Args {
    /// The settings, as `measure` and `image --config` take them ("mode=noise cores=3 ...").
    settings: String,
    /// Print only QEMU's `-semihosting-config` value.
    #[arg(long, conflicts_with = "json")]
    semihosting_config: bool,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct ConfigJson {
    /// The settings in their canonical text form.
    text: String,
    /// The firmware's argument: `cfg=HEX`.
    arg: String,
    /// QEMU's `-semihosting-config` value carrying it.
    semihosting_config: String,
}

/// Runs `config`.
pub fn run(a: Args) -> Result<u8> {
    let config = Config::parse(&a.settings).map_err(|e| fail(status::CONFIG, format!("{e}")))?;
    let arg = semihosting_arg(&config);
    let out = ConfigJson {
        text: config.to_string(),
        semihosting_config: format!("enable=on,target=native,arg=tickscope,arg={arg}"),
        arg,
    };
    if a.json {
        print_json(&out)?;
    } else if a.semihosting_config {
        println!("{}", out.semihosting_config);
    } else {
        println!("settings:            {}", out.text);
        println!("firmware argument:   {}", out.arg);
        println!("-semihosting-config  {}", out.semihosting_config);
    }
    Ok(status::OK)
}
