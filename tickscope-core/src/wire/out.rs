//! The firmware's messages: [`Out`] borrows a payload and encodes it byte for byte as the
//! [`Message`] variant it names, so the image holds encoders only for the kinds it sends.
//!
//! Serializing a whole [`Message`] compiles every variant's encoder into the caller, the Linux
//! probe's kinds (trace records, kernel facts, peer output) included: about 700 bytes of the
//! firmware image (#23). A variant's number is its place in [`Message`]; the test below encodes
//! every kind both ways, so a reordered or renumbered kind fails it.

use serde::{Serialize, Serializer};

#[cfg(test)]
use super::Message;
use super::msg::{
    Attribution, Block, CoreOnline, CoreStatus, CycleCalibration, FaultReport, GapCounts,
    HistogramPart, IrqSpan, LogRecord, NeonCheck, NoiseEvent, PanicReport, PsciFailure,
    ReducedEvents, RunHeader, TimerSample, Trailer, Window,
};
use crate::refusal::Refusal;

macro_rules! kinds {
    ($($(#[$doc:meta])* $name:ident($ty:ty) = $index:literal,)*) => {
        /// A message the firmware sends, borrowed: encoded as `Message::<variant>(payload)`.
        #[derive(Clone, Copy)]
        pub enum Out<'a> {
            $($(#[$doc])* $name(&'a $ty),)*
        }

        impl Serialize for Out<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                match *self {
                    $(Out::$name(p) => s.serialize_newtype_variant("Message", $index, stringify!($name), p),)*
                }
            }
        }

        #[cfg(test)]
        impl Out<'_> {
            /// The [`Message`] it stands for.
            fn message(self) -> Message {
                match self {
                    $(Out::$name(p) => Message::$name(p.clone()),)*
                }
            }
        }

        #[cfg(test)]
        /// One of each kind, built from `bytes` (postcard reads any byte string as some value).
        fn every_kind(bytes: &[u8], check: &mut dyn FnMut(Out<'_>)) {
            $(
                let p: $ty = postcard::from_bytes(bytes).unwrap();
                check(Out::$name(&p));
            )*
        }
    };
}

kinds! {
    /// [`Message::Header`].
    Header(RunHeader) = 0,
    /// [`Message::CoreOnline`].
    CoreOnline(CoreOnline) = 1,
    /// [`Message::PsciFailure`].
    PsciFailure(PsciFailure) = 2,
    /// [`Message::Neon`].
    Neon(NeonCheck) = 3,
    /// [`Message::Window`].
    Window(Window) = 4,
    /// [`Message::NoiseEvents`].
    NoiseEvents(Block<NoiseEvent>) = 6,
    /// [`Message::Irqs`].
    Irqs(Block<IrqSpan>) = 7,
    /// [`Message::Attribution`].
    Attribution(Attribution) = 8,
    /// [`Message::Gaps`].
    Gaps(GapCounts) = 11,
    /// [`Message::Histogram`].
    Histogram(HistogramPart) = 12,
    /// [`Message::Reduced`].
    Reduced(ReducedEvents) = 13,
    /// [`Message::CoreStatus`].
    CoreStatus(CoreStatus) = 14,
    /// [`Message::Log`].
    Log(LogRecord) = 17,
    /// [`Message::Fault`].
    Fault(FaultReport) = 18,
    /// [`Message::Panic`].
    Panic(PanicReport) = 19,
    /// [`Message::End`].
    End(Trailer) = 20,
    /// [`Message::Checkpoint`].
    Checkpoint(CoreStatus) = 21,
    /// [`Message::Calibration`].
    Calibration(CycleCalibration) = 23,
    /// [`Message::TimerDeltas`].
    TimerDeltas(Block<TimerSample>) = 24,
    /// [`Message::Refused`].
    Refused(Refusal) = 27,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_encodes_as_the_message_it_names() {
        let mut kinds = 0;
        for fill in [0u8, 1] {
            let bytes = [fill; 2048];
            every_kind(&bytes, &mut |out| {
                let mut a = [0u8; 4096];
                let mut b = [0u8; 4096];
                let ours = super::super::ser::to_slice(&out, &mut a).unwrap();
                let message = out.message();
                let theirs = super::super::ser::to_slice(&message, &mut b).unwrap();
                assert_eq!(ours, theirs, "{message:?}");
                let back: Message = postcard::from_bytes(ours).unwrap();
                assert_eq!(back, message);
                kinds += 1;
            });
        }
        assert_eq!(kinds, 2 * 20);
    }
}
