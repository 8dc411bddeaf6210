//! Output: console text lines and wire frames, over semihosting or the PL011, from any core.
//! One lock serialises whole lines and whole frames, so cores never interleave mid-line; the
//! fault path has its own lock-free route ([`emergency`]) for when that lock is out of reach.

pub mod logger;
pub mod semihost;
pub mod uart;

use core::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, Ordering};

use tickscope_core::config::Transport;
use tickscope_core::text::Line;
use tickscope_core::wire::out::Out;
use tickscope_core::wire::{self, MAX_BODY, MAX_WIRE};
use tickscope_cpu::lock::Mutex;
use tickscope_cpu::{BOARD, timer};

/// Frames sent so far: the next frame's sequence number, shared by both routes so the host sees
/// one numbering whatever route a frame took.
static SEQ: AtomicU32 = AtomicU32::new(0);
/// The transport in use (a `Transport` as u8): until `init`, semihosting where the board has it,
/// else the UART as the loader left it (so even an early fault report goes somewhere real).
static TRANSPORT: AtomicU8 = AtomicU8::new(if BOARD.semihosting {
    Transport::Semihosting as u8
} else {
    Transport::Uart as u8
});
static READY: AtomicBool = AtomicBool::new(false);

/// Frame buffers (the encoder needs scratch space): one set for the normal route, behind the
/// output lock, and one for the fault path.
struct Buffers {
    scratch: [u8; MAX_BODY],
    frame: [u8; MAX_WIRE],
}

impl Buffers {
    const fn new() -> Self {
        Buffers {
            scratch: [0; MAX_BODY],
            frame: [0; MAX_WIRE],
        }
    }
}

static OUT: Mutex<Buffers> = Mutex::new(Buffers::new());
/// Used only by the one core that reports a fault (`tickscope_cpu::stop::claim_report`).
static EMERGENCY: Mutex<Buffers> = Mutex::new(Buffers::new());

fn transport_now() -> Transport {
    if TRANSPORT.load(Ordering::Relaxed) == Transport::Uart as u8 {
        Transport::Uart
    } else {
        Transport::Semihosting
    }
}

/// Opens the transport. Falls back to the UART if semihosting is asked for but the board has none.
pub fn init(transport: Transport) {
    let _guard = OUT.lock();
    let t = if BOARD.semihosting {
        transport
    } else {
        Transport::Uart
    };
    TRANSPORT.store(t as u8, Ordering::Relaxed);
    uart::init();
    if t == Transport::Semihosting {
        semihost::open();
    }
    READY.store(true, Ordering::Release);
}

/// The transport in use.
pub fn transport() -> Transport {
    transport_now()
}

/// Which way bytes go out.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Route {
    /// Through the drivers (the output lock is held).
    Normal,
    /// Plain register writes / raw semihosting calls (the fault path).
    Emergency,
}

fn text(route: Route, s: &str) {
    match (transport_now(), route) {
        (Transport::Semihosting, Route::Normal) => semihost::console(s.as_bytes()),
        (Transport::Semihosting, Route::Emergency) => semihost::emergency_console(s.as_bytes()),
        (Transport::Uart, Route::Normal) => uart::write(s.as_bytes()),
        (Transport::Uart, Route::Emergency) => uart::emergency_write(s.as_bytes()),
    }
}

fn frame(route: Route, buf: &mut Buffers, msg: Out<'_>) {
    let seq = SEQ.fetch_add(1, Ordering::Relaxed);
    match wire::encode_frame(seq, &msg, &mut buf.scratch, &mut buf.frame) {
        Ok(bytes) => match (transport_now(), route) {
            (Transport::Semihosting, Route::Normal) => semihost::wire(bytes),
            (Transport::Semihosting, Route::Emergency) => semihost::emergency_wire(bytes),
            (Transport::Uart, Route::Normal) => uart::write(bytes),
            (Transport::Uart, Route::Emergency) => uart::emergency_write(bytes),
        },
        Err(_) => text(
            route,
            "tickscope: internal error: message too large for a frame\n",
        ),
    }
}

/// Sends one wire message. Interrupts stay enabled: no interrupt handler writes output (the fault
/// path has its own route), so a measured core's timer wakes it on time even mid-frame.
pub fn send(msg: Out<'_>) {
    frame(Route::Normal, &mut OUT.lock(), msg);
}

/// Prints one console line (a newline is added). Lines are built with
/// [`tickscope_core::text::Line`], not `core::fmt`: the image budget.
#[inline(never)]
pub fn print_line(line: &Line) {
    let _guard = OUT.lock();
    text(Route::Normal, line.as_str());
    text(Route::Normal, "\n");
}

/// Prints one console line built by `f`.
pub fn print(f: impl FnOnce(&mut Line) -> &mut Line) {
    let mut line = Line::new();
    f(&mut line);
    print_line(&line);
}

/// Items a fault report emits.
pub enum Emergency<'a> {
    /// A console line (the newline is added).
    Text(&'a str),
    /// A wire frame.
    Frame(Out<'a>),
}

/// How long the fault path waits for the output lock before writing without it (counter ticks
/// derived from CNTFRQ: 10 ms).
fn lock_patience() -> u64 {
    timer::frequency() / 100
}

/// The fault path's output, for the one core reporting a fault after the others were asked to
/// stop. It takes the output lock if it frees up within 10 ms; otherwise (this core held it when
/// the fault hit, or a core that did not stop holds it) it writes without the lock, through the
/// drivers' registers directly. Never forces the lock open: its holder may still be writing.
/// Hands each item of a report to the output.
pub type Emit<'e> = dyn FnMut(Emergency<'_>) + 'e;

/// One copy for every caller (a `dyn` report, not a generic one: the image budget).
pub fn emergency(f: &mut dyn FnMut(&mut Emit<'_>)) {
    let until = timer::now() + lock_patience();
    let mut held = None;
    while held.is_none() && timer::now() < until {
        held = OUT.try_lock();
    }
    let route = if held.is_some() && READY.load(Ordering::Acquire) {
        Route::Normal
    } else {
        Route::Emergency
    };
    let mut spare = EMERGENCY.try_lock();
    f(&mut |item| match item {
        Emergency::Text(line) => {
            text(route, line);
            text(route, "\n");
        }
        Emergency::Frame(msg) => match (held.as_deref_mut(), spare.as_deref_mut()) {
            (Some(buf), _) | (None, Some(buf)) => frame(route, buf, msg),
            (None, None) => {}
        },
    });
}
