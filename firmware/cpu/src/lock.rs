//! The firmware's mutex: spin's, with `lock` kept out of line. spin inlines its compare-and-swap
//! loop (an exclusive-load/store loop on ARMv8.0 cores such as ThunderX-1) at every lock site;
//! here each protected type has one copy, which the image's size budget needs more than speed.

pub use spin::MutexGuard;

/// A spin mutex locked through one out-of-line function per protected type.
pub struct Mutex<T>(spin::Mutex<T>);

impl<T> Mutex<T> {
    /// An unlocked mutex holding `value`.
    pub const fn new(value: T) -> Self {
        Mutex(spin::Mutex::new(value))
    }

    /// Spins until the lock is free, then holds it until the guard drops.
    #[inline(never)]
    pub fn lock(&self) -> MutexGuard<'_, T> {
        self.0.lock()
    }

    /// The lock if it is free now.
    #[inline(never)]
    pub fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
        self.0.try_lock()
    }
}
