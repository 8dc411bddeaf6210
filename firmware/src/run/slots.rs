//! Where a measured core and the boot core meet: each measured slot's rings, hand-off and gap
//! table, the window's bounds and the per-core DONE flags. Written before the Measure command or
//! after DONE by one side only; the locks are never contended.

use core::sync::atomic::{AtomicBool, AtomicU64};

use tickscope_core::checked::nth;
use tickscope_core::irq::{IrqRec, SampleRec};
use tickscope_core::probe::{GAP_SLOTS, GapTable};
use tickscope_core::ring::{Producer, Ring, Slot, empty_slot};
use tickscope_core::wire::msg::CoreStatus;
use tickscope_cpu::MAX_CORES;
use tickscope_cpu::cores::Line;
use tickscope_cpu::lock::Mutex;

pub use super::ship::MAX_MEASURED;
use super::ship::Shipper;

const SAMPLE_CAP: usize = 1 << 16;
const IRQ_CAP: usize = 1 << 14;

/// Ring storage (slots), in the no-init region.
pub struct Store<T, const N: usize>(pub [Slot<T>; N]);
// SAFETY: slots are only accessed through the rings, which hand each slot to one side at a time.
unsafe impl<T: Send, const N: usize> Sync for Store<T, N> {}

#[unsafe(link_section = ".noinit.samples")]
pub static SAMPLE_STORE: [Store<SampleRec, SAMPLE_CAP>; MAX_MEASURED] =
    [const { Store([const { empty_slot() }; SAMPLE_CAP]) }; MAX_MEASURED];
#[unsafe(link_section = ".noinit.irqs")]
pub static IRQ_STORE: [Store<IrqRec, IRQ_CAP>; MAX_MEASURED] =
    [const { Store([const { empty_slot() }; IRQ_CAP]) }; MAX_MEASURED];

pub static SAMPLE_RINGS: [Ring<SampleRec>; MAX_MEASURED] = [const { Ring::new() }; MAX_MEASURED];
pub static IRQ_RINGS: [Ring<IrqRec>; MAX_MEASURED] = [const { Ring::new() }; MAX_MEASURED];

/// What the boot core hands a measured core before the Measure command, and what that core
/// hands back (its status) before it says DONE.
pub struct Handoff {
    /// Ring and gap-table slot.
    pub slot: usize,
    /// Producer of the sample ring.
    pub samples: Option<Producer<'static, 'static, SampleRec>>,
    /// Producer of the interrupt ring.
    pub irqs: Option<Producer<'static, 'static, IrqRec>>,
    /// Event threshold in counter ticks.
    pub threshold_ticks: u64,
    /// The core's status, written at the end of its window.
    pub status: CoreStatus,
}

/// A slot's shipper, in place (a shipper is a few KiB: moving them around on a 32 KiB stack is
/// how stacks overflow). Not an `Option<Shipper>`: that encodes "none" in a niche of the shipper
/// (a non-zero byte) and would put the slots into the loaded image instead of BSS; tag 0 is
/// `Empty`.
#[repr(u8)]
#[allow(clippy::large_enum_variant)] // in place in a static, never moved: boxing is the point avoided
pub enum ShipperSlot {
    /// No measurement uses this slot.
    Empty = 0,
    /// The shipper of the slot's measured core.
    Ready(Shipper) = 1,
}

impl ShipperSlot {
    /// The shipper, if there is one.
    pub fn get(&mut self) -> Option<&mut Shipper> {
        match self {
            ShipperSlot::Ready(s) => Some(s),
            ShipperSlot::Empty => None,
        }
    }
}

/// Per slot: the boot core drains through it during the window (`drain=live`) or after DONE;
/// under `-icount` the measured core holds it for its window and ships its own samples at its
/// checkpoints (its own time, never another core's).
pub static SHIPPERS: [Mutex<ShipperSlot>; MAX_MEASURED] =
    [const { Mutex::new(ShipperSlot::Empty) }; MAX_MEASURED];

/// Per core; the boot core fills it before the command and reads it after DONE, the measured
/// core holds it for its window in between: the lock is never contended.
pub static HANDOFF: [Mutex<Handoff>; MAX_CORES] = [const {
    Mutex::new(Handoff {
        slot: 0,
        samples: None,
        irqs: None,
        threshold_ticks: 0,
        status: EMPTY_STATUS,
    })
}; MAX_CORES];

/// Per slot; the measured core holds it for its window, the boot core reads it after DONE.
pub static GAPS: [Mutex<GapTable>; MAX_MEASURED] =
    [const { Mutex::new([0; GAP_SLOTS]) }; MAX_MEASURED];

/// Window bounds (virtual counter), set before the Measure command.
pub static START_AT: AtomicU64 = AtomicU64::new(0);
/// See [`START_AT`].
pub static END_AT: AtomicU64 = AtomicU64::new(0);
/// A measured core finished and handed its status back.
pub static DONE: [Line<AtomicBool>; MAX_CORES] =
    [const { Line(AtomicBool::new(false)) }; MAX_CORES];

/// A status with nothing counted yet.
pub const EMPTY_STATUS: CoreStatus = CoreStatus {
    core: 0,
    samples: 0,
    lost: 0,
    window_start: 0,
    window_end: 0,
    ticks: 0,
    foreign_irqs: 0,
    overruns: 0,
    blind: 0,
    ghosts: 0,
    early: 0,
};

/// Items the rings of `slot` dropped because they were full.
pub fn lost(slot: usize) -> u64 {
    nth(&SAMPLE_RINGS, slot).lost() + nth(&IRQ_RINGS, slot).lost()
}
