//! Attribution through tracefs on a stock kernel (no osnoise tracer needed): a private trace
//! instance records the measured CPU's interrupt, softirq, IPI and scheduler tracepoints in that
//! CPU's ring buffer with the `mono` clock, switched on just before the window and off just after;
//! afterwards the raw pages are read and decoded into tickscope's trace records.

pub mod decode;
pub mod format;
pub mod page;

use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use decode::{Decoder, Ev};
use format::{Format, PageHeader};

/// A tracefs session on one CPU. Dropping it removes its instance (and its buffer).
pub struct Tracer {
    inst: PathBuf,
    root: PathBuf,
    cpu: usize,
    header: PageHeader,
    formats: Vec<(Ev, Format)>,
    /// Events the kernel does not have (e.g. `ipi:*` on some architectures).
    pub missing: Vec<String>,
    /// `tracing_on`, held open so switching costs one write. Closed before the instance is
    /// removed: the kernel refuses (EBUSY) to remove an instance with a file open in it.
    on: Option<std::fs::File>,
}

/// Finds tracefs, mounting it when allowed (as init).
fn tracefs_root(mount: bool) -> Option<PathBuf> {
    for p in ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"] {
        if Path::new(p).join("instances").is_dir() {
            return Some(PathBuf::from(p));
        }
    }
    if mount {
        crate::sys::mount_fs("tracefs", "/sys/kernel/tracing");
        if Path::new("/sys/kernel/tracing/instances").is_dir() {
            return Some(PathBuf::from("/sys/kernel/tracing"));
        }
    }
    None
}

fn write(p: &Path, v: &str) -> Result<(), String> {
    std::fs::write(p, v).map_err(|e| format!("writing {} to {}: {e}", v.trim(), p.display()))
}

/// The `tracing_cpumask` for one CPU: comma-separated 32-bit hex groups, most significant first.
pub fn cpumask(cpu: usize) -> String {
    let groups = cpu / 32 + 1;
    (0..groups)
        .rev()
        .map(|g| {
            if g == cpu / 32 {
                format!("{:08x}", 1u32 << (cpu % 32))
            } else {
                "00000000".to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

impl Tracer {
    /// Sets up an instance recording `cpu` only, `buffer_kb` of buffer, tracing off.
    pub fn setup(
        cpu: usize,
        timer_mode: bool,
        buffer_kb: u64,
        mount: bool,
    ) -> Result<Tracer, String> {
        let root = tracefs_root(mount).ok_or("tracefs is not available (kernel without CONFIG_TRACING, or not mounted and not permitted to mount)")?;
        let inst = root
            .join("instances")
            .join(format!("tickscope-{}", std::process::id()));
        std::fs::create_dir(&inst)
            .map_err(|e| format!("creating trace instance {}: {e}", inst.display()))?;
        // From here on the instance is removed on every path (Drop).
        let on = std::fs::OpenOptions::new()
            .write(true)
            .open(inst.join("tracing_on"))
            .map_err(|e| format!("opening {}/tracing_on: {e}", inst.display()))?;
        let mut t = Tracer {
            header: PageHeader::default(),
            formats: Vec::new(),
            missing: Vec::new(),
            on: Some(on),
            root,
            inst,
            cpu,
        };
        t.off();
        let inst = t.inst.clone();
        write(&inst.join("trace_clock"), "mono")?;
        write(&inst.join("tracing_cpumask"), &cpumask(cpu))?;
        write(&inst.join("options/overwrite"), "0")?;
        write(
            &inst.join(format!("per_cpu/cpu{cpu}/buffer_size_kb")),
            &buffer_kb.to_string(),
        )?;
        t.header = format::page_header(
            &std::fs::read_to_string(t.root.join("events/header_page")).unwrap_or_default(),
        );
        for ev in Ev::wanted(timer_mode) {
            let (sys, name) = ev.path();
            let dir = inst.join("events").join(sys).join(name);
            let fmt = std::fs::read_to_string(dir.join("format"))
                .ok()
                .and_then(|t| format::parse(&t));
            match fmt {
                Some(f) => {
                    write(&dir.join("enable"), "1")?;
                    t.formats.push((ev, f));
                }
                // x86's system vectors are looked for on every kernel; only x86 has them.
                None if matches!(ev, Ev::VectorEntry(_) | Ev::VectorExit(_)) => {}
                None => t.missing.push(format!("{sys}:{name}")),
            }
        }
        if !t.formats.iter().any(|(e, _)| *e == Ev::IrqEntry) {
            return Err("the kernel has no irq:irq_handler_entry tracepoint".into());
        }
        Ok(t)
    }

    /// Starts recording.
    #[inline]
    pub fn on(&mut self) {
        if let Some(f) = self.on.as_mut() {
            let _ = std::io::Write::write_all(f, b"1");
        }
    }

    /// Stops recording.
    #[inline]
    pub fn off(&mut self) {
        if let Some(f) = self.on.as_mut() {
            let _ = std::io::Write::write_all(f, b"0");
        }
    }

    /// Events the kernel dropped because the buffer was full (`per_cpu/cpuN/stats`).
    pub fn dropped(&self) -> u64 {
        let stats =
            std::fs::read_to_string(self.inst.join(format!("per_cpu/cpu{}/stats", self.cpu)))
                .unwrap_or_default();
        stats
            .lines()
            .filter(|l| l.starts_with("overrun:") || l.starts_with("dropped events:"))
            .filter_map(|l| l.rsplit(':').next()?.trim().parse::<u64>().ok())
            .sum()
    }

    /// Reads and decodes everything recorded: (records in trace ns, names, records lost).
    pub fn collect(
        &self,
        probe_tid: i32,
        probe_name: &str,
    ) -> (Vec<decode::Rec>, decode::Names, u64) {
        let strings = decode::parse_printk_formats(
            &std::fs::read_to_string(self.root.join("printk_formats")).unwrap_or_default(),
        );
        let mut d = Decoder::new(self.formats.clone(), strings, probe_tid, probe_name);
        let mut out = Vec::new();
        let mut lost = self.dropped();
        let path = self
            .inst
            .join(format!("per_cpu/cpu{}/trace_pipe_raw", self.cpu));
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&path);
        if let Ok(mut f) = file {
            let mut page = vec![0u8; crate::sys::page_size()];
            loop {
                match f.read(&mut page) {
                    Ok(0) => break,
                    Ok(n) => {
                        let p = page::parse(&page[..n], &self.header);
                        lost += p.missed + p.damaged as u64;
                        for (ts, rec) in p.events {
                            d.record(ts, rec, &mut out);
                        }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(_) => break, // EAGAIN: nothing more
                }
            }
        } else {
            lost += 1;
        }
        lost += d.bad;
        out.sort_by_key(|r| r.0);
        (out, d.names, lost)
    }

    /// The instance directory and the open `tracing_on` descriptor (for the signal handler's
    /// cleanup, which must close the one to remove the other).
    pub fn instance(&self) -> (&Path, i32) {
        use std::os::fd::AsRawFd;
        (&self.inst, self.on.as_ref().map_or(-1, |f| f.as_raw_fd()))
    }
}

impl Drop for Tracer {
    fn drop(&mut self) {
        self.off();
        // Every file of the instance closed first, or the kernel keeps it (and its buffer).
        drop(self.on.take());
        if let Err(e) = std::fs::remove_dir(&self.inst) {
            eprintln!(
                "tickscope-probe: could not remove the trace instance {}: {e}",
                self.inst.display()
            );
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn cpumask_names_one_cpu() {
        assert_eq!(super::cpumask(3), "00000008");
        assert_eq!(super::cpumask(47), "00008000,00000000");
    }
}
