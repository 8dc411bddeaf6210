//! ARM semihosting (QEMU `-semihosting`): console text to the emulator's stdout, wire frames into
//! `capture.bin` in the emulator's working directory, the command line, and the exit status.
//!
//! Five calls of the Arm semihosting specification (v2, AArch64: `HLT #0xF000`, operation in W0,
//! parameter block in X1), written here rather than through the `semihosting` crate: its
//! general I/O layer (handle types, error conversion, panicking paths) cost about 2 KB of an
//! image that has to fit 40 KiB. Writers are serialised by the caller (the output lock in
//! `io`, or the fault path with the other cores stopped), so handles are plain numbers.

use core::sync::atomic::{AtomicIsize, Ordering};

/// Operation numbers (Arm semihosting specification, "Semihosting operations").
mod op {
    pub const SYS_OPEN: usize = 0x01;
    pub const SYS_WRITE: usize = 0x05;
    pub const SYS_GET_CMDLINE: usize = 0x15;
    pub const SYS_EXIT: usize = 0x18;
}

/// SYS_OPEN modes (the specification's index into fopen's mode strings).
const MODE_W: usize = 4;
const MODE_WB: usize = 5;
/// SYS_EXIT reason ADP_Stopped_ApplicationExit: with AArch64 the subcode is the exit status.
const APPLICATION_EXIT: usize = 0x2_0026;

/// Handles of the open console and capture file (-1: none). They stay open for the run.
static CONSOLE: AtomicIsize = AtomicIsize::new(-1);
static CAPTURE: AtomicIsize = AtomicIsize::new(-1);

/// One semihosting call with the parameter block `block`; returns X0.
fn call(op: usize, block: &mut [usize]) -> isize {
    let ret: isize;
    // SAFETY: `HLT #0xF000` traps to the semihosting host (QEMU), which reads the parameter
    // block in X1 (live for the call) and writes only the memory the operation names (the
    // block, or a buffer it points to: `GET_CMDLINE`); registers other than X0 are preserved.
    unsafe {
        core::arch::asm!(
            "hlt #0xf000",
            inout("x0") op as isize => ret,
            in("x1") block.as_mut_ptr(),
            options(nostack),
        );
    }
    ret
}

/// Opens `name` (NUL-terminated) with `mode`; -1 on failure.
fn open_file(name: &core::ffi::CStr, mode: usize) -> isize {
    let bytes = name.to_bytes();
    call(
        op::SYS_OPEN,
        &mut [bytes.as_ptr() as usize, mode, bytes.len()],
    )
}

/// The emulator's stdout (`:tt` opened for writing).
fn open_console() -> isize {
    open_file(c":tt", MODE_W)
}

/// Opens the console and creates `capture.bin` (truncating an old one).
pub fn open() {
    CONSOLE.store(open_console(), Ordering::Release);
    let capture = open_file(c"capture.bin", MODE_WB);
    CAPTURE.store(capture, Ordering::Release);
    if capture < 0 {
        console(
            b"tickscope: cannot create capture.bin through semihosting; no data will be saved\n",
        );
    }
}

/// Writes all of `bytes` to `handle` (SYS_WRITE returns how many bytes it did not write).
fn write(handle: &AtomicIsize, mut bytes: &[u8]) {
    let h = handle.load(Ordering::Acquire);
    if h < 0 {
        return;
    }
    while !bytes.is_empty() {
        let left = call(
            op::SYS_WRITE,
            &mut [h as usize, bytes.as_ptr() as usize, bytes.len()],
        );
        if left <= 0 || left as usize >= bytes.len() {
            return;
        }
        bytes = bytes.get(bytes.len() - left as usize..).unwrap_or(&[]);
    }
}

/// Writes console text (after [`open`]).
pub fn console(bytes: &[u8]) {
    write(&CONSOLE, bytes);
}

/// Appends wire bytes to the capture file.
pub fn wire(bytes: &[u8]) {
    write(&CAPTURE, bytes);
}

/// Console text from the fault path (other cores stopped); opens the console first when a
/// fault comes before [`open`].
pub fn emergency_console(bytes: &[u8]) {
    if CONSOLE.load(Ordering::Acquire) < 0 {
        CONSOLE.store(open_console(), Ordering::Release);
    }
    write(&CONSOLE, bytes);
}

/// Wire bytes from the fault path (other cores stopped).
pub fn emergency_wire(bytes: &[u8]) {
    write(&CAPTURE, bytes);
}

/// The emulator's command line for this image (`-append`), read into `buf`; empty when there
/// is none.
pub fn command_line(buf: &mut [u8]) -> &[u8] {
    let mut block = [buf.as_mut_ptr() as usize, buf.len()];
    if call(op::SYS_GET_CMDLINE, &mut block) != 0 {
        return &[];
    }
    // The host wrote `block[1]` bytes (without the terminating NUL) into `buf`.
    buf.get(..block[1].min(buf.len())).unwrap_or(&[])
}

/// Ends the emulation with `status` as the emulator's exit code.
pub fn exit(status: u8) -> ! {
    call(op::SYS_EXIT, &mut [APPLICATION_EXIT, status as usize]);
    // Only reached when the host ignored the call.
    loop {
        aarch64_cpu::asm::wfi();
    }
}
