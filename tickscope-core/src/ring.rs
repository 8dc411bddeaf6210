//! Lock-free single-producer single-consumer ring that never blocks the producer: when it is full
//! the item is dropped and counted, so a measured core never waits for the I/O core.
//!
//! Used between a measured core and core 0 in the firmware, and between the measuring thread and
//! the writer thread in the Linux probe. Storage is borrowed so it can live in a `static`; the
//! ring's own state is all zero at first, so a `static` ring costs BSS, not image bytes.

use core::cell::UnsafeCell;
use core::mem::MaybeUninit;
use core::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

/// One slot of ring storage.
pub type Slot<T> = UnsafeCell<MaybeUninit<T>>;

/// Creates slot storage, usable in `static` initialisers: `[const { empty_slot() }; N]`.
pub const fn empty_slot<T>() -> Slot<T> {
    UnsafeCell::new(MaybeUninit::uninit())
}

/// What one side of the ring writes, alone on its cache line: 128 bytes, the line of the
/// ThunderX (and twice the common 64), so the producer's stores never invalidate the line the
/// consumer polls, and the other way round.
#[repr(align(128))]
struct Side<T>(T);

/// The producer's counters. Only the producer stores them, so they are plain load/store pairs
/// (no atomic read-modify-write on the measured core); others only read them.
struct ProducerSide {
    /// Next index the producer writes.
    head: AtomicUsize,
    /// Items dropped because the ring was full.
    lost: AtomicU64,
    /// Items accepted.
    pushed: AtomicU64,
}

/// The ring's state. Create it, then [`Ring::split`] it once over a power-of-two slice of slots.
pub struct Ring<T: Copy> {
    split: AtomicBool,
    producer: Side<ProducerSide>,
    /// Next index the consumer reads (only the consumer stores it).
    tail: Side<AtomicUsize>,
    _items: core::marker::PhantomData<T>,
}

/// Adds `n` to a counter only the caller stores: a load and a store, no atomic read-modify-write.
#[inline(always)]
fn bump(c: &AtomicU64, n: u64) {
    c.store(c.load(Ordering::Relaxed).wrapping_add(n), Ordering::Relaxed);
}

/// The producing side (exactly one exists per ring).
pub struct Producer<'r, 'a, T: Copy> {
    ring: &'r Ring<T>,
    slots: &'a [Slot<T>],
}

/// The consuming side (exactly one exists per ring).
pub struct Consumer<'r, 'a, T: Copy> {
    ring: &'r Ring<T>,
    slots: &'a [Slot<T>],
}

// SAFETY: the two sides share `slots` through the protocol of the ring: the producer writes slots
// in [head, tail + len) and publishes them with a Release store of `head`; the consumer reads
// slots in [tail, head) after an Acquire load of `head` and releases them with a Release store of
// `tail`. `split` hands out one of each, over one slice. T: Send because items cross cores.
unsafe impl<T: Copy + Send> Send for Producer<'_, '_, T> {}
// SAFETY: as for the producer.
unsafe impl<T: Copy + Send> Send for Consumer<'_, '_, T> {}

impl<T: Copy> Default for Ring<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Copy> Ring<T> {
    /// A ring not yet split.
    pub const fn new() -> Self {
        Ring {
            split: AtomicBool::new(false),
            producer: Side(ProducerSide {
                head: AtomicUsize::new(0),
                lost: AtomicU64::new(0),
                pushed: AtomicU64::new(0),
            }),
            tail: Side(AtomicUsize::new(0)),
            _items: core::marker::PhantomData,
        }
    }

    /// Hands out the producer and consumer over `slots` (a power-of-two number of them).
    /// Returns `None` after the first call, so there is never more than one of each.
    pub fn split<'a>(
        &self,
        slots: &'a [Slot<T>],
    ) -> Option<(Producer<'_, 'a, T>, Consumer<'_, 'a, T>)> {
        assert!(
            slots.len().is_power_of_two(),
            "ring capacity must be a power of two"
        );
        if self.split.swap(true, Ordering::AcqRel) {
            return None;
        }
        Some((
            Producer { ring: self, slots },
            Consumer { ring: self, slots },
        ))
    }

    /// Items dropped because the ring was full.
    pub fn lost(&self) -> u64 {
        self.producer.0.lost.load(Ordering::Relaxed)
    }

    /// Items accepted so far.
    pub fn pushed(&self) -> u64 {
        self.producer.0.pushed.load(Ordering::Relaxed)
    }
}

impl<T: Copy> Producer<'_, '_, T> {
    /// Appends an item; when the ring is full the item is dropped, counted, and `false` returned.
    #[inline]
    pub fn push(&mut self, item: T) -> bool {
        let r = self.ring;
        let p = &r.producer.0;
        let mask = self.slots.len() - 1;
        let head = p.head.load(Ordering::Relaxed);
        let tail = r.tail.0.load(Ordering::Acquire);
        if head.wrapping_sub(tail) > mask {
            bump(&p.lost, 1);
            return false;
        }
        // We are the only producer (split() hands out one).
        // SAFETY: slot `head` is outside [tail, head): the consumer reads it only once published.
        // `head & mask` is below the length, a power of two (checked by `split`).
        unsafe { (*self.slots.get_unchecked(head & mask).get()).write(item) };
        p.head.store(head.wrapping_add(1), Ordering::Release);
        bump(&p.pushed, 1);
        true
    }

    /// Items dropped so far.
    pub fn lost(&self) -> u64 {
        self.ring.lost()
    }

    /// Counts `n` items as lost without offering them (e.g. samples the producer had to skip).
    pub fn count_lost(&mut self, n: u64) {
        bump(&self.ring.producer.0.lost, n);
    }
}

impl<T: Copy> Consumer<'_, '_, T> {
    /// Takes the oldest item, if any.
    #[inline]
    pub fn pop(&mut self) -> Option<T> {
        let r = self.ring;
        let tail = r.tail.0.load(Ordering::Relaxed);
        let head = r.producer.0.head.load(Ordering::Acquire);
        if tail == head {
            return None;
        }
        // The producer wrote it before its Release store of `head`, which our Acquire load saw,
        // SAFETY: and slot `tail` in [tail, head) stays untouched by it until we advance `tail`;
        // the index is masked below the length, a power of two (checked by `split`).
        let item = unsafe {
            let slot = self.slots.get_unchecked(tail & (self.slots.len() - 1));
            (*slot.get()).assume_init()
        };
        r.tail.0.store(tail.wrapping_add(1), Ordering::Release);
        Some(item)
    }

    /// Items waiting.
    pub fn len(&self) -> usize {
        let r = self.ring;
        r.producer
            .0
            .head
            .load(Ordering::Acquire)
            .wrapping_sub(r.tail.0.load(Ordering::Relaxed))
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
    fn the_two_sides_never_share_a_cache_line() {
        let ring = Ring::<u32>::new();
        let head = &ring.producer.0.head as *const _ as usize;
        let tail = &ring.tail.0 as *const _ as usize;
        assert!(head.abs_diff(tail) >= 128 && head.is_multiple_of(128) && tail.is_multiple_of(128));
    }

    #[test]
    fn full_ring_drops_and_counts() {
        let slots: [Slot<u32>; 4] = [const { empty_slot() }; 4];
        let ring = Ring::new();
        let (mut p, mut c) = ring.split(&slots).unwrap();
        assert!(
            ring.split(&slots).is_none(),
            "only one producer/consumer pair"
        );
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
        let ring = Ring::new();
        let (mut p, mut c) = ring.split(&slots).unwrap();
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
