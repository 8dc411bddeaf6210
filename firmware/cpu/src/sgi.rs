//! The SGIs this firmware uses, by number.

/// The boot core to a parked core: a command is waiting.
pub const WAKE: u32 = 0;
/// A measured core to the boot core: its window is done.
pub const DONE: u32 = 1;
/// A faulting core to every other: stop now.
pub const STOP: u32 = 2;
