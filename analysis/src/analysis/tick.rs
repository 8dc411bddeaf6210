//! Which interrupt is the tick. On arm64 Linux the probe finds the kernel's timer line by its
//! INTID and ships it (`TimerLine`): the tick is that line, under whatever name the kernel gives
//! it. Without one (x86, the firmware, captures from before it), the names each stack gives it:
//! the firmware's injected tick, arm64's `arch_timer`, x86's local APIC timer (`LOC`). One
//! matcher for trace causes and interrupt counts alike.

use tickscope_core::wire::msg::{CauseKind, TimerLine};

/// The name x86's local timer has as a cause (the `/proc/interrupts` description of `LOC`).
pub const X86_LOCAL_TIMER: &str = "Local timer interrupts";

/// The run's tick: its timer line's name when the probe found the line by number.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tick {
    /// The handler name of the line at the timer's INTID (e.g. `arch_timer`).
    line: Option<String>,
}

impl Tick {
    /// The tick of a run whose probe found `line` (or none).
    pub fn of(line: Option<&TimerLine>) -> Tick {
        Tick {
            line: line.map(|l| l.name.to_string()),
        }
    }

    /// Whether the tick was found by its number (a timer line), not by a known name.
    pub fn by_number(&self) -> bool {
        self.line.is_some()
    }

    /// Whether a kernel interrupt source — a trace cause's name or a `/proc/interrupts` row — is
    /// the CPU's local timer: the timer line when known, else a known timer name.
    pub fn is_local_timer(&self, name: &str) -> bool {
        match &self.line {
            Some(line) => row_names_cause(name, line),
            None => is_known_timer_name(name),
        }
    }

    /// Whether a cause is the tick: the firmware's injected tick, or the kernel's local timer.
    pub fn is_tick_cause(&self, name: &str, kind: CauseKind) -> bool {
        kind == CauseKind::Irq && (name.starts_with("injected tick") || self.is_local_timer(name))
    }
}

/// The names kernels give the local timer (`arch_timer`, `LOC Local timer interrupts`): the
/// rule where no timer line was found by number.
fn is_known_timer_name(name: &str) -> bool {
    name == "arch_timer"
        || name.ends_with(" arch_timer")
        || name == X86_LOCAL_TIMER
        || name.ends_with(&format!(" {X86_LOCAL_TIMER}"))
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
        let by_name = Tick::default();
        let is_local_timer = |n: &str| by_name.is_local_timer(n);
        let is_tick_cause = |n: &str, k| by_name.is_tick_cause(n, k);
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
    fn a_timer_line_found_by_number_is_the_tick_whatever_its_name() {
        let line = TimerLine {
            core: 1,
            irq: 11,
            intid: 27,
            name: "my_timer".try_into().unwrap(),
        };
        let tick = Tick::of(Some(&line));
        assert!(tick.by_number());
        assert!(tick.is_local_timer("my_timer"));
        assert!(tick.is_tick_cause("my_timer", CauseKind::Irq));
        // The name alone no longer decides: `arch_timer` is not this kernel's tick line.
        assert!(!tick.is_local_timer("arch_timer"));
        assert!(!tick.is_tick_cause("my_timer", CauseKind::Softirq));
        assert!(tick.is_tick_cause("injected tick (INTID 27)", CauseKind::Irq));
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
