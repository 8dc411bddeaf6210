//! SIGINT and SIGTERM: recorded, not fatal, so a long run that is interrupted stops its guest
//! and still writes what arrived (marked partial) before tickscope exits non-zero.

use std::sync::Once;
use std::sync::atomic::{AtomicI32, Ordering};

static SIGNAL: AtomicI32 = AtomicI32::new(0);
static INSTALL: Once = Once::new();

/// Installs the handler (once). A second signal while the first is being handled exits at once.
pub fn install() {
    INSTALL.call_once(|| {
        let _ = ctrlc::set_handler(|| {
            if SIGNAL.swap(2, Ordering::SeqCst) != 0 {
                eprintln!("tickscope: interrupted again, exiting without saving");
                std::process::exit(130);
            }
        });
    });
}

/// The signal received, if any (2 for SIGINT or SIGTERM: the handler does not tell them apart).
pub fn requested() -> Option<i32> {
    match SIGNAL.load(Ordering::SeqCst) {
        0 => None,
        s => Some(s),
    }
}
