//! ARM semihosting (QEMU `-semihosting`): console text to the emulator's stdout, wire frames into
//! `capture.bin` in the emulator's working directory, and the exit status. The raw handles are
//! kept too, for the fault path's lock-free [`emergency_console`] and [`emergency_wire`].

use core::sync::atomic::{AtomicI32, Ordering};

use semihosting::fd::{AsFd, BorrowedFd};
use semihosting::fs::File;
use semihosting::io::{Stdout, Write};
use semihosting::sys::write as sys_write;
use spin::Mutex;

struct Handles {
    console: Option<Stdout>,
    capture: Option<File>,
}

static HANDLES: Mutex<Handles> = Mutex::new(Handles {
    console: None,
    capture: None,
});
/// Raw handles of the open console and capture file (-1: none). They stay open for the run.
static CONSOLE_FD: AtomicI32 = AtomicI32::new(-1);
static CAPTURE_FD: AtomicI32 = AtomicI32::new(-1);

/// Opens the console and creates `capture.bin` (truncating an old one).
pub fn open() {
    let mut h = HANDLES.lock();
    h.console = semihosting::io::stdout().ok();
    h.capture = File::create(c"capture.bin").ok();
    if let Some(c) = &h.console {
        CONSOLE_FD.store(c.as_fd().as_raw_fd(), Ordering::Release);
    }
    if let Some(f) = &h.capture {
        CAPTURE_FD.store(f.as_fd().as_raw_fd(), Ordering::Release);
    }
    if h.capture.is_none() {
        drop(h);
        console(
            b"tickscope: cannot create capture.bin through semihosting; no data will be saved\n",
        );
    }
}

/// Writes console text (after [`open`]).
pub fn console(bytes: &[u8]) {
    if let Some(out) = HANDLES.lock().console.as_mut() {
        let _ = out.write_all(bytes);
    }
}

/// Appends wire bytes to the capture file.
pub fn wire(bytes: &[u8]) {
    if let Some(f) = HANDLES.lock().capture.as_mut() {
        let _ = f.write_all(bytes);
    }
}

fn write_raw(fd: &AtomicI32, mut bytes: &[u8]) {
    let fd = fd.load(Ordering::Acquire);
    if fd < 0 {
        return;
    }
    // SAFETY: the handle was opened by `open`/`console` and is never closed during a run.
    let fd = unsafe { BorrowedFd::borrow_raw(fd) };
    while !bytes.is_empty() {
        match sys_write(fd, bytes) {
            Ok(0) | Err(_) => return,
            Ok(n) => bytes = &bytes[n.min(bytes.len())..],
        }
    }
}

/// Console text without the handles' lock (the fault path, other cores stopped).
pub fn emergency_console(bytes: &[u8]) {
    if CONSOLE_FD.load(Ordering::Acquire) < 0 {
        // No console opened yet (a fault during early boot): open one just for this.
        if let Ok(out) = semihosting::io::stdout() {
            CONSOLE_FD.store(out.as_fd().as_raw_fd(), Ordering::Release);
            core::mem::forget(out);
        }
    }
    write_raw(&CONSOLE_FD, bytes);
}

/// Wire bytes without the handles' lock (the fault path, other cores stopped).
pub fn emergency_wire(bytes: &[u8]) {
    write_raw(&CAPTURE_FD, bytes);
}

/// Ends the emulation with `status` as the emulator's exit code (SYS_EXIT_EXTENDED).
pub fn exit(status: u8) -> ! {
    semihosting::process::exit(status as i32)
}
