//! The kernel's per-CPU timer interrupt, found by number: the Arm generic timer's INTIDs from the
//! device tree (SBSA's recommended ones without it), matched against `/sys/kernel/irq`.
//!
//! The host identifies the tick by this line rather than by the name `arch_timer` (#24). The
//! kernel requests only the timer interrupt it uses, so of the timer's INTIDs exactly one line
//! has a handler. Arm64 only: there INTIDs 16–31 are the GIC's per-CPU interrupts (`chip_name`
//! cannot tell: the GIC drivers print their name through a callback and leave it empty); x86's
//! local timer is a system vector, known by name.

use std::path::Path;

use tickscope_core::wire::msg::ARCH_TIMER_INTIDS;

/// One interrupt line of `/sys/kernel/irq/N`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IrqLine {
    /// `N`: the kernel's number.
    pub irq: u32,
    /// `hwirq`: the controller's number (a GIC's INTID).
    pub hwirq: u32,
    /// `actions`: the handlers' names, empty when none is requested.
    pub actions: String,
}

/// The timer's line among `lines`: at one of `intids`, with a handler (the lowest kernel number
/// if, against the kernel's habit, two qualify).
pub fn pick<'a>(lines: &'a [IrqLine], intids: &[u32]) -> Option<&'a IrqLine> {
    lines
        .iter()
        .filter(|l| !l.actions.is_empty() && intids.contains(&l.hwirq))
        .min_by_key(|l| l.irq)
}

/// The INTIDs of a device-tree `interrupts` property in the GIC binding: three big-endian cells
/// per interrupt (type: 0 SPI, 1 PPI; number; flags), an SPI's INTID its number + 32, a PPI's
/// its number + 16.
pub fn dt_intids(prop: &[u8]) -> Vec<u32> {
    prop.chunks_exact(12)
        .filter_map(|c| {
            let cell = |i: usize| u32::from_be_bytes([c[i], c[i + 1], c[i + 2], c[i + 3]]);
            match cell(0) {
                0 => Some(cell(4) + 32),
                1 => Some(cell(4) + 16),
                _ => None,
            }
        })
        .collect()
}

/// The generic timer's INTIDs: from the device-tree node compatible with `arm,armv8-timer` (or
/// `arm,armv7-timer`) under `root`, else SBSA's recommended set (ACPI machines).
fn timer_intids(root: &Path) -> Vec<u32> {
    let nodes = std::fs::read_dir(root).into_iter().flatten().flatten();
    for node in nodes {
        let compatible = std::fs::read(node.path().join("compatible")).unwrap_or_default();
        let is_timer = compatible
            .split(|&b| b == 0)
            .any(|c| c == b"arm,armv8-timer" || c == b"arm,armv7-timer");
        if is_timer && let Ok(prop) = std::fs::read(node.path().join("interrupts")) {
            let intids = dt_intids(&prop);
            if !intids.is_empty() {
                return intids;
            }
        }
    }
    ARCH_TIMER_INTIDS.to_vec()
}

/// The lines of `/sys/kernel/irq`.
fn lines(root: &Path) -> Vec<IrqLine> {
    let read = |p: &Path, f: &str| {
        std::fs::read_to_string(p.join(f))
            .map(|s| s.trim().to_string())
            .unwrap_or_default()
    };
    let entries = std::fs::read_dir(root).into_iter().flatten().flatten();
    entries
        .filter_map(|e| {
            let irq = e.file_name().to_str()?.parse().ok()?;
            let p = e.path();
            Some(IrqLine {
                irq,
                hwirq: read(&p, "hwirq").parse().ok()?,
                actions: read(&p, "actions"),
            })
        })
        .collect()
}

/// The timer's line on this machine, or why there is none.
pub fn find() -> Result<IrqLine, String> {
    if !cfg!(target_arch = "aarch64") {
        return Err(
            "the local timer is a system vector here (LOC): the tick is known by name".into(),
        );
    }
    let intids = timer_intids(Path::new("/proc/device-tree"));
    let lines = lines(Path::new("/sys/kernel/irq"));
    pick(&lines, &intids).cloned().ok_or_else(|| {
        format!(
            "no interrupt line at the timer's INTIDs {intids:?} has a handler ({} line(s) in /sys/kernel/irq): the tick is known by name",
            lines.len()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(irq: u32, hwirq: u32, actions: &str) -> IrqLine {
        IrqLine {
            irq,
            hwirq,
            actions: actions.into(),
        }
    }

    #[test]
    fn the_timer_is_the_line_at_a_timer_intid_with_a_handler() {
        // QEMU virt, GICv2, Linux 6.1 (as /sys/kernel/irq reads there).
        let lines = [
            line(1, 0, "IPI"),
            line(9, 29, ""),
            line(10, 30, ""),
            line(11, 27, "arch_timer"),
            line(12, 26, ""),
            line(13, 33, "uart-pl011"),
            line(14, 23, "arm-pmu"),
        ];
        let t = pick(&lines, &[29, 30, 27, 26]).unwrap();
        assert_eq!((t.irq, t.hwirq, t.actions.as_str()), (11, 27, "arch_timer"));
        // Found by number: a kernel that names its timer otherwise is found all the same, and a
        // line named `arch_timer` elsewhere is not it.
        let renamed = [line(5, 30, "my_timer"), line(6, 34, "arch_timer")];
        assert_eq!(
            pick(&renamed, &[29, 30, 27, 26]).unwrap().actions,
            "my_timer"
        );
        // No timer line has a handler: none.
        assert_eq!(pick(&lines[..2], &[29, 30, 27, 26]), None);
    }

    #[test]
    fn device_tree_interrupts_give_intids() {
        // QEMU virt's timer node: PPIs 13, 14, 11, 10 (secure, non-secure, virtual, hyp).
        let cells: Vec<u8> = [
            [1u32, 13, 0xf08],
            [1, 14, 0xf08],
            [1, 11, 0xf08],
            [1, 10, 0xf08],
        ]
        .iter()
        .flatten()
        .flat_map(|c| c.to_be_bytes())
        .collect();
        assert_eq!(dt_intids(&cells), vec![29, 30, 27, 26]);
        assert_eq!(dt_intids(&[0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 4]), vec![33]);
    }
}
