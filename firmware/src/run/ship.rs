//! Core 0's side of a measured core: drains its rings into wire frames (raw sample blocks), or,
//! when the link is too slow for raw samples, into the shared statistics and ships those.

use tickscope_core::checked::{nth, nth_mut};
use tickscope_core::config::{Config, Mode, Reduce, Transport};
use tickscope_core::hist::{BUCKETS, Histogram};
use tickscope_core::probe::GapTable;
use tickscope_core::ring::Consumer;
use tickscope_core::stats::Accumulator;
use tickscope_core::units::ticks_to_ns;
use tickscope_core::wire::msg::{
    Attribution, BLOCK, Block, CoreStatus, GapCounts, HistogramPart, IrqSpan, Method, Metric,
    NoiseEvent, ReducedEvents, TimerSample, delta_code,
};
use tickscope_core::wire::out::Out;
use tickscope_cpu::lock::Mutex;

use tickscope_core::irq::{IrqRec, SampleRec};
use tickscope_cpu::timer;

use crate::io;

/// Bytes a raw record takes on the wire, roughly (postcard varints), for the throughput estimate.
const BYTES_PER_RECORD: u64 = 10;

/// Whether this run ships reductions instead of raw samples.
pub fn reduced(cfg: &Config) -> bool {
    match cfg.reduce {
        Reduce::Raw => false,
        Reduce::Histogram => true,
        Reduce::Auto => {
            if io::transport() != Transport::Uart {
                return false;
            }
            let per_s = match cfg.mode {
                Mode::Timer => 1_000_000_000 / cfg.period_ns.max(1),
                _ => 0,
            } + cfg.inject.map(|t| t.hz as u64).unwrap_or(0);
            let link = cfg.baud as u64 / 10;
            per_s * BYTES_PER_RECORD * 2 > link
        }
    }
}

/// Most cores measured at once (each has its own rings, gap table and accumulator).
pub const MAX_MEASURED: usize = 8;

static ACCUMULATORS: Mutex<[Accumulator; MAX_MEASURED]> =
    Mutex::new([const { Accumulator::new(0) }; MAX_MEASURED]);

/// Drains one measured core's rings.
pub struct Shipper {
    core: usize,
    slot: usize,
    mode: Mode,
    reduced: bool,
    hz: u64,
    window_start: u64,
    samples: Consumer<'static, 'static, SampleRec>,
    irqs: Consumer<'static, 'static, IrqRec>,
    timer_block: heapless::Vec<TimerSample, BLOCK>,
    noise_block: heapless::Vec<NoiseEvent, BLOCK>,
    irq_block: heapless::Vec<IrqSpan, BLOCK>,
    /// Largest latency or event shipped raw, ticks (for the plain-text result line).
    max_ticks: u64,
}

impl Shipper {
    /// A shipper for `core`'s rings.
    pub fn new(
        core: usize,
        slot: usize,
        cfg: &Config,
        samples: Consumer<'static, 'static, SampleRec>,
        irqs: Consumer<'static, 'static, IrqRec>,
    ) -> Self {
        let reduced = reduced(cfg);
        if reduced {
            nth_mut(&mut *ACCUMULATORS.lock(), slot).reset(cfg.threshold_ns);
        }
        Shipper {
            core,
            slot,
            mode: cfg.mode,
            reduced,
            hz: timer::frequency(),
            window_start: 0,
            samples,
            irqs,
            timer_block: heapless::Vec::new(),
            noise_block: heapless::Vec::new(),
            irq_block: heapless::Vec::new(),
            max_ticks: 0,
        }
    }

    /// The core shipped for.
    pub fn core(&self) -> usize {
        self.core
    }

    /// Window start (for per-second statistics in reduced mode). Also announces how this core's
    /// noise is attributed: by the firmware's own interrupt records.
    pub fn set_window(&mut self, start: u64) {
        self.window_start = start;
        io::send(Out::Attribution(&Attribution {
            core: self.core as u16,
            method: Method::Firmware,
            probe: 0,
            lost: 0,
            detail: heapless::String::new(),
            clock: [(0, 0); 2],
        }));
    }

    fn block<T>(&self, items: &mut heapless::Vec<T, BLOCK>) -> Block<T> {
        Block {
            core: self.core as u16,
            items: core::mem::take(items),
        }
    }

    /// Sends the wake-ups collected so far, delta-coded (`Message::TimerDeltas`).
    fn send_timer_block(&mut self) {
        let mut items = core::mem::take(&mut self.timer_block);
        let mut block = self.block(&mut items);
        delta_code(&mut block.items);
        io::send(Out::TimerDeltas(&block));
    }

    /// Moves everything waiting in the rings onto the wire.
    pub fn drain(&mut self) {
        while let Some(r) = self.samples.pop() {
            self.max_ticks = self.max_ticks.max(r.ticks);
            if self.reduced {
                let ns = ticks_to_ns(r.ticks, self.hz);
                // Records are from inside the window, never before its start.
                let at = ticks_to_ns(r.at - self.window_start.min(r.at), self.hz);
                nth_mut(&mut *ACCUMULATORS.lock(), self.slot).record(ns, at, self.core as u16);
                continue;
            }
            match self.mode {
                Mode::Timer => {
                    let _ = self.timer_block.push(TimerSample {
                        deadline: r.at,
                        latency: clamp(r.ticks),
                        cycles: r.cycles,
                        entry: r.entry,
                    });
                    if self.timer_block.is_full() {
                        self.send_timer_block();
                    }
                }
                _ => {
                    let _ = self.noise_block.push(NoiseEvent {
                        start: r.at,
                        duration: clamp(r.ticks),
                        counters: 0,
                    });
                    if self.noise_block.is_full() {
                        let mut items = core::mem::take(&mut self.noise_block);
                        io::send(Out::NoiseEvents(&self.block(&mut items)));
                    }
                }
            }
        }
        while let Some(r) = self.irqs.pop() {
            let _ = self.irq_block.push(IrqSpan {
                intid: r.intid,
                kind: r.kind,
                entry: r.entry,
                span: clamp(r.span),
                late: r.late.map_or(u32::MAX, |l| clamp(l).min(u32::MAX - 1)),
                stolen: clamp(r.stolen),
            });
            if self.irq_block.is_full() {
                let mut items = core::mem::take(&mut self.irq_block);
                io::send(Out::Irqs(&self.block(&mut items)));
            }
        }
    }

    /// Ships everything the rings hold, partial blocks included.
    pub fn flush(&mut self) {
        self.drain();
        if !self.timer_block.is_empty() {
            self.send_timer_block();
        }
        if !self.noise_block.is_empty() {
            let mut items = core::mem::take(&mut self.noise_block);
            io::send(Out::NoiseEvents(&self.block(&mut items)));
        }
        if !self.irq_block.is_empty() {
            let mut items = core::mem::take(&mut self.irq_block);
            io::send(Out::Irqs(&self.block(&mut items)));
        }
    }

    /// Flushes, ships reductions and gap counts, then the core's status.
    pub fn finish(&mut self, status: &CoreStatus, gaps: Option<&GapTable>) {
        self.flush();
        let core = self.core as u16;
        if let Some(gaps) = gaps {
            let mut counts: heapless::Vec<(u32, u64), BLOCK> = heapless::Vec::new();
            for (ticks, &n) in gaps.iter().enumerate().filter(|(_, n)| **n > 0) {
                let _ = counts.push((ticks as u32, n));
                if counts.is_full() {
                    io::send(Out::Gaps(&GapCounts {
                        core,
                        counts: core::mem::take(&mut counts),
                    }));
                }
            }
            if !counts.is_empty() {
                io::send(Out::Gaps(&GapCounts { core, counts }));
            }
        }
        if self.reduced {
            let metric = if self.mode == Mode::Timer {
                Metric::Latency
            } else {
                Metric::NoiseEvent
            };
            let accs = ACCUMULATORS.lock();
            let acc = nth(&*accs, self.slot);
            ship_histogram(core, metric, false, &acc.values);
            ship_histogram(core, metric, true, &acc.events);
            ship_events(core, metric, acc);
        }
        io::send(Out::CoreStatus(&*status));
        // One plain-text line per measured core for readers of the console alone (LAVA's
        // `monitors` pattern `tickscope-result: ID pass|fail VALUE UNITS`): its largest latency
        // or loop gap (events, and the gaps below the threshold the table counted), failed when
        // records were lost.
        let largest_gap = gaps
            .and_then(|g| g.iter().rposition(|&n| n > 0))
            .unwrap_or(0) as u64;
        io::print(|l| {
            l.s("tickscope-result: core")
                .u(core as u64)
                .s("-")
                .s(self.mode.name())
                .s("-max ")
                .s(if status.lost == 0 { "pass" } else { "fail" })
                .s(" ")
                .u(ticks_to_ns(self.max_ticks.max(largest_gap), self.hz))
                .s(" ns")
        });
    }
}

/// A tick count for a 32-bit wire field: values beyond it (over a minute at 62.5 MHz) become
/// `u32::MAX`, which the host reports as clamped; never wrapped.
fn clamp(ticks: u64) -> u32 {
    u32::try_from(ticks).unwrap_or(u32::MAX)
}

/// Ships a device-side histogram in parts; the last part carries the exact extremes.
fn ship_histogram(core: u16, metric: Metric, events: bool, h: &Histogram) {
    let mut part: heapless::Vec<(u16, u64), BLOCK> = heapless::Vec::new();
    const _: () = assert!(BUCKETS <= u16::MAX as usize);
    for (i, n) in h.buckets() {
        let _ = part.push((i as u16, n));
        if part.is_full() {
            let buckets = core::mem::take(&mut part);
            io::send(Out::Histogram(&HistogramPart {
                core,
                metric,
                events,
                buckets,
                last: None,
            }));
        }
    }
    let last = Some((
        h.min().unwrap_or(0),
        h.max().unwrap_or(0),
        h.sum().min(u64::MAX as u128) as u64,
        h.overflow(),
    ));
    io::send(Out::Histogram(&HistogramPart {
        core,
        metric,
        events,
        buckets: part,
        last,
    }));
}

/// Ships worst events and per-second counts of a device-side accumulator.
fn ship_events(core: u16, metric: Metric, acc: &Accumulator) {
    let worst = acc.worst.sorted();
    let counts = acc.per_second.counts();
    let mut first = 0usize;
    let mut rest = counts;
    loop {
        let (chunk, tail) = rest.split_at(rest.len().min(BLOCK));
        let mut per_second = heapless::Vec::new();
        let _ = per_second.extend_from_slice(chunk);
        io::send(Out::Reduced(&ReducedEvents {
            core,
            metric,
            worst: if first == 0 {
                worst.clone()
            } else {
                heapless::Vec::new()
            },
            first_second: first as u32,
            per_second,
        }));
        first += BLOCK;
        rest = tail;
        if rest.is_empty() {
            break;
        }
    }
}
