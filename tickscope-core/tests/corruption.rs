//! A recorded capture pushed through damage: bytes flipped inside frames, whole frames dropped,
//! garbage inserted between frames, the stream truncated. The decoder must not panic, must decode
//! every intact frame, and must count the corrupt, dropped and garbage frames exactly. Then random
//! and mutated streams (a bounded fuzz run) must never panic or grow memory.

use proptest::prelude::*;
use tickscope_core::wire::{Chunk, Deframer, LinkStats, Message, SeqTracker};

const CAPTURE: &[u8] = include_bytes!("data/timer-tick.capture");

/// Decodes a stream: (intact frames by sequence number, link statistics, truncated?).
fn decode(stream: &[u8], piece: usize) -> (Vec<(u32, Message)>, LinkStats, bool) {
    let mut d = Deframer::new();
    let mut seq = SeqTracker::new();
    let mut frames = Vec::new();
    let mut sink = |c: Chunk<'_>| match c {
        Chunk::Frame {
            seq: n, payload, ..
        } => {
            if seq.frame(n) {
                frames.push((
                    n,
                    postcard::from_bytes::<Message>(payload).expect("intact frames parse"),
                ));
            }
        }
        Chunk::Corrupt { signature, .. } => seq.damaged(signature),
        Chunk::VersionMismatch { .. } => seq.stats.version_mismatches += 1,
        Chunk::Text(_) => seq.stats.text_chunks += 1,
    };
    for part in stream.chunks(piece.max(1)) {
        d.push(part, &mut sink);
    }
    let truncated = d.finish(&mut sink).is_some();
    seq.end();
    (frames, seq.stats, truncated)
}

/// The capture split into frames (each with its two zero delimiters) and the text between.
fn frames() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut cur = Vec::new();
    let mut in_frame = false;
    for &b in CAPTURE {
        if b == 0 {
            if in_frame {
                cur.push(0);
                out.push(std::mem::take(&mut cur));
                in_frame = false;
            } else {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
                cur.push(0);
                in_frame = true;
            }
        } else {
            cur.push(b);
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn is_frame(f: &[u8]) -> bool {
    f.first() == Some(&0) && f.last() == Some(&0) && f.len() > 2
}

#[test]
fn the_recording_decodes_cleanly() {
    let (msgs, stats, truncated) = decode(CAPTURE, 4096);
    assert!(!truncated);
    assert!(stats.is_clean(), "{stats:?}");
    assert!(matches!(msgs.first(), Some((0, Message::Header(_)))));
    assert!(matches!(msgs.last(), Some((_, Message::End(_)))));
    assert_eq!(msgs.len(), frames().iter().filter(|f| is_frame(f)).count());
}

#[derive(Debug, Clone)]
enum Damage {
    Flip { at: usize, xor: u8 },
    Drop,
    InsertAfter(Vec<u8>),
    None,
}

fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        6 => Just(Damage::None),
        1 => (any::<usize>(), 1u8..=255).prop_map(|(at, xor)| Damage::Flip { at, xor }),
        1 => Just(Damage::Drop),
        // Foreign bytes: 0xff never occurs in UTF-8, so this is garbage, not console text.
        1 => prop::collection::vec(1u8..=0xff, 0..40).prop_map(|mut v| {
            v.splice(0..0, [0xff, 0xff]);
            Damage::InsertAfter(v)
        }),
    ]
}

proptest! {
    // A bounded fuzz run: a few thousand damaged and random streams in a couple of seconds.
    #![proptest_config(ProptestConfig::with_cases(600))]

    #[test]
    fn damage_is_counted_exactly(plan in prop::collection::vec(damage(), 64..65), piece in 1usize..300, cut in any::<bool>()) {
        let all = frames();
        let clean = decode(CAPTURE, 4096).0;
        let mut stream = Vec::new();
        let mut kept = Vec::new();
        let (mut flipped, mut dropped, mut garbage) = (0u64, 0u64, 0u64);
        let mut seq = 0u32;
        let last_frame = all.iter().rposition(|f| is_frame(f)).unwrap();
        for (i, f) in all.iter().enumerate() {
            // The header and the trailer stay intact; everything between may be damaged.
            let d = if is_frame(f) && seq > 0 && i != last_frame { plan[i % plan.len()].clone() } else { Damage::None };
            if !is_frame(f) {
                stream.extend_from_slice(f);
                continue;
            }
            match d {
                Damage::Flip { at, xor } => {
                    // Damage one byte after the frame signature (delimiter, COBS code, magic,
                    // version), never into a zero (that would split the frame in two).
                    let mut g = f.clone();
                    let at = 4 + at % (g.len() - 5);
                    let mut v = g[at] ^ xor;
                    if v == 0 {
                        v = g[at] ^ if xor == 0xff { 0x7f } else { 0xff };
                    }
                    g[at] = v;
                    stream.extend_from_slice(&g);
                    flipped += 1;
                }
                Damage::Drop => dropped += 1,
                Damage::InsertAfter(junk) => {
                    stream.extend_from_slice(f);
                    kept.push(seq);
                    stream.push(0);
                    stream.extend_from_slice(&junk);
                    stream.push(0);
                    garbage += 1;
                }
                Damage::None => {
                    stream.extend_from_slice(f);
                    kept.push(seq);
                }
            }
            seq += 1;
        }
        // Cut inside the last frame (console text may follow it: drop that too).
        let last_frame_end = stream.iter().rposition(|&b| b == 0).unwrap() + 1;
        let truncate_at = if cut { Some(last_frame_end - 3) } else { None };
        let stream = match truncate_at { Some(n) => stream[..n].to_vec(), None => stream };
        let (msgs, stats, truncated) = decode(&stream, piece);
        // Every intact frame decoded, identical to the clean decode.
        let want: Vec<&(u32, Message)> = clean.iter().filter(|(s, _)| kept.contains(s)).collect();
        let want: Vec<&(u32, Message)> = if cut { want[..want.len() - 1].to_vec() } else { want };
        let got: Vec<&(u32, Message)> = msgs.iter().collect();
        prop_assert_eq!(got, want);
        prop_assert_eq!(truncated, cut);
        if !cut {
            prop_assert_eq!(stats.frames_corrupt, flipped);
            prop_assert_eq!(stats.frames_dropped, dropped);
            prop_assert_eq!(stats.garbage_chunks, garbage);
            prop_assert_eq!(stats.frames_ok as usize, kept.len());
        }
    }

    #[test]
    fn random_streams_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..20_000), piece in 1usize..5000) {
        let (_, stats, _) = decode(&bytes, piece);
        prop_assert_eq!(stats.frames_ok, 0, "random bytes are not frames (CRC-32)");
    }

    #[test]
    fn mutated_recordings_never_panic(edits in prop::collection::vec((any::<usize>(), any::<u8>(), 0u8..3), 1..200), piece in 1usize..700) {
        let mut s = CAPTURE.to_vec();
        for (at, b, kind) in edits {
            if s.is_empty() { break; }
            let at = at % s.len();
            match kind {
                0 => s[at] = b,
                1 => { s.remove(at); }
                _ => s.insert(at, b),
            }
        }
        let (msgs, stats, _) = decode(&s, piece);
        // Whatever decodes is a prefix-ordered subset of the clean frames.
        let mut last = None;
        for (seq, _) in &msgs {
            prop_assert!(last.is_none_or(|l| *seq > l));
            last = Some(*seq);
        }
        prop_assert!(stats.frames_ok as usize == msgs.len());
    }
}
