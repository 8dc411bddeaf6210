//! An interfering core: streams over its part of a shared buffer until told to stop, loading the
//! memory system and the shared caches while other cores measure.

use core::sync::atomic::{AtomicU8, Ordering};

use tickscope_cpu::cores;

use super::commands::{Command, current_command};

/// Bytes of the interference buffer the interfering cores share.
const INTERFERE_BYTES: usize = 4 << 20;

/// Relaxed loads and stores compile to plain byte accesses: the load is memory traffic, and no
/// value read here decides anything.
#[unsafe(link_section = ".noinit.interfere")]
static BUFFER: [AtomicU8; INTERFERE_BYTES] = [const { AtomicU8::new(0) }; INTERFERE_BYTES];

/// Runs until the boot core sends `Stop`.
pub fn run(core: usize) {
    let share = INTERFERE_BYTES / cores::expected().max(1);
    let mine = BUFFER.get(core * share..(core + 1) * share).unwrap_or(&[]);
    let mut round: u8 = 0;
    while current_command() == Command::Interfere {
        for byte in mine.iter().step_by(64) {
            byte.store(
                byte.load(Ordering::Relaxed).wrapping_add(round),
                Ordering::Relaxed,
            );
        }
        round = round.wrapping_add(1);
    }
}
