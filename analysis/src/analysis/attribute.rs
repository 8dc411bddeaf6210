//! Attribution: which OS activity ran on the measured CPU during each noise event (or each late
//! wake-up), osnoise's way. Causes are net intervals (nested time belongs to the innermost
//! context); an event's OS part is the time its causes ran inside it, its hardware part the rest.
//!
//! Everything here is in counter ticks and pure: built from the firmware's interrupt records,
//! from the kernel's trace records, or from per-event counters, and tested with synthetic data.

use std::collections::HashMap;

use tickscope_core::wire::msg::{CauseKind, IrqKind, IrqSpan, TraceKind, TraceRecord};

/// The causes of one run, each with a name and a kind.
#[derive(Debug, Clone, Default)]
pub struct Causes {
    list: Vec<(String, CauseKind)>,
    index: HashMap<(String, CauseKind), usize>,
}

impl Causes {
    /// The id of a cause, added when new.
    pub fn id(&mut self, name: &str, kind: CauseKind) -> usize {
        if let Some(&i) = self.index.get(&(name.to_string(), kind)) {
            return i;
        }
        self.list.push((name.to_string(), kind));
        self.index
            .insert((name.to_string(), kind), self.list.len() - 1);
        self.list.len() - 1
    }

    /// Name and kind of cause `id`.
    pub fn get(&self, id: usize) -> (&str, CauseKind) {
        let (n, k) = &self.list[id];
        (n, *k)
    }

    /// Number of causes.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
}

/// Time `[start, end)` during which cause `cause` (and nothing nested in it) ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interval {
    /// First tick.
    pub start: u64,
    /// One past the last tick.
    pub end: u64,
    /// Cause id.
    pub cause: usize,
}

/// The name of a firmware interrupt as a cause.
pub fn irq_cause(span: &IrqSpan) -> (String, CauseKind) {
    match span.kind {
        IrqKind::Tick => (
            format!("injected tick (INTID {})", span.intid),
            CauseKind::Irq,
        ),
        IrqKind::Timer => (
            format!("measurement timer (INTID {})", span.intid),
            CauseKind::Irq,
        ),
        IrqKind::Sgi => (format!("SGI {}", span.intid), CauseKind::Ipi),
        IrqKind::Ghost => (
            format!("ghost timer interrupt (INTID {})", span.intid),
            CauseKind::Irq,
        ),
        IrqKind::Other if span.intid == 1023 => ("spurious interrupt".into(), CauseKind::Irq),
        IrqKind::Other => (format!("INTID {}", span.intid), CauseKind::Irq),
    }
}

/// Intervals of the firmware's own interrupt records (handlers never nest on bare metal: every
/// interrupt has the same priority). A handler's own time is its span minus the time its core was
/// taken away (stolen); the stolen part, which the firmware counts but does not place, is put
/// at the end of the span.
pub fn from_irqs(spans: &[IrqSpan], causes: &mut Causes) -> Vec<Interval> {
    let mut v: Vec<Interval> = spans
        .iter()
        .map(|s| {
            let (name, kind) = irq_cause(s);
            Interval {
                start: s.entry,
                end: s.entry + (s.span as u64).saturating_sub(s.stolen as u64),
                cause: causes.id(&name, kind),
            }
        })
        .collect();
    v.sort_by_key(|i| i.start);
    v
}

/// What the trace says runs on the CPU: a stack of contexts, innermost last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ctx {
    /// The probe's own thread: not noise.
    Probe,
    /// The idle task: the CPU waits (in timer mode, for the probe's own timer); the time until
    /// an interrupt's handler runs is exit from idle, hardware time, never OS noise.
    Idle,
    /// Another thread (cause id).
    Thread(usize),
    /// A handler (cause id) and the trace kind that opened it (to match its exit).
    Handler(usize, TraceKind),
}

/// Net intervals from kernel trace records of one CPU, in time order. `names` resolves a
/// record's name index to its cause (name, kind); `probe` is the name index of the probe's own
/// thread. The CPU is assumed to run the probe when the trace starts (the window opens with the
/// probe running). Time in a handler nested in another (an IPI inside its IRQ, a softirq after
/// an IRQ) is charged to the innermost one only.
pub fn from_trace(
    records: &[TraceRecord],
    names: &dyn Fn(u16) -> (String, CauseKind),
    probe: u16,
    causes: &mut Causes,
) -> Vec<Interval> {
    let mut out = Vec::new();
    let mut stack: Vec<Ctx> = vec![Ctx::Probe];
    let mut last = records.first().map(|r| r.at).unwrap_or(0);
    let charge = |out: &mut Vec<Interval>, stack: &[Ctx], from: u64, to: u64| {
        if to <= from {
            return;
        }
        let cause = match stack.last() {
            Some(Ctx::Thread(c)) | Some(Ctx::Handler(c, _)) => *c,
            _ => return,
        };
        // Merge with the previous interval when it is the same cause and contiguous.
        if let Some(prev) = out.last_mut()
            && prev.cause == cause
            && prev.end == from
        {
            prev.end = to;
            return;
        }
        out.push(Interval {
            start: from,
            end: to,
            cause,
        });
    };
    for r in records {
        charge(&mut out, &stack, last, r.at);
        last = r.at.max(last);
        match r.kind {
            TraceKind::IrqEntry | TraceKind::SoftirqEntry | TraceKind::IpiEntry => {
                let (name, kind) = names(r.name);
                let id = causes.id(&name, kind);
                stack.push(Ctx::Handler(id, r.kind));
            }
            TraceKind::IrqExit | TraceKind::SoftirqExit | TraceKind::IpiExit => {
                let opener = opener(r.kind);
                // Pop to the matching entry (an exit without its entry, from before the trace
                // started, is ignored).
                if let Some(pos) = stack
                    .iter()
                    .rposition(|c| matches!(c, Ctx::Handler(_, k) if *k == opener))
                {
                    stack.truncate(pos);
                }
            }
            TraceKind::Switch => {
                // A context switch happens in thread context: handlers have returned.
                stack.retain(|c| !matches!(c, Ctx::Handler(..)));
                let base = if r.name == probe {
                    Ctx::Probe
                } else {
                    let (name, kind) = names(r.name);
                    if is_idle(&name, kind) {
                        Ctx::Idle
                    } else {
                        Ctx::Thread(causes.id(&name, kind))
                    }
                };
                stack.clear();
                stack.push(base);
            }
            TraceKind::TimerExpire | TraceKind::Wakeup => {}
        }
    }
    out
}

/// The entry kind an exit closes.
pub fn opener(exit: TraceKind) -> TraceKind {
    match exit {
        TraceKind::IrqExit => TraceKind::IrqEntry,
        TraceKind::SoftirqExit => TraceKind::SoftirqEntry,
        _ => TraceKind::IpiEntry,
    }
}

/// Whether a switched-to task is the idle task: the probe names it `idle` of kind `hw` (pid 0);
/// earlier probes named it as a thread, `swapper/N:0`.
pub fn is_idle(name: &str, kind: CauseKind) -> bool {
    kind == CauseKind::Hw || (kind == CauseKind::Thread && name.ends_with(":0"))
}

/// A piece of an event: time a cause ran, or time nothing of the OS ran (hardware).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Piece {
    /// Nothing of the OS ran (hardware, firmware, hypervisor, emulator, other vCPUs).
    Hw(u64),
    /// A cause ran.
    Os {
        /// Cause id.
        cause: usize,
        /// Ticks.
        len: u64,
    },
}

/// One event (a gap or a late wake-up) split into its pieces, in time order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    /// Start (counter ticks).
    pub start: u64,
    /// Length (ticks).
    pub len: u64,
    /// The pieces, adding up to `len`.
    pub pieces: Vec<Piece>,
}

/// A stretch of OS activity inside an event: OS pieces separated by less than the threshold of
/// hardware time (an event can hold several, when hardware time separates them: a vCPU taken
/// away for a long slice comes back to several interrupts in one gap).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Episode {
    /// Its OS time (ticks).
    pub os: u64,
    /// Its extent including the hardware time inside it and the short (below threshold)
    /// hardware time just around it: what the loop lost to it.
    pub extent: u64,
    /// Net ticks per cause, largest first.
    pub causes: Vec<(usize, u64)>,
}

impl Split {
    /// The OS part (ticks).
    pub fn os(&self) -> u64 {
        self.pieces
            .iter()
            .map(|p| match p {
                Piece::Os { len, .. } => *len,
                Piece::Hw(_) => 0,
            })
            .sum()
    }

    /// The hardware part: the rest of the event.
    pub fn hw(&self) -> u64 {
        self.len - self.os()
    }

    /// Net ticks per cause over the whole event, largest first.
    pub fn causes(&self) -> Vec<(usize, u64)> {
        let mut v: Vec<(usize, u64)> = Vec::new();
        for p in &self.pieces {
            if let Piece::Os { cause, len } = *p {
                match v.iter_mut().find(|(c, _)| *c == cause) {
                    Some(c) => c.1 += len,
                    None => v.push((cause, len)),
                }
            }
        }
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        v
    }

    /// The OS episodes, given the threshold in ticks.
    pub fn episodes(&self, threshold: u64) -> Vec<Episode> {
        let mut out: Vec<Episode> = Vec::new();
        let mut cur: Option<Episode> = None;
        // Hardware time since the last OS piece (or since the event's start, with no episode).
        let mut hw = 0u64;
        for p in &self.pieces {
            match *p {
                Piece::Hw(n) => hw += n,
                Piece::Os { cause, len } => {
                    let joins = cur.is_some() && hw < threshold;
                    if !joins {
                        out.extend(cur.take());
                    }
                    let e = cur.get_or_insert_with(|| Episode {
                        os: 0,
                        extent: 0,
                        causes: vec![],
                    });
                    // Hardware time inside an episode, or short enough just before it, is part
                    // of its extent.
                    if hw < threshold {
                        e.extent += hw;
                    }
                    e.os += len;
                    e.extent += len;
                    match e.causes.iter_mut().find(|(c, _)| *c == cause) {
                        Some(c) => c.1 += len,
                        None => e.causes.push((cause, len)),
                    }
                    hw = 0;
                }
            }
        }
        if let Some(mut e) = cur {
            if hw < threshold {
                e.extent += hw;
            }
            out.push(e);
        }
        for e in &mut out {
            e.causes.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        }
        out
    }

    /// Hardware stretches (ticks) of this event, each a maximal run of hardware time.
    pub fn hw_runs(&self) -> Vec<u64> {
        let mut out = Vec::new();
        let mut run = 0;
        for p in &self.pieces {
            match *p {
                Piece::Hw(n) => run += n,
                Piece::Os { .. } => {
                    if run > 0 {
                        out.push(run);
                    }
                    run = 0;
                }
            }
        }
        if run > 0 {
            out.push(run);
        }
        out
    }
}

fn push_hw(pieces: &mut Vec<Piece>, n: u64) {
    if n == 0 {
        return;
    }
    if let Some(Piece::Hw(m)) = pieces.last_mut() {
        *m += n;
    } else {
        pieces.push(Piece::Hw(n));
    }
}

/// Joins events `(start, len)` (sorted by start, not overlapping) with net cause intervals
/// (sorted by start, not overlapping). Returns one split per event, in order.
pub fn join(events: &[(u64, u64)], intervals: &[Interval]) -> Vec<Split> {
    let mut out = Vec::with_capacity(events.len());
    let mut first = 0usize;
    // Pieces are built here and copied out at their exact length: a long run keeps up to 500 k
    // splits, most of one or two pieces, where a growing Vec would reserve four.
    let mut pieces = Vec::new();
    for &(start, len) in events {
        let end = start + len;
        // Intervals ending at or before this event start can never overlap a later event.
        while first < intervals.len() && intervals[first].end <= start {
            first += 1;
        }
        pieces.clear();
        let mut at = start;
        for iv in &intervals[first..] {
            if iv.start >= end {
                break;
            }
            let (a, b) = (iv.start.max(at), iv.end.min(end));
            if b <= a {
                continue;
            }
            push_hw(&mut pieces, a - at);
            pieces.push(Piece::Os {
                cause: iv.cause,
                len: b - a,
            });
            at = b;
        }
        push_hw(&mut pieces, end - at);
        out.push(Split {
            start,
            len,
            pieces: pieces.clone(),
        });
    }
    out
}

/// Events a cause must have started (or ended) an episode in before its entry (exit) cost is
/// estimated from them.
pub const MIN_EDGE_EVENTS: usize = 8;

/// The untraced entry and exit of kernel handlers: a handler's own trace records start after the
/// exception entry (vector, interrupt acknowledge, `irq_enter`) and end before the return, which
/// no tracepoint covers. For each cause, the smallest hardware stretch seen just before an
/// episode it starts and just after one it ends bound that cost from below; each such stretch is
/// charged to the cause up to the bound, the rest stays hardware. A bound that reaches the event
/// threshold (`threshold` ticks) is no entry or exit cost but a hardware stretch of its own (the
/// other vCPU's slice every tick waited for, under icount with several cores): nothing is
/// charged then. The same rule holds for the firmware, whose timestamps are the vector's first
/// instructions and the handler's last. Returns each cause's (entry, exit) bound in ticks.
pub fn charge_edges(splits: &mut [Split], causes: usize, threshold: u64) -> Vec<(u64, u64)> {
    let bounds = edge_bounds(splits, causes, threshold);
    apply_edges(splits, &bounds);
    bounds
}

/// Charges each cause's (entry, exit) `bounds` (by cause id) in `splits`, as found elsewhere
/// (a long run's later records, with the bounds seen so far).
pub fn apply_edges(splits: &mut [Split], bounds: &[(u64, u64)]) {
    for s in splits.iter_mut() {
        s.pieces = merged(charged(&s.pieces, bounds));
    }
}

/// Per cause, the smallest hardware stretch seen just before (entry) and just after (exit) its
/// OS pieces, when seen often enough and below the threshold; 0 otherwise.
pub fn edge_bounds(splits: &[Split], causes: usize, threshold: u64) -> Vec<(u64, u64)> {
    edges_seen(splits, causes)
        .iter()
        .map(|e| e.bounds(threshold))
        .collect()
}

/// What one cause's OS pieces showed at their edges: the smallest hardware stretch just before
/// (`lead`) and just after (`tail`) them, and how many of each were seen.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct EdgeSeen {
    pub lead: Option<u64>,
    pub leads: usize,
    pub tail: Option<u64>,
    pub tails: usize,
}

impl EdgeSeen {
    /// The (entry, exit) bound: the smallest stretch, once seen [`MIN_EDGE_EVENTS`] times and
    /// below `threshold`; 0 otherwise.
    pub fn bounds(&self, threshold: u64) -> (u64, u64) {
        let bound = |seen: usize, smallest: Option<u64>| match smallest {
            Some(b) if seen >= MIN_EDGE_EVENTS && b < threshold => b,
            _ => 0,
        };
        (bound(self.leads, self.lead), bound(self.tails, self.tail))
    }

    /// Adds what `more` saw.
    pub fn learn(&mut self, more: &EdgeSeen) {
        self.lead = min_of(self.lead, more.lead);
        self.leads += more.leads;
        self.tail = min_of(self.tail, more.tail);
        self.tails += more.tails;
    }
}

fn min_of(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

/// Per cause id, what the edges of its OS pieces in `splits` showed.
pub fn edges_seen(splits: &[Split], causes: usize) -> Vec<EdgeSeen> {
    let mut seen = vec![EdgeSeen::default(); causes];
    let hw = |p: Option<Piece>| match p {
        None => Some(0),
        Some(Piece::Hw(n)) => Some(n),
        Some(_) => None,
    };
    for s in splits {
        for (i, p) in s.pieces.iter().enumerate() {
            let Piece::Os { cause, .. } = *p else {
                continue;
            };
            let e = &mut seen[cause];
            let before = hw(i.checked_sub(1).map(|j| s.pieces[j]));
            let after = hw(s.pieces.get(i + 1).copied());
            if let Some(b) = before {
                e.lead = min_of(e.lead, Some(b));
                e.leads += 1;
            }
            if let Some(a) = after {
                e.tail = min_of(e.tail, Some(a));
                e.tails += 1;
            }
        }
    }
    seen
}

/// The pieces with each hardware stretch's edges charged to the OS pieces around it: up to the
/// exit bound of the cause before it, then up to the entry bound of the cause after it.
fn charged(pieces: &[Piece], bounds: &[(u64, u64)]) -> Vec<Piece> {
    let mut out: Vec<Piece> = Vec::with_capacity(pieces.len() + 2);
    for (i, &piece) in pieces.iter().enumerate() {
        let Piece::Hw(h) = piece else {
            out.push(piece);
            continue;
        };
        let exit = match i.checked_sub(1).map(|j| pieces[j]) {
            Some(Piece::Os { cause, .. }) => Some((cause, h.min(bounds[cause].1))),
            _ => None,
        };
        let left = h - exit.map(|e| e.1).unwrap_or(0);
        let entry = match pieces.get(i + 1) {
            Some(Piece::Os { cause, .. }) => Some((*cause, left.min(bounds[*cause].0))),
            _ => None,
        };
        let hw = left - entry.map(|e| e.1).unwrap_or(0);
        if let Some((cause, len)) = exit.filter(|e| e.1 > 0) {
            out.push(Piece::Os { cause, len });
        }
        if hw > 0 {
            out.push(Piece::Hw(hw));
        }
        if let Some((cause, len)) = entry.filter(|e| e.1 > 0) {
            out.push(Piece::Os { cause, len });
        }
    }
    out
}

/// Neighbouring pieces of the same kind and cause, merged.
fn merged(pieces: Vec<Piece>) -> Vec<Piece> {
    let mut merged: Vec<Piece> = Vec::with_capacity(pieces.len());
    for p in pieces {
        match (merged.last_mut(), p) {
            (Some(Piece::Hw(a)), Piece::Hw(b)) => *a += b,
            (Some(Piece::Os { cause: c1, len: l1 }), Piece::Os { cause: c2, len: l2 })
                if *c1 == c2 =>
            {
                *l1 += l2
            }
            (_, p) => merged.push(p),
        }
    }
    // Kept as long as its split is: no room beyond its pieces.
    merged.shrink_to_fit();
    merged
}

/// Splits events attributed by per-event counters: the counters say which causes ran during an
/// event but not for how long, so an event with any cause is OS noise as a whole, shared equally
/// among its causes; an event with none is hardware noise. `counter_cause` maps a counter's bit
/// to its cause id.
pub fn from_counters(
    events: &[(u64, u64, u64)],
    counter_cause: &dyn Fn(u32) -> Option<usize>,
) -> Vec<Split> {
    events
        .iter()
        .map(|&(start, len, mask)| {
            let ids: Vec<usize> = (0..64)
                .filter(|b| mask & (1u64 << b) != 0)
                .filter_map(counter_cause)
                .collect();
            if ids.is_empty() {
                return Split {
                    start,
                    len,
                    pieces: vec![Piece::Hw(len)],
                };
            }
            let share = len / ids.len() as u64;
            let mut pieces: Vec<Piece> = ids
                .iter()
                .map(|&c| Piece::Os {
                    cause: c,
                    len: share,
                })
                .collect();
            // The remainder of the division goes to the first cause, so the parts add up.
            if let Some(Piece::Os { len: l, .. }) = pieces.first_mut() {
                *l += len - share * ids.len() as u64;
            }
            Split { start, len, pieces }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(at: u64, kind: TraceKind, name: u16) -> TraceRecord {
        TraceRecord { at, kind, name }
    }

    fn names(i: u16) -> (String, CauseKind) {
        match i {
            0 => ("probe:100".into(), CauseKind::Thread),
            1 => ("arch_timer".into(), CauseKind::Irq),
            2 => ("TIMER".into(), CauseKind::Softirq),
            3 => ("IPI".into(), CauseKind::Irq),
            4 => ("Rescheduling interrupts".into(), CauseKind::Ipi),
            5 => ("kworker/3:1:42".into(), CauseKind::Thread),
            6 => ("idle".into(), CauseKind::Hw),
            7 => ("swapper/3:0".into(), CauseKind::Thread),
            _ => ("?".into(), CauseKind::Irq),
        }
    }

    fn tick(entry: u64, span: u32, stolen: u32) -> IrqSpan {
        IrqSpan {
            intid: 27,
            kind: IrqKind::Tick,
            entry,
            span,
            late: 0,
            stolen,
        }
    }

    #[test]
    fn a_gap_with_one_handler_splits_into_its_time_and_the_rest() {
        let mut causes = Causes::default();
        let iv = from_irqs(&[tick(1_010, 625, 0)], &mut causes);
        let s = join(&[(1_000, 650)], &iv);
        assert_eq!(
            s[0].pieces,
            vec![
                Piece::Hw(10),
                Piece::Os { cause: 0, len: 625 },
                Piece::Hw(15)
            ]
        );
        assert_eq!((s[0].os(), s[0].hw()), (625, 25));
        assert_eq!(causes.get(0), ("injected tick (INTID 27)", CauseKind::Irq));
        let e = s[0].episodes(62);
        assert_eq!(
            e,
            vec![Episode {
                os: 625,
                extent: 650,
                causes: vec![(0, 625)]
            }]
        );
        // A gap with no handler is all hardware.
        let s = join(&[(5_000, 100)], &iv);
        assert_eq!((s[0].os(), s[0].hw_runs()), (0, vec![100]));
    }

    #[test]
    fn a_handler_taken_away_counts_only_its_own_time_and_ticks_in_one_gap_stay_apart() {
        // A vCPU away for 4000 ticks after each of its 625-tick handlers: one long gap holding
        // three ticks is three OS episodes of 625 and three hardware stretches.
        let mut causes = Causes::default();
        let spans = [
            tick(0, 4_625, 4_000),
            tick(4_625, 4_625, 4_000),
            tick(9_250, 4_625, 4_000),
        ];
        let iv = from_irqs(&spans, &mut causes);
        let s = join(&[(0, 13_875)], &iv);
        let e = s[0].episodes(62);
        assert_eq!(
            e.iter().map(|e| e.os).collect::<Vec<_>>(),
            vec![625, 625, 625]
        );
        assert_eq!(s[0].hw_runs(), vec![4_000, 4_000, 4_000]);
    }

    #[test]
    fn nested_handlers_are_charged_net_and_threads_count_until_the_probe_returns() {
        use TraceKind::*;
        let trace = [
            rec(100, IrqEntry, 1),     // arch_timer 100..130
            rec(130, IrqExit, 1),      //
            rec(130, SoftirqEntry, 2), // TIMER 130..150
            rec(140, IrqEntry, 3),     //   IPI irq 140..148 with the IPI handler 142..146 inside
            rec(142, IpiEntry, 4),
            rec(146, IpiExit, 4),
            rec(148, IrqExit, 3),
            rec(150, SoftirqExit, 2),
            rec(160, Switch, 5),   // kworker 160..200
            rec(170, IrqEntry, 1), //   arch_timer inside the kworker 170..175
            rec(175, IrqExit, 1),
            rec(200, Switch, 0), // back to the probe
        ];
        let mut causes = Causes::default();
        let iv = from_trace(&trace, &names, 0, &mut causes);
        let named: Vec<(u64, u64, &str)> = iv
            .iter()
            .map(|i| (i.start, i.end, causes.get(i.cause).0))
            .collect();
        assert_eq!(
            named,
            vec![
                (100, 130, "arch_timer"),
                (130, 140, "TIMER"),
                (140, 142, "IPI"),
                (142, 146, "Rescheduling interrupts"),
                (146, 148, "IPI"),
                (148, 150, "TIMER"),
                (160, 170, "kworker/3:1:42"),
                (170, 175, "arch_timer"),
                (175, 200, "kworker/3:1:42"),
            ]
        );
        // One gap over all of it: 150 - 100 + 200 - 160 ticks of OS, 20 of nothing.
        let s = join(&[(95, 110)], &iv);
        assert_eq!((s[0].os(), s[0].hw()), (90, 20));
        let by: Vec<(&str, u64)> = s[0]
            .causes()
            .iter()
            .map(|&(c, n)| (causes.get(c).0, n))
            .collect();
        assert_eq!(
            by,
            vec![
                ("arch_timer", 35),
                ("kworker/3:1:42", 35),
                ("TIMER", 12),
                ("IPI", 4),
                ("Rescheduling interrupts", 4)
            ]
        );
        // With a threshold of 62 ticks the 10 ticks of nothing between 150 and 160 do not split it.
        assert_eq!(s[0].episodes(62).len(), 1);
        assert_eq!(s[0].episodes(5).len(), 2);
    }

    #[test]
    fn the_idle_task_is_no_cause_its_time_is_hardware() {
        use TraceKind::*;
        // Timer mode: the probe sleeps (idle 100..140), the timer's handler 140..150, the probe
        // runs at 160; a late wake-up from its deadline at 110 to 160 is 30 ticks of exit from
        // idle (hardware), 10 of the handler, 10 of scheduling (hardware: untraced).
        for idle in [6, 7] {
            let trace = [
                rec(100, Switch, idle),
                rec(140, IrqEntry, 1),
                rec(150, IrqExit, 1),
                rec(160, Switch, 0),
            ];
            let mut causes = Causes::default();
            let iv = from_trace(&trace, &names, 0, &mut causes);
            let named: Vec<(u64, u64, &str)> = iv
                .iter()
                .map(|i| (i.start, i.end, causes.get(i.cause).0))
                .collect();
            assert_eq!(
                named,
                vec![(140, 150, "arch_timer")],
                "idle as {:?}",
                names(idle)
            );
            let s = join(&[(110, 50)], &iv);
            assert_eq!(
                s[0].pieces,
                vec![
                    Piece::Hw(30),
                    Piece::Os { cause: 0, len: 10 },
                    Piece::Hw(10)
                ]
            );
            assert_eq!(
                s[0].pieces
                    .iter()
                    .map(|p| match p {
                        Piece::Hw(n) => *n,
                        Piece::Os { len, .. } => *len,
                    })
                    .sum::<u64>(),
                50
            );
        }
    }

    #[test]
    fn events_and_intervals_are_joined_in_one_pass() {
        let iv = vec![
            Interval {
                start: 10,
                end: 20,
                cause: 0,
            },
            Interval {
                start: 30,
                end: 40,
                cause: 1,
            },
            Interval {
                start: 45,
                end: 55,
                cause: 0,
            },
        ];
        let s = join(&[(0, 5), (15, 20), (50, 10)], &iv);
        assert_eq!(s[0].os(), 0);
        assert_eq!((s[1].os(), s[1].causes()), (10, vec![(0, 5), (1, 5)]));
        assert_eq!((s[2].os(), s[2].causes()), (5, vec![(0, 5)]));
    }

    #[test]
    fn untraced_entry_and_exit_are_charged_up_to_the_smallest_seen() {
        // Ten ticks, each 100 ticks of handler with a lead of 5 and a tail of 7, one of them with
        // 40 more ticks of something else before it: the bounds are 5 and 7, the 40 stays hw.
        let mut iv = Vec::new();
        let mut events = Vec::new();
        for k in 0..10u64 {
            let base = 1_000 * k;
            let extra = if k == 3 { 40 } else { 0 };
            events.push((base, extra + 5 + 100 + 7));
            iv.push(Interval {
                start: base + extra + 5,
                end: base + extra + 105,
                cause: 0,
            });
        }
        let mut s = join(&events, &iv);
        assert_eq!(s[3].pieces[0], Piece::Hw(45));
        let unchanged = s.clone();
        // A threshold of 7 ticks: the tail (7) reaches it and is no exit cost.
        let mut capped = s.clone();
        assert_eq!(charge_edges(&mut capped, 1, 7), vec![(5, 0)]);
        let bounds = charge_edges(&mut s, 1, 62);
        assert_ne!(s, unchanged);
        assert_eq!(bounds, vec![(5, 7)]);
        assert!(
            s.iter()
                .enumerate()
                .all(|(k, x)| x.hw() == if k == 3 { 40 } else { 0 })
        );
        assert_eq!(s[0].pieces, vec![Piece::Os { cause: 0, len: 112 }]);
        assert_eq!(
            s[3].pieces,
            vec![Piece::Hw(40), Piece::Os { cause: 0, len: 112 }]
        );
    }

    #[test]
    fn counters_charge_the_whole_event_to_the_causes_that_moved() {
        let cause = |b: u32| (b < 3).then_some(b as usize);
        let s = from_counters(&[(0, 100, 0b101), (200, 50, 0), (300, 7, 0b1000)], &cause);
        assert_eq!((s[0].os(), s[0].causes()), (100, vec![(0, 50), (2, 50)]));
        assert_eq!((s[1].os(), s[1].hw()), (0, 50));
        assert_eq!(
            s[2].os(),
            0,
            "a counter with no cause (unknown bit) is not a cause"
        );
    }
}
