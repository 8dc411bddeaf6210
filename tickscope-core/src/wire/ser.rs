//! The encoder of the wire format: postcard's byte layout (varints, zigzag, length-prefixed
//! sequences, variant indices), written by a serde serializer that cannot fail.
//!
//! postcard's own serializer returns an error from every field when its buffer fills, and each
//! derived `serialize` carries those error paths: about 4 KB of the firmware image. Here a full
//! buffer only sets a flag that [`to_slice`] reports once, every method returns `Ok`, and the
//! derived code compiles down to straight-line writes. The host decodes with postcard itself;
//! the tests check both agree byte for byte on every message kind.

use core::fmt;

use serde::ser::{self, Serialize};

/// The one error of [`Serializer`]: never returned by its methods (a full buffer is reported by
/// [`to_slice`]); exists because serde's trait asks for one.
#[derive(Debug)]
pub struct Unreachable;

impl fmt::Display for Unreachable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("unserialisable value")
    }
}

impl core::error::Error for Unreachable {}

impl ser::Error for Unreachable {
    fn custom<T: fmt::Display>(_msg: T) -> Self {
        Unreachable
    }
}

/// Writes into a byte slice; remembers, instead of failing, when the slice was too short.
pub struct Serializer<'a> {
    out: &'a mut [u8],
    len: usize,
    overflow: bool,
}

/// Serialises `value` into `out` in postcard's format; `None` when it does not fit.
pub fn to_slice<'a, T: Serialize + ?Sized>(value: &T, out: &'a mut [u8]) -> Option<&'a mut [u8]> {
    let mut s = Serializer {
        out,
        len: 0,
        overflow: false,
    };
    // Every method of `Serializer` returns `Ok` (a custom error from a `Serialize` impl counts as
    // a value that does not fit).
    let failed = value.serialize(&mut s).is_err();
    if failed || s.overflow {
        return None;
    }
    s.out.get_mut(..s.len)
}

impl Serializer<'_> {
    #[inline(never)]
    fn bytes(&mut self, b: &[u8]) {
        match self.out.get_mut(self.len..self.len + b.len()) {
            Some(dst) => {
                // A zip, not `copy_from_slice`: its length check formats a panic message.
                dst.iter_mut().zip(b).for_each(|(d, s)| *d = *s);
                self.len += b.len();
            }
            None => self.overflow = true,
        }
    }

    /// An unsigned LEB128 varint (postcard's form of every integer wider than a byte).
    #[inline(never)]
    fn varint(&mut self, mut v: u64) {
        let mut buf = [0u8; 10];
        let mut n = 0;
        // Ten 7-bit groups hold a u64; walking them (not indexing) needs no bounds check.
        for byte in buf.iter_mut() {
            let low = (v & 0x7f) as u8;
            v >>= 7;
            *byte = low | if v != 0 { 0x80 } else { 0 };
            n += 1;
            if v == 0 {
                break;
            }
        }
        self.bytes(buf.get(..n).unwrap_or(&[]));
    }

    fn zigzag(&mut self, v: i64) {
        self.varint(((v << 1) ^ (v >> 63)) as u64);
    }
}

type R = core::result::Result<(), Unreachable>;

impl<'a, 'b> ser::Serializer for &'a mut Serializer<'b> {
    type Ok = ();
    type Error = Unreachable;
    type SerializeSeq = Self;
    type SerializeTuple = Self;
    type SerializeTupleStruct = Self;
    type SerializeTupleVariant = Self;
    type SerializeMap = Self;
    type SerializeStruct = Self;
    type SerializeStructVariant = Self;

    fn serialize_bool(self, v: bool) -> R {
        self.bytes(&[v as u8]);
        Ok(())
    }
    fn serialize_i8(self, v: i8) -> R {
        self.bytes(&[v as u8]);
        Ok(())
    }
    fn serialize_i16(self, v: i16) -> R {
        self.zigzag(v.into());
        Ok(())
    }
    fn serialize_i32(self, v: i32) -> R {
        self.zigzag(v.into());
        Ok(())
    }
    fn serialize_i64(self, v: i64) -> R {
        self.zigzag(v);
        Ok(())
    }
    fn serialize_u8(self, v: u8) -> R {
        self.bytes(&[v]);
        Ok(())
    }
    fn serialize_u16(self, v: u16) -> R {
        self.varint(v.into());
        Ok(())
    }
    fn serialize_u32(self, v: u32) -> R {
        self.varint(v.into());
        Ok(())
    }
    fn serialize_u64(self, v: u64) -> R {
        self.varint(v);
        Ok(())
    }
    fn serialize_f32(self, v: f32) -> R {
        self.bytes(&v.to_le_bytes());
        Ok(())
    }
    fn serialize_f64(self, v: f64) -> R {
        self.bytes(&v.to_le_bytes());
        Ok(())
    }
    fn serialize_char(self, v: char) -> R {
        let mut buf = [0u8; 4];
        self.serialize_str(v.encode_utf8(&mut buf))
    }
    fn serialize_str(self, v: &str) -> R {
        self.serialize_bytes(v.as_bytes())
    }
    fn serialize_bytes(self, v: &[u8]) -> R {
        self.varint(v.len() as u64);
        self.bytes(v);
        Ok(())
    }
    fn serialize_none(self) -> R {
        self.bytes(&[0]);
        Ok(())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> R {
        self.bytes(&[1]);
        value.serialize(self)
    }
    fn serialize_unit(self) -> R {
        Ok(())
    }
    fn serialize_unit_struct(self, _name: &'static str) -> R {
        Ok(())
    }
    fn serialize_unit_variant(self, _name: &'static str, index: u32, _variant: &'static str) -> R {
        self.varint(index.into());
        Ok(())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _name: &'static str, value: &T) -> R {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        index: u32,
        _variant: &'static str,
        value: &T,
    ) -> R {
        self.varint(index.into());
        value.serialize(self)
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<Self, Unreachable> {
        // postcard needs the length up front; every sequence on the wire is a slice or a
        // bounded vector, which know theirs. One without is written as empty and flagged.
        match len {
            Some(n) => self.varint(n as u64),
            None => self.overflow = true,
        }
        Ok(self)
    }
    fn serialize_tuple(self, _len: usize) -> Result<Self, Unreachable> {
        Ok(self)
    }
    fn serialize_tuple_struct(self, _name: &'static str, _len: usize) -> Result<Self, Unreachable> {
        Ok(self)
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self, Unreachable> {
        self.varint(index.into());
        Ok(self)
    }
    fn serialize_map(self, len: Option<usize>) -> Result<Self, Unreachable> {
        self.serialize_seq(len)
    }
    fn serialize_struct(self, _name: &'static str, _len: usize) -> Result<Self, Unreachable> {
        Ok(self)
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self, Unreachable> {
        self.varint(index.into());
        Ok(self)
    }
    fn collect_str<T: fmt::Display + ?Sized>(self, _value: &T) -> R {
        // Would need `core::fmt` into a buffer; nothing on the wire is written this way.
        self.overflow = true;
        Ok(())
    }
    fn is_human_readable(&self) -> bool {
        false
    }
}

/// Implements serde's compound-value traits: each element is written in order.
macro_rules! compound {
    ($($trait:ident :: $method:ident),*) => {$(
        impl ser::$trait for &mut Serializer<'_> {
            type Ok = ();
            type Error = Unreachable;
            fn $method<T: Serialize + ?Sized>(&mut self, value: &T) -> R {
                value.serialize(&mut **self)
            }
            fn end(self) -> R {
                Ok(())
            }
        }
    )*};
}
compound!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field
);

impl ser::SerializeStruct for &mut Serializer<'_> {
    type Ok = ();
    type Error = Unreachable;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, _key: &'static str, value: &T) -> R {
        value.serialize(&mut **self)
    }
    fn end(self) -> R {
        Ok(())
    }
}

impl ser::SerializeStructVariant for &mut Serializer<'_> {
    type Ok = ();
    type Error = Unreachable;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, _key: &'static str, value: &T) -> R {
        value.serialize(&mut **self)
    }
    fn end(self) -> R {
        Ok(())
    }
}

impl ser::SerializeMap for &mut Serializer<'_> {
    type Ok = ();
    type Error = Unreachable;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> R {
        key.serialize(&mut **self)
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> R {
        value.serialize(&mut **self)
    }
    fn end(self) -> R {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;
    use serde::Serialize;

    use super::to_slice;

    #[derive(Serialize, Debug, Clone)]
    struct Unit;
    #[derive(Serialize, Debug, Clone)]
    struct Newtype(u32);
    #[derive(Serialize, Debug, Clone)]
    struct Pair(i16, u64);
    #[derive(Serialize, Debug, Clone)]
    enum Kind {
        Plain,
        Wrapped(u64),
        Tuple(i32, bool),
        Fields { a: u8, b: Option<u16> },
    }

    /// Every shape serde has, with values proptest picks.
    #[derive(Serialize, Debug, Clone)]
    struct Everything {
        flag: bool,
        i8: i8,
        i16: i16,
        i32: i32,
        i64: i64,
        u8: u8,
        u16: u16,
        u32: u32,
        u64: u64,
        usize: usize,
        f32: f32,
        f64: f64,
        ch: char,
        text: String,
        none: Option<u64>,
        some: Option<u64>,
        unit: (),
        unit_struct: Unit,
        newtype: Newtype,
        pair: Pair,
        array: [(u64, u64); 2],
        seq: Vec<(u16, u64)>,
        kinds: Vec<Kind>,
        map: BTreeMap<u8, String>,
        heapless: heapless::Vec<u32, 8>,
        bounded: heapless::String<16>,
    }

    fn kind(n: u64) -> Kind {
        match n % 4 {
            0 => Kind::Plain,
            1 => Kind::Wrapped(n),
            2 => Kind::Tuple(-(n as i32), n.is_multiple_of(3)),
            _ => Kind::Fields {
                a: n as u8,
                b: n.is_multiple_of(2).then_some(n as u16),
            },
        }
    }

    prop_compose! {
        fn everything()(
            flag: bool, i8: i8, i16: i16, i32: i32, i64: i64, u8: u8, u16: u16, u32: u32,
            u64: u64, usize: usize, f32: f32, f64: f64, ch: char, text in ".{0,40}",
            some: u64, seq in prop::collection::vec(any::<(u16, u64)>(), 0..300),
            kinds in prop::collection::vec(any::<u64>(), 0..20),
            map in prop::collection::btree_map(any::<u8>(), "[a-z]{0,5}", 0..5),
            small in prop::collection::vec(any::<u32>(), 0..8), bounded in "[a-zµ]{0,5}",
        ) -> Everything {
            Everything {
                flag, i8, i16, i32, i64, u8, u16, u32, u64, usize, f32, f64, ch, text,
                none: None, some: Some(some), unit: (), unit_struct: Unit,
                newtype: Newtype(u32), pair: Pair(i16, u64), array: [(u64, 1), (2, u64)], seq,
                kinds: kinds.into_iter().map(kind).collect(), map,
                heapless: heapless::Vec::from_slice(&small).unwrap(),
                bounded: heapless::String::try_from(bounded.as_str()).unwrap(),
            }
        }
    }

    proptest! {
        #[test]
        fn writes_what_postcard_writes(v in everything()) {
            let reference = postcard::to_allocvec(&v).unwrap();
            let mut buf = vec![0u8; reference.len()];
            let ours = to_slice(&v, &mut buf).expect("fits exactly");
            prop_assert_eq!(&ours[..], &reference[..]);
        }

        #[test]
        fn a_short_buffer_is_refused_not_cut(v in everything(), short in 1usize..64) {
            let need = postcard::to_allocvec(&v).unwrap().len();
            let mut buf = vec![0u8; need.saturating_sub(short)];
            prop_assert!(to_slice(&v, &mut buf).is_none());
        }
    }

    #[test]
    fn every_message_of_a_run_encodes_as_postcard_does() {
        use crate::config::Config;
        use crate::wire::msg::*;
        let msgs = [
            Message::End(Trailer {
                status: 3,
                cores_online: 4,
                at: u64::MAX,
            }),
            Message::PsciFailure(PsciFailure {
                core: 7,
                mpidr: 0x8000_0103,
                code: -2,
            }),
            Message::Neon(NeonCheck {
                core: 1,
                value: 0xdead_beef,
            }),
            Message::Header(RunHeader {
                format: 9,
                source: Source::Firmware,
                board: heapless::String::try_from("qemu-virt").unwrap(),
                midr: 0x410f_d083,
                el: 2,
                boot_el: 2,
                gic: 3,
                counter_hz: 62_500_000,
                reset_ticks: 12345,
                config: Config::default(),
                boot_core: 0,
                timer: Default::default(),
                pmu: true,
                reduced: false,
                revision: heapless::String::try_from("abc~").unwrap(),
                kernel: heapless::String::new(),
                cmdline: heapless::String::new(),
            }),
        ];
        for m in &msgs {
            let reference = postcard::to_allocvec(m).unwrap();
            let mut buf = [0u8; 1024];
            assert_eq!(to_slice(m, &mut buf).unwrap(), &reference[..], "{m:?}");
        }
    }
}
