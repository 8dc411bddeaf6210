//! Turns captured bytes back into messages: deframes (resynchronising after damage), checks
//! sequence numbers, separates console text, decodes defmt logs with the firmware ELF, and
//! passes every message to a sink (the statistics) as it goes, so memory does not grow with
//! the number of samples.

use std::io::Read;

use anyhow::{Context, Result};
use serde::Serialize;
use tickscope_core::wire::msg::{BLOCK, Block, TimerSample};
use tickscope_core::wire::{Chunk, Deframer, LinkStats, Message, SeqTracker};

/// Receives decoded messages in stream order.
pub trait Sink {
    /// A message with its frame sequence number.
    fn message(&mut self, seq: u32, msg: &Message);

    /// A block of timer samples read on the fast path (a `TimerDeltas` frame, deadlines summed
    /// back): as a `TimerSamples` message unless the sink takes it directly.
    fn timer_block(&mut self, seq: u32, core: u16, items: &[TimerSample]) {
        let items = heapless::Vec::from_slice(items).expect("at most a block");
        self.message(seq, &Message::TimerSamples(Block { core, items }));
    }
}

/// A decoded firmware log line.
#[derive(Debug, Clone, Serialize)]
pub struct LogLine {
    /// Core that logged.
    pub core: u16,
    /// Counter ticks when it logged.
    pub at: u64,
    /// Level (`info`, ...), empty when not decoded.
    pub level: String,
    /// The message, or a note that it could not be decoded.
    pub text: String,
}

/// What decoding a stream found, besides the messages.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    /// Frame and chunk accounting.
    #[serde(serialize_with = "ser_link")]
    pub link: LinkStats,
    /// Console text lines found between frames (UART transport).
    pub text_lines: Vec<String>,
    /// Firmware logs (decoded when an ELF with a defmt table was given).
    pub logs: Vec<LogLine>,
    /// Log frames seen (decoded or not).
    pub log_frames: u64,
    /// Whether logs were decoded.
    pub logs_decoded: bool,
    /// The trailer arrived (the producer finished normally).
    pub trailer: bool,
    /// The stream ended inside a frame: (offset where the partial frame starts, bytes of it).
    pub truncated: Option<(u64, u64)>,
    /// Offset just after the last intact frame.
    pub last_good_offset: u64,
    /// Sequence number of the last intact frame.
    pub last_seq: Option<u32>,
    /// Wire format version of foreign frames, if any were seen.
    pub foreign_version: Option<u8>,
}

fn ser_link<S: serde::Serializer>(l: &LinkStats, s: S) -> Result<S::Ok, S::Error> {
    #[derive(Serialize)]
    struct L {
        bytes: u64,
        frames_ok: u64,
        frames_corrupt: u64,
        frames_dropped: u64,
        frames_lost: u64,
        garbage_chunks: u64,
        text_chunks: u64,
        version_mismatches: u64,
        out_of_order: u64,
        undecodable: u64,
    }
    L {
        bytes: l.bytes,
        frames_ok: l.frames_ok,
        frames_corrupt: l.frames_corrupt,
        frames_dropped: l.frames_dropped,
        frames_lost: l.frames_lost(),
        garbage_chunks: l.garbage_chunks,
        text_chunks: l.text_chunks,
        version_mismatches: l.version_mismatches,
        out_of_order: l.out_of_order,
        undecodable: l.undecodable,
    }
    .serialize(s)
}

impl Report {
    /// One-line human summary of link problems, `None` when the link was clean and complete.
    pub fn problems(&self) -> Option<String> {
        let l = &self.link;
        let mut parts = Vec::new();
        if let Some(v) = self.foreign_version {
            parts.push(format!(
                "{} frame(s) use wire format version {v}, this tickscope reads version {} (use a matching tickscope)",
                l.version_mismatches,
                tickscope_core::wire::FORMAT_VERSION
            ));
        }
        if l.frames_corrupt > 0 {
            parts.push(format!("{} corrupt frame(s)", l.frames_corrupt));
        }
        if l.frames_dropped > 0 {
            parts.push(format!("{} dropped frame(s)", l.frames_dropped));
        }
        if l.garbage_chunks > 0 {
            parts.push(format!(
                "{} chunk(s) of garbage between frames",
                l.garbage_chunks
            ));
        }
        if l.out_of_order > 0 {
            parts.push(format!(
                "{} duplicated/out-of-order frame(s)",
                l.out_of_order
            ));
        }
        if l.undecodable > 0 {
            parts.push(format!(
                "{} frame(s) with an unknown message",
                l.undecodable
            ));
        }
        if let Some((at, len)) = self.truncated {
            parts.push(format!(
                "stream truncated: {len} byte(s) of an unfinished frame at offset {at}"
            ));
        }
        if !self.trailer && l.frames_ok > 0 {
            parts.push(format!(
                "no end-of-run trailer: the capture stops after frame {} at byte {}",
                self.last_seq
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| "-".into()),
                self.last_good_offset
            ));
        }
        (!parts.is_empty()).then(|| parts.join("; "))
    }

    /// Whether any frame was lost or damaged, or the stream is incomplete.
    pub fn lossy(&self) -> bool {
        !self.link.is_clean()
            || self.truncated.is_some()
            || (!self.trailer && self.link.frames_ok > 0)
    }
}

/// A streaming decoder.
pub struct Decoder {
    deframer: Deframer,
    seq: SeqTracker,
    table: Option<defmt_decoder::Table>,
    partial_text: String,
    report: Report,
    /// `Message::TimerDeltas`'s tag, for the fast path ([`crate::timer_block`]).
    tag: u32,
    /// Where the fast path reads a block into.
    block: Box<[TimerSample; BLOCK]>,
}

impl Decoder {
    /// A decoder; `elf` is the bytes of the firmware image whose `.defmt` table decodes log
    /// frames.
    pub fn new(elf: Option<&[u8]>) -> Result<Self> {
        let table = match elf {
            Some(bytes) => defmt_decoder::Table::parse(bytes)
                .context("reading the defmt table of the firmware ELF")?,
            None => None,
        };
        let logs_decoded = table.is_some();
        Ok(Decoder {
            deframer: Deframer::new(),
            seq: SeqTracker::new(),
            table,
            partial_text: String::new(),
            report: Report {
                logs_decoded,
                ..Report::default()
            },
            tag: crate::timer_block::timer_deltas_tag(),
            block: Box::new([TimerSample::default(); BLOCK]),
        })
    }

    /// Feeds bytes.
    pub fn push(&mut self, bytes: &[u8], sink: &mut dyn Sink) {
        let Decoder {
            deframer,
            seq,
            table,
            partial_text,
            report,
            tag,
            block,
        } = self;
        deframer.push(bytes, &mut |chunk| match chunk {
            Chunk::Frame {
                seq: n,
                payload,
                offset,
            } => {
                if !seq.frame(n) {
                    return;
                }
                if let Some((core, len)) = crate::timer_block::read(payload, *tag, block) {
                    report.last_seq = Some(n);
                    report.last_good_offset = offset + payload.len() as u64;
                    sink.timer_block(n, core, &block[..len]);
                    return;
                }
                match postcard::from_bytes::<Message>(payload) {
                    Ok(msg) => {
                        report.last_seq = Some(n);
                        report.last_good_offset = offset + payload.len() as u64;
                        match &msg {
                            Message::Log(rec) => {
                                report.log_frames += 1;
                                report.logs.push(decode_log(table.as_ref(), rec));
                            }
                            Message::End(_) => report.trailer = true,
                            _ => {}
                        }
                        sink.message(n, &msg);
                    }
                    Err(_) => seq.stats.undecodable += 1,
                }
            }
            Chunk::VersionMismatch { found, .. } => {
                seq.stats.version_mismatches += 1;
                report.foreign_version = Some(found);
            }
            Chunk::Text(t) => {
                seq.stats.text_chunks += 1;
                partial_text.push_str(&String::from_utf8_lossy(t));
                while let Some(nl) = partial_text.find('\n') {
                    let line: String = partial_text.drain(..=nl).collect();
                    report
                        .text_lines
                        .push(line.trim_end_matches(['\r', '\n']).to_string());
                }
            }
            Chunk::Corrupt { signature, .. } => seq.damaged(signature),
        });
    }

    /// Ends the stream and returns the report.
    pub fn finish(mut self) -> Report {
        let mut tail_text = Vec::new();
        let truncated = self.deframer.finish(&mut |c| {
            if let Chunk::Text(t) = c {
                tail_text.extend_from_slice(t);
            }
        });
        if !tail_text.is_empty() {
            self.seq.stats.text_chunks += 1;
            self.partial_text
                .push_str(&String::from_utf8_lossy(&tail_text));
        }
        self.seq.end();
        let mut r = self.report;
        for line in self.partial_text.lines() {
            r.text_lines.push(line.trim_end_matches('\r').to_string());
        }
        r.truncated = truncated;
        r.link = self.seq.stats;
        r.link.bytes = self.deframer.offset();
        r
    }
}

fn decode_log(
    table: Option<&defmt_decoder::Table>,
    rec: &tickscope_core::wire::msg::LogRecord,
) -> LogLine {
    let (level, text) = match table {
        Some(t) => match t.decode(&rec.data) {
            Ok((frame, _)) => (
                frame
                    .level()
                    .map(|l| l.as_str().to_string())
                    .unwrap_or_default(),
                frame.display_message().to_string(),
            ),
            Err(_) => (
                String::new(),
                format!("<undecodable defmt frame, {} bytes>", rec.data.len()),
            ),
        },
        None => (
            String::new(),
            format!(
                "<defmt log, {} bytes; pass --elf to decode>",
                rec.data.len()
            ),
        ),
    };
    LogLine {
        core: rec.core,
        at: rec.at,
        level,
        text,
    }
}

/// Decodes a whole reader in blocks.
pub fn decode_reader(mut r: impl Read, elf: Option<&[u8]>, sink: &mut dyn Sink) -> Result<Report> {
    let mut d = Decoder::new(elf)?;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = r.read(&mut buf)?;
        if n == 0 {
            break;
        }
        d.push(&buf[..n], sink);
    }
    Ok(d.finish())
}

/// Decodes bytes in memory.
pub fn decode_bytes(bytes: &[u8], elf: Option<&[u8]>, sink: &mut dyn Sink) -> Result<Report> {
    let mut d = Decoder::new(elf)?;
    for chunk in bytes.chunks(1 << 20) {
        d.push(chunk, sink);
    }
    Ok(d.finish())
}
