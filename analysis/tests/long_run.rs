//! A long bare-metal run's records beyond the ones kept per core are attributed as its
//! checkpoints close them: the same synthetic run analysed keeping everything and keeping only
//! its first few records gives the same attribution, complete (no lower bound), while holding
//! only a checkpoint interval's records at once.

use tickscope_analysis::analysis::Analysis;
use tickscope_analysis::analysis::summary::{Summary, summarize};
use tickscope_analysis::decode::Sink;
use tickscope_analysis::facts::Emulation;
use tickscope_core::config::{Config, InjectTick, Mode, TimerChoice};
use tickscope_core::wire::Message;
use tickscope_core::wire::msg::{
    BLOCK, Block, CoreStatus, IrqKind, IrqSpan, NoiseEvent, RunHeader, Source, Window,
};

const HZ: u64 = 62_500_000;
const CORE: u16 = 1;
const START: u64 = 1_000;
/// Two seconds.
const END: u64 = START + 2 * HZ;
/// The injected tick: every 4 ms (250 Hz), its handler 10 us (625 ticks) from the vector.
const TICK: u64 = HZ / 250;
const HANDLER: u32 = 625;

fn header() -> Message {
    Message::Header(RunHeader {
        format: tickscope_core::wire::FORMAT_VERSION as u16,
        source: Source::Firmware,
        board: heapless::String::try_from("test").unwrap(),
        midr: 0,
        el: 1,
        boot_el: 1,
        gic: 2,
        counter_hz: HZ,
        reset_ticks: 0,
        config: Config {
            mode: Mode::Noise,
            threshold_ns: 1_000,
            inject: Some(InjectTick {
                hz: 250,
                duration_ns: 10_000,
            }),
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

/// The run's messages as the firmware drains them every 100 ms (a block of events, then a block
/// of interrupt records), with a checkpoint every 500 ms: each tick a gap holding its handler
/// (the vector 7 ticks into the gap, 12 after the handler), and a hardware-only gap of 200 ticks
/// every 1.3 ms.
fn run() -> Vec<Message> {
    let mut msgs = vec![
        header(),
        Message::Window(Window {
            core: CORE,
            start: START,
            end: END,
            threshold: 62,
        }),
    ];
    let mut events: Vec<NoiseEvent> = Vec::new();
    let mut irqs: Vec<IrqSpan> = Vec::new();
    let mut t = START + TICK;
    while t < END {
        irqs.push(IrqSpan {
            intid: 27,
            kind: IrqKind::Tick,
            entry: t,
            span: HANDLER,
            late: 3,
            stolen: 0,
        });
        events.push(NoiseEvent {
            start: t - 7,
            duration: HANDLER + 7 + 12,
            counters: 0,
        });
        t += TICK;
    }
    let mut h = START + HZ * 13 / 10_000;
    while h < END {
        if !irqs.iter().any(|i| i.entry.abs_diff(h) < 2_000) {
            events.push(NoiseEvent {
                start: h,
                duration: 200,
                counters: 0,
            });
        }
        h += HZ * 13 / 10_000;
    }
    events.sort_by_key(|e| e.start);
    let (mut e, mut i) = (events.into_iter().peekable(), irqs.into_iter().peekable());
    let mut at = START;
    while at < END {
        at += HZ / 10;
        let ev: Vec<NoiseEvent> = std::iter::from_fn(|| e.next_if(|x| x.start < at)).collect();
        let ir: Vec<IrqSpan> = std::iter::from_fn(|| i.next_if(|x| x.entry < at)).collect();
        msgs.extend(blocks(ev, Message::NoiseEvents));
        msgs.extend(blocks(ir, Message::Irqs));
        if (at - START) % (HZ / 2) == 0 && at < END {
            msgs.push(Message::Checkpoint(status(at)));
        }
    }
    msgs.push(Message::CoreStatus(status(END)));
    msgs
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

fn status(end: u64) -> CoreStatus {
    CoreStatus {
        core: CORE,
        samples: 10_000_000,
        ticks: 499,
        window_start: START,
        window_end: end,
        ..CoreStatus::default()
    }
}

fn analyse(kept: Option<usize>) -> (Analysis, Summary) {
    let mut a = Analysis {
        records_kept: kept,
        ..Analysis::default()
    };
    for (n, m) in run().iter().enumerate() {
        a.message(n as u32, m);
    }
    let s = summarize(&a, "long", Emulation::Icount, 0);
    (a, s)
}

#[test]
fn records_beyond_the_kept_ones_are_attributed_as_checkpoints_close_them() {
    let (_, whole) = analyse(None);
    let os = whole.attributed.os_noise.as_ref().unwrap();
    let hw = whole.attributed.hw_noise.as_ref().unwrap();
    // The known answer: 499 ticks (10 us each, its 19 ticks of entry and exit charged to it),
    // and the hardware-only gaps of 3.2 us.
    assert_eq!(os.events, 499, "{:#?}", whole.attributed);
    assert_eq!(os.event_ns.max, 10_304, "{:#?}", whole.attributed);
    assert!(hw.events > 1_000, "{:#?}", whole.attributed);
    assert_eq!(whole.attributed.lower_bound, None);
    // Keeping the first 40 records of each kind: the rest overflows 40 ms in, in the first
    // drain's events, before any of its interrupt records has arrived (the cause bounds are
    // learnt from the kept records once they are all in), and is attributed chunk by chunk, to
    // the same figures.
    let (a, part) = analyse(Some(40));
    let o = a.cores[&CORE].overflow.as_ref().unwrap();
    assert!(o.records > 1_000 && o.dropped == 0, "{o:?}");
    // A checkpoint interval (0.5 s) holds 125 ticks (an event and an interrupt record each)
    // and about 380 hardware gaps: 630 records.
    assert!(
        o.peak <= 700,
        "held at most a checkpoint interval's records: {}",
        o.peak
    );
    assert_eq!(o.held(), 0, "the end status closes everything");
    assert_eq!(part.attributed.os_noise, whole.attributed.os_noise);
    assert_eq!(part.attributed.hw_noise, whole.attributed.hw_noise);
    assert_eq!(part.attributed.causes, whole.attributed.causes);
    assert_eq!(part.attributed.lower_bound, None);
    assert!(
        part.attributed
            .attribution_note
            .contains("attributed as checkpoints closed them"),
        "{}",
        part.attributed.attribution_note
    );
}

#[test]
fn a_run_cut_short_attributes_what_came_after_its_last_checkpoint() {
    let mut msgs = run();
    msgs.pop();
    let mut a = Analysis {
        records_kept: Some(100),
        ..Analysis::default()
    };
    for (n, m) in msgs.iter().enumerate() {
        a.message(n as u32, m);
    }
    assert!(
        a.cores[&CORE].overflow.as_ref().unwrap().held() > 0,
        "records after the last checkpoint"
    );
    let s = summarize(&a, "cut", Emulation::Icount, 0);
    let os = s.attributed.os_noise.unwrap();
    // Every tick that arrived is counted, those after the last checkpoint (1.5 s) too.
    assert_eq!(os.events, 499);
}
