//! The board this firmware image is built for, as constants: the description from
//! `boards/<TICKSCOPE_BOARD>.toml`, the memory layout, and the page tables the entry code writes.
//! The bottom layer of the firmware: data only, it imports nothing of the firmware.
#![no_std]

use tickscope_core::layout::{Layout, Run};

include!(concat!(env!("OUT_DIR"), "/board.rs"));

/// Most cores this image supports (the board's MPIDR list).
pub const MAX_CORES: usize = BOARD.mpidrs.len();

/// The firmware's memory layout on this board.
pub const LAYOUT: Layout = Layout::new(BOARD.load_address, BOARD.stack_size, MAX_CORES as u64);

const _: () = assert!(
    LAYOUT.check(BOARD.ram_base, BOARD.ram_size).is_ok(),
    "the layout does not fit the board (the board file check explains why)"
);

/// The cores' MPIDR affinities as inclusive ranges, each walking Aff0, in logical order (the board
/// file's `cpus.mpidr_ranges`); the entry code looks its own core up here.
pub static MPIDR_RANGES: [[u64; 2]; RANGES.len()] = to_array(RANGES);

/// Page-table runs for the EL2 regime (the entry code derives the EL1 regime's from them).
pub static PAGE_TABLE_RUNS: [Run; RUNS.len()] = to_array(RUNS);

const fn to_array<T: Copy, const N: usize>(s: &[T]) -> [T; N] {
    assert!(s.len() == N);
    let mut out = [s[0]; N];
    let mut i = 0;
    while i < N {
        out[i] = s[i];
        i += 1;
    }
    out
}
