//! Output: console text lines and wire frames, over semihosting or the PL011, from any core.
//! One lock serialises whole lines and whole frames, so cores never interleave mid-line.

pub mod logger;
pub mod semihost;
pub mod uart;

use core::fmt::{self, Write};

use spin::Mutex;
use tickscope_core::config::Transport;
use tickscope_core::wire::{self, MAX_BODY, MAX_WIRE, Message};

use crate::board::BOARD;

/// Where bytes go.
struct Out {
    transport: Transport,
    /// Frames sent so far (the next sequence number).
    seq: u32,
    scratch: [u8; MAX_BODY],
    frame: [u8; MAX_WIRE],
    ready: bool,
}

static OUT: Mutex<Out> = Mutex::new(Out {
    transport: Transport::Semihosting,
    seq: 0,
    scratch: [0; MAX_BODY],
    frame: [0; MAX_WIRE],
    ready: false,
});

/// Opens the transport. Falls back to the UART if semihosting is asked for but the board has none.
pub fn init(transport: Transport) {
    let mut out = OUT.lock();
    out.transport = if BOARD.semihosting {
        transport
    } else {
        Transport::Uart
    };
    uart::init();
    if out.transport == Transport::Semihosting {
        semihost::open();
    }
    out.ready = true;
}

/// The transport in use.
pub fn transport() -> Transport {
    OUT.lock().transport
}

impl Out {
    fn text(&mut self, s: &str) {
        match self.transport {
            Transport::Semihosting => semihost::console(s.as_bytes()),
            Transport::Uart => uart::write(s.as_bytes()),
        }
    }

    fn send(&mut self, msg: &Message) {
        let seq = self.seq;
        let Out { scratch, frame, .. } = self;
        match wire::encode_frame(seq, msg, scratch, frame) {
            Ok(bytes) => {
                match self.transport {
                    Transport::Semihosting => semihost::wire(bytes),
                    Transport::Uart => uart::write(bytes),
                }
                self.seq += 1;
            }
            Err(_) => self.text("tickscope: internal error: message too large for a frame\n"),
        }
    }
}

/// Sends one wire message.
pub fn send(msg: &Message) {
    let daif = crate::arch::irq_save();
    OUT.lock().send(msg);
    crate::arch::irq_restore(daif);
}

/// A line being formatted (longer lines are cut, never split across writers).
pub struct Line(heapless::String<240>);

impl Write for Line {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for c in s.chars() {
            if self.0.push(c).is_err() {
                break;
            }
        }
        Ok(())
    }
}

/// Prints one console line.
pub fn print_line(args: fmt::Arguments<'_>) {
    let mut line = Line(heapless::String::new());
    let _ = line.write_fmt(args);
    let _ = line.0.push('\n');
    let daif = crate::arch::irq_save();
    OUT.lock().text(&line.0);
    crate::arch::irq_restore(daif);
}

/// Last-resort output from a fault handler: takes the lock even if this core held it when the
/// fault hit (the run ends right after).
pub fn emergency(f: impl FnOnce(&mut dyn FnMut(Emergency<'_>))) {
    let mut spins = 0u32;
    let mut guard = loop {
        if let Some(g) = OUT.try_lock() {
            break g;
        }
        spins += 1;
        if spins > 10_000_000 {
            // The holder is stuck: this core, interrupted while holding it, or a faulted core.
            // SAFETY: the run ends right after; nothing else will use the output concurrently.
            unsafe { OUT.force_unlock() };
        }
        core::hint::spin_loop();
    };
    if !guard.ready {
        guard.transport = if BOARD.semihosting {
            Transport::Semihosting
        } else {
            Transport::Uart
        };
        uart::init();
        guard.ready = true;
    }
    f(&mut |item| match item {
        Emergency::Text(args) => {
            let mut line = Line(heapless::String::new());
            let _ = line.write_fmt(args);
            let _ = line.0.push('\n');
            guard.text(&line.0);
        }
        Emergency::Frame(msg) => guard.send(msg),
    });
}

/// Items a fault handler emits.
pub enum Emergency<'a> {
    /// A console line.
    Text(fmt::Arguments<'a>),
    /// A wire frame.
    Frame(&'a Message),
}

/// Prints a console line from any core.
macro_rules! println {
    ($($arg:tt)*) => { $crate::io::print_line(format_args!($($arg)*)) };
}
pub(crate) use println;
