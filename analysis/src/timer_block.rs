//! A timer-delta block read straight from its frame's payload, the one message a long timer run is
//! made of, without building a `Message`: postcard's generic path copied the 32-sample block twice
//! and dispatched per field (a fifth of a decode). Same layout and results as postcard, or `None`,
//! and the caller takes postcard's path (which then decodes it or counts it undecodable).

use tickscope_core::wire::msg::{BLOCK, Block, Message, TimerSample};

/// Postcard's tag of [`Message::TimerDeltas`] (its variant index, a varint), read from an
/// encoding of one so that it follows the enum's order.
pub fn timer_deltas_tag() -> u32 {
    let bytes = postcard::to_allocvec(&Message::TimerDeltas(Block {
        core: 0,
        items: heapless::Vec::new(),
    }))
    .expect("an empty block encodes");
    Bytes { b: &bytes, at: 0 }
        .varint(5, 32)
        .expect("a message starts with its tag") as u32
}

/// Reads `payload` as a [`Message::TimerDeltas`] (whose tag is `tag`) into `out`, deadlines
/// summed back and `cycles`/`entry` restored (as `delta_decoded`). Returns the core and the
/// number of samples, or `None` for any other message or anything postcard would not read the
/// same way.
pub fn read(payload: &[u8], tag: u32, out: &mut [TimerSample; BLOCK]) -> Option<(u16, usize)> {
    let mut r = Bytes { b: payload, at: 0 };
    if r.varint(5, 32)? != tag as u64 {
        return None;
    }
    let core = r.varint(3, 16)? as u16;
    let n = r.varint(10, 64)?;
    if n > BLOCK as u64 {
        return None;
    }
    let mut deadline = 0u64;
    for s in out.iter_mut().take(n as usize) {
        deadline = deadline.wrapping_add(r.varint(10, 64)?);
        *s = TimerSample {
            deadline,
            latency: r.varint(5, 32)? as u32,
            cycles: (r.varint(5, 32)? as u32).wrapping_sub(1),
            entry: (r.varint(5, 32)? as u32).wrapping_sub(1),
        };
    }
    Some((core, n as usize))
}

struct Bytes<'a> {
    b: &'a [u8],
    at: usize,
}

impl Bytes<'_> {
    /// Postcard's varint of a `bits`-bit integer, at most `max` bytes: little-endian groups of 7
    /// bits, the high bit set on all but the last; a last byte of the longest form may carry only
    /// the bits the type has left (postcard refuses the rest).
    #[inline(always)]
    fn varint(&mut self, max: usize, bits: u32) -> Option<u64> {
        // Most of a timer block's fields are one byte (latency, cycles, entry) or two (the
        // period): read those without the loop.
        let first = *self.b.get(self.at)?;
        if first < 0x80 {
            self.at += 1;
            return Some(first as u64);
        }
        if let Some(&second) = self.b.get(self.at + 1)
            && second < 0x80
        {
            self.at += 2;
            return Some((first & 0x7f) as u64 | (second as u64) << 7);
        }
        self.varint_long(max, bits)
    }

    #[cold]
    fn varint_long(&mut self, max: usize, bits: u32) -> Option<u64> {
        let mut out = 0u64;
        for i in 0..max {
            let byte = *self.b.get(self.at)?;
            self.at += 1;
            out |= ((byte & 0x7f) as u64) << (7 * i);
            if byte & 0x80 == 0 {
                let spare = bits - 7 * (max as u32 - 1);
                if i == max - 1 && (byte as u64) >> spare != 0 {
                    return None;
                }
                return Some(out);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use tickscope_core::wire::msg::delta_decoded;

    /// What postcard's generic path makes of `payload`, as this reader's answer would be.
    fn by_postcard(payload: &[u8]) -> Option<(u16, Vec<TimerSample>)> {
        match postcard::from_bytes::<Message>(payload).ok()? {
            Message::TimerDeltas(b) => Some((b.core, delta_decoded(&b.items).collect())),
            _ => None,
        }
    }

    fn by_reader(payload: &[u8]) -> Option<(u16, Vec<TimerSample>)> {
        let mut out = [TimerSample::default(); BLOCK];
        let (core, n) = read(payload, timer_deltas_tag(), &mut out)?;
        Some((core, out[..n].to_vec()))
    }

    fn sample() -> impl Strategy<Value = TimerSample> {
        (any::<u64>(), any::<u32>(), any::<u32>(), any::<u32>()).prop_map(|(d, l, c, e)| {
            TimerSample {
                deadline: d,
                latency: l,
                cycles: c,
                entry: e,
            }
        })
    }

    proptest! {
        /// Every block postcard encodes reads back the same, trailing bytes ignored as postcard
        /// ignores them.
        #[test]
        fn blocks_read_as_postcard_reads_them(
            core in any::<u16>(),
            items in proptest::collection::vec(sample(), 0..=BLOCK),
            tail in proptest::collection::vec(any::<u8>(), 0..4),
        ) {
            let mut bytes = postcard::to_allocvec(&Message::TimerDeltas(Block {
                core,
                items: heapless::Vec::from_slice(&items).unwrap(),
            }))
            .unwrap();
            bytes.extend_from_slice(&tail);
            prop_assert!(by_reader(&bytes).is_some());
            prop_assert_eq!(by_reader(&bytes), by_postcard(&bytes));
        }

        /// Any bytes the reader accepts, postcard reads to the same block: damaged, truncated or
        /// other messages are left to postcard.
        #[test]
        fn whatever_the_reader_accepts_postcard_reads_the_same(
            bytes in proptest::collection::vec(any::<u8>(), 0..64),
            tagged in any::<bool>(),
        ) {
            let mut bytes = bytes;
            if tagged && !bytes.is_empty() {
                bytes[0] = timer_deltas_tag() as u8;
            }
            if let Some(got) = by_reader(&bytes) {
                prop_assert_eq!(Some(got), by_postcard(&bytes));
            }
        }
    }

    #[test]
    fn other_messages_and_overlong_varints_are_left_to_postcard() {
        let end = postcard::to_allocvec(&Message::End(tickscope_core::wire::msg::Trailer {
            status: 0,
            cores_online: 4,
            at: 1,
        }))
        .unwrap();
        assert!(by_reader(&end).is_none());
        // A u16 core in three bytes whose last carries a bit beyond 16: postcard refuses it.
        let tag = timer_deltas_tag() as u8;
        assert!(by_reader(&[tag, 0xff, 0xff, 0x04, 0]).is_none());
        assert!(by_postcard(&[tag, 0xff, 0xff, 0x04, 0]).is_none());
        assert_eq!(
            by_reader(&[tag, 0xff, 0xff, 0x03, 0]),
            Some((u16::MAX, vec![]))
        );
        // More samples than a block holds.
        assert!(by_reader(&[tag, 0, 33]).is_none());
    }
}
