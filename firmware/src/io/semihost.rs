//! ARM semihosting (QEMU `-semihosting`): console text to the emulator's stdout, wire frames into
//! `capture.bin` in the emulator's working directory, and the exit status.

use semihosting::fs::File;
use semihosting::io::{Stdout, Write};
use spin::Mutex;

struct Handles {
    console: Option<Stdout>,
    capture: Option<File>,
}

static HANDLES: Mutex<Handles> = Mutex::new(Handles {
    console: None,
    capture: None,
});

/// Opens the console and creates `capture.bin` (truncating an old one).
pub fn open() {
    let mut h = HANDLES.lock();
    h.console = semihosting::io::stdout().ok();
    h.capture = File::create(c"capture.bin").ok();
    if h.capture.is_none() {
        drop(h);
        console(
            b"tickscope: cannot create capture.bin through semihosting; no data will be saved\n",
        );
    }
}

/// Writes console text.
pub fn console(bytes: &[u8]) {
    let mut h = HANDLES.lock();
    if h.console.is_none() {
        h.console = semihosting::io::stdout().ok();
    }
    if let Some(out) = h.console.as_mut() {
        let _ = out.write_all(bytes);
    }
}

/// Appends wire bytes to the capture file.
pub fn wire(bytes: &[u8]) {
    if let Some(f) = HANDLES.lock().capture.as_mut() {
        let _ = f.write_all(bytes);
    }
}

/// Ends the emulation with `status` as the emulator's exit code (SYS_EXIT_EXTENDED).
pub fn exit(status: u8) -> ! {
    semihosting::process::exit(status as i32)
}
