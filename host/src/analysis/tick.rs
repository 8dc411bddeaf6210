//! Which interrupt is the tick, under the names each stack gives it: the firmware's injected
//! tick, arm64's `arch_timer` line, x86's local APIC timer (a system vector, `LOC` in
//! `/proc/interrupts`). One matcher for trace causes and interrupt counts alike.

use tickscope_core::wire::msg::CauseKind;

/// The name x86's local timer has as a cause (the `/proc/interrupts` description of `LOC`).
pub const X86_LOCAL_TIMER: &str = "Local timer interrupts";

/// Whether a kernel interrupt source — a trace cause's name or a `/proc/interrupts` row
/// (`arch_timer`, `LOC Local timer interrupts`) — is the CPU's local timer.
pub fn is_local_timer(name: &str) -> bool {
    name == "arch_timer"
        || name.ends_with(" arch_timer")
        || name == X86_LOCAL_TIMER
        || name.ends_with(&format!(" {X86_LOCAL_TIMER}"))
}

/// Whether a cause is the tick: the firmware's injected tick, or the kernel's local timer.
pub fn is_tick_cause(name: &str, kind: CauseKind) -> bool {
    kind == CauseKind::Irq && (name.starts_with("injected tick") || is_local_timer(name))
}

/// Whether a `/proc/interrupts` row and a trace cause name one source: the same name, or the
/// row is the cause's description under its short name (`IPI0 Rescheduling interrupts`,
/// `LOC Local timer interrupts`).
pub fn row_names_cause(row: &str, cause: &str) -> bool {
    row == cause || row.strip_suffix(cause).is_some_and(|p| p.ends_with(' '))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_local_timer_on_arm64_and_x86() {
        for t in [
            "arch_timer",
            "Local timer interrupts",
            "LOC Local timer interrupts",
        ] {
            assert!(is_local_timer(t), "{t}");
        }
        for n in [
            "arch_timer_mem",
            "virtio0",
            "IPI0 Rescheduling interrupts",
            "TIMER",
            "LOC",
        ] {
            assert!(!is_local_timer(n), "{n}");
        }
        assert!(is_tick_cause("injected tick (INTID 27)", CauseKind::Irq));
        assert!(is_tick_cause("Local timer interrupts", CauseKind::Irq));
        assert!(!is_tick_cause("arch_timer", CauseKind::Softirq));
    }

    #[test]
    fn rows_join_causes_by_description() {
        assert!(row_names_cause(
            "IPI0 Rescheduling interrupts",
            "Rescheduling interrupts"
        ));
        assert!(row_names_cause(
            "LOC Local timer interrupts",
            "Local timer interrupts"
        ));
        assert!(row_names_cause("arch_timer", "arch_timer"));
        assert!(!row_names_cause("virtio3-tx", "tx"));
        assert!(!row_names_cause(
            "CAL Function call interrupts",
            "Rescheduling interrupts"
        ));
    }
}
