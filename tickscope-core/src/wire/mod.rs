//! The wire format: [`msg::Message`]s encoded with postcard inside COBS frames carrying a magic
//! byte, the format version, a sequence number and a CRC-32 ([`frame`]).
//!
//! [`LinkStats`] turns what the deframer saw into exact counts of good, corrupt and dropped frames
//! from the sequence numbers: every frame sent is either decoded or counted.

pub mod frame;
pub mod msg;
pub mod out;
pub mod ser;

pub use frame::{Chunk, Deframer, EncodeError, Encoder, encode_frame};
pub use msg::Message;

/// First byte of every frame body.
pub const MAGIC: u8 = 0xA7;
/// Wire format version. Bump on any incompatible change to [`msg`] or the frame layout.
pub const FORMAT_VERSION: u8 = 4;
/// Largest frame body (magic + version + seq + payload + CRC) before COBS.
pub const MAX_BODY: usize = 1024;
/// Largest frame on the wire: COBS overhead and both delimiters included.
pub const MAX_WIRE: usize = MAX_BODY + MAX_BODY / 254 + 3;

/// Exact accounting of a link, from sequence numbers and deframer results.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkStats {
    /// Bytes consumed.
    pub bytes: u64,
    /// Frames decoded intact.
    pub frames_ok: u64,
    /// Frames that arrived damaged (a corrupt chunk where a missing sequence number was).
    pub frames_corrupt: u64,
    /// Frames that never arrived (missing sequence numbers without a damaged chunk).
    pub frames_dropped: u64,
    /// Damaged chunks that are not frames (no frame signature), or damaged frames beyond the
    /// missing sequence numbers (duplicates).
    pub garbage_chunks: u64,
    /// Text chunks (console lines, boot-loader output).
    pub text_chunks: u64,
    /// Sound frames of another format version.
    pub version_mismatches: u64,
    /// Frames whose sequence number went backwards (duplicated or reordered).
    pub out_of_order: u64,
    /// The payload of an intact frame did not parse as a message.
    pub undecodable: u64,
}

impl LinkStats {
    /// Frames lost in total (corrupt + dropped).
    pub fn frames_lost(&self) -> u64 {
        self.frames_corrupt + self.frames_dropped
    }

    /// Whether anything at all went wrong on the link.
    pub fn is_clean(&self) -> bool {
        self.frames_lost() == 0
            && self.garbage_chunks == 0
            && self.version_mismatches == 0
            && self.out_of_order == 0
            && self.undecodable == 0
    }
}

/// Attributes sequence-number gaps to corrupt or dropped frames: a damaged chunk that still
/// carries the frame signature (magic byte) counts as a corrupt frame in the gap it sits in; one
/// without it is garbage. A frame whose signature itself was destroyed therefore counts as one
/// garbage chunk plus one dropped frame: nothing is lost from the totals.
#[derive(Debug, Clone, Copy, Default)]
pub struct SeqTracker {
    next: u32,
    pending_corrupt: u64,
    pending_garbage: u64,
    /// Totals.
    pub stats: LinkStats,
}

impl SeqTracker {
    /// A tracker expecting frame 0 first.
    pub const fn new() -> Self {
        SeqTracker {
            next: 0,
            pending_corrupt: 0,
            pending_garbage: 0,
            stats: LinkStats {
                bytes: 0,
                frames_ok: 0,
                frames_corrupt: 0,
                frames_dropped: 0,
                garbage_chunks: 0,
                text_chunks: 0,
                version_mismatches: 0,
                out_of_order: 0,
                undecodable: 0,
            },
        }
    }

    /// A damaged chunk with the frame signature was seen.
    pub fn corrupt(&mut self) {
        self.pending_corrupt += 1;
    }

    /// A damaged chunk without the frame signature (foreign bytes) was seen.
    pub fn garbage(&mut self) {
        self.pending_garbage += 1;
    }

    /// A damaged chunk, classified by its signature.
    pub fn damaged(&mut self, signature: bool) {
        if signature {
            self.corrupt()
        } else {
            self.garbage()
        }
    }

    /// An intact frame with sequence number `seq` arrived. Returns false when it is out of order
    /// (and should be ignored).
    pub fn frame(&mut self, seq: u32) -> bool {
        if seq < self.next {
            self.stats.out_of_order += 1;
            self.stats.garbage_chunks += self.pending_corrupt + self.pending_garbage;
            self.pending_corrupt = 0;
            self.pending_garbage = 0;
            return false;
        }
        self.settle((seq - self.next) as u64);
        self.stats.frames_ok += 1;
        self.next = seq.wrapping_add(1);
        true
    }

    /// Settles the gap before a frame (or before the known end): `missing` sequence numbers
    /// against the damaged chunks seen in that gap.
    fn settle(&mut self, missing: u64) {
        let corrupt = self.pending_corrupt.min(missing);
        self.stats.frames_corrupt += corrupt;
        self.stats.frames_dropped += missing - corrupt;
        self.stats.garbage_chunks += self.pending_corrupt - corrupt + self.pending_garbage;
        self.pending_corrupt = 0;
        self.pending_garbage = 0;
    }

    /// The stream ended. Damaged chunks after the last good frame count as corrupt frames
    /// (without a trailer, frames dropped after the last one cannot be counted).
    pub fn end(&mut self) {
        self.stats.frames_corrupt += self.pending_corrupt;
        self.stats.garbage_chunks += self.pending_garbage;
        self.pending_corrupt = 0;
        self.pending_garbage = 0;
    }

    /// Sequence number expected next (= frames accounted for so far).
    pub fn next_seq(&self) -> u32 {
        self.next
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaps_are_split_into_corrupt_and_dropped() {
        let mut t = SeqTracker::new();
        assert!(t.frame(0));
        t.corrupt(); // frame 1 damaged
        assert!(t.frame(4)); // 2 and 3 dropped
        t.corrupt();
        t.garbage(); // one damaged frame + one inserted garbage chunk
        assert!(t.frame(6));
        assert!(!t.frame(6), "duplicate");
        t.end();
        let s = t.stats;
        assert_eq!((s.frames_ok, s.frames_corrupt, s.frames_dropped), (3, 2, 2));
        assert_eq!((s.garbage_chunks, s.out_of_order), (1, 1));
    }
}
