//! The largest event per slot of a core's window, taken from every event as it is decoded (the
//! kept ones and those beyond), so the maxima plot covers a run of any length in bounded memory.
//! Slots are 10 ms, widened tenfold whenever the window would need more than [`MAX_SLOTS`].

/// Slots at most: 800 KB a core. A window needing more widens them tenfold (10 ms up to 1000 s
/// of window, 100 ms up to 10,000 s, ...), so a slot stays at most a 10,000th of the window: no
/// longer than the shortest interval `--interval` may ask for.
pub const MAX_SLOTS: u64 = 100_000;
/// The narrowest slot, ns: the shortest interval the maxima plot chooses.
pub const FIRST_WIDTH_NS: u64 = 10_000_000;

/// One core's largest event per slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaxSlots {
    /// Slot width, ns: 10 ms times a power of ten, so it divides every 1-2-5 interval at least
    /// as long.
    width_ns: u64,
    /// Per slot from the window's start, its largest event in ns (0: none).
    max: Vec<u64>,
    /// Events added.
    events: u64,
}

impl Default for MaxSlots {
    fn default() -> Self {
        MaxSlots {
            width_ns: FIRST_WIDTH_NS,
            max: Vec::new(),
            events: 0,
        }
    }
}

impl MaxSlots {
    /// An event `len_ns` long starting `at_ns` after the window opened.
    pub fn add(&mut self, at_ns: u64, len_ns: u64) {
        while at_ns / self.width_ns >= MAX_SLOTS {
            self.widen();
        }
        let i = (at_ns / self.width_ns) as usize;
        if i >= self.max.len() {
            self.max.resize(i + 1, 0);
        }
        self.max[i] = self.max[i].max(len_ns.max(1));
        self.events += 1;
    }

    /// Ten slots become one.
    fn widen(&mut self) {
        self.width_ns *= 10;
        self.max = self
            .max
            .chunks(10)
            .map(|c| c.iter().copied().max().unwrap_or(0))
            .collect();
    }

    /// The slot width, ns: an event's interval is exact when the interval is a multiple of it
    /// (else a slot across an interval's end counts in the interval it starts in).
    pub fn width_ns(&self) -> u64 {
        self.width_ns
    }

    /// Events added.
    pub fn events(&self) -> u64 {
        self.events
    }

    /// Each slot that has an event: (its start ns after the window opened, its largest event ns).
    pub fn slots(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.max
            .iter()
            .enumerate()
            .filter(|(_, m)| **m > 0)
            .map(|(i, &m)| (i as u64 * self.width_ns, m))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_slot_keeps_its_largest_and_a_long_window_widens_them() {
        let mut s = MaxSlots::default();
        s.add(5_000_000, 700);
        s.add(9_999_999, 900);
        s.add(10_000_000, 300);
        assert_eq!(s.slots().collect::<Vec<_>>(), [(0, 900), (10_000_000, 300)]);
        // 1,000 s and beyond no longer fit 100,000 slots of 10 ms: 100 ms slots, merged by max.
        s.add(1_000_000_000_000, 50);
        assert_eq!(s.width_ns(), 100_000_000);
        assert_eq!(
            s.slots().collect::<Vec<_>>(),
            [(0, 900), (1_000_000_000_000, 50)]
        );
        assert_eq!(s.events(), 4);
        assert!(s.max.len() as u64 <= MAX_SLOTS);
    }
}
