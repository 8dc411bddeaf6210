//! The configuration in the form the firmware reads: a fixed little-endian layout, written by the
//! host (as hex, `cfg=HEX` on the semihosting command line) so the image carries no text parser.

use strum::VariantArray;

use crate::config::Transport;
use crate::config::{Config, Drain, FaultKind, InjectTick, Mode, Problem, Reduce, TimerChoice};

/// First byte of the layout: says "a tickscope configuration".
pub const MAGIC: u8 = 0xC5;
/// Layout version (second byte). Bump on any change below.
pub const VERSION: u8 = 1;
/// Bytes of an encoded configuration.
pub const LEN: usize = 72;
/// The key that carries the hex form on the command line.
pub const KEY: &str = "cfg";

/// Appends little-endian bytes; the layout's one writer.
struct Writer {
    buf: [u8; LEN],
    at: usize,
}

impl Writer {
    fn put(&mut self, bytes: &[u8]) {
        self.buf[self.at..self.at + bytes.len()].copy_from_slice(bytes);
        self.at += bytes.len();
    }
}

/// Reads little-endian fields in the writer's order; the layout's one reader.
struct Reader<'a> {
    bytes: &'a [u8],
}

impl Reader<'_> {
    /// The next `N` bytes. `from_bytes` checked the length first; past the end (which it rules
    /// out) this reads zeros rather than panic, since a panic's message would pull `core::fmt`
    /// into the firmware.
    fn take<const N: usize>(&mut self) -> [u8; N] {
        match self.bytes.split_first_chunk::<N>() {
            Some((head, rest)) => {
                self.bytes = rest;
                *head
            }
            None => [0; N],
        }
    }
    fn u8(&mut self) -> u8 {
        self.take::<1>()[0]
    }
    fn u16(&mut self) -> u16 {
        u16::from_le_bytes(self.take())
    }
    fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.take())
    }
    fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.take())
    }
    /// A variant by its index in `T::VARIANTS`.
    fn variant<T: VariantArray + Copy>(&mut self) -> Result<T, Problem> {
        T::VARIANTS
            .get(self.u8() as usize)
            .copied()
            .ok_or(Problem::UnknownValue)
    }
}

/// The index of `v` in `T::VARIANTS`.
fn index<T: VariantArray + PartialEq>(v: &T) -> u8 {
    T::VARIANTS.iter().position(|x| x == v).unwrap_or(0) as u8
}

impl Config {
    /// The fixed layout of this configuration.
    pub fn to_bytes(&self) -> [u8; LEN] {
        let mut w = Writer {
            buf: [0; LEN],
            at: 0,
        };
        let (hz, inject_ns) = self.inject.map(|i| (i.hz, i.duration_ns)).unwrap_or((0, 0));
        w.put(&[MAGIC, VERSION, index(&self.mode), self.el]);
        w.put(&self.smp.to_le_bytes());
        w.put(&[self.gic]);
        for v in [
            self.cores,
            self.duration_ns,
            self.period_ns,
            self.threshold_ns,
        ] {
            w.put(&v.to_le_bytes());
        }
        w.put(&hz.to_le_bytes());
        w.put(&inject_ns.to_le_bytes());
        w.put(&[
            index(&self.timer),
            index(&self.transport),
            index(&self.fault),
            self.interference as u8,
            index(&self.drain),
            index(&self.reduce),
        ]);
        w.put(&self.baud.to_le_bytes());
        w.put(&[self.icount as u8]);
        w.put(&self.boot_core.unwrap_or(u16::MAX).to_le_bytes());
        w.put(&self.checkpoint_ns.to_le_bytes());
        debug_assert_eq!(w.at, LEN);
        w.buf
    }

    /// Reads the fixed layout. Refuses another length, magic or version, and unknown values.
    pub fn from_bytes(bytes: &[u8]) -> Result<Config, Problem> {
        let Some(([MAGIC, VERSION], fields)) = bytes.split_first_chunk::<2>() else {
            return Err(Problem::NotBinary);
        };
        if bytes.len() != LEN {
            return Err(Problem::NotBinary);
        }
        let mut r = Reader { bytes: fields };
        let mode = r.variant::<Mode>()?;
        let (el, smp, gic) = (r.u8(), r.u16(), r.u8());
        let (cores, duration_ns, period_ns, threshold_ns) = (r.u64(), r.u64(), r.u64(), r.u64());
        let (hz, inject_ns) = (r.u32(), r.u64());
        Ok(Config {
            mode,
            el,
            smp,
            gic,
            cores,
            duration_ns,
            period_ns,
            threshold_ns,
            inject: (hz != 0).then_some(InjectTick {
                hz,
                duration_ns: inject_ns,
            }),
            timer: r.variant::<TimerChoice>()?,
            transport: r.variant::<Transport>()?,
            fault: r.variant::<FaultKind>()?,
            interference: r.u8() != 0,
            drain: r.variant::<Drain>()?,
            reduce: r.variant::<Reduce>()?,
            baud: r.u32(),
            icount: r.u8() != 0,
            boot_core: Some(r.u16()).filter(|&c| c != u16::MAX),
            checkpoint_ns: r.u64(),
        })
    }

    /// The hex form for the command line (`cfg=` followed by this).
    pub fn to_hex(&self) -> heapless::String<{ 2 * LEN }> {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut s = heapless::String::new();
        for b in self.to_bytes() {
            for d in [b >> 4, b & 15] {
                let _ = s.push(DIGITS[d as usize] as char);
            }
        }
        s
    }

    /// Reads the hex form.
    pub fn from_hex(hex: impl AsRef<[u8]>) -> Result<Config, Problem> {
        let hex = hex.as_ref();
        if hex.len() != 2 * LEN {
            return Err(Problem::NotBinary);
        }
        let mut bytes = [0u8; LEN];
        for (byte, pair) in bytes.iter_mut().zip(hex.chunks_exact(2)) {
            let digit = |c: u8| (c as char).to_digit(16).ok_or(Problem::NotBinary);
            let [high, low] = pair else {
                return Err(Problem::NotBinary);
            };
            *byte = (digit(*high)? << 4 | digit(*low)?) as u8;
        }
        Config::from_bytes(&bytes)
    }

    /// The configuration on a semihosting command line: the program name, then `cfg=HEX`.
    /// `Ok(None)` when the line carries no setting at all. Bytes, not text: the firmware reads
    /// the line as the emulator hands it over, with no UTF-8 check.
    pub fn from_command_line(line: impl AsRef<[u8]>) -> Result<Option<Config>, Problem> {
        let mut found = None;
        let tokens = line.as_ref().split(u8::is_ascii_whitespace);
        for (i, token) in tokens.filter(|t| !t.is_empty()).enumerate() {
            let mut parts = token.splitn(2, |&b| b == b'=');
            match (parts.next(), parts.next()) {
                (Some(key), Some(hex)) if key == KEY.as_bytes() => {
                    found = Some(Config::from_hex(hex)?)
                }
                (_, Some(_)) => return Err(Problem::NotBinary),
                _ if i == 0 => {}
                _ => return Err(Problem::NotBinary),
            }
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_setting_survives_the_round_trip() {
        let cases = [
            Config::default(),
            Config::parse(
                "mode=noise el=2 smp=48 gic=3 cores=46,47 duration=10s period=250us \
                 threshold=750ns inject=250:10us timer=hyp transport=uart fault=stack-overflow \
                 interference=on drain=after reduce=histogram baud=921600 icount=on \
                 boot-core=17 checkpoint=off",
            )
            .unwrap(),
            Config::parse("mode=timer timer=phys fault=hvc drain=live reduce=raw boot-core=0")
                .unwrap(),
        ];
        for c in cases {
            assert_eq!(Config::from_bytes(&c.to_bytes()), Ok(c));
            assert_eq!(Config::from_hex(&c.to_hex()), Ok(c));
            let line = format!("tickscope {KEY}={}", c.to_hex());
            assert_eq!(Config::from_command_line(&line), Ok(Some(c)));
        }
    }

    #[test]
    fn damaged_or_foreign_input_is_refused() {
        let c = Config::default();
        let good = c.to_bytes();
        let mut bad = good;
        bad[1] = VERSION + 1;
        assert_eq!(
            Config::from_bytes(&bad),
            Err(Problem::NotBinary),
            "another version"
        );
        assert_eq!(
            Config::from_bytes(&good[..LEN - 1]),
            Err(Problem::NotBinary)
        );
        let mut bad = good;
        bad[2] = 200;
        assert_eq!(
            Config::from_bytes(&bad),
            Err(Problem::UnknownValue),
            "a mode index"
        );
        let hex = c.to_hex();
        assert_eq!(Config::from_hex(&hex[1..]), Err(Problem::NotBinary));
        assert_eq!(
            Config::from_hex(&hex.replace('0', "g")),
            Err(Problem::NotBinary)
        );
        // The text form is the host's: the firmware's reader says so rather than guessing.
        assert_eq!(
            Config::from_command_line("tickscope mode=noise"),
            Err(Problem::NotBinary)
        );
        assert_eq!(Config::from_command_line("tickscope"), Ok(None));
        assert_eq!(Config::from_command_line(""), Ok(None));
    }
}
