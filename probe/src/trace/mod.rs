//! Attribution through tracefs on a stock kernel (no osnoise tracer needed): a private trace
//! instance records the measured CPU's interrupt, softirq, IPI and scheduler tracepoints in that
//! CPU's ring buffer with the `mono` clock, switched on just before the window and off just after;
//! afterwards the raw pages are read and decoded into tickscope's trace records.

pub mod decode;
pub mod format;
pub mod live;
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
    /// The CPU's `trace_pipe_raw`, opened with the instance (so the signal handler knows its
    /// descriptor) until [`Tracer::reader`] takes it.
    pipe: Option<std::fs::File>,
    /// Its descriptor (-1: none).
    pipe_fd: i32,
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
            pipe: None,
            pipe_fd: -1,
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
        // Non-blocking, and never polled: a reader waiting on the buffer would have the
        // measured CPU's writer wake it (an irq_work there) at every record.
        t.pipe = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(inst.join(format!("per_cpu/cpu{cpu}/trace_pipe_raw")))
            .ok();
        t.pipe_fd = t.pipe.as_ref().map_or(-1, |f| {
            use std::os::fd::AsRawFd;
            f.as_raw_fd()
        });
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

    /// The reader of what the instance records (once: it takes the instance's pipe), decoding
    /// with the probe's thread known by [`Reader::probe`] (set once the measuring thread
    /// exists).
    pub fn reader(&mut self) -> Reader {
        let strings = decode::parse_printk_formats(
            &std::fs::read_to_string(self.root.join("printk_formats")).unwrap_or_default(),
        );
        let file = self.pipe.take();
        Reader {
            lost: u64::from(file.is_none()),
            file,
            page: vec![0u8; crate::sys::page_size()],
            header: self.header.clone(),
            decoder: Decoder::new(self.formats.clone(), strings, 0, "tickscope-probe"),
            names_sent: 0,
        }
    }

    /// The instance directory and its open `tracing_on` and `trace_pipe_raw` descriptors (for
    /// the signal handler's cleanup, which must close them to remove the directory).
    pub fn instance(&self) -> (&Path, [i32; 2]) {
        use std::os::fd::AsRawFd;
        let on = self.on.as_ref().map_or(-1, |f| f.as_raw_fd());
        (&self.inst, [on, self.pipe_fd])
    }
}

/// Reads a trace instance's buffer for one CPU as the kernel fills it: during the window (from
/// another CPU, so the buffer never fills) and once after it.
pub struct Reader {
    file: Option<std::fs::File>,
    page: Vec<u8>,
    header: PageHeader,
    decoder: Decoder,
    /// Records lost so far: pages the kernel missed or that did not parse, records that did not
    /// decode (the buffer's own overruns are [`Tracer::dropped`]).
    lost: u64,
    /// Names shipped so far (the table only grows).
    pub names_sent: usize,
}

impl Reader {
    /// Names the probe's measuring thread (before any record is read).
    pub fn probe(&mut self, tid: i32) {
        self.decoder.probe_tid = tid;
        self.decoder
            .names
            .rename(0, &format!("tickscope-probe:{tid}"));
    }

    /// Reads and decodes every record the kernel has committed so far, in time order (trace ns).
    pub fn read(&mut self) -> Vec<decode::Rec> {
        let mut out = Vec::new();
        let Some(f) = self.file.as_mut() else {
            return out;
        };
        loop {
            match f.read(&mut self.page) {
                Ok(0) => break,
                Ok(n) => {
                    let p = page::parse(&self.page[..n], &self.header);
                    self.lost += p.missed + p.damaged as u64;
                    for (ts, rec) in p.events {
                        self.decoder.record(ts, rec, &mut out);
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => break, // EAGAIN: nothing more
            }
        }
        out.sort_by_key(|r| r.0);
        out
    }

    /// The names added since the last call, with the index of the first.
    pub fn new_names(&mut self) -> (usize, Vec<(tickscope_core::wire::msg::CauseKind, String)>) {
        let from = self.names_sent;
        self.names_sent = self.decoder.names.list.len();
        (from, self.decoder.names.list[from..].to_vec())
    }

    /// Records lost so far by this reader.
    pub fn lost(&self) -> u64 {
        self.lost + self.decoder.bad
    }
}

impl Drop for Tracer {
    fn drop(&mut self) {
        self.off();
        // Every file of the instance closed first, or the kernel keeps it (and its buffer): the
        // reader, which holds the pipe, is dropped before the tracer.
        drop(self.on.take());
        drop(self.pipe.take());
        // A file of the instance that another thread or a just-forked child still holds keeps
        // it busy a moment longer: try again for up to 2 s.
        let mut tries = 0;
        while let Err(e) = std::fs::remove_dir(&self.inst) {
            tries += 1;
            if e.raw_os_error() != Some(libc::EBUSY) || tries == 100 {
                eprintln!(
                    "tickscope-probe: could not remove the trace instance {}: {e}",
                    self.inst.display()
                );
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
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
