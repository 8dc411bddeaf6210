//! Places the image where the board's layout says (`layout.x` for the linker script, from the
//! same `tickscope_core::layout` the page tables and the entry code use), and records the source
//! revision and the build-time configuration. The board constants come from `tickscope-board`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::{env, fs};

use tickscope_core::board::BoardDesc;

fn main() {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest.parent().unwrap().to_path_buf();
    let out = PathBuf::from(env::var("OUT_DIR").unwrap());

    let board_name = env::var("TICKSCOPE_BOARD").unwrap_or_else(|_| "qemu-virt".into());
    let board_path = root.join("boards").join(format!("{board_name}.toml"));
    println!("cargo:rerun-if-env-changed=TICKSCOPE_BOARD");
    println!("cargo:rerun-if-env-changed=TICKSCOPE_CONFIG");
    println!("cargo:rerun-if-changed={}", board_path.display());
    let board = BoardDesc::load(&board_path).unwrap_or_else(|e| {
        panic!("TICKSCOPE_BOARD={board_name}: {e} (boards are the .toml files in boards/)")
    });

    let symbols: String = board
        .linker_symbols()
        .into_iter()
        .map(|(name, value)| format!("{name} = {value:#x};\n"))
        .collect();
    fs::write(
        out.join("layout.x"),
        format!(
            "/* boards/{}.toml, tickscope_core::layout */\n{symbols}",
            board.name
        ),
    )
    .unwrap();

    let script = root.join("linker").join("tickscope.ld");
    println!("cargo:rerun-if-changed={}", script.display());
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rustc-link-arg-bins=-T{}", script.display());
    println!("cargo:rustc-link-arg-bins=-Tdefmt.x");
    println!("cargo:rustc-env=TICKSCOPE_REVISION={}", revision(&root));
    // A build-time configuration for boards without semihosting (see boards/README.md), parsed
    // here and baked in as a value: the image of such a board carries no configuration parser.
    let text = env::var("TICKSCOPE_CONFIG").unwrap_or_default();
    let config = if text.trim().is_empty() {
        "None".to_string()
    } else {
        let c = tickscope_core::Config::parse(&text)
            .unwrap_or_else(|e| panic!("TICKSCOPE_CONFIG: {e}"));
        format!("Some({})", databake::Bake::bake(&c, &Default::default()))
    };
    fs::write(
        out.join("built_config.rs"),
        format!(
            "/// The configuration compiled in (`TICKSCOPE_CONFIG`): {text:?}.\n\
             pub const BUILT_CONFIG: Option<tickscope_core::config::Config> = {config};\n"
        ),
    )
    .unwrap();
}

/// `git describe` of the source tree, or `unknown` outside a git checkout.
fn revision(root: &Path) -> String {
    let head = root.join(".git").join("HEAD");
    if head.exists() {
        println!("cargo:rerun-if-changed={}", head.display());
    }
    let text: String = Command::new("git")
        .args(["describe", "--always", "--dirty", "--abbrev=12"])
        .current_dir(root)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .trim()
                .chars()
                .take(40)
                .collect()
        })
        .unwrap_or_else(|| "unknown".into());
    // Padded with `~` to 40 characters (the firmware trims it at run time; cargo would trim
    // spaces): the image's size then does not depend on the revision's text (`-dirty` or not),
    // so `bench --check` can hold it exact.
    format!("{text:~<40}")
}
