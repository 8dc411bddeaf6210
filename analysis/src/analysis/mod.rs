//! What a run's messages say, collected as they are decoded: per measured core every value
//! (latency or loop gap) into histograms, and the raw material of attribution (events, the
//! firmware's interrupt records, kernel trace records, cause names); plus the boot facts.
//!
//! Memory is bounded: histograms are fixed-size, and events, interrupt and trace records keep at
//! most [`STREAMED_RECORDS`] entries per core each. Beyond, they are attributed as the producer
//! closes them (`overflow`): bare metal's checkpoints, the Linux probe's `Covered`. `summary` turns this into the figures; `attribute` joins events with causes.

pub mod attribute;
pub mod coverage;
pub mod explain;
pub mod load;
pub mod overflow;
pub mod peers;
pub mod slots;
pub mod summary;
pub mod tick;
pub mod totals;

use std::collections::BTreeMap;

use tickscope_core::hist::Histogram;
use tickscope_core::stats::{Accumulator, WorstEvent};
use tickscope_core::units::{TicksToNs, ticks_to_ns};
use tickscope_core::wire::Message;
use tickscope_core::wire::msg::{
    Attribution, BLOCK, Block, CauseKind, CoreOnline, CoreStatus, FaultReport, HistogramPart,
    InterruptCounts, IrqSpan, KernelInfo, LinuxInfo, LoadProgress, Method, NoiseEvent, PanicReport,
    PeerRun, PeerStream, PeerTool, PsciFailure, ReducedEvents, RunHeader, Source, TimerSample,
    TraceRecord, Trailer, Window,
};

use crate::decode::Sink;

/// Events, interrupt records and trace records kept per core (each) of messages before a header
/// (whose producer is unknown: nothing beyond is attributed).
pub const MAX_RECORDS: usize = 2_000_000;

/// Kept events and interrupt or trace records per core (each): what is beyond is attributed as
/// it comes, so these serve the plots and the worst events only, and bound the analysis's
/// memory (about 200 bytes a kept event with its split).
pub const STREAMED_RECORDS: usize = 500_000;

/// One event in counter ticks: a loop gap above the threshold (`start` = the read before it), or
/// a late wake-up (`start` = its deadline, `len` = its latency).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event {
    /// Start (counter ticks).
    pub start: u64,
    /// Length (ticks).
    pub len: u64,
    /// Per-event counters that moved (counters attribution), 0 otherwise.
    pub counters: u64,
}

/// What one measured core produced.
#[derive(Debug, Clone)]
pub struct CoreData {
    /// Core index.
    pub core: u16,
    /// Window (counter ticks).
    pub window: Option<Window>,
    /// How the core related cycles to the counter (timer mode with a PMU).
    pub calibration: Option<tickscope_core::wire::msg::CycleCalibration>,
    /// Values and events, in nanoseconds.
    pub acc: Box<Accumulator>,
    /// Timer-mode latency in PMU cycles (when available).
    pub cycles: Box<Histogram>,
    /// Timer-mode interrupt entry cost (vector to handler body) in PMU cycles (when available).
    pub entry_cycles: Box<Histogram>,
    /// The largest event per slot of the window, of every event (kept or not).
    pub maxima: slots::MaxSlots,
    /// Events in ticks, the first [`CoreData::limit`].
    pub events: Vec<Event>,
    /// Timer mode on Linux: every wake-up as (deadline, latency) in ticks, the first
    /// [`CoreData::limit`] (the IRQ/thread split matches them with the trace's timer expiries).
    /// Bare metal has no trace to match them with: none are kept, so a firmware run's analysis
    /// does not grow with its samples.
    pub wakeups: Vec<(u64, u32)>,
    /// The latest end of any record (an event's start + length, a wake-up's deadline +
    /// latency), in ticks: how far a run cut short reaches.
    pub last_end: u64,
    /// Interrupts the firmware took in the window, the first [`CoreData::limit`].
    pub irqs: Vec<IrqSpan>,
    /// Kernel trace records of the measured CPU, the first [`CoreData::limit`].
    pub trace: Vec<TraceRecord>,
    /// The producer's cause names by index.
    pub names: BTreeMap<u16, (CauseKind, String)>,
    /// How the producer attributes this core's noise.
    pub attribution: Option<Attribution>,
    /// End status.
    pub status: Option<CoreStatus>,
    /// The latest checkpoint: the status so far, during the window (what a run cut short keeps).
    pub checkpoint: Option<CoreStatus>,
    /// Raw samples received (timer wake-ups or noise events).
    pub records: u64,
    /// Events, interrupt or trace records beyond what is kept, not attributed.
    pub dropped: u64,
    /// Bare metal: the records beyond the kept ones, attributed as checkpoints close them.
    pub overflow: Option<Box<overflow::Overflow>>,
    /// Records kept of each kind ([`STREAMED_RECORDS`], before a header [`MAX_RECORDS`], unless
    /// [`Analysis::records_kept`] says).
    pub limit: usize,
    /// Values the producer clamped at the wire's limit (a gap or latency over `u32::MAX` ticks).
    pub clamped: u64,
    /// The device shipped reductions instead of raw samples.
    pub reduced: bool,
}

impl CoreData {
    pub(crate) fn new(core: u16, threshold_ns: u64, limit: usize) -> Self {
        CoreData {
            core,
            window: None,
            calibration: None,
            acc: Box::new(Accumulator::new(threshold_ns)),
            cycles: Box::new(Histogram::new()),
            entry_cycles: Box::new(Histogram::new()),
            maxima: slots::MaxSlots::default(),
            events: Vec::new(),
            wakeups: Vec::new(),
            last_end: 0,
            irqs: Vec::new(),
            trace: Vec::new(),
            names: BTreeMap::new(),
            attribution: None,
            status: None,
            checkpoint: None,
            records: 0,
            dropped: 0,
            overflow: None,
            limit,
            clamped: 0,
            reduced: false,
        }
    }

    /// The status the figures use: the end status, or for a run cut short its last checkpoint.
    pub fn end_status(&self) -> Option<CoreStatus> {
        self.status.or(self.checkpoint)
    }

    /// Whether the window was cut short (no end status).
    pub fn cut_short(&self) -> bool {
        self.status.is_none()
    }

    /// The measurement window `(start, end)` in ticks, as the producer announced it (the loop
    /// stops at its first read past `end`); from the core's status when none was announced. A
    /// window cut short ends where its last checkpoint reaches.
    pub fn window_ticks(&self) -> Option<(u64, u64)> {
        if let (None, Some(cp)) = (self.status, self.checkpoint) {
            // Cut short: the records that arrived after the last checkpoint are kept, so the
            // window is the span they cover (rates are per covered second), at least the
            // checkpoint's.
            let last = self.last_end;
            return Some((
                cp.window_start,
                cp.window_end.max(last).max(cp.window_start),
            ));
        }
        match (self.window, self.status) {
            (Some(w), _) => Some((w.start, w.end)),
            (None, Some(s)) if s.window_end > s.window_start => {
                Some((s.window_start, s.window_end))
            }
            _ => None,
        }
    }

    /// Window length in seconds (0 when unknown).
    /// The span the loop's counted samples cover: a cut-short run's last checkpoint (its gap
    /// table and iteration count are the checkpoint's), else the window.
    pub fn samples_s(&self, hz: u64) -> f64 {
        match (self.status, self.checkpoint) {
            (None, Some(cp)) => {
                cp.window_end.saturating_sub(cp.window_start) as f64 / hz.max(1) as f64
            }
            _ => self.window_s(hz),
        }
    }

    /// The window's length in seconds.
    pub fn window_s(&self, hz: u64) -> f64 {
        self.window_ticks()
            .map(|(a, b)| (b - a) as f64 / hz.max(1) as f64)
            .unwrap_or(0.0)
    }

    /// The name of a producer's cause index (`#N` when the table lacks it).
    pub fn name(&self, index: u16) -> (String, CauseKind) {
        self.names
            .get(&index)
            .map(|(k, n)| (n.clone(), *k))
            .unwrap_or_else(|| (format!("#{index}"), CauseKind::Irq))
    }

    /// An event: kept while there is room (and, once records overflow, when it is from before
    /// they did); beyond, to the overflow when `stream` (bare metal), else counted as dropped.
    #[inline]
    fn keep_event(&mut self, ev: Event, stream: bool) {
        if self.overflow.is_none() && self.events.len() < self.limit {
            self.events.push(ev);
        } else {
            self.keep_event_beyond(ev, stream);
        }
    }

    #[cold]
    #[inline(never)]
    fn keep_event_beyond(&mut self, ev: Event, stream: bool) {
        match self.overflow.as_deref_mut() {
            Some(o) if ev.start >= o.from => o.event(ev.start, ev.len),
            Some(_) => self.events.push(ev),
            None if stream => {
                let mut o = Box::new(overflow::Overflow::new(ev.start));
                o.event(ev.start, ev.len);
                self.overflow = Some(o);
            }
            None => self.dropped += 1,
        }
    }

    /// An interrupt record, as [`CoreData::keep_event`] keeps events.
    fn keep_irq(&mut self, s: IrqSpan, stream: bool) {
        match self.overflow.as_deref_mut() {
            Some(o) if s.entry >= o.from => o.irq(s),
            Some(_) => self.irqs.push(s),
            None if self.irqs.len() < self.limit => self.irqs.push(s),
            None if stream => {
                if self.begin_overflow(s.entry)
                    && let Some(o) = self.overflow.as_deref_mut()
                {
                    o.irq(s);
                } else {
                    self.irqs.push(s);
                }
            }
            None => self.dropped += 1,
        }
    }

    /// A kernel trace record, as [`CoreData::keep_irq`] keeps interrupt records.
    fn keep_trace(&mut self, r: TraceRecord, stream: bool) {
        match self.overflow.as_deref_mut() {
            Some(o) if r.at >= o.from => o.trace(r),
            Some(_) => self.trace.push(r),
            None if self.trace.len() < self.limit => self.trace.push(r),
            None if stream => {
                if self.begin_overflow(r.at)
                    && let Some(o) = self.overflow.as_deref_mut()
                {
                    o.trace(r);
                } else {
                    self.trace.push(r);
                }
            }
            None => self.dropped += 1,
        }
    }

    /// Begins the overflow with a cause record at `at` beyond the kept ones: from `at`, or from
    /// the end of the last event already in (its cause records, which come after it, stay with
    /// the kept ones). Whether the record at `at` goes to the overflow.
    #[cold]
    fn begin_overflow(&mut self, at: u64) -> bool {
        let from = at.max(self.last_end);
        self.overflow = Some(Box::new(overflow::Overflow::new(from)));
        at >= from
    }

    /// The overflow with the kept records' cause bounds learnt (once every kept record is in).
    pub fn learn_overflow_bounds(&self, overflow: &mut overflow::Overflow) {
        let spans: Vec<(u64, u64)> = self.events.iter().map(|e| (e.start, e.len)).collect();
        let mut causes = attribute::Causes::default();
        let intervals = if self.trace.is_empty() {
            attribute::from_irqs(&self.irqs, &mut causes)
        } else {
            let mut trace = self.trace.clone();
            trace.sort_by_key(|r| r.at);
            attribute::from_trace(&trace, &|i| self.name(i), self.probe_index(), &mut causes)
        };
        overflow.learn_bounds(&spans, &intervals, &causes);
    }

    /// The probe's own thread's name index in the trace (the probe makes it entry 0).
    pub fn probe_index(&self) -> u16 {
        self.attribution.as_ref().map_or(0, |a| a.probe)
    }

    /// Calls `f` with how this core's records are split (for its overflow).
    pub fn with_split<R>(&self, hz: u64, f: impl FnOnce(&overflow::Split<'_>) -> R) -> R {
        let names = |i| self.name(i);
        f(&overflow::Split {
            names: &names,
            probe: self.probe_index(),
            threshold: self.window.map(|w| w.threshold).unwrap_or(0),
            threshold_ns: self.acc.threshold_ns,
            hz,
            window_end: self.window_ticks().map_or(u64::MAX, |w| w.1),
        })
    }

    /// Attributes the overflow up to `until` (a checkpoint's reach, a `Covered`, or the end).
    fn close_overflow(&mut self, until: u64, hz: u64) {
        let Some(mut o) = self.overflow.take() else {
            return;
        };
        // The kept records are all in once the close reaches past where the overflow began.
        if !o.has_bounds() && until >= o.from {
            self.learn_overflow_bounds(&mut o);
        }
        if o.has_bounds() {
            self.with_split(hz, |how| o.close(until, how));
        }
        self.overflow = Some(o);
    }
}

/// Everything a run's messages say.
#[derive(Debug, Default)]
pub struct Analysis {
    /// Run header.
    pub header: Option<RunHeader>,
    /// Cores that reported online.
    pub online: BTreeMap<u16, CoreOnline>,
    /// NEON results per core.
    pub neon: BTreeMap<u16, u64>,
    /// Failed CPU_ON calls.
    pub psci_failures: Vec<PsciFailure>,
    /// Measured cores.
    pub cores: BTreeMap<u16, CoreData>,
    /// Linux interrupt counts over the window.
    pub interrupts: Vec<InterruptCounts>,
    /// Linux isolation facts.
    pub linux: Option<LinuxInfo>,
    /// Faults.
    pub faults: Vec<FaultReport>,
    /// Panics.
    pub panics: Vec<PanicReport>,
    /// Why the firmware refused the run (it words nothing itself).
    pub refusals: Vec<tickscope_core::refusal::Refusal>,
    /// The kernel's timer line, found by its INTID (Linux probe, arm64): the first one sent.
    pub timer_line: Option<tickscope_core::wire::msg::TimerLine>,
    /// Trailer.
    pub trailer: Option<Trailer>,
    /// Messages received before a header (unusable: no clock).
    pub headless: u64,
    /// Records kept per core of each kind before the rest overflows ([`STREAMED_RECORDS`] when
    /// `None`; smaller to exercise a long run's path on a short one).
    pub records_kept: Option<usize>,
    /// The running kernel (Linux probe).
    pub kernel: Option<KernelInfo>,
    /// What the peer tools wrote, and their runs (`--peers`).
    pub peers: BTreeMap<PeerTool, PeerData>,
    /// The load's instances, each with its progress (`--load`).
    pub loads: Vec<LoadProgress>,
}

/// One peer tool's output as it arrived.
#[derive(Debug, Clone, Default)]
pub struct PeerData {
    /// The file its `--json=` option wrote.
    pub json: Vec<u8>,
    /// What it printed.
    pub text: Vec<u8>,
    /// Its run (after all its output).
    pub run: Option<PeerRun>,
}

impl Analysis {
    /// Counter frequency from the header (1 GHz if unknown, as ns clocks are).
    pub fn hz(&self) -> u64 {
        self.header
            .as_ref()
            .map(|h| h.counter_hz)
            .filter(|&h| h > 0)
            .unwrap_or(1_000_000_000)
    }

    /// Event threshold in ns (from the header's configuration).
    pub fn threshold_ns(&self) -> u64 {
        self.header
            .as_ref()
            .map(|h| h.config.threshold_ns)
            .unwrap_or(1_000)
    }

    /// Whether records beyond the kept ones are attributed as they come rather than counted as
    /// dropped: from a producer that says how far its records are in (bare metal's
    /// checkpoints, the Linux probe's `Covered` and its attribution after its trace).
    fn streams(&self) -> bool {
        self.header.is_some()
    }

    /// Whether a core's status comes after every cause record it covers (bare metal: its
    /// interrupt records ship with its events; the Linux probe ships its trace later).
    fn streams_with_status(&self) -> bool {
        self.header
            .as_ref()
            .is_some_and(|h| h.source == Source::Firmware)
    }

    fn core(&mut self, core: u16) -> &mut CoreData {
        let thr = self.threshold_ns();
        let limit = match (self.records_kept, self.streams()) {
            (Some(n), _) => n,
            (None, true) => STREAMED_RECORDS,
            (None, false) => MAX_RECORDS,
        };
        self.cores
            .entry(core)
            .or_insert_with(|| CoreData::new(core, thr, limit))
    }

    /// A piece of a peer tool's output, appended to what it wrote so far.
    fn peer_chunk(&mut self, p: &tickscope_core::wire::msg::PeerChunk) {
        let d = self.peers.entry(p.tool).or_default();
        match p.stream {
            PeerStream::Json => d.json.extend_from_slice(&p.data),
            PeerStream::Text => d.text.extend_from_slice(&p.data),
        }
    }

    /// Which interrupt is the run's tick (by its timer line when the probe found one).
    pub fn tick(&self) -> tick::Tick {
        tick::Tick::of(self.timer_line.as_ref())
    }

    /// The failed CPU_ON calls in words: `core N (MPIDR 0x..): NAME` (the firmware sends codes).
    pub fn psci_failure_lines(&self) -> Vec<String> {
        self.psci_failures
            .iter()
            .map(|p| {
                format!(
                    "core {} (MPIDR {:#x}): {}",
                    p.core,
                    p.mpidr,
                    tickscope_core::wire::msg::psci_error_name(p.code)
                )
            })
            .collect()
    }

    /// Whether every online core's NEON result matches the scalar reference.
    pub fn neon_ok(&self) -> bool {
        let want = tickscope_core::wire::msg::neon_reference();
        !self.neon.is_empty() && self.neon.values().all(|&v| v == want)
    }
}

impl Sink for Analysis {
    fn message(&mut self, _seq: u32, msg: &Message) {
        let hz = self.hz();
        match msg {
            Message::Header(h) => {
                self.header = Some(h.clone());
            }
            Message::CoreOnline(c) => {
                self.online.insert(c.core, *c);
            }
            Message::Neon(n) => {
                self.neon.insert(n.core, n.value);
            }
            Message::PsciFailure(p) => self.psci_failures.push(*p),
            Message::Window(w) => {
                self.core(w.core).window = Some(*w);
            }
            Message::TimerSamples(b) => self.timer_samples(b.core, b.items.iter().copied(), hz),
            Message::NoiseEvents(b) => self.noise_events(b, hz),
            Message::Irqs(b) => {
                let stream = self.streams();
                let c = self.core(b.core);
                for s in &b.items {
                    c.keep_irq(*s, stream);
                }
            }
            Message::Trace(b) => {
                let stream = self.streams();
                let c = self.core(b.core);
                for r in &b.items {
                    c.keep_trace(*r, stream);
                }
            }
            Message::Names(n) => {
                let c = self.core(n.core);
                for e in &n.items {
                    c.names.insert(e.index, (e.kind, e.name.to_string()));
                }
            }
            Message::Attribution(a) => self.attribution(a, hz),
            Message::Gaps(g) => {
                let c = self.core(g.core);
                for &(ticks, n) in &g.counts {
                    c.acc.record_quiet(ticks_to_ns(ticks as u64, hz), n);
                }
            }
            Message::Histogram(part) => self.histogram_part(part),
            Message::Reduced(r) => self.reduced_events(r),
            Message::CoreStatus(s) => self.core_status(s, true, hz),
            Message::Checkpoint(s) => self.core_status(s, false, hz),
            Message::Interrupts(i) => self.interrupts.push(i.clone()),
            Message::Linux(l) => self.linux = Some(l.clone()),
            Message::Log(_) => {}
            Message::Fault(f) => self.faults.push(*f),
            Message::Panic(p) => self.panics.push(p.clone()),
            Message::Refused(r) => self.refusals.push(r.clone()),
            Message::TimerLine(l) => {
                self.timer_line.get_or_insert_with(|| l.clone());
            }
            Message::End(t) => self.trailer = Some(*t),
            Message::Kernel(k) => self.kernel = Some(k.clone()),
            Message::Calibration(c) => self.core(c.core).calibration = Some(*c),
            Message::TimerDeltas(b) => {
                let items = tickscope_core::wire::msg::delta_decoded(&b.items);
                self.timer_samples(b.core, items, hz)
            }
            Message::Peer(p) => self.peer_chunk(p),
            Message::PeerDone(r) => self.peers.entry(r.tool).or_default().run = Some(r.clone()),
            Message::Load(p) => self.loads.push(p.clone()),
            Message::Covered(c) => self.core(c.core).close_overflow(c.upto, hz),
        }
        // A refusal comes before any header and needs no clock.
        if self.header.is_none() && !matches!(msg, Message::Header(_) | Message::Refused(_)) {
            self.headless += 1;
        }
    }

    fn timer_block(&mut self, _seq: u32, core: u16, items: &[TimerSample]) {
        let hz = self.hz();
        self.timer_samples(core, items.iter().copied(), hz);
        if self.header.is_none() {
            self.headless += 1;
        }
    }
}

impl Analysis {
    /// Timer wake-ups: latencies in ns, cycle figures, and the wake-ups and events kept for
    /// attribution.
    fn timer_samples(&mut self, core: u16, items: impl Iterator<Item = TimerSample>, hz: u64) {
        let linux = self
            .header
            .as_ref()
            .is_some_and(|h| h.source == Source::LinuxProbe);
        let stream = self.streams();
        let c = self.core(core);
        let start = c.window.map(|w| w.start).unwrap_or(0);
        let ns = TicksToNs::new(hz);
        // The latencies go into the value histogram a block at a time.
        let mut lats = [0u64; BLOCK];
        let mut held = 0;
        for s in items {
            let lat = ns.ns(s.latency as u64);
            if held == BLOCK {
                c.acc.values.record_all(&lats);
                held = 0;
            }
            lats[held] = lat;
            held += 1;
            if lat > c.acc.threshold_ns {
                let at = ns.ns(s.deadline.saturating_sub(start));
                c.acc.record_event_only(lat, at, core);
                c.maxima.add(at, lat);
            }
            if s.cycles != u32::MAX {
                c.cycles.record(s.cycles as u64);
            }
            if s.entry != u32::MAX {
                c.entry_cycles.record(s.entry as u64);
            }
            if s.latency == u32::MAX {
                c.clamped += 1;
            }
            c.records += 1;
            c.last_end = c.last_end.max(s.deadline + s.latency as u64);
            // Beyond the kept ones, wake-ups serve no attribution (their events do): the timer
            // split says how many it is computed from.
            if linux && c.wakeups.len() < c.limit {
                c.wakeups.push((s.deadline, s.latency));
            }
            if lat > c.acc.threshold_ns {
                let ev = Event {
                    start: s.deadline,
                    len: s.latency as u64,
                    counters: 0,
                };
                c.keep_event(ev, stream);
            }
        }
        c.acc.values.record_all(&lats[..held]);
    }

    /// Noise events: gaps above the threshold, with the counters that moved.
    fn noise_events(&mut self, b: &Block<NoiseEvent>, hz: u64) {
        let stream = self.streams();
        let c = self.core(b.core);
        let start = c.window.map(|w| w.start).unwrap_or(0);
        let ns = TicksToNs::new(hz);
        for e in &b.items {
            let dur = ns.ns(e.duration as u64);
            let at = ns.ns(e.start.saturating_sub(start));
            c.acc.record(dur, at, b.core);
            // A gap the device counted as an event is one even if rounding put its
            // nanosecond value on the threshold.
            if dur <= c.acc.threshold_ns {
                c.acc.record_event_only(dur, at, b.core);
            }
            c.maxima.add(at, dur);
            if e.duration == u32::MAX {
                c.clamped += 1;
            }
            c.records += 1;
            c.last_end = c.last_end.max(e.start + e.duration as u64);
            let ev = Event {
                start: e.start,
                len: e.duration as u64,
                counters: e.counters,
            };
            c.keep_event(ev, stream);
        }
    }

    /// A core's end status (`end`) or checkpoint: it comes after every record it covers, so the
    /// core's overflow closes up to it.
    /// How a core's noise is attributed: for the Linux probe, after its last trace records,
    /// so it closes the core's overflow.
    fn attribution(&mut self, a: &Attribution, hz: u64) {
        let c = self.core(a.core);
        c.attribution = Some(a.clone());
        if matches!(a.method, Method::Tracefs) {
            c.close_overflow(u64::MAX, hz);
        }
    }

    /// The Linux probe ships its trace after its status: its overflow closes at `Covered` and at
    /// its attribution instead.
    fn core_status(&mut self, s: &CoreStatus, end: bool, hz: u64) {
        let firmware = self.streams_with_status();
        let c = self.core(s.core);
        let reach = if end {
            c.status = Some(*s);
            u64::MAX
        } else {
            c.checkpoint = Some(*s);
            s.window_end
        };
        if firmware {
            c.close_overflow(reach, hz);
        }
    }

    /// A part of a histogram the device reduced.
    fn histogram_part(&mut self, part: &HistogramPart) {
        let c = self.core(part.core);
        c.reduced = true;
        let h = if part.events {
            &mut c.acc.events
        } else {
            &mut c.acc.values
        };
        for &(i, n) in &part.buckets {
            h.add_bucket(i as usize, n);
        }
        if let Some((min, max, sum, overflow)) = part.last {
            h.set_exact(min, max, sum as u128, overflow);
        }
    }

    /// The device's worst-N and per-second counts (reduced runs).
    fn reduced_events(&mut self, r: &ReducedEvents) {
        let c = self.core(r.core);
        c.reduced = true;
        for w in &r.worst {
            c.acc.worst.offer(WorstEvent {
                value: w.value,
                at: w.at,
                core: w.core,
            });
        }
        for (i, &n) in r.per_second.iter().enumerate() {
            if n > 0 {
                c.acc.per_second.add_n(r.first_second as u64 + i as u64, n);
            }
        }
    }
}

/// Rounds to 6 decimals so JSON output is stable and readable (every figure of a summary).
pub fn round6(v: f64) -> f64 {
    (v * 1e6).round() / 1e6
}

/// Median of a list (upper median), `None` when empty.
pub fn median(v: &mut [u64]) -> Option<u64> {
    if v.is_empty() {
        return None;
    }
    v.sort_unstable();
    Some(v[v.len() / 2])
}
