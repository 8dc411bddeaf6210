//! Console text without `core::fmt`: a fixed-size line built from strings, decimals and hex.
//! The firmware's messages use it (`core::fmt` and its padding machinery cost kilobytes of image);
//! the host renders the same messages through `Display` impls built on it, so the words are defined once.

/// One line of text, at most [`Line::CAPACITY`] bytes: what does not fit is cut (at a character
/// boundary), never split across lines.
#[derive(Clone)]
pub struct Line {
    buf: [u8; Line::CAPACITY],
    len: usize,
}

impl Default for Line {
    fn default() -> Self {
        Self::new()
    }
}

impl Line {
    /// Bytes a line holds.
    pub const CAPACITY: usize = 240;

    /// An empty line.
    pub const fn new() -> Self {
        Line {
            buf: [0; Line::CAPACITY],
            len: 0,
        }
    }

    /// The text so far (always whole UTF-8 characters).
    pub fn as_str(&self) -> &str {
        let bytes = self.buf.get(..self.len).unwrap_or(&[]);
        // SAFETY: only whole characters of `&str`s (`s` cuts at a character boundary) and ASCII
        // digits (`digits`) are ever copied in, so the bytes are valid UTF-8. (Checking again
        // would link the UTF-8 validator into the image.)
        unsafe { core::str::from_utf8_unchecked(bytes) }
    }

    /// Whether nothing was written.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends a string (cut at the last character boundary that fits).
    #[inline(never)]
    pub fn s(&mut self, s: &str) -> &mut Self {
        let mut n = s.len().min(Line::CAPACITY - self.len);
        while !s.is_char_boundary(n) {
            n -= 1;
        }
        self.push(s.as_bytes().get(..n).unwrap_or(&[]))
    }

    /// Copies bytes that fit (callers pass whole UTF-8 characters).
    fn push(&mut self, bytes: &[u8]) -> &mut Self {
        let n = bytes.len().min(Line::CAPACITY - self.len);
        if let (Some(dst), Some(src)) = (self.buf.get_mut(self.len..self.len + n), bytes.get(..n)) {
            // A zip, not `copy_from_slice`: its length check formats a panic message.
            dst.iter_mut().zip(src).for_each(|(d, s)| *d = *s);
            self.len += n;
        }
        self
    }

    /// Appends ASCII digits (the last `n` bytes of `digits`).
    fn digits(&mut self, digits: &[u8; 20], n: usize) -> &mut Self {
        self.push(digits.get(20 - n..).unwrap_or(&[]))
    }

    /// Appends `v` in decimal (`{}`).
    #[inline(never)]
    pub fn u(&mut self, mut v: u64) -> &mut Self {
        let mut d = [0u8; 20];
        let mut n = 0;
        // Twenty places hold u64::MAX; walking them (not indexing) needs no bounds check.
        for place in d.iter_mut().rev() {
            n += 1;
            *place = b'0' + (v % 10) as u8;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        self.digits(&d, n)
    }

    /// Appends `v` in hex with at least `width` digits, after `0x` (`{:#x}`, `{:#018x}` is 16).
    #[inline(never)]
    pub fn hex(&mut self, mut v: u64, width: usize) -> &mut Self {
        let mut d = [0u8; 20];
        let mut n = 0;
        while n < 16 && (v != 0 || n < width.max(1)) {
            n += 1;
            d[20 - n] = b"0123456789abcdef"[(v & 0xf) as usize];
            v >>= 4;
        }
        self.s("0x").digits(&d, n)
    }

    /// Appends `v` in hex after `0x`, no padding (`{:#x}`).
    pub fn x(&mut self, v: u64) -> &mut Self {
        self.hex(v, 1)
    }

    /// Appends a duration in the largest unit that divides it: `2s`, `500ms`, `10us`, `250ns`
    /// (how [`crate::units::Ns`] displays).
    pub fn ns(&mut self, ns: u64) -> &mut Self {
        let (v, unit) = match ns {
            0 => (0, "ns"),
            _ if ns.is_multiple_of(1_000_000_000) => (ns / 1_000_000_000, "s"),
            _ if ns.is_multiple_of(1_000_000) => (ns / 1_000_000, "ms"),
            _ if ns.is_multiple_of(1_000) => (ns / 1_000, "us"),
            _ => (ns, "ns"),
        };
        self.u(v).s(unit)
    }
}

impl core::fmt::Display for Line {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl core::fmt::Debug for Line {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Debug::fmt(self.as_str(), f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_match_core_fmt() {
        for v in [0u64, 1, 9, 10, 255, 4096, 1 << 32, u64::MAX] {
            assert_eq!(Line::new().u(v).as_str(), format!("{v}"));
            assert_eq!(Line::new().x(v).as_str(), format!("{v:#x}"));
            assert_eq!(Line::new().hex(v, 16).as_str(), format!("{v:#018x}"));
            assert_eq!(Line::new().hex(v, 2).as_str(), format!("{v:#04x}"));
        }
    }

    #[test]
    fn durations_match_ns_display() {
        for v in [
            0u64,
            1,
            250,
            1000,
            10_000,
            1_500_000,
            2_000_000_000,
            1_234_567,
        ] {
            assert_eq!(
                Line::new().ns(v).as_str(),
                crate::units::Ns(v).to_string(),
                "{v}"
            );
        }
    }

    #[test]
    fn long_text_is_cut_at_a_character_boundary() {
        let mut l = Line::new();
        l.s(&"a".repeat(Line::CAPACITY - 1)).s("µs and more");
        assert_eq!(
            l.as_str().len(),
            Line::CAPACITY - 1,
            "µ (2 bytes) does not fit"
        );
        l.s("x").s("yz");
        assert_eq!(l.as_str().len(), Line::CAPACITY);
        assert!(l.as_str().ends_with('x'));
    }
}
