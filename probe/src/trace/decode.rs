//! Kernel trace records to tickscope's: which handler or task ran on the measured CPU when, with
//! names interned into the wire's name table. Pure: the formats and records come in, tested
//! with synthetic ones.

use std::collections::HashMap;

use tickscope_core::wire::msg::{CauseKind, TraceKind};

use super::format::{Field, Format};

/// The softirq vectors' names, by number (`include/linux/interrupt.h`).
pub const SOFTIRQS: [&str; 10] = [
    "HI", "TIMER", "NET_TX", "NET_RX", "BLOCK", "IRQ_POLL", "TASKLET", "SCHED", "HRTIMER", "RCU",
];

/// The events tickscope records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Ev {
    /// `irq:irq_handler_entry`.
    IrqEntry,
    /// `irq:irq_handler_exit`.
    IrqExit,
    /// `irq:softirq_entry`.
    SoftirqEntry,
    /// `irq:softirq_exit`.
    SoftirqExit,
    /// `ipi:ipi_entry`.
    IpiEntry,
    /// `ipi:ipi_exit`.
    IpiExit,
    /// `sched:sched_switch`.
    Switch,
    /// `timer:hrtimer_expire_entry`.
    HrtimerEntry,
    /// `timer:hrtimer_expire_exit`.
    HrtimerExit,
    /// `sched:sched_wakeup`.
    Wakeup,
    /// `irq_vectors:<vector>_entry` (x86: the local timer and IPIs are system vectors, which
    /// `irq:irq_handler_entry` never sees).
    VectorEntry(Vector),
    /// `irq_vectors:<vector>_exit`.
    VectorExit(Vector),
}

/// x86's system vectors with tracepoints (`arch/x86/include/asm/trace/irq_vectors.h`), each
/// named as `/proc/interrupts` describes its count, so the trace and the counts join by name
/// (arm64's IPI reasons are those descriptions too).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Vector {
    /// The local APIC timer (LOC): the tick.
    LocalTimer,
    /// RES.
    Reschedule,
    /// CAL (with `call_function_single`).
    CallFunction,
    /// CAL.
    CallFunctionSingle,
    /// IWI.
    IrqWork,
    /// PLT.
    PlatformIpi,
    /// TRM.
    ThermalApic,
    /// THR.
    ThresholdApic,
    /// DFR.
    DeferredErrorApic,
    /// ERR.
    ErrorApic,
    /// SPU.
    SpuriousApic,
    /// RTR.
    RebootIpi,
}

impl Vector {
    /// All of them, in the order they are looked for.
    pub const ALL: [Vector; 12] = [
        Vector::LocalTimer,
        Vector::Reschedule,
        Vector::CallFunction,
        Vector::CallFunctionSingle,
        Vector::IrqWork,
        Vector::PlatformIpi,
        Vector::ThermalApic,
        Vector::ThresholdApic,
        Vector::DeferredErrorApic,
        Vector::ErrorApic,
        Vector::SpuriousApic,
        Vector::RebootIpi,
    ];

    /// Tracepoint names (`irq_vectors:<name>_entry` / `_exit`).
    pub fn event(self) -> (&'static str, &'static str) {
        match self {
            Vector::LocalTimer => ("local_timer_entry", "local_timer_exit"),
            Vector::Reschedule => ("reschedule_entry", "reschedule_exit"),
            Vector::CallFunction => ("call_function_entry", "call_function_exit"),
            Vector::CallFunctionSingle => {
                ("call_function_single_entry", "call_function_single_exit")
            }
            Vector::IrqWork => ("irq_work_entry", "irq_work_exit"),
            Vector::PlatformIpi => ("x86_platform_ipi_entry", "x86_platform_ipi_exit"),
            Vector::ThermalApic => ("thermal_apic_entry", "thermal_apic_exit"),
            Vector::ThresholdApic => ("threshold_apic_entry", "threshold_apic_exit"),
            Vector::DeferredErrorApic => ("deferred_error_apic_entry", "deferred_error_apic_exit"),
            Vector::ErrorApic => ("error_apic_entry", "error_apic_exit"),
            Vector::SpuriousApic => ("spurious_apic_entry", "spurious_apic_exit"),
            Vector::RebootIpi => ("reboot_entry", "reboot_exit"),
        }
    }

    /// The cause: its kind and the `/proc/interrupts` description of its count.
    pub fn cause(self) -> (CauseKind, &'static str) {
        match self {
            Vector::LocalTimer => (CauseKind::Irq, "Local timer interrupts"),
            Vector::Reschedule => (CauseKind::Ipi, "Rescheduling interrupts"),
            Vector::CallFunction | Vector::CallFunctionSingle => {
                (CauseKind::Ipi, "Function call interrupts")
            }
            Vector::IrqWork => (CauseKind::Ipi, "IRQ work interrupts"),
            Vector::PlatformIpi => (CauseKind::Ipi, "Platform interrupts"),
            Vector::ThermalApic => (CauseKind::Irq, "Thermal event interrupts"),
            Vector::ThresholdApic => (CauseKind::Irq, "Threshold APIC interrupts"),
            Vector::DeferredErrorApic => (CauseKind::Irq, "Deferred Error APIC interrupts"),
            Vector::ErrorApic => (CauseKind::Irq, "Error interrupts"),
            Vector::SpuriousApic => (CauseKind::Irq, "Spurious interrupts"),
            Vector::RebootIpi => (CauseKind::Ipi, "Reboot interrupts"),
        }
    }
}

impl Ev {
    /// (system, event) in tracefs.
    pub fn path(self) -> (&'static str, &'static str) {
        match self {
            Ev::IrqEntry => ("irq", "irq_handler_entry"),
            Ev::IrqExit => ("irq", "irq_handler_exit"),
            Ev::SoftirqEntry => ("irq", "softirq_entry"),
            Ev::SoftirqExit => ("irq", "softirq_exit"),
            Ev::IpiEntry => ("ipi", "ipi_entry"),
            Ev::IpiExit => ("ipi", "ipi_exit"),
            Ev::Switch => ("sched", "sched_switch"),
            Ev::HrtimerEntry => ("timer", "hrtimer_expire_entry"),
            Ev::HrtimerExit => ("timer", "hrtimer_expire_exit"),
            Ev::Wakeup => ("sched", "sched_wakeup"),
            Ev::VectorEntry(v) => ("irq_vectors", v.event().0),
            Ev::VectorExit(v) => ("irq_vectors", v.event().1),
        }
    }

    /// Events of noise mode; timer mode adds the hrtimer and wake-up ones.
    pub fn wanted(timer_mode: bool) -> Vec<Ev> {
        let mut v = vec![
            Ev::IrqEntry,
            Ev::IrqExit,
            Ev::SoftirqEntry,
            Ev::SoftirqExit,
            Ev::IpiEntry,
            Ev::IpiExit,
            Ev::Switch,
        ];
        // Kernels without them (every architecture but x86) just miss these.
        for vec in Vector::ALL {
            v.extend([Ev::VectorEntry(vec), Ev::VectorExit(vec)]);
        }
        if timer_mode {
            v.extend([Ev::HrtimerEntry, Ev::HrtimerExit, Ev::Wakeup]);
        }
        v
    }
}

/// The name table being built: (kind, name) to index.
#[derive(Debug, Default, Clone)]
pub struct Names {
    /// Entries in index order.
    pub list: Vec<(CauseKind, String)>,
    index: HashMap<(CauseKind, String), u16>,
}

impl Names {
    /// Renames entry `i` (the probe's own, once its thread is known).
    pub fn rename(&mut self, i: u16, name: &str) {
        if let Some(entry) = self.list.get_mut(i as usize) {
            self.index.remove(entry);
            entry.1 = name.to_string();
            self.index.insert(entry.clone(), i);
        }
    }

    /// The index of a name, added when new (saturates at u16::MAX).
    pub fn id(&mut self, kind: CauseKind, name: &str) -> u16 {
        let key = (kind, name.to_string());
        if let Some(&i) = self.index.get(&key) {
            return i;
        }
        let i = self.list.len().min(u16::MAX as usize) as u16;
        self.list.push(key.clone());
        self.index.insert(key, i);
        i
    }
}

/// A decoded record: (trace ns, kind, name index).
pub type Rec = (u64, TraceKind, u16);

/// Decodes records of one CPU in time order.
pub struct Decoder {
    by_id: HashMap<u16, (Ev, Format)>,
    /// Kernel string addresses (`printk_formats`), for the IPI reason pointers.
    strings: HashMap<u64, String>,
    /// The probe's measuring thread.
    pub probe_tid: i32,
    /// Names.
    pub names: Names,
    /// An hrtimer is expiring (timer mode): its start, until its exit.
    expiring: Option<u64>,
    /// The name of each IRQ number seen entering, so its exit names it too.
    irq_names: HashMap<u64, u16>,
    /// Records that did not decode (too short, unknown layout).
    pub bad: u64,
}

fn field_u64(rec: &[u8], f: &Field) -> Option<u64> {
    let s = rec.get(f.offset..f.offset + f.size)?;
    let mut v = [0u8; 8];
    v[..f.size.min(8)].copy_from_slice(&s[..f.size.min(8)]);
    Some(u64::from_le_bytes(v))
}

fn field_str(rec: &[u8], f: &Field) -> Option<String> {
    let bytes = if f.data_loc {
        let loc = field_u64(rec, f)? as u32;
        let (off, len) = ((loc & 0xffff) as usize, (loc >> 16) as usize);
        rec.get(off..off + len)?
    } else {
        rec.get(f.offset..f.offset + f.size)?
    };
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    Some(String::from_utf8_lossy(&bytes[..end]).into_owned())
}

/// Parses `printk_formats` lines (`0xffff800008f1c2a8 : "Rescheduling interrupts"`).
pub fn parse_printk_formats(text: &str) -> HashMap<u64, String> {
    text.lines()
        .filter_map(|l| {
            let (addr, s) = l.split_once(" : ")?;
            let addr = u64::from_str_radix(addr.trim().trim_start_matches("0x"), 16).ok()?;
            Some((addr, s.trim().trim_matches('"').to_string()))
        })
        .collect()
}

impl Decoder {
    /// A decoder for these events' formats.
    pub fn new(
        formats: Vec<(Ev, Format)>,
        strings: HashMap<u64, String>,
        probe_tid: i32,
        probe_name: &str,
    ) -> Decoder {
        let mut names = Names::default();
        // The probe's own thread is entry 0: switches to it end a thread cause.
        names.id(CauseKind::Thread, probe_name);
        Decoder {
            by_id: formats.into_iter().map(|(e, f)| (f.id, (e, f))).collect(),
            strings,
            probe_tid,
            names,
            expiring: None,
            irq_names: HashMap::new(),
            bad: 0,
        }
    }

    /// Decodes one record at trace time `ts` into zero, one or two records.
    pub fn record(&mut self, ts: u64, rec: &[u8], out: &mut Vec<Rec>) {
        let Some(id) = rec.get(0..2).map(|b| u16::from_le_bytes([b[0], b[1]])) else {
            self.bad += 1;
            return;
        };
        let Some((ev, fmt)) = self.by_id.get(&id) else {
            return; // another event (an instance may have more enabled): not ours
        };
        let ev = *ev;
        let f = |name: &str| fmt.fields.get(name).copied();
        let ok = match ev {
            Ev::IrqEntry => self.irq_entry(ts, rec, f("name"), f("irq"), out),
            Ev::IrqExit => f("irq").and_then(|i| field_u64(rec, &i)).map(|irq| {
                let idx = self.irq_names.get(&irq).copied().unwrap_or(0);
                out.push((ts, TraceKind::IrqExit, idx));
            }),
            Ev::SoftirqEntry | Ev::SoftirqExit => {
                f("vec").and_then(|v| field_u64(rec, &v)).map(|vec| {
                    let name = SOFTIRQS.get(vec as usize).copied().unwrap_or("softirq");
                    let idx = self.names.id(CauseKind::Softirq, name);
                    let kind = match ev {
                        Ev::SoftirqEntry => TraceKind::SoftirqEntry,
                        _ => TraceKind::SoftirqExit,
                    };
                    out.push((ts, kind, idx));
                })
            }
            Ev::IpiEntry | Ev::IpiExit => self.ipi(ev, ts, rec, f("reason"), out),
            Ev::Switch => self.switch(ts, rec, f("next_comm"), f("next_pid"), out),
            Ev::HrtimerEntry => {
                self.expiring = Some(ts);
                Some(())
            }
            Ev::HrtimerExit => {
                self.expiring = None;
                Some(())
            }
            Ev::VectorEntry(v) | Ev::VectorExit(v) => {
                self.vector(v, matches!(ev, Ev::VectorEntry(_)), ts, out);
                Some(())
            }
            Ev::Wakeup => f("pid").and_then(|p| field_u64(rec, &p)).map(|pid| {
                // The probe woken by an expiring hrtimer: its own sleep's timer fired then.
                if pid as u32 as i32 == self.probe_tid
                    && let Some(at) = self.expiring.take()
                {
                    out.push((at, TraceKind::TimerExpire, 0));
                    out.push((ts, TraceKind::Wakeup, 0));
                }
            }),
        };
        if ok.is_none() {
            self.bad += 1;
        }
    }

    /// An interrupt handler's entry: its name (an IPI when the kernel names it so), and its
    /// number remembered for the exit, which carries only the number.
    fn irq_entry(
        &mut self,
        ts: u64,
        rec: &[u8],
        name: Option<Field>,
        irq: Option<Field>,
        out: &mut Vec<Rec>,
    ) -> Option<()> {
        let name = field_str(rec, &name?)?;
        let kind = if name == "IPI" {
            CauseKind::Ipi
        } else {
            CauseKind::Irq
        };
        let idx = self.names.id(kind, &name);
        if let Some(irq) = irq.and_then(|i| field_u64(rec, &i)) {
            self.irq_names.insert(irq, idx);
        }
        out.push((ts, TraceKind::IrqEntry, idx));
        Some(())
    }

    /// An IPI's entry or exit, named by its reason string.
    fn ipi(
        &mut self,
        ev: Ev,
        ts: u64,
        rec: &[u8],
        reason: Option<Field>,
        out: &mut Vec<Rec>,
    ) -> Option<()> {
        let reason = reason
            .and_then(|r| field_u64(rec, &r))
            .and_then(|addr| self.strings.get(&addr).cloned())
            .unwrap_or_else(|| "IPI".into());
        let idx = self.names.id(CauseKind::Ipi, &reason);
        let kind = match ev {
            Ev::IpiEntry => TraceKind::IpiEntry,
            _ => TraceKind::IpiExit,
        };
        out.push((ts, kind, idx));
        Some(())
    }

    /// A context switch: to the probe (entry 0), to the idle task, or to another thread.
    fn switch(
        &mut self,
        ts: u64,
        rec: &[u8],
        comm: Option<Field>,
        pid: Option<Field>,
        out: &mut Vec<Rec>,
    ) -> Option<()> {
        let (c, p) = (comm?, pid?);
        let comm = field_str(rec, &c).unwrap_or_default();
        let pid = field_u64(rec, &p).unwrap_or(0) as u32 as i32;
        let idx = if pid == self.probe_tid {
            0
        } else if pid == 0 {
            // The idle task: the CPU runs nothing of the OS (waiting, in timer mode, for the
            // probe's own timer), so it is no thread cause.
            self.names.id(CauseKind::Hw, "idle")
        } else {
            self.names.id(CauseKind::Thread, &format!("{comm}:{pid}"))
        };
        out.push((ts, TraceKind::Switch, idx));
        Some(())
    }

    /// An x86 interrupt vector's entry or exit (the local timer, IPIs, ...).
    fn vector(&mut self, v: Vector, entry: bool, ts: u64, out: &mut Vec<Rec>) {
        let (kind, name) = v.cause();
        let idx = self.names.id(kind, name);
        let t = match (kind, entry) {
            (CauseKind::Ipi, true) => TraceKind::IpiEntry,
            (CauseKind::Ipi, false) => TraceKind::IpiExit,
            (_, true) => TraceKind::IrqEntry,
            (_, false) => TraceKind::IrqExit,
        };
        out.push((ts, t, idx));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::format;

    fn fmt(id: u16, fields: &[(&str, usize, usize, bool)]) -> Format {
        Format {
            id,
            fields: fields
                .iter()
                .map(|&(n, offset, size, data_loc)| {
                    (
                        n.to_string(),
                        Field {
                            offset,
                            size,
                            data_loc,
                        },
                    )
                })
                .collect(),
        }
    }

    fn decoder() -> Decoder {
        let formats = vec![
            (
                Ev::IrqEntry,
                fmt(10, &[("irq", 8, 4, false), ("name", 12, 4, true)]),
            ),
            (
                Ev::IrqExit,
                fmt(11, &[("irq", 8, 4, false), ("ret", 12, 4, false)]),
            ),
            (Ev::SoftirqEntry, fmt(12, &[("vec", 8, 4, false)])),
            (Ev::IpiEntry, fmt(14, &[("reason", 8, 8, false)])),
            (
                Ev::Switch,
                fmt(
                    20,
                    &[
                        ("prev_comm", 8, 16, false),
                        ("next_comm", 40, 16, false),
                        ("next_pid", 56, 4, false),
                    ],
                ),
            ),
            (Ev::HrtimerEntry, fmt(30, &[])),
            (Ev::HrtimerExit, fmt(31, &[])),
            (Ev::Wakeup, fmt(32, &[("pid", 24, 4, false)])),
            (
                Ev::VectorEntry(Vector::LocalTimer),
                fmt(40, &[("vector", 8, 4, false)]),
            ),
            (
                Ev::VectorExit(Vector::LocalTimer),
                fmt(41, &[("vector", 8, 4, false)]),
            ),
            (
                Ev::VectorEntry(Vector::CallFunctionSingle),
                fmt(42, &[("vector", 8, 4, false)]),
            ),
        ];
        let strings = parse_printk_formats("0xffff800008f1c2a8 : \"Rescheduling interrupts\"\n");
        Decoder::new(formats, strings, 77, "tickscope-probe:77")
    }

    fn rec(id: u16, len: usize, put: &[(usize, &[u8])]) -> Vec<u8> {
        let mut r = vec![0u8; len];
        r[0..2].copy_from_slice(&id.to_le_bytes());
        for (at, b) in put {
            r[*at..*at + b.len()].copy_from_slice(b);
        }
        r
    }

    #[test]
    fn decodes_irqs_softirqs_ipis_and_switches_with_names() {
        let mut d = decoder();
        let mut out = Vec::new();
        // irq_handler_entry: name "arch_timer" at offset 16, length 11 (data_loc = 11 << 16 | 16).
        let loc = (11u32 << 16 | 16).to_le_bytes();
        let irq = 11u32.to_le_bytes();
        d.record(
            100,
            &rec(10, 28, &[(8, &irq), (12, &loc), (16, b"arch_timer\0")]),
            &mut out,
        );
        d.record(105, &rec(11, 16, &[(8, &irq)]), &mut out);
        d.record(106, &rec(12, 12, &[(8, &1u32.to_le_bytes())]), &mut out);
        d.record(
            120,
            &rec(14, 16, &[(8, &0xffff800008f1c2a8u64.to_le_bytes())]),
            &mut out,
        );
        d.record(
            130,
            &rec(
                20,
                60,
                &[(40, b"kworker/3:1\0"), (56, &42u32.to_le_bytes())],
            ),
            &mut out,
        );
        d.record(
            140,
            &rec(20, 60, &[(40, b"init\0"), (56, &77u32.to_le_bytes())]),
            &mut out,
        );
        let named: Vec<(u64, TraceKind, String)> = out
            .iter()
            .map(|&(t, k, i)| (t, k, d.names.list[i as usize].1.clone()))
            .collect();
        assert_eq!(
            named,
            vec![
                (100, TraceKind::IrqEntry, "arch_timer".into()),
                (105, TraceKind::IrqExit, "arch_timer".into()),
                (106, TraceKind::SoftirqEntry, "TIMER".into()),
                (120, TraceKind::IpiEntry, "Rescheduling interrupts".into()),
                (130, TraceKind::Switch, "kworker/3:1:42".into()),
                (140, TraceKind::Switch, "tickscope-probe:77".into()),
            ]
        );
        assert_eq!(d.bad, 0);
        let _ = format::PageHeader::default();
    }

    #[test]
    fn x86_system_vectors_are_irqs_and_ipis_named_as_proc_interrupts_counts_them() {
        let mut d = decoder();
        let mut out = Vec::new();
        let v = 236u32.to_le_bytes();
        d.record(10, &rec(40, 12, &[(8, &v)]), &mut out);
        d.record(14, &rec(41, 12, &[(8, &v)]), &mut out);
        d.record(20, &rec(42, 12, &[(8, &v)]), &mut out);
        let named: Vec<(u64, TraceKind, CauseKind, String)> = out
            .iter()
            .map(|&(t, k, i)| {
                let (kind, name) = d.names.list[i as usize].clone();
                (t, k, kind, name)
            })
            .collect();
        assert_eq!(
            named,
            vec![
                (
                    10,
                    TraceKind::IrqEntry,
                    CauseKind::Irq,
                    "Local timer interrupts".into()
                ),
                (
                    14,
                    TraceKind::IrqExit,
                    CauseKind::Irq,
                    "Local timer interrupts".into()
                ),
                (
                    20,
                    TraceKind::IpiEntry,
                    CauseKind::Ipi,
                    "Function call interrupts".into()
                ),
            ]
        );
        assert!(Ev::wanted(false).contains(&Ev::VectorEntry(Vector::Reschedule)));
    }

    #[test]
    fn the_probes_timer_expiry_is_the_one_that_wakes_it() {
        let mut d = decoder();
        let mut out = Vec::new();
        d.record(10, &rec(30, 8, &[]), &mut out); // another hrtimer (the tick)
        d.record(12, &rec(31, 8, &[]), &mut out);
        d.record(20, &rec(30, 8, &[]), &mut out); // the probe's
        d.record(22, &rec(32, 28, &[(24, &77u32.to_le_bytes())]), &mut out);
        d.record(23, &rec(31, 8, &[]), &mut out);
        assert_eq!(
            out,
            vec![(20, TraceKind::TimerExpire, 0), (22, TraceKind::Wakeup, 0)]
        );
    }
}
