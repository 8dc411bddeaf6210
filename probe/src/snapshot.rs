//! The point where the host snapshots a booted guest (the probe's first step as init), and the
//! buffer it writes the run's arguments into when it restores one: Linux boots once per kernel,
//! command line and initramfs.
//!
//! The host finds both through [`HOOKS`], a record in the `.tickscope_hooks` section of this
//! (static, non-PIE) executable: it stops the machine with a debugger breakpoint on the first
//! instruction of [`snapshot_point`] (an exact instruction, so the snapshot is the same on every
//! host), saves it, and for each run restores it, writes the arguments into [`ARGS`] through the
//! debugger while the machine is stopped, and lets it go on.

use std::cell::UnsafeCell;

/// Bytes of arguments the host can write (one line of text, NUL-terminated).
pub const ARGS_LEN: usize = 4096;

/// Page-aligned so that one write from the probe maps the whole buffer (the host's debugger
/// writes through the page tables: an untouched page is not mapped yet).
#[repr(C, align(4096))]
pub struct ArgsBuf(UnsafeCell<[u8; ARGS_LEN]>);

// SAFETY: the buffer is written by the host while every CPU is stopped, and read by the probe's
// main thread only after `snapshot_point` returns; no two threads of the probe touch it.
unsafe impl Sync for ArgsBuf {}

/// Where the host writes the run's arguments.
pub static ARGS: ArgsBuf = ArgsBuf(UnsafeCell::new([0; ARGS_LEN]));

/// What the host reads from the executable: `magic`, then the breakpoint address, the buffer's
/// address and its length, each a little-endian u64.
#[repr(C)]
pub struct Hooks {
    magic: u64,
    point: extern "C" fn(*mut u8),
    args: &'static ArgsBuf,
    len: u64,
}

/// `tickscope` in ASCII, then the layout's version (1).
pub const HOOKS_MAGIC: u64 = u64::from_le_bytes(*b"tkscope1");

// SAFETY (Sync): the record is immutable; its pointers are only compared and read by the host.
unsafe impl Sync for Hooks {}

/// The record the host reads (kept by `#[used]`; its section survives stripping).
#[used]
#[unsafe(link_section = ".tickscope_hooks")]
pub static HOOKS: Hooks = Hooks {
    magic: HOOKS_MAGIC,
    point: snapshot_point,
    args: &ARGS,
    len: ARGS_LEN as u64,
};

/// The breakpoint's target. The asm statement takes the buffer and may read or write memory, so
/// the compiler assumes `ARGS` changed across the call (the host wrote it meanwhile).
#[inline(never)]
pub extern "C" fn snapshot_point(args: *mut u8) {
    #[cfg(target_arch = "aarch64")]
    // SAFETY: a `nop` with an input register: it touches neither memory nor the stack.
    unsafe {
        std::arch::asm!("nop", in("x0") args, options(nostack, preserves_flags))
    };
    // Elsewhere (a probe built for the host, never snapshotted) only the call has to remain.
    #[cfg(not(target_arch = "aarch64"))]
    std::hint::black_box(args);
}

/// Maps the buffer (one write per page), stops at the snapshot point, and returns the arguments
/// the host wrote (empty if it wrote none: the probe was not started by a restoring host).
pub fn await_args() -> Vec<String> {
    let buf = ARGS.0.get() as *mut u8;
    for page in (0..ARGS_LEN).step_by(4096) {
        // SAFETY: `page` < ARGS_LEN, inside the buffer; only this thread touches it (see Sync).
        unsafe { buf.add(page).write_volatile(0) };
    }
    snapshot_point(buf);
    // SAFETY: as above; the host's write is complete (it happened while the machine was stopped).
    let bytes = unsafe { &*ARGS.0.get() };
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(ARGS_LEN);
    String::from_utf8_lossy(&bytes[..end])
        .split_whitespace()
        .map(String::from)
        .collect()
}
