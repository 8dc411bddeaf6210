//! Bakes the chosen board description (`TICKSCOPE_BOARD`, default `qemu-virt`) into constants:
//! the `Board` itself and the page-table runs the entry code writes (see `tickscope_core::pagetable`).
//! The values are serialised by `databake`, so the generated file is data, never hand-built code.

use std::path::PathBuf;
use std::{env, fs};

use databake::{Bake, CrateEnv};
use tickscope_core::board::BoardDesc;
use tickscope_core::layout::Regime;
use tickscope_core::pagetable::Tables;

fn main() {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest.join("../..");
    let name = env::var("TICKSCOPE_BOARD").unwrap_or_else(|_| "qemu-virt".into());
    let path = root.join("boards").join(format!("{name}.toml"));
    println!("cargo:rerun-if-env-changed=TICKSCOPE_BOARD");
    println!("cargo:rerun-if-changed={}", path.display());
    let desc = BoardDesc::load(&path).unwrap_or_else(|e| {
        panic!("TICKSCOPE_BOARD={name}: {e} (boards are the .toml files in boards/)")
    });
    let layout = desc.layout();
    // The EL1 regime's tables are derived from the EL2 runs by the entry code; both must build.
    let tables = Tables::for_board(&desc, &layout, Regime::El2)
        .and_then(|t| Tables::for_board(&desc, &layout, Regime::El1).map(|_| t))
        .unwrap_or_else(|e| panic!("boards/{name}.toml: page tables: {e}"));
    let runs = tables.runs();

    let env = CrateEnv::default();
    let board = desc.to_board().bake(&env);
    let runs = runs.as_slice().bake(&env);
    let ranges = desc.cpus.mpidr_ranges.as_slice().bake(&env);
    let out = PathBuf::from(env::var("OUT_DIR").unwrap()).join("board.rs");
    fs::write(
        out,
        format!(
            "/// The board description (boards/{name}.toml).\n\
             pub const BOARD: tickscope_core::board::Board = {board};\n\
             /// The EL2 regime's translation tables as runs (see `tickscope_core::layout::Run`).\n\
             const RUNS: &[tickscope_core::layout::Run] = {runs};\n\
             /// The cores' MPIDR ranges (boards/{name}.toml `cpus.mpidr_ranges`).\n\
             const RANGES: &[[u64; 2]] = {ranges};\n"
        ),
    )
    .unwrap();
}
