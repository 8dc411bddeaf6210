//! Lock-free single-producer single-consumer ring that never blocks the producer: when it is full
//! the item is dropped and counted, so a measured core never waits for the I/O core.
//!
//! Used between a measured core and core 0 in the firmware, and between the measuring thread and
//! the writer thread in the Linux probe. Storage is borrowed so it can live in a `static`.

use core::cell::UnsafeCell;
use core::mem::MaybeUninit;
use core::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

/// One slot of ring storage.
pub type Slot<T> = UnsafeCell<MaybeUninit<T>>;

/// Creates slot storage, usable in `static` initialisers: `[const { empty_slot() }; N]`.
pub const fn empty_slot<T>() -> Slot<T> {
    UnsafeCell::new(MaybeUninit::uninit())
}

/// The ring. Create it over a power-of-two slice of slots, then [`Ring::split`] once.
pub struct Ring<'a, T: Copy> {
    slots: &'a [Slot<T>],
    mask: usize,
    /// Next index the producer writes (only the producer stores it).
    head: AtomicUsize,
    /// Next index the consumer reads (only the consumer stores it).
    tail: AtomicUsize,
    /// Items dropped because the ring was full.
    lost: AtomicU64,
    /// Items accepted.
    pushed: AtomicU64,
    split: AtomicBool,
}

// SAFETY: the ring hands each slot to exactly one side at a time: the producer writes slots in
// [head, tail + len) and publishes them with a Release store of `head`; the consumer reads slots in
// [tail, head) after an Acquire load of `head` and releases them with a Release store of `tail`.
// `split` guarantees one producer and one consumer. T: Send because items cross threads/cores.
unsafe impl<T: Copy + Send> Sync for Ring<'_, T> {}

/// The producing side (exactly one exists per ring).
pub struct Producer<'r, 'a, T: Copy> {
    ring: &'r Ring<'a, T>,
}

/// The consuming side (exactly one exists per ring).
pub struct Consumer<'r, 'a, T: Copy> {
    ring: &'r Ring<'a, T>,
}

impl<'a, T: Copy> Ring<'a, T> {
    /// A ring over `slots`, whose length must be a power of two.
    pub const fn new(slots: &'a [Slot<T>]) -> Self {
        assert!(
            slots.len().is_power_of_two(),
            "ring capacity must be a power of two"
        );
        Ring {
            slots,
            mask: slots.len() - 1,
            head: AtomicUsize::new(0),
            tail: AtomicUsize::new(0),
            lost: AtomicU64::new(0),
            pushed: AtomicU64::new(0),
            split: AtomicBool::new(false),
        }
    }

    /// Hands out the producer and consumer. Returns `None` after the first call, so there is
    /// never more than one of each.
    pub fn split(&self) -> Option<(Producer<'_, 'a, T>, Consumer<'_, 'a, T>)> {
        if self.split.swap(true, Ordering::AcqRel) {
            return None;
        }
        Some((Producer { ring: self }, Consumer { ring: self }))
    }

    /// Capacity in items.
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// Items dropped because the ring was full.
    pub fn lost(&self) -> u64 {
        self.lost.load(Ordering::Relaxed)
    }

    /// Items accepted so far.
    pub fn pushed(&self) -> u64 {
        self.pushed.load(Ordering::Relaxed)
    }
}

impl<T: Copy> Producer<'_, '_, T> {
    /// Appends an item; when the ring is full the item is dropped, counted, and `false` returned.
    #[inline]
    pub fn push(&mut self, item: T) -> bool {
        let r = self.ring;
        let head = r.head.load(Ordering::Relaxed);
        let tail = r.tail.load(Ordering::Acquire);
        if head.wrapping_sub(tail) > r.mask {
            r.lost.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        // We are the only producer (split() hands out one).
        // SAFETY: slot `head` is outside [tail, head): the consumer reads it only once published.
        unsafe { (*r.slots[head & r.mask].get()).write(item) };
        r.head.store(head.wrapping_add(1), Ordering::Release);
        r.pushed.fetch_add(1, Ordering::Relaxed);
        true
    }

    /// Counts `n` items as lost without offering them (e.g. samples the producer had to skip).
    pub fn count_lost(&mut self, n: u64) {
        self.ring.lost.fetch_add(n, Ordering::Relaxed);
    }
}

impl<T: Copy> Consumer<'_, '_, T> {
    /// Takes the oldest item, if any.
    #[inline]
    pub fn pop(&mut self) -> Option<T> {
        let r = self.ring;
        let tail = r.tail.load(Ordering::Relaxed);
        let head = r.head.load(Ordering::Acquire);
        if tail == head {
            return None;
        }
        // The producer wrote it before its Release store of `head`, which our Acquire load saw,
        // SAFETY: and slot `tail` in [tail, head) stays untouched by it until we advance `tail`.
        let item = unsafe { (*r.slots[tail & r.mask].get()).assume_init() };
        r.tail.store(tail.wrapping_add(1), Ordering::Release);
        Some(item)
    }

    /// Items waiting.
    pub fn len(&self) -> usize {
        let r = self.ring;
        r.head
            .load(Ordering::Acquire)
            .wrapping_sub(r.tail.load(Ordering::Relaxed))
    }

    /// Whether nothing is waiting.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Items dropped by the producer so far.
    pub fn lost(&self) -> u64 {
        self.ring.lost()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_ring_drops_and_counts() {
        let slots: [Slot<u32>; 4] = [const { empty_slot() }; 4];
        let ring = Ring::new(&slots);
        let (mut p, mut c) = ring.split().unwrap();
        assert!(ring.split().is_none(), "only one producer/consumer pair");
        for i in 0..6 {
            p.push(i);
        }
        assert_eq!(ring.lost(), 2);
        assert_eq!(ring.pushed(), 4);
        assert_eq!(
            (0..4).map(|_| c.pop().unwrap()).collect::<Vec<_>>(),
            vec![0, 1, 2, 3]
        );
        assert_eq!(c.pop(), None);
        assert!(p.push(9));
        assert_eq!(c.pop(), Some(9));
    }

    #[test]
    fn threads_see_every_item_in_order_or_counted_lost() {
        let slots: Vec<Slot<u64>> = (0..256).map(|_| empty_slot()).collect();
        let ring = Ring::new(&slots);
        let (mut p, mut c) = ring.split().unwrap();
        const N: u64 = 200_000;
        let received = std::thread::scope(|s| {
            s.spawn(move || {
                for i in 0..N {
                    p.push(i);
                }
            });
            let mut got = Vec::new();
            let mut last = None;
            loop {
                if let Some(v) = c.pop() {
                    if let Some(l) = last {
                        assert!(v > l, "out of order: {v} after {l}");
                    }
                    last = Some(v);
                    got.push(v);
                    if v == N - 1 {
                        break;
                    }
                } else if ring.pushed() + ring.lost() == N && c.is_empty() {
                    break;
                }
            }
            got
        });
        assert_eq!(
            received.len() as u64 + ring.lost(),
            N,
            "nothing silently lost"
        );
    }
}
