//! Exit statuses, shared by firmware (QEMU's exit code via semihosting), Linux probe and host.

/// Everything worked.
pub const OK: u8 = 0;
/// The run failed (a core did not come online, a check failed, data was lost without
/// `--allow-loss`, a regression gate failed).
pub const FAILURE: u8 = 1;
/// The configuration was rejected.
pub const CONFIG: u8 = 2;
/// An unexpected exception (or unclaimed interrupt) on the device.
pub const FAULT: u8 = 3;
/// A panic on the device.
pub const PANIC: u8 = 4;
/// A measured core did not finish in time.
pub const TIMEOUT: u8 = 5;
/// Host side: the guest hung and was killed, or QEMU crashed.
pub const HUNG: u8 = 124;
/// Host side: tickscope was interrupted (SIGINT/SIGTERM); what arrived was kept, marked partial.
pub const INTERRUPTED: u8 = 130;
/// Host side: a tool the run needs (QEMU, a kernel) is missing.
pub const MISSING_TOOL: u8 = 127;

/// Human name of a status.
pub fn name(status: u8) -> &'static str {
    match status {
        OK => "ok",
        FAILURE => "failure",
        CONFIG => "configuration error",
        FAULT => "device fault (unexpected exception)",
        PANIC => "device panic",
        TIMEOUT => "measured core timed out",
        HUNG => "guest hung or emulator crashed",
        INTERRUPTED => "interrupted",
        MISSING_TOOL => "missing tool",
        _ => "unknown status",
    }
}
