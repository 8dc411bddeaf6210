//! Framing: `0x00, COBS(body), 0x00` with body = magic, version, sequence number, postcard
//! payload, CRC-32. The deframer splits any byte stream back into frames, text lines and junk.
//!
//! Why our own COBS: the `cobs` crate decodes through a per-byte state machine; the host must
//! decode at 200+ MB/s, which needs the block copies below. The format is plain COBS (zero as the
//! delimiter), so any COBS implementation can read our captures.
//!
//! Invariants every future format version keeps: the delimiters, COBS, the CRC-32 (ISO-HDLC) of
//! everything before it in the last 4 bytes, and `[MAGIC, VERSION]` as the first two bytes. That is
//! what lets an old decoder say "version mismatch" instead of printing garbage.

#[cfg(any(not(feature = "fast-crc"), test))]
use crc::{CRC_32_ISO_HDLC, Crc};
use serde::Serialize;

use super::{FORMAT_VERSION, MAGIC, MAX_BODY, MAX_WIRE};

// Host: slice-by-16 tables for decode throughput. Device: no table (1 KiB less in a 64 KiB
// image; core 0 frames a few kB/s at most).
// (With `fast-crc` only the tests use it, to check crc32fast against it.)
#[cfg(all(feature = "std", any(not(feature = "fast-crc"), test)))]
type CrcTable = crc::Table<16>;
#[cfg(not(feature = "std"))]
type CrcTable = crc::NoTable;

#[cfg(any(not(feature = "fast-crc"), test))]
static CRC32: Crc<u32, CrcTable> = Crc::<u32, CrcTable>::new(&CRC_32_ISO_HDLC);

/// The frames' CRC-32 (ISO-HDLC) of `bytes`. With `fast-crc` (the host's decoder only) it is
/// crc32fast's, which uses the CPU's carry-less multiply: the same sum at many times the table's
/// speed (the table was a tenth of the decoder's time). The firmware and the probe keep the
/// `crc` crate's (no 16 KiB of tables in the image; the probe's binary unchanged).
#[inline]
fn checksum(bytes: &[u8]) -> u32 {
    #[cfg(feature = "fast-crc")]
    {
        crc32fast::hash(bytes)
    }
    #[cfg(not(feature = "fast-crc"))]
    {
        CRC32.checksum(bytes)
    }
}

/// Bytes before the payload: magic, version, sequence number.
pub const HEADER_LEN: usize = 6;
/// Bytes after the payload: CRC-32.
pub const CRC_LEN: usize = 4;

/// Why a message could not be framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncodeError {
    /// The encoded message does not fit in [`MAX_BODY`].
    TooLarge,
}

/// COBS-encodes `src` into `dst` (which must hold `src.len() + src.len() / 254 + 1` bytes).
/// Returns the encoded length, or `None` when `dst` is too short. The output contains no zero
/// byte.
pub fn cobs_encode(src: &[u8], dst: &mut [u8]) -> Option<usize> {
    let mut code_at = 0;
    let mut out = 1;
    let mut code: u8 = 1;
    for &b in src {
        if b == 0 {
            *dst.get_mut(code_at)? = code;
            code_at = out;
            out += 1;
            code = 1;
        } else {
            *dst.get_mut(out)? = b;
            out += 1;
            code += 1;
            if code == 0xff {
                *dst.get_mut(code_at)? = code;
                code_at = out;
                out += 1;
                code = 1;
            }
        }
    }
    *dst.get_mut(code_at)? = code;
    Some(out)
}

/// The first zero byte of `bytes` (a frame delimiter).
#[inline]
fn zero_at(bytes: &[u8]) -> Option<usize> {
    #[cfg(feature = "fast-deframe")]
    return memchr::memchr(0, bytes);
    #[cfg(not(feature = "fast-deframe"))]
    return bytes.iter().position(|&b| b == 0);
}

/// COBS-decodes `src` (no delimiters) into `dst`. Returns the decoded length, or `None` when
/// the input is not valid COBS (a zero byte, a run past the end) or does not fit.
pub fn cobs_decode(src: &[u8], dst: &mut [u8]) -> Option<usize> {
    cobs_decode_runs::<true>(src, dst)
}

/// [`cobs_decode`], checking each run for zero bytes when `CHECK_ZEROS` (the deframer's chunks
/// hold none: it split them at their zeros).
fn cobs_decode_runs<const CHECK_ZEROS: bool>(src: &[u8], dst: &mut [u8]) -> Option<usize> {
    let mut i = 0;
    let mut out = 0;
    while i < src.len() {
        let code = src[i] as usize;
        if code == 0 {
            return None;
        }
        let run = code - 1;
        let start = i + 1;
        let end = start + run;
        if end > src.len() || out + run > dst.len() {
            return None;
        }
        let chunk = &src[start..end];
        if CHECK_ZEROS && chunk.contains(&0) {
            return None;
        }
        dst[out..out + run].copy_from_slice(chunk);
        out += run;
        i = end;
        if code != 0xff && i < src.len() {
            if out >= dst.len() {
                return None;
            }
            dst[out] = 0;
            out += 1;
        }
    }
    Some(out)
}

/// Builds one complete wire frame (with both delimiters) for `msg` into `out`.
pub fn encode_frame<'o, M: Serialize>(
    seq: u32,
    msg: &M,
    scratch: &mut [u8; MAX_BODY],
    out: &'o mut [u8; MAX_WIRE],
) -> Result<&'o [u8], EncodeError> {
    let (header, rest) = scratch.split_at_mut(HEADER_LEN);
    header[0] = MAGIC;
    header[1] = FORMAT_VERSION;
    header[2..6].copy_from_slice(&seq.to_le_bytes());
    let room = MAX_BODY - HEADER_LEN - CRC_LEN;
    let used = super::ser::to_slice(msg, &mut rest[..room])
        .ok_or(EncodeError::TooLarge)?
        .len();
    let body_len = HEADER_LEN + used;
    let crc = checksum(scratch.get(..body_len).ok_or(EncodeError::TooLarge)?);
    let with_crc = body_len + CRC_LEN;
    let crc_at = scratch
        .get_mut(body_len..with_crc)
        .ok_or(EncodeError::TooLarge)?;
    crc_at.copy_from_slice(&crc.to_le_bytes());
    let body = scratch.get(..with_crc).ok_or(EncodeError::TooLarge)?;
    // Checked lookups (not indexing) everywhere here keep the firmware free of `core::fmt`: a
    // failed index formats its message. None of them can fail for the sizes above.
    let (first, rest) = out.split_at_mut(1);
    first[0] = 0;
    let n = cobs_encode(body, rest).ok_or(EncodeError::TooLarge)?;
    *rest.get_mut(n).ok_or(EncodeError::TooLarge)? = 0;
    out.get(..n + 2).ok_or(EncodeError::TooLarge)
}

/// Frames messages one after another with consecutive sequence numbers: the one encoder the
/// firmware, the Linux probe and the host's benchmarks use.
pub struct Encoder {
    seq: u32,
    scratch: [u8; MAX_BODY],
    frame: [u8; MAX_WIRE],
}

impl Default for Encoder {
    fn default() -> Self {
        Self::new()
    }
}

impl Encoder {
    /// An encoder whose first frame is number 0.
    pub const fn new() -> Self {
        Encoder {
            seq: 0,
            scratch: [0; MAX_BODY],
            frame: [0; MAX_WIRE],
        }
    }

    /// The complete frame for `msg`; the sequence number advances only when it fits.
    pub fn encode<M: Serialize>(&mut self, msg: &M) -> Result<&[u8], EncodeError> {
        let seq = self.seq;
        let bytes = encode_frame(seq, msg, &mut self.scratch, &mut self.frame)?;
        self.seq = seq.wrapping_add(1);
        Ok(bytes)
    }

    /// Frames sent so far.
    pub fn frames(&self) -> u32 {
        self.seq
    }
}

/// What the deframer found in the stream.
#[derive(Debug, PartialEq, Eq)]
pub enum Chunk<'a> {
    /// A valid frame: its sequence number and postcard payload.
    Frame {
        /// Sequence number.
        seq: u32,
        /// Postcard-encoded [`super::Message`].
        payload: &'a [u8],
        /// Offset of the frame's first byte in the stream.
        offset: u64,
    },
    /// A frame with a valid CRC but another wire format version.
    VersionMismatch {
        /// The version the producer wrote.
        found: u8,
        /// Offset in the stream.
        offset: u64,
    },
    /// Printable text between frames (console output, a boot loader's banner, ...).
    Text(&'a [u8]),
    /// Bytes that are neither a valid frame nor text.
    Corrupt {
        /// Length of the damaged chunk.
        len: usize,
        /// Offset in the stream.
        offset: u64,
        /// It still starts like a frame (COBS code byte, then [`MAGIC`]): a damaged frame rather
        /// than foreign bytes.
        signature: bool,
    },
}

/// Splits a byte stream into [`Chunk`]s. Fixed memory: a chunk longer than a frame can be is
/// given up as corrupt (or passed on as text) without buffering it.
pub struct Deframer {
    buf: [u8; MAX_WIRE],
    len: usize,
    /// The current chunk outgrew the buffer; everything up to the next zero is skipped.
    overlong: bool,
    overlong_text: bool,
    /// Offset of the current chunk's first byte.
    chunk_start: u64,
    /// Bytes of the current chunk seen so far (buffered or not).
    chunk_len: u64,
    /// Bytes consumed so far.
    offset: u64,
    decoded: [u8; MAX_BODY],
}

impl Default for Deframer {
    fn default() -> Self {
        Self::new()
    }
}

fn is_text(bytes: &[u8]) -> bool {
    !bytes.is_empty()
        && core::str::from_utf8(bytes)
            .map(|s| {
                s.chars()
                    .all(|c| !c.is_control() || matches!(c, '\n' | '\r' | '\t' | '\x1b'))
            })
            .unwrap_or(false)
}

impl Deframer {
    /// A fresh deframer at stream offset 0.
    pub const fn new() -> Self {
        Deframer {
            buf: [0; MAX_WIRE],
            len: 0,
            overlong: false,
            overlong_text: false,
            chunk_start: 0,
            chunk_len: 0,
            offset: 0,
            decoded: [0; MAX_BODY],
        }
    }

    /// Bytes consumed so far.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Bytes of an unfinished chunk at the end of the input so far (a truncated frame).
    pub fn pending(&self) -> u64 {
        self.chunk_len
    }

    /// Offset where the unfinished chunk starts.
    pub fn pending_offset(&self) -> u64 {
        self.chunk_start
    }

    /// Ends the stream: a pending chunk that is text is passed on as text; anything else is an
    /// unfinished frame, returned as `(offset, bytes)` (the stream was truncated).
    pub fn finish(&mut self, sink: &mut dyn FnMut(Chunk<'_>)) -> Option<(u64, u64)> {
        let pending = (self.chunk_len > 0).then_some((self.chunk_start, self.chunk_len));
        let result = if self.overlong {
            (!self.overlong_text).then_some(pending).flatten()
        } else if self.len > 0 && is_text(&self.buf[..self.len]) {
            sink(Chunk::Text(&self.buf[..self.len]));
            None
        } else {
            pending
        };
        self.len = 0;
        self.chunk_len = 0;
        self.overlong = false;
        self.overlong_text = false;
        result
    }

    /// Feeds bytes; calls `sink` for every complete chunk, in order.
    pub fn push(&mut self, mut input: &[u8], sink: &mut dyn FnMut(Chunk<'_>)) {
        while !input.is_empty() {
            match zero_at(input) {
                Some(z) => {
                    let (part, rest) = input.split_at(z);
                    if self.chunk_len == 0 {
                        // Whole chunk inside the input: decode it without copying.
                        Self::emit(&mut self.decoded, part, self.offset, sink);
                    } else {
                        self.append(part, sink);
                        if !self.overlong {
                            let buf = &self.buf[..self.len];
                            Self::emit(&mut self.decoded, buf, self.chunk_start, sink);
                        } else if !self.overlong_text {
                            let len = self.chunk_len as usize;
                            sink(Chunk::Corrupt {
                                len,
                                offset: self.chunk_start,
                                signature: false,
                            });
                        }
                    }
                    self.offset += z as u64 + 1;
                    self.len = 0;
                    self.chunk_len = 0;
                    self.overlong = false;
                    self.overlong_text = false;
                    self.chunk_start = self.offset;
                    input = &rest[1..];
                }
                None => {
                    if self.chunk_len == 0 {
                        self.chunk_start = self.offset;
                    }
                    self.append(input, sink);
                    self.offset += input.len() as u64;
                    input = &[];
                }
            }
        }
    }

    /// Buffers part of a chunk; when it outgrows the buffer, passes it on as text or marks it
    /// overlong (reported as corrupt once it ends).
    fn append(&mut self, part: &[u8], sink: &mut dyn FnMut(Chunk<'_>)) {
        self.chunk_len += part.len() as u64;
        if self.overlong {
            if self.overlong_text && is_text(part) {
                sink(Chunk::Text(part));
            } else {
                self.overlong_text = false;
            }
            return;
        }
        if self.len + part.len() <= self.buf.len() {
            self.buf[self.len..self.len + part.len()].copy_from_slice(part);
            self.len += part.len();
            return;
        }
        // Longer than any frame: text (passed through in pieces) or garbage (skipped).
        self.overlong = true;
        self.overlong_text = is_text(&self.buf[..self.len]) && is_text(part);
        if self.overlong_text {
            sink(Chunk::Text(&self.buf[..self.len]));
            sink(Chunk::Text(part));
        }
        self.len = 0;
    }

    fn emit(
        decoded: &mut [u8; MAX_BODY],
        chunk: &[u8],
        offset: u64,
        sink: &mut dyn FnMut(Chunk<'_>),
    ) {
        if chunk.is_empty() {
            return;
        }
        match Self::check(decoded, chunk) {
            Ok((seq, len)) => sink(Chunk::Frame {
                seq,
                payload: &decoded[HEADER_LEN..len - CRC_LEN],
                offset: offset.saturating_sub(1),
            }),
            Err(Some(found)) => sink(Chunk::VersionMismatch { found, offset }),
            Err(None) if is_text(chunk) => sink(Chunk::Text(chunk)),
            Err(None) => {
                let signature = chunk.len() > HEADER_LEN && chunk[0] >= 2 && chunk[1] == MAGIC;
                sink(Chunk::Corrupt {
                    len: chunk.len(),
                    offset,
                    signature,
                })
            }
        }
    }

    /// Validates one chunk: Ok((seq, decoded length)), Err(Some(version)) for a sound frame of
    /// another version, Err(None) for anything else.
    fn check(decoded: &mut [u8; MAX_BODY], chunk: &[u8]) -> Result<(u32, usize), Option<u8>> {
        // The chunk holds no zero byte: `push` split it at them.
        let len = cobs_decode_runs::<false>(chunk, decoded).ok_or(None)?;
        if len < HEADER_LEN + CRC_LEN {
            return Err(None);
        }
        let (body, crc) = decoded[..len].split_at(len - CRC_LEN);
        let crc = u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]);
        if checksum(body) != crc || body[0] != MAGIC {
            return Err(None);
        }
        if body[1] != FORMAT_VERSION {
            return Err(Some(body[1]));
        }
        let seq = u32::from_le_bytes([body[2], body[3], body[4], body[5]]);
        Ok((seq, len))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn frame(seq: u32, payload: &[u8]) -> Vec<u8> {
        #[derive(Serialize)]
        struct Raw<'a>(#[serde(with = "serde_bytes_compat")] &'a [u8]);
        mod serde_bytes_compat {
            pub fn serialize<S: serde::Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
                s.serialize_bytes(b)
            }
        }
        let mut scratch = [0; MAX_BODY];
        let mut out = [0; MAX_WIRE];
        encode_frame(seq, &Raw(payload), &mut scratch, &mut out)
            .unwrap()
            .to_vec()
    }

    fn collect(stream: &[u8], piece: usize) -> Vec<String> {
        let mut d = Deframer::new();
        let mut got = Vec::new();
        for part in stream.chunks(piece.max(1)) {
            d.push(part, &mut |c| {
                got.push(match c {
                    Chunk::Frame { seq, payload, .. } => format!("F{seq}:{}", payload.len()),
                    Chunk::Text(t) => format!("T{}", String::from_utf8_lossy(t)),
                    Chunk::Corrupt { .. } => "C".into(),
                    Chunk::VersionMismatch { found, .. } => format!("V{found}"),
                })
            });
        }
        got
    }

    proptest! {
        #[test]
        fn cobs_round_trips(data in prop::collection::vec(any::<u8>(), 0..1200)) {
            let mut enc = vec![0u8; data.len() + data.len() / 254 + 2];
            let n = cobs_encode(&data, &mut enc).unwrap();
            prop_assert!(!enc[..n].contains(&0));
            let mut dec = vec![0u8; data.len() + 1];
            let m = cobs_decode(&enc[..n], &mut dec).unwrap();
            prop_assert_eq!(&dec[..m], &data[..]);
        }

        #[test]
        fn frames_survive_any_split(piece in 1usize..64) {
            let mut s = b"U-Boot 2024.01 banner\r\n".to_vec();
            s.extend(frame(0, &[1, 2, 3]));
            s.extend(frame(1, &[0; 300]));
            s.extend(b"console line\n");
            s.extend(frame(2, &[]));
            let got = collect(&s, piece);
            // Text may arrive in several pieces when split; join adjacent text.
            let joined: Vec<String> = got.iter().fold(Vec::new(), |mut acc: Vec<String>, x| {
                if x.starts_with('T') && acc.last().is_some_and(|l| l.starts_with('T')) {
                    acc.last_mut().unwrap().push_str(&x[1..]);
                } else { acc.push(x.clone()); }
                acc
            });
            prop_assert_eq!(joined, vec![
                "TU-Boot 2024.01 banner\r\n".to_string(), "F0:4".into(), "F1:302".into(),
                "Tconsole line\n".into(), "F2:1".into(),
            ]);
        }
    }

    #[test]
    fn flipped_byte_is_corrupt_and_neighbours_survive() {
        let mut s = frame(0, b"abc");
        let second = s.len();
        s.extend(frame(1, b"defgh"));
        s.extend(frame(2, b"ijk"));
        s[second + 4] ^= 0x40;
        assert_eq!(collect(&s, 7), vec!["F0:4", "C", "F2:4"]);
    }

    /// Both CRC implementations give the frames' sum, on every length and alignment a frame body
    /// can have (the fast one is what the host's decoder checks with).
    #[test]
    fn the_crc_is_the_tables_whichever_computes_it() {
        let bytes: Vec<u8> = (0..MAX_BODY as u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        for start in 0..8 {
            for len in (0..bytes.len() - start)
                .step_by(37)
                .chain([bytes.len() - start])
            {
                let b = &bytes[start..start + len];
                assert_eq!(checksum(b), CRC32.checksum(b), "{len} bytes at {start}");
            }
        }
        assert_eq!(
            checksum(b"123456789"),
            0xCBF4_3926,
            "the CRC-32/ISO-HDLC check value"
        );
    }

    #[test]
    fn other_version_is_reported_not_decoded() {
        let mut s = frame(5, b"x");
        // Rewrite the version byte and fix the CRC so the frame is sound but foreign.
        let mut body = [0u8; MAX_BODY];
        let n = cobs_decode(&s[1..s.len() - 1], &mut body).unwrap();
        body[1] = FORMAT_VERSION + 1;
        let crc = CRC32.checksum(&body[..n - 4]);
        body[n - 4..n].copy_from_slice(&crc.to_le_bytes());
        let mut enc = [0u8; MAX_WIRE];
        let m = cobs_encode(&body[..n], &mut enc).unwrap();
        s = [&[0u8][..], &enc[..m], &[0]].concat();
        assert_eq!(collect(&s, 3), vec![format!("V{}", FORMAT_VERSION + 1)]);
    }

    #[test]
    fn endless_garbage_uses_bounded_memory() {
        let garbage: Vec<u8> = (0..100_000u32)
            .map(|i| (i % 251 + 1) as u8 | 0x80)
            .collect();
        let mut s = garbage.clone();
        s.extend(frame(0, b"ok"));
        let got = collect(&s, 4096);
        assert_eq!(got.last().unwrap(), "F0:3");
        assert!(got.iter().filter(|g| *g == "C").count() >= 1);
    }
}
