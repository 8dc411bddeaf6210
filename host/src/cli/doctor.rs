//! `tickscope doctor [--json]`: what a run needs and whether it is there, each with the command
//! that fixes it. Exit 0 when everything needed is there, 127 otherwise.

use anyhow::Result;
use serde::Serialize;

use super::output::print_json;
use crate::doctor::{self, Check};
use crate::status;

/// `tickscope doctor` options.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Print one JSON object: `{"checks": [{name, ok, detail, fix}], "ok": bool}`.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct J {
    checks: Vec<Check>,
    ok: bool,
}

/// Runs `doctor`.
pub fn run(a: Args) -> Result<u8> {
    let checks = doctor::checks();
    let ok = checks.iter().all(|c| c.ok);
    if a.json {
        print_json(&J { checks, ok })?;
    } else {
        for c in &checks {
            println!(
                "{} {:<40} {}",
                if c.ok { "ok  " } else { "FAIL" },
                c.name,
                c.detail
            );
            if !c.ok {
                println!("     fix: {}", c.fix);
            }
        }
    }
    Ok(if ok { status::OK } else { status::MISSING_TOOL })
}
