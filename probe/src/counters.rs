//! Attribution without tracefs: per-event counters of the measured CPU, read after every noise
//! event — each interrupt line's `/sys/kernel/irq/N/per_cpu_count`, the softirq counts of
//! `/proc/softirqs`, and the measuring thread's involuntary context switches. They say which
//! causes ran during an event, not for how long (the host charges the whole event to them).

use std::fs::File;
use std::os::unix::fs::FileExt;

use tickscope_core::wire::msg::CauseKind;

use crate::trace::decode::SOFTIRQS;

/// Counters of one CPU.
pub struct Counters {
    cpu: usize,
    irqs: Vec<File>,
    softirqs: Option<File>,
    /// Bit i's cause (interrupt lines, then softirqs, then "another thread").
    pub names: Vec<(CauseKind, String)>,
    last: Vec<u64>,
    buf: Vec<u8>,
    /// Lines left out because 64 counters are the most an event carries.
    pub left_out: usize,
}

/// The `cpu`-th number of a `per_cpu_count` line.
pub fn parse_per_cpu(bytes: &[u8], cpu: usize) -> u64 {
    std::str::from_utf8(bytes)
        .ok()
        .and_then(|s| s.trim().split(',').nth(cpu))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// The measured CPU's column of `/proc/softirqs`, by vector.
pub fn parse_softirqs(text: &str, cpu: usize) -> Vec<u64> {
    let mut lines = text.lines();
    let header = lines.next().unwrap_or("");
    let col = header
        .split_whitespace()
        .position(|c| c == format!("CPU{cpu}"));
    let mut v = vec![0; SOFTIRQS.len()];
    for l in lines {
        let mut f = l.split_whitespace();
        let Some(name) = f.next().and_then(|n| n.strip_suffix(':')) else {
            continue;
        };
        if let (Some(i), Some(c)) = (SOFTIRQS.iter().position(|s| *s == name), col) {
            v[i] = f.nth(c).and_then(|x| x.parse().ok()).unwrap_or(0);
        }
    }
    v
}

/// The IPI descriptions of `/proc/interrupts` (`IPI0: ... Rescheduling interrupts`) by number.
pub fn ipi_names(proc_interrupts: &str) -> Vec<(u32, String)> {
    proc_interrupts
        .lines()
        .filter_map(|l| {
            let l = l.trim();
            let n: u32 = l.strip_prefix("IPI")?.split(':').next()?.parse().ok()?;
            let desc = l
                .split_whitespace()
                .skip(1)
                .skip_while(|w| w.chars().all(|c| c.is_ascii_digit()))
                .collect::<Vec<_>>()
                .join(" ");
            Some((n, desc))
        })
        .collect()
}

fn involuntary_switches() -> u64 {
    crate::sys::thread_involuntary_switches()
}

impl Counters {
    /// Opens the counters of `cpu`: interrupt lines that already fired on it, the per-CPU timer
    /// (`timer_irq`, the line found by its INTID, else one named `arch_timer`) and IPIs always,
    /// then softirqs and context switches.
    pub fn open(cpu: usize, timer_irq: Option<u32>) -> Counters {
        let mut c = Counters {
            cpu,
            irqs: Vec::new(),
            softirqs: File::open("/proc/softirqs").ok(),
            names: Vec::new(),
            last: Vec::new(),
            buf: vec![0; 4096],
            left_out: 0,
        };
        let ipis = ipi_names(&std::fs::read_to_string("/proc/interrupts").unwrap_or_default());
        let mut lines: Vec<(u32, String, CauseKind)> = Vec::new();
        if let Ok(dir) = std::fs::read_dir("/sys/kernel/irq") {
            for e in dir.filter_map(|e| e.ok()) {
                let Ok(n) = e.file_name().to_string_lossy().parse::<u32>() else {
                    continue;
                };
                let p = e.path();
                let actions = std::fs::read_to_string(p.join("actions")).unwrap_or_default();
                let actions = actions.trim();
                if actions.is_empty() {
                    continue;
                }
                let count = std::fs::read(p.join("per_cpu_count"))
                    .map(|b| parse_per_cpu(&b, cpu))
                    .unwrap_or(0);
                let (name, kind) = if actions == "IPI" {
                    let hw: u32 = std::fs::read_to_string(p.join("hwirq"))
                        .ok()
                        .and_then(|s| s.trim().parse().ok())
                        .unwrap_or(u32::MAX);
                    let desc = ipis
                        .iter()
                        .find(|(i, _)| *i == hw)
                        .map(|(_, d)| d.clone())
                        .unwrap_or_else(|| format!("IPI {hw}"));
                    (desc, CauseKind::Ipi)
                } else {
                    (actions.to_string(), CauseKind::Irq)
                };
                let timer = timer_irq.map_or(name == "arch_timer", |t| t == n);
                if count > 0 || kind == CauseKind::Ipi || timer {
                    lines.push((n, name, kind));
                }
            }
        }
        lines.sort();
        let room = 64 - SOFTIRQS.len() - 1;
        c.left_out = lines.len().saturating_sub(room);
        for (n, name, kind) in lines.into_iter().take(room) {
            if let Ok(f) = File::open(format!("/sys/kernel/irq/{n}/per_cpu_count")) {
                c.irqs.push(f);
                c.names.push((kind, name));
            }
        }
        for s in SOFTIRQS {
            c.names.push((CauseKind::Softirq, s.to_string()));
        }
        c.names.push((
            CauseKind::Thread,
            "another thread (involuntary switch)".into(),
        ));
        c.last = c.read();
        c
    }

    fn read(&mut self) -> Vec<u64> {
        let mut v = Vec::with_capacity(self.names.len());
        for f in &self.irqs {
            let n = f.read_at(&mut self.buf, 0).unwrap_or(0);
            v.push(parse_per_cpu(&self.buf[..n], self.cpu));
        }
        let soft = match &self.softirqs {
            Some(f) => {
                let n = f.read_at(&mut self.buf, 0).unwrap_or(0);
                parse_softirqs(&String::from_utf8_lossy(&self.buf[..n]), self.cpu)
            }
            None => vec![0; SOFTIRQS.len()],
        };
        v.extend(soft);
        v.push(involuntary_switches());
        v
    }

    /// Reads every counter; returns the bits of those that moved since the last call.
    pub fn moved(&mut self) -> u64 {
        let now = self.read();
        let mut mask = 0u64;
        for (i, (a, b)) in now.iter().zip(&self.last).enumerate() {
            if a != b {
                mask |= 1 << i;
            }
        }
        self.last = now;
        mask
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_cpus_softirq_column_and_the_ipi_names() {
        let soft = "                    CPU0       CPU1       CPU2       CPU3\n          HI:          1          0          0          0\n       TIMER:        100         20          3          9\n         RCU:         50         10          2          7\n";
        let v = parse_softirqs(soft, 3);
        assert_eq!((v[0], v[1], v[9]), (0, 9, 7));
        let ints = "           CPU0       CPU1\n 11:   10  20  GICv3  27 Level  arch_timer\nIPI0:   33   40   Rescheduling interrupts\nIPI1:   10    9   Function call interrupts\n";
        assert_eq!(
            ipi_names(ints),
            vec![
                (0, "Rescheduling interrupts".into()),
                (1, "Function call interrupts".into())
            ]
        );
        assert_eq!(parse_per_cpu(b"1523,612,80,1000\n", 3), 1000);
        assert_eq!(parse_per_cpu(b"1523,612", 3), 0);
    }
}
