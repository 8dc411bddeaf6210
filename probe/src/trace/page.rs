//! Ring-buffer pages as `per_cpu/cpuN/trace_pipe_raw` hands them out: a timestamp, a commit count
//! and events, each with a 32-bit header (5 bits of type or length, 27 bits of time delta).
//! Parsed here into (timestamp, record bytes), the way trace-cmd's kbuffer does.

use super::format::PageHeader;

/// Type values of the event header (the kernel's `RINGBUF_TYPE_*`).
const PADDING: u32 = 29;
const TIME_EXTEND: u32 = 30;
const TIME_STAMP: u32 = 31;
/// Commit-field flags: events were lost before this page, and their count is stored at its end.
const MISSED_EVENTS: u64 = 1 << 31;
const MISSED_STORED: u64 = 1 << 30;

/// What one page holds.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Page<'a> {
    /// (timestamp in trace-clock ns, record) of each data event.
    pub events: Vec<(u64, &'a [u8])>,
    /// Events the kernel lost before this page (when it says how many; 1 when it only says some).
    pub missed: u64,
    /// The page was malformed (an event ran past its end): parsing stopped there.
    pub damaged: bool,
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..at + 4)
        .map(|s| u32::from_le_bytes(s.try_into().unwrap()))
}

fn u64_at(b: &[u8], at: usize, size: usize) -> Option<u64> {
    let s = b.get(at..at + size)?;
    let mut v = [0u8; 8];
    v[..size.min(8)].copy_from_slice(&s[..size.min(8)]);
    Some(u64::from_le_bytes(v))
}

/// Parses one page.
pub fn parse<'a>(page: &'a [u8], h: &PageHeader) -> Page<'a> {
    let mut out = Page::default();
    let Some((ts, data, missed)) = page_data(page, h) else {
        out.damaged = true;
        return out;
    };
    out.missed = missed;
    read_entries(data, ts, &mut out);
    out
}

/// The page's timestamp, its committed data, and the events the kernel says it missed before
/// it (`None` when the header or the data is cut short).
fn page_data<'a>(page: &'a [u8], h: &PageHeader) -> Option<(u64, &'a [u8], u64)> {
    let ts = u64_at(page, h.timestamp, 8)?;
    let commit = u64_at(page, h.commit.0, h.commit.1)?;
    let len = (commit & ((1 << 30) - 1)) as usize;
    let data = page.get(h.data..h.data + len)?;
    let missed = match (commit & MISSED_EVENTS != 0, commit & MISSED_STORED != 0) {
        (false, _) => 0,
        (true, true) => u64_at(page, h.data + len, 8).unwrap_or(1),
        (true, false) => 1,
    };
    Some((ts, data, missed))
}

/// The page's entries from `ts` on: events into `out.events`, time extensions and stamps
/// applied, padding skipped; a cut-short entry marks the page damaged.
fn read_entries<'a>(data: &'a [u8], mut ts: u64, out: &mut Page<'a>) {
    let mut p = 0usize;
    while p + 4 <= data.len() {
        let Some(hdr) = u32_at(data, p) else { break };
        let type_len = hdr & 0x1f;
        let delta = (hdr >> 5) as u64;
        match type_len {
            PADDING => {
                if delta == 0 {
                    break; // the rest of the page is empty
                }
                // A discarded event: its delta still counts (as trace-cmd does).
                let Some(n) = u32_at(data, p + 4) else {
                    out.damaged = true;
                    break;
                };
                ts += delta;
                p += 4 + n as usize;
            }
            TIME_EXTEND => {
                let Some(hi) = u32_at(data, p + 4) else {
                    out.damaged = true;
                    break;
                };
                ts += ((hi as u64) << 27) | delta;
                p += 8;
            }
            TIME_STAMP => {
                let Some(hi) = u32_at(data, p + 4) else {
                    out.damaged = true;
                    break;
                };
                // An absolute stamp of 59 bits; the upper bits come from the page's own.
                let abs = ((hi as u64) << 27) | delta;
                ts = (ts & !((1u64 << 59) - 1)) | abs;
                p += 8;
            }
            0 => {
                let Some(n) = u32_at(data, p + 4) else {
                    out.damaged = true;
                    break;
                };
                // array[0] holds the length of the data plus itself.
                let n = n as usize;
                let Some(rec) = data.get(p + 8..p + 4 + n).filter(|_| n >= 4) else {
                    out.damaged = true;
                    break;
                };
                ts += delta;
                out.events.push((ts, rec));
                p += 4 + ((n + 3) & !3);
            }
            words => {
                let n = words as usize * 4;
                let Some(rec) = data.get(p + 4..p + 4 + n) else {
                    out.damaged = true;
                    break;
                };
                ts += delta;
                out.events.push((ts, rec));
                p += 4 + n;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a page: header, then events as (delta, record) with small or type-0 encodings.
    fn page(start: u64, items: &[(u64, Vec<u8>)], big: bool) -> Vec<u8> {
        let mut data = Vec::new();
        for (delta, rec) in items {
            if *delta >= 1 << 27 {
                data.extend_from_slice(
                    &(TIME_EXTEND | (((*delta & ((1 << 27) - 1)) as u32) << 5)).to_le_bytes(),
                );
                data.extend_from_slice(&((*delta >> 27) as u32).to_le_bytes());
                // The event itself, its delta carried by the extension: type_len = words, delta 0.
                let words = rec.len().div_ceil(4) as u32;
                data.extend_from_slice(&words.to_le_bytes());
                data.extend_from_slice(rec);
                continue;
            }
            if big {
                data.extend_from_slice(&((*delta as u32) << 5).to_le_bytes());
                data.extend_from_slice(&(rec.len() as u32 + 4).to_le_bytes());
            } else {
                let words = rec.len().div_ceil(4) as u32;
                data.extend_from_slice(&(words | ((*delta as u32) << 5)).to_le_bytes());
            }
            data.extend_from_slice(rec);
        }
        let mut p = Vec::new();
        p.extend_from_slice(&start.to_le_bytes());
        p.extend_from_slice(&(data.len() as u64).to_le_bytes());
        p.extend_from_slice(&data);
        p.resize(4096, 0);
        p
    }

    #[test]
    fn events_carry_their_accumulated_timestamps() {
        let rec = |b: u8| vec![b; 8];
        let items = [(5, rec(1)), (10, rec(2)), (3 << 27 | 7, rec(3))];
        for big in [false, true] {
            let raw = page(1_000, &items, big);
            let p = parse(&raw, &PageHeader::default());
            assert!(!p.damaged);
            let got: Vec<(u64, u8)> = p.events.iter().map(|(t, r)| (*t, r[0])).collect();
            assert_eq!(
                got,
                vec![(1_005, 1), (1_015, 2), (1_015 + (3 << 27 | 7), 3)],
                "big={big}"
            );
        }
    }

    #[test]
    fn missed_events_and_damage_are_reported() {
        let mut raw = page(0, &[(1, vec![9; 8])], false);
        let commit = u64::from_le_bytes(raw[8..16].try_into().unwrap()) | MISSED_EVENTS;
        raw[8..16].copy_from_slice(&commit.to_le_bytes());
        assert_eq!(parse(&raw, &PageHeader::default()).missed, 1);
        // A length running past the data: damaged, not a panic.
        let mut bad = page(0, &[(1, vec![9; 8])], true);
        bad[20..24].copy_from_slice(&4000u32.to_le_bytes());
        let p = parse(&bad, &PageHeader::default());
        assert!(p.damaged && p.events.is_empty());
    }
}
