//! `/proc/interrupts`: per-CPU interrupt counts by source, read before and after the window so
//! the run's interrupts on the measured CPU are attributed (arch_timer, IPIs, virtio, ...).

use std::collections::BTreeMap;

/// Counts of one CPU's interrupts by source name.
pub type Counts = BTreeMap<String, u64>;

/// Parses `/proc/interrupts` text and returns the counts of CPU `cpu`.
///
/// Lines look like `  11:   1234   5678  GICv3  27 Level  arch_timer` (numbered sources: the
/// name is the device, last field) or `IPI0:   10   12  Rescheduling interrupts` (named ones).
pub fn parse(text: &str, cpu: usize) -> Counts {
    let mut lines = text.lines();
    let header = lines.next().unwrap_or("");
    let cpus: Vec<usize> = header
        .split_whitespace()
        .filter_map(|c| c.strip_prefix("CPU").and_then(|n| n.parse().ok()))
        .collect();
    let Some(col) = cpus.iter().position(|&c| c == cpu) else {
        return Counts::new();
    };
    let ncpu = cpus.len();
    let mut out = Counts::new();
    for line in lines {
        let mut fields = line.split_whitespace();
        let Some(id) = fields.next().and_then(|f| f.strip_suffix(':')) else {
            continue;
        };
        let rest: Vec<&str> = fields.collect();
        let counts: Vec<u64> = rest
            .iter()
            .take(ncpu)
            .map_while(|f| f.parse().ok())
            .collect();
        let Some(&n) = counts.get(col) else { continue };
        let desc = &rest[counts.len()..];
        let name = if id.chars().all(|c| c.is_ascii_digit()) {
            // The chip and hwirq, the trigger, then the device name(s): arm64 writes the trigger
            // apart (`GICv3  27 Level  arch_timer`), x86 joins it to the hwirq
            // (`PCI-MSIX-0000:00:04.0  2-edge  virtio3-tx`).
            let trigger = desc.iter().position(|f| {
                let f = f.to_ascii_lowercase();
                ["edge", "level", "fasteoi"]
                    .iter()
                    .any(|t| f == *t || f.ends_with(&format!("-{t}")))
            });
            let skip = trigger.map_or(3, |t| t + 1);
            let device = desc
                .iter()
                .skip(skip)
                .cloned()
                .collect::<Vec<_>>()
                .join(" ");
            if device.is_empty() {
                format!("irq {id}")
            } else {
                device
            }
        } else if desc.is_empty() {
            id.to_string()
        } else {
            format!("{id} {}", desc.join(" "))
        };
        *out.entry(name).or_insert(0) += n;
    }
    out
}

/// `after - before` per source, nonzero only, largest first.
pub fn delta(before: &Counts, after: &Counts) -> Vec<(String, u64)> {
    let mut v: Vec<(String, u64)> = after
        .iter()
        .map(|(k, &a)| {
            (
                k.clone(),
                a.saturating_sub(before.get(k).copied().unwrap_or(0)),
            )
        })
        .filter(|(_, d)| *d > 0)
        .collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "           CPU0       CPU1       CPU2       CPU3       
 11:       1523        612         80       1000     GICv3  27 Level     arch_timer
 13:          0          0          0          0     GICv3  33 Level     uart-pl011
 47:        220          0          0          3     GICv3  79 Edge      virtio0
IPI0:        33         40          4          2       Rescheduling interrupts
IPI1:        10          9          1          0       Function call interrupts
Err:          0
";

    #[test]
    fn reads_the_measured_cpu_column_by_source() {
        let c = parse(SAMPLE, 3);
        assert_eq!(c["arch_timer"], 1000);
        assert_eq!(c["virtio0"], 3);
        assert_eq!(c["IPI0 Rescheduling interrupts"], 2);
        assert_eq!(c["uart-pl011"], 0);
        assert!(
            parse(SAMPLE, 9).is_empty(),
            "a CPU that is not listed has no counts"
        );
    }

    #[test]
    fn reads_x86_lines_by_device_and_description() {
        let x86 = "            CPU0       CPU1
   1:          0          9   IO-APIC   1-edge      i8042
  42:          0       3648  PCI-MSIX-0000:00:04.0   2-edge      virtio3-tx
 NMI:          0          0   Non-maskable interrupts
 LOC:     196260     202037   Local timer interrupts
 RES:      21321      17384   Rescheduling interrupts
";
        let c = parse(x86, 1);
        assert_eq!(c["virtio3-tx"], 3648);
        assert_eq!(c["i8042"], 9);
        assert_eq!(c["LOC Local timer interrupts"], 202037);
        assert_eq!(c["RES Rescheduling interrupts"], 17384);
    }

    #[test]
    fn delta_keeps_what_happened_largest_first() {
        let before = parse(SAMPLE, 3);
        let after_text = SAMPLE
            .replace("80       1000", "80       1500")
            .replace("4          2", "4          5");
        let d = delta(&before, &parse(&after_text, 3));
        assert_eq!(
            d,
            vec![
                ("arch_timer".to_string(), 500),
                ("IPI0 Rescheduling interrupts".to_string(), 3)
            ]
        );
    }
}
