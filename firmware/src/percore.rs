//! Per-core data without locks: each core owns slot `core` of a [`PerCore`] array, so the
//! interrupt path on a measured core never takes a lock another core could hold.

use core::cell::UnsafeCell;

use crate::board::MAX_CORES;

/// One `T` per core.
pub struct PerCore<T> {
    slots: [UnsafeCell<T>; MAX_CORES],
}

// SAFETY: slot `i` is only accessed through `PerCore::mine`/`with_mine` on core `i` (the index
// comes from TPIDR_EL0, which each core sets once to its own index), or through `PerCore::other`
// whose callers guarantee the owner is not running on it (parked, or finished and published).
unsafe impl<T: Send> Sync for PerCore<T> {}

/// Types with a constant initial value, so a [`PerCore`] can live in a `static`.
pub trait ConstInit {
    /// The initial value of every slot.
    const INIT: Self;
}

impl<T> ConstInit for core::mem::MaybeUninit<T> {
    const INIT: Self = core::mem::MaybeUninit::uninit();
}

impl<T: ConstInit> PerCore<T> {
    /// Every slot at `T::INIT`.
    pub const fn new() -> Self {
        PerCore {
            slots: [const { UnsafeCell::new(T::INIT) }; MAX_CORES],
        }
    }
}

impl<T> PerCore<T> {
    /// This core's slot.
    ///
    /// # Safety
    /// The caller must not create two live `&mut` to the same slot: on a core, either the
    /// interrupt handler or the interrupted code uses the slot at a time (the code enables the
    /// interrupt only after setting up, and reads results after disabling it).
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn mine(&self) -> &mut T {
        let core = crate::smp::core_index();
        // SAFETY: the slot belongs to this core; exclusivity is the caller's contract.
        unsafe { &mut *self.slots[core].get() }
    }

    /// Another core's slot.
    ///
    /// # Safety
    /// Core `core` must not be using its slot (parked, or done and its results published with
    /// Release ordering that the caller observed with Acquire).
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn other(&self, core: usize) -> &mut T {
        // SAFETY: the owner is not running on the slot, per the caller's contract.
        unsafe { &mut *self.slots[core].get() }
    }
}
