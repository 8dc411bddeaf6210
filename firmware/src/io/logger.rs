//! The `defmt` global logger: each log message becomes one `Log` wire frame carrying the core
//! and the counter, decoded on the host with the firmware ELF's `.defmt` table.

use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, Ordering};

use tickscope_core::wire::msg::{LOG_BYTES, LogRecord};
use tickscope_core::wire::out::Out;

use tickscope_cpu::{cores, regs, timer};

#[defmt::global_logger]
struct Logger;

struct Pending {
    data: heapless::Vec<u8, LOG_BYTES>,
    daif: u64,
}

struct PendingCell(UnsafeCell<Pending>);
// SAFETY: only the core holding TAKEN (with its interrupts masked) touches the buffer.
unsafe impl Sync for PendingCell {}

static TAKEN: AtomicBool = AtomicBool::new(false);
static PENDING: PendingCell = PendingCell(UnsafeCell::new(Pending {
    data: heapless::Vec::new(),
    daif: 0,
}));

// SAFETY: acquire/release bracket every message; TAKEN makes the buffer exclusive and interrupts
// are masked on the owning core in between, so a log cannot re-enter the logger.
unsafe impl defmt::Logger for Logger {
    fn acquire() {
        let daif = regs::irq_save();
        while TAKEN.swap(true, Ordering::Acquire) {
            core::hint::spin_loop();
        }
        // SAFETY: we hold TAKEN.
        let p = unsafe { &mut *PENDING.0.get() };
        p.data.clear();
        p.daif = daif;
    }

    unsafe fn flush() {}

    unsafe fn release() {
        // SAFETY: we hold TAKEN (defmt calls release after acquire).
        let p = unsafe { &mut *PENDING.0.get() };
        let rec = LogRecord {
            core: cores::index() as u16,
            at: timer::now(),
            data: p.data.clone(),
        };
        crate::io::send(Out::Log(&rec));
        let daif = p.daif;
        TAKEN.store(false, Ordering::Release);
        regs::irq_restore(daif);
    }

    unsafe fn write(bytes: &[u8]) {
        // SAFETY: we hold TAKEN.
        let p = unsafe { &mut *PENDING.0.get() };
        for &b in bytes {
            if p.data.push(b).is_err() {
                break;
            }
        }
    }
}
