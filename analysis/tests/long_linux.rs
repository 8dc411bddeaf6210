//! A long Linux run's records beyond the ones kept per core are attributed as the probe's
//! `Covered` messages close them (the probe reads its trace during the window and ships it
//! after the events it covers): the same synthetic run analysed keeping everything and keeping
//! its first few records gives the same attribution, complete, while holding only about one
//! trace reading's records, even when a reading ends inside a handler or a thread's run.

use tickscope_analysis::analysis::Analysis;
use tickscope_analysis::analysis::summary::{Summary, summarize};
use tickscope_analysis::decode::Sink;
use tickscope_analysis::facts::Emulation;
use tickscope_core::config::{Config, Mode, TimerChoice};
use tickscope_core::wire::Message;
use tickscope_core::wire::msg::{
    Attribution, BLOCK, Block, CauseKind, CoreStatus, Covered, Method, NameEntry, Names,
    NoiseEvent, RunHeader, Source, TraceKind, TraceRecord, Window,
};

const HZ: u64 = 62_500_000;
const CORE: u16 = 1;
const START: u64 = 1_000;
/// Two seconds.
const END: u64 = START + 2 * HZ;
/// The tick every 4 ms: its handler 10 us (625 ticks), then the TIMER softirq 200 ticks.
const TICK: u64 = HZ / 250;
const HANDLER: u64 = 625;
const SOFTIRQ: u64 = 200;
/// A kworker runs 2,000 ticks every 48 ms, centred between two ticks.
const WORKER_EVERY: u64 = 12 * TICK;
const WORKER: u64 = 2_000;
/// The probe reads its trace about every half second: the even readings 100 ticks into a
/// tick's handler, the odd ones in the middle of a kworker's run.
const READ_EVERY: u64 = HZ / 2;

/// When reading `m` cuts the trace.
fn reading(m: u64) -> u64 {
    let base = START + m * READ_EVERY;
    if m % 2 == 0 {
        base + TICK + 100
    } else {
        // The next kworker centre: READ_EVERY is 125 ticks, the kworker's period 12.
        base + ((12 - (125 * m) % 12) % 12) * TICK + TICK / 2
    }
}

const NAMES: [(CauseKind, &str); 4] = [
    (CauseKind::Thread, "tickscope-probe:42"),
    (CauseKind::Irq, "arch_timer"),
    (CauseKind::Softirq, "TIMER"),
    (CauseKind::Thread, "kworker/1:1:77"),
];

fn header() -> Message {
    Message::Header(RunHeader {
        format: tickscope_core::wire::FORMAT_VERSION as u16,
        source: Source::LinuxProbe,
        board: heapless::String::try_from("linux").unwrap(),
        midr: 0,
        el: 0,
        boot_el: 0,
        gic: 0,
        counter_hz: HZ,
        reset_ticks: 0,
        config: Config {
            mode: Mode::Noise,
            threshold_ns: 1_000,
            ..Config::default()
        },
        boot_core: 0,
        timer: TimerChoice::default(),
        pmu: false,
        reduced: false,
        revision: heapless::String::new(),
        kernel: heapless::String::new(),
        cmdline: heapless::String::new(),
    })
}

fn rec(at: u64, kind: TraceKind, name: u16) -> TraceRecord {
    TraceRecord { at, kind, name }
}

/// The window's events and trace records: each tick an event holding its handler and softirq
/// (7 ticks of entry before, 12 of exit after), each kworker run an event holding it, and a
/// hardware-only gap of 200 ticks every 1.3 ms away from both.
fn window() -> (Vec<NoiseEvent>, Vec<TraceRecord>) {
    let (mut events, mut trace) = (Vec::new(), Vec::new());
    let mut t = START + TICK;
    while t < END {
        trace.push(rec(t, TraceKind::IrqEntry, 1));
        trace.push(rec(t + HANDLER, TraceKind::IrqExit, 1));
        trace.push(rec(t + HANDLER, TraceKind::SoftirqEntry, 2));
        trace.push(rec(t + HANDLER + SOFTIRQ, TraceKind::SoftirqExit, 2));
        events.push((t - 7, HANDLER + SOFTIRQ + 19));
        t += TICK;
    }
    let mut w = START + WORKER_EVERY + TICK / 2 - WORKER / 2;
    while w + WORKER < END {
        trace.push(rec(w, TraceKind::Switch, 3));
        trace.push(rec(w + WORKER, TraceKind::Switch, 0));
        events.push((w - 5, WORKER + 10));
        w += WORKER_EVERY;
    }
    let mut h = START + HZ * 13 / 10_000;
    while h < END {
        if !events.iter().any(|&(s, l)| h + 400 > s && h < s + l + 400) {
            events.push((h, 200));
        }
        h += HZ * 13 / 10_000;
    }
    events.sort_unstable();
    trace.sort_by_key(|r| r.at);
    let events = events
        .into_iter()
        .map(|(start, len)| NoiseEvent {
            start,
            duration: len as u32,
            counters: 0,
        })
        .collect();
    (events, trace)
}

/// The run as the probe ships it: every 20 ms the events that ended; every half second the
/// trace read so far and how far everything is in; after the window its status, the rest of
/// the trace and its attribution.
fn run() -> Vec<Message> {
    let mut msgs = vec![header(), window_msg(), names()];
    let (events, trace) = window();
    let (mut e, mut t) = (events.into_iter().peekable(), trace.into_iter().peekable());
    let (mut at, mut last_end, mut m) = (START, 0, 0);
    let mut drain = |upto: u64, msgs: &mut Vec<Message>, last_end: &mut u64| {
        let ev: Vec<NoiseEvent> =
            std::iter::from_fn(|| e.next_if(|x| x.start + x.duration as u64 <= upto)).collect();
        *last_end = ev.last().map_or(*last_end, |x| x.start + x.duration as u64);
        msgs.extend(blocks(ev, Message::NoiseEvents));
    };
    while at < END {
        at += HZ / 50;
        if reading(m) <= at {
            // The events drained first, then the trace read, then how far both reach.
            let cut = reading(m);
            drain(cut, &mut msgs, &mut last_end);
            let tr: Vec<TraceRecord> = std::iter::from_fn(|| t.next_if(|r| r.at < cut)).collect();
            msgs.extend(blocks(tr, Message::Trace));
            let upto = last_end.max(cut.saturating_sub(HZ)).min(cut);
            msgs.push(Message::Covered(Covered { core: CORE, upto }));
            m += 1;
        }
        drain(at, &mut msgs, &mut last_end);
    }
    drop(drain);
    msgs.extend(blocks(e.collect(), Message::NoiseEvents));
    msgs.push(Message::CoreStatus(CoreStatus {
        core: CORE,
        samples: 10_000_000,
        window_start: START,
        window_end: END,
        ..CoreStatus::default()
    }));
    msgs.extend(blocks(t.collect(), Message::Trace));
    msgs.push(Message::Attribution(Attribution {
        core: CORE,
        method: Method::Tracefs,
        probe: 0,
        lost: 0,
        detail: heapless::String::new(),
        clock: [(0, 0); 2],
    }));
    msgs
}

fn window_msg() -> Message {
    Message::Window(Window {
        core: CORE,
        start: START,
        end: END,
        threshold: 62,
    })
}

fn names() -> Message {
    let mut items = heapless::Vec::new();
    for (i, (kind, name)) in NAMES.iter().enumerate() {
        let _ = items.push(NameEntry {
            index: i as u16,
            kind: *kind,
            name: heapless::String::try_from(*name).unwrap(),
        });
    }
    Message::Names(Names { core: CORE, items })
}

fn blocks<T: Clone>(items: Vec<T>, make: fn(Block<T>) -> Message) -> Vec<Message> {
    items
        .chunks(BLOCK)
        .map(|c| {
            make(Block {
                core: CORE,
                items: heapless::Vec::from_slice(c).unwrap(),
            })
        })
        .collect()
}

fn analyse(msgs: &[Message], kept: Option<usize>) -> (Analysis, Summary) {
    let mut a = Analysis {
        records_kept: kept,
        ..Analysis::default()
    };
    for (n, m) in msgs.iter().enumerate() {
        a.message(n as u32, m);
    }
    let s = summarize(&a, "long", Emulation::Icount, 0);
    (a, s)
}

fn cause_events(s: &Summary, name: &str) -> u64 {
    s.attributed
        .causes
        .iter()
        .find(|c| c.name == name)
        .map_or(0, |c| c.events)
}

#[test]
fn linux_records_beyond_the_kept_ones_are_attributed_as_the_trace_arrives() {
    let msgs = run();
    let (_, whole) = analyse(&msgs, None);
    let os = whole.attributed.os_noise.as_ref().unwrap();
    // The known answer: 499 ticks and 41 kworker runs, each its own OS event.
    assert_eq!(os.events, 499 + 41, "{:#?}", whole.attributed);
    assert_eq!(cause_events(&whole, "arch_timer"), 499);
    assert_eq!(cause_events(&whole, "TIMER"), 499);
    assert_eq!(cause_events(&whole, "kworker/1:1:77"), 41);
    assert!(whole.attributed.hw_noise.as_ref().unwrap().events > 1_000);
    assert_eq!(whole.attributed.lower_bound, None);
    // Keeping the first 500 records of each kind (half a second: the 8 kworker runs needed to
    // learn its entry and exit bounds among them): the rest is attributed reading by reading, each ending
    // inside a tick's handler or a kworker's run, to the same figures.
    let (a, part) = analyse(&msgs, Some(500));
    let o = a.cores[&CORE].overflow.as_ref().unwrap();
    assert!(o.records > 3_000 && o.dropped == 0 && o.late == 0, "{o:?}");
    // Half a second holds 125 ticks (an event and four records each), 10 kworker runs (an
    // event and two records) and about 350 hardware gaps: about 1,000 records; a reading comes
    // up to 48 ms late.
    assert!(
        o.peak <= 1_300,
        "held about a reading's records: {}",
        o.peak
    );
    assert_eq!(
        o.held(),
        0,
        "the attribution after the last trace closes everything"
    );
    assert_eq!(part.attributed.os_noise, whole.attributed.os_noise);
    assert_eq!(part.attributed.hw_noise, whole.attributed.hw_noise);
    assert_eq!(part.attributed.causes, whole.attributed.causes);
    assert_eq!(part.attributed.lower_bound, None);
    // The tick's figures come from every tick too: 499 traced timer interrupts and tick
    // episodes in 2 s, each costing its handler and softirq (825 ticks, 13.2 µs) with the loop's
    // hardware time around them below the threshold (19 ticks).
    assert_eq!(whole.timer_irqs_per_s, Some(249.5));
    assert_eq!(whole.tick_events_per_s, Some(249.5));
    assert_eq!(whole.tick_cost_ns, Some(13_504));
    assert_eq!(part.timer_irqs_per_s, whole.timer_irqs_per_s);
    assert_eq!(part.tick_events_per_s, whole.tick_events_per_s);
    let cost = part.tick_cost_ns.unwrap();
    assert!(cost.abs_diff(13_504) <= 13_504 / 256, "{cost}");
    assert!(
        part.attributed
            .attribution_note
            .contains("as the probe's trace arrived"),
        "{}",
        part.attributed.attribution_note
    );
}

#[test]
fn without_its_covered_messages_a_linux_run_is_attributed_at_its_end() {
    // An older probe, or one read after the window (icount): nothing closes the overflow until
    // the attribution, which then holds every record beyond the kept ones, and still counts all.
    let msgs: Vec<Message> = run()
        .into_iter()
        .filter(|m| !matches!(m, Message::Covered(_)))
        .collect();
    let (_, whole) = analyse(&msgs, None);
    let (a, part) = analyse(&msgs, Some(500));
    let o = a.cores[&CORE].overflow.as_ref().unwrap();
    assert!(o.peak > 3_000, "everything held: {}", o.peak);
    assert_eq!(part.attributed.os_noise, whole.attributed.os_noise);
    assert_eq!(part.attributed.causes, whole.attributed.causes);
}
