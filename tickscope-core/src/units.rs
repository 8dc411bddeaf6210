//! Durations with units (`2s`, `500ms`, `10us`, `250ns`) and counter-tick conversions.
//! Every duration in tickscope is carried as nanoseconds (`u64`) or as counter ticks plus a frequency.

use core::fmt;

/// Why a duration string was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum UnitError {
    /// Empty string.
    Empty,
    /// No number before the unit.
    NoNumber,
    /// The unit is not one of `s`, `ms`, `us`, `ns` (or `µs`).
    UnknownUnit,
    /// A number without a unit (ambiguous: we never guess).
    MissingUnit,
    /// The value does not fit in 64-bit nanoseconds.
    Overflow,
}

impl UnitError {
    /// What is wrong, in words.
    pub fn message(self) -> &'static str {
        match self {
            UnitError::Empty => "empty duration",
            UnitError::NoNumber => "a duration starts with a number, e.g. 10us",
            UnitError::UnknownUnit => {
                "unknown unit (use s, ms, us or ns, e.g. 2s, 500ms, 10us, 250ns)"
            }
            UnitError::MissingUnit => "a duration needs a unit (s, ms, us or ns), e.g. 10us",
            UnitError::Overflow => "duration too large",
        }
    }
}

impl fmt::Display for UnitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

/// Parses a duration such as `2s`, `1.5ms`, `10us`, `250ns` into nanoseconds.
///
/// A fractional part is allowed (`2.5us`); the result is rounded down to whole nanoseconds.
pub fn parse_duration(text: &str) -> Result<u64, UnitError> {
    let text = text.trim_ascii();
    if text.is_empty() {
        return Err(UnitError::Empty);
    }
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_'))
        .ok_or(UnitError::MissingUnit)?;
    let (number, unit) = text.split_at_checked(split).ok_or(UnitError::NoNumber)?;
    if number.is_empty() || number == "." {
        return Err(UnitError::NoNumber);
    }
    let scale: u64 = match unit.trim_ascii() {
        "s" => 1_000_000_000,
        "ms" => 1_000_000,
        "us" | "µs" => 1_000,
        "ns" => 1,
        _ => return Err(UnitError::UnknownUnit),
    };
    let (whole, frac) = match split_at_byte(number, b'.') {
        Some((w, f)) => (w, f),
        None => (number, ""),
    };
    let mut ns: u64 = 0;
    for c in whole.chars().filter(|c| *c != '_') {
        let d = c.to_digit(10).ok_or(UnitError::NoNumber)? as u64;
        ns = ns
            .checked_mul(10)
            .and_then(|v| v.checked_add(d))
            .ok_or(UnitError::Overflow)?;
    }
    ns = ns.checked_mul(scale).ok_or(UnitError::Overflow)?;
    let mut place = scale;
    for c in frac.chars().filter(|c| *c != '_') {
        let d = c.to_digit(10).ok_or(UnitError::NoNumber)? as u64;
        place /= 10;
        ns = ns.checked_add(d * place).ok_or(UnitError::Overflow)?;
    }
    Ok(ns)
}

/// A duration in nanoseconds, displayed with the largest unit that keeps it exact (`10us`, `2s`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ns(pub u64);

impl fmt::Display for Ns {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(crate::text::Line::new().ns(self.0).as_str())
    }
}

const NS_PER_S: u64 = 1_000_000_000;

/// `s.split_once(sep)` for an ASCII separator, by bytes: the same result without the char-pattern
/// searcher (the firmware's image budget).
pub fn split_at_byte(s: &str, sep: u8) -> Option<(&str, &str)> {
    let i = s.bytes().position(|b| b == sep)?;
    // An ASCII byte is a char boundary on both sides (`get` never panics: no slicing-error
    // formatter, with its Unicode tables, in the image).
    Some((s.get(..i)?, s.get(i + 1..)?))
}

/// Converts counter ticks to nanoseconds (rounded to nearest) for a counter of `hz`.
///
/// Whole seconds and the remainder are converted apart, which gives exactly
/// `(ticks × 10⁹ + hz / 2) / hz` without 128-bit division (the firmware's image budget) for
/// counters below 18 GHz.
#[inline]
pub fn ticks_to_ns(ticks: u64, hz: u64) -> u64 {
    if hz == 0 {
        return 0;
    }
    let (s, rest) = (ticks / hz, ticks % hz);
    s.saturating_mul(NS_PER_S)
        .saturating_add((rest * NS_PER_S + hz / 2) / hz)
}

/// [`ticks_to_ns`] at one counter frequency, for many values: without a division per value when
/// the frequency divides 10⁹ (QEMU `virt`'s 62.5 MHz and 1 GHz, the 25/50/100 MHz of most
/// boards), where `ticks × (10⁹ / hz)` is the same number. The host's decoder converts every
/// sample twice; the two divisions each were a third of its time (`perf annotate`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TicksToNs {
    hz: u64,
    /// 10⁹ / hz when that is exact, else 0 (convert with [`ticks_to_ns`]).
    ns_per_tick: u64,
}

impl TicksToNs {
    /// The converter for a counter of `hz`.
    pub const fn new(hz: u64) -> TicksToNs {
        let ns_per_tick = if hz != 0 && NS_PER_S % hz == 0 {
            NS_PER_S / hz
        } else {
            0
        };
        TicksToNs { hz, ns_per_tick }
    }

    /// `ticks_to_ns(ticks, hz)`.
    #[inline]
    pub fn ns(self, ticks: u64) -> u64 {
        if self.ns_per_tick != 0 {
            ticks.saturating_mul(self.ns_per_tick)
        } else {
            ticks_to_ns(ticks, self.hz)
        }
    }
}

/// Converts nanoseconds to counter ticks (rounded up, so a deadline is never early), exactly
/// `⌈ns × hz / 10⁹⌉`, split as in [`ticks_to_ns`].
#[inline]
pub fn ns_to_ticks(ns: u64, hz: u64) -> u64 {
    let (s, rest) = (ns / NS_PER_S, ns % NS_PER_S);
    s.saturating_mul(hz)
        .saturating_add((rest * hz).div_ceil(NS_PER_S))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions_equal_the_128_bit_formulas() {
        // Where the exact result exceeds u64 the conversions saturate.
        let fit = |v: u128| u64::try_from(v).unwrap_or(u64::MAX);
        let wide_ns =
            |t: u64, hz: u64| fit((t as u128 * 1_000_000_000 + hz as u128 / 2) / hz as u128);
        let wide_ticks = |ns: u64, hz: u64| fit((ns as u128 * hz as u128).div_ceil(1_000_000_000));
        for hz in [1u64, 62_500_000, 100_000_000, 1_000_000_000, 3_000_000_007] {
            for v in [
                0u64,
                1,
                15,
                16,
                999_999_999,
                1_000_000_001,
                3_600_000_000_000,
                1 << 50,
            ] {
                assert_eq!(ticks_to_ns(v, hz), wide_ns(v, hz), "ticks_to_ns({v}, {hz})");
                assert_eq!(
                    ns_to_ticks(v, hz),
                    wide_ticks(v, hz),
                    "ns_to_ticks({v}, {hz})"
                );
            }
        }
    }

    proptest::proptest! {
        /// The converter is `ticks_to_ns`, value for value, at frequencies that divide 10⁹ (its
        /// multiply) and ones that do not (its fallback), up to saturation.
        #[test]
        fn the_converter_is_ticks_to_ns(
            ticks in proptest::prop_oneof![0u64..1 << 40, proptest::num::u64::ANY],
            hz in proptest::sample::select(vec![
                1u64, 1_000, 25_000_000, 62_500_000, 100_000_000, 1_000_000_000,
                19_200_000, 2_100_000_000, 3_000_000_007,
            ]),
        ) {
            proptest::prop_assert_eq!(TicksToNs::new(hz).ns(ticks), ticks_to_ns(ticks, hz));
        }
    }

    #[test]
    fn the_converter_multiplies_only_where_it_is_exact() {
        assert_eq!(TicksToNs::new(62_500_000).ns_per_tick, 16);
        assert_eq!(TicksToNs::new(1_000_000_000).ns_per_tick, 1);
        assert_eq!(TicksToNs::new(19_200_000).ns_per_tick, 0);
        assert_eq!(TicksToNs::new(0).ns(5), 0);
    }

    #[test]
    fn parses_every_unit() {
        assert_eq!(parse_duration("2s"), Ok(2_000_000_000));
        assert_eq!(parse_duration("500ms"), Ok(500_000_000));
        assert_eq!(parse_duration("10us"), Ok(10_000));
        assert_eq!(parse_duration("10µs"), Ok(10_000));
        assert_eq!(parse_duration("250ns"), Ok(250));
        assert_eq!(parse_duration("1.5ms"), Ok(1_500_000));
        assert_eq!(parse_duration("0.25us"), Ok(250));
        assert_eq!(parse_duration("1_000ns"), Ok(1000));
    }

    #[test]
    fn rejects_bad_durations() {
        assert_eq!(parse_duration(""), Err(UnitError::Empty));
        assert_eq!(parse_duration("10"), Err(UnitError::MissingUnit));
        assert_eq!(parse_duration("10min"), Err(UnitError::UnknownUnit));
        assert_eq!(parse_duration("us"), Err(UnitError::NoNumber));
        assert_eq!(
            parse_duration("99999999999999999999s"),
            Err(UnitError::Overflow)
        );
    }

    #[test]
    fn displays_exact_units() {
        assert_eq!(Ns(10_000).to_string(), "10us");
        assert_eq!(Ns(2_000_000_000).to_string(), "2s");
        assert_eq!(Ns(1_500_000).to_string(), "1500us");
        assert_eq!(Ns(7).to_string(), "7ns");
        for s in ["2s", "500ms", "10us", "250ns"] {
            assert_eq!(Ns(parse_duration(s).unwrap()).to_string(), s);
        }
    }

    #[test]
    fn tick_conversions_round_trip() {
        // QEMU 7.x virt: 62.5 MHz, one tick = 16 ns.
        assert_eq!(ticks_to_ns(625, 62_500_000), 10_000);
        assert_eq!(ns_to_ticks(10_000, 62_500_000), 625);
        assert_eq!(ns_to_ticks(1, 62_500_000), 1);
        assert_eq!(ticks_to_ns(1_000, 1_000_000_000), 1_000);
    }
}
